"""The DR standby (``dr.standby``): what lets the pipeline run in the DR region after ``lakehouse dr failover``.

Part of Lakehouse-<env>-Dr, next to the replica buckets it runs on: the replica of the artifacts bucket's job
releases, an EMR Serverless application configured as the primary's, one runtime role per job (least
privilege over the replicas), the pipeline and maintenance state machines under the primary's names but with
no schedule (nothing runs here until a failover starts it), the slots and deployment parameters the
state machines and ``lakehouse promote`` read in this region, and an alert topic of its own (the primary's is
in the region that was lost). Nothing here references the primary region's stacks: the names come from
``platform_model.aws_names`` and the job-assets version is a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import BUCKET_REPLICATION, acknowledge
from cdk.config import EnvironmentConfig
from cdk.constructs.alert_topic import AlertTopic, AlertTopicProps
from cdk.constructs.bucket_access_policy import BucketAccessPolicy, BucketAccessPolicyProps
from cdk.constructs.deployment_parameter import DeploymentParameter, DeploymentParameterProps
from cdk.constructs.emr_spark_application import EmrSparkApplication
from cdk.constructs.job_assets import Releases
from cdk.constructs.job_runner_policy import JobRunnerPolicy, JobRunnerPolicyProps
from cdk.constructs.lake_bucket import LakeBucket, LakeBucketProps
from cdk.constructs.release_slots import SLOT_PLACEHOLDER, VERSION_PLACEHOLDER, ReleaseSlots, ReleaseSlotsProps
from cdk.constructs.spark_job_role import SparkJobRole, SparkJobRoleProps
from cdk.constructs.spark_pipeline import SparkJobStep, SparkPipeline, SparkPipelineProps, telemetry_policy
from cdk.log_retention import log_retention
from platform_model import aws_names
from stacks.compute import (
    JOBS,
    READS,
    WRITES,
    bucket_uri,
    job_arguments,
    metrics_publisher_policy,
    sized_submit_parameters,
    spark_application,
)
from stacks.layer_access import job_role_name
from stacks.orchestration import MAINTENANCE_JOBS, PIPELINE_JOBS
from stacks.storage import EMR_LOGS_PREFIX, JOBS_PREFIX, replica_bucket_name


@dataclass(frozen=True, kw_only=True)
class StandbyProps:
    config: EnvironmentConfig
    key: kms.Key
    """The DR region's general key: the artifacts replica's, the standby's logs'."""
    replica_keys: Mapping[str, kms.IKey]
    """Each layer replica's own key (``replica-<layer>``)."""
    replicas: Mapping[str, s3.IBucket]
    """Landing, bronze, silver and gold replicas (``stacks.storage.REPLICATED_BUCKETS``)."""
    replica_read_policies: Mapping[str, iam.IManagedPolicy]
    access_logs: s3.IBucket
    version: str
    """The job-assets version this deploy ships (the primary's Compute stack builds it)."""
    removal_policy: RemovalPolicy


class Standby(Construct):
    """The standby application, roles and state machines over the replica buckets (module docstring)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: StandbyProps) -> None:
        super().__init__(scope, construct_id)
        config = props.config
        self._key = props.key
        self.artifacts = self._artifacts_replica(props)
        self.releases = Releases(releases_uri=f"s3://{self.artifacts.bucket_name}/{JOBS_PREFIX}", version=props.version)
        self.application = self._application(props)
        self.job_roles = self._job_roles(props)
        self.job_runner_policy = JobRunnerPolicy(
            self,
            "JobRunner",
            props=JobRunnerPolicyProps(application=self.application, job_roles=list(self.job_roles.values())),
        ).policy
        alerts = AlertTopic(
            self,
            "Alerts",
            props=AlertTopicProps(
                topic_name=f"{config.prefix}-alerts",
                key_alias=f"alias/{config.prefix}-alerts",
                emails=config.budget.alert_emails,
                removal_policy=props.removal_policy,
            ),
        )
        self.alert_topic = alerts.topic
        self.release_slots = ReleaseSlots(
            self,
            "ReleaseSlots",
            props=ReleaseSlotsProps(
                parameter_name=aws_names.slots_parameter_name(config.name, config.project), prefix=config.prefix
            ),
        )
        layer_uris = {layer: bucket_uri(bucket) for layer, bucket in props.replicas.items()}
        self.arguments = job_arguments(layer_uris, config)
        self.gold_uri = layer_uris["gold"]
        self.deployment = self._deployment(config, props.version)
        names = {
            "Pipeline": aws_names.pipeline_state_machine_name(config.name, config.project),
            "Maintenance": aws_names.maintenance_state_machine_name(config.name, config.project),
        }
        self.telemetry_policy = telemetry_policy(self)
        self.pipelines = {
            construct_id: self._pipeline(construct_id, names, jobs, props, alerts.publish_policy)
            for construct_id, jobs in (("Pipeline", PIPELINE_JOBS), ("Maintenance", MAINTENANCE_JOBS))
        }

    def _artifacts_replica(self, props: StandbyProps) -> s3.Bucket:
        """Where the artifacts bucket's ``jobs/`` replicate to; the standby's EMR logs go under ``emr-logs/``."""
        config = props.config
        bucket = LakeBucket(
            self,
            "ArtifactsReplica",
            props=LakeBucketProps(
                encryption_key=props.key,
                access_logs_bucket=props.access_logs,
                noncurrent_expire_after_days=config.retention.landing.noncurrent_expire_after_days,
                lifecycle_rules=(
                    s3.LifecycleRule(
                        id="expire-emr-logs",
                        prefix=EMR_LOGS_PREFIX,
                        expiration=Duration.days(config.retention.log_group_retention_days),
                    ),
                ),
                removal_policy=props.removal_policy,
                bucket_name=replica_bucket_name(config, "artifacts"),
            ),
        ).bucket
        acknowledge(
            bucket,
            rules=BUCKET_REPLICATION,
            reason="The DR replica of the artifacts bucket's job releases; a replica of a replica adds nothing.",
        )
        return bucket

    def _policy(
        self,
        construct_id: str,
        bucket: s3.IBucket,
        description: str,
        key: kms.IKey | None = None,
        **prefixes: list[str],
    ) -> iam.IManagedPolicy:
        assert isinstance(bucket, s3.Bucket)
        return BucketAccessPolicy(
            self,
            f"{construct_id}Policy",
            props=BucketAccessPolicyProps(
                bucket=bucket, encryption_key=key or self._key, description=f"{description}.", **prefixes
            ),
        ).policy

    def _application(self, props: StandbyProps) -> EmrSparkApplication:
        """The standby application: the primary's release, architecture, capacity and Delta configuration."""
        return spark_application(
            self, props.config, key=props.key, logs_bucket=self.artifacts, removal_policy=props.removal_policy
        )

    def _job_roles(self, props: StandbyProps) -> dict[str, iam.IRole]:
        """One runtime role per job, as the primary's (``READS``, ``WRITES``) but over the replicas."""
        config = props.config
        runtime = self._policy(
            "SparkRuntime",
            self.artifacts,
            "Standby Spark jobs: read the replicated job releases, write EMR Serverless logs",
            read_prefixes=[JOBS_PREFIX],
            write_prefixes=[EMR_LOGS_PREFIX],
        )
        read_write = {
            layer: self._policy(
                f"{layer.capitalize()}ReplicaReadWrite",
                props.replicas[layer],
                f"Standby jobs: read, write and delete in the {layer} replica",
                props.replica_keys[layer],
                write_prefixes=[""],
            )
            for layer in sorted({layer for job in JOBS for layer in WRITES[job]})
        }
        metrics = metrics_publisher_policy(self, config)
        return {
            job: SparkJobRole(
                self,
                f"{job.capitalize()}JobRole",
                props=SparkJobRoleProps(
                    role_name=job_role_name(config.prefix, job, standby=True),
                    description=f"Standby runtime role of the {job} Spark job in {config.dr_region} (DR replicas).",
                    managed_policies=(
                        *(props.replica_read_policies[layer] for layer in READS[job]),
                        *(read_write[layer] for layer in WRITES[job]),
                        runtime,
                        self.application.job_logging_policy,
                        metrics,
                    ),
                ),
            ).role
            for job in JOBS
        }

    def _deployment(self, config: EnvironmentConfig, version: str) -> DeploymentParameter:
        """The DR region's deployment parameter: how the standby runs a job (``lakehouse promote --region``)."""
        return DeploymentParameter(
            self,
            "Deployment",
            props=DeploymentParameterProps(
                parameter_name=aws_names.deployment_parameter_name(config.name, config.project),
                prefix=config.prefix,
                version=version,
                application_id=self.application.application_id,
                artifacts_uri=self.releases.releases_uri,
                gold_uri=self.gold_uri,
                job_role_arns={job: role.role_arn for job, role in self.job_roles.items()},
                arguments=self.arguments,
                spark_submit_parameters=self.releases.spark_submit_parameters(VERSION_PLACEHOLDER),
                job_sizing={aws_names.AUDIT_JOB: config.spark.jobs[aws_names.AUDIT_JOB].submit_parameters()},
            ),
        )

    def _pipeline(
        self,
        construct_id: str,
        names: Mapping[str, str],
        jobs: tuple[str, ...],
        props: StandbyProps,
        alert_publish_policy: iam.IManagedPolicy,
    ) -> SparkPipeline:
        """A state machine as the primary's ``construct_id`` one, over the replicas; no schedule starts it."""
        config = props.config
        arguments = (*self.arguments, "--gold-uri", f"{self.gold_uri}{SLOT_PLACEHOLDER}/")
        return SparkPipeline(
            self,
            construct_id,
            props=SparkPipelineProps(
                state_machine_name=names[construct_id],
                application=self.application,
                steps=[
                    SparkJobStep(
                        name=job,
                        role=self.job_roles[job],
                        entrypoint=self.releases.entrypoint_uri(job, VERSION_PLACEHOLDER),
                        arguments=arguments,
                        spark_submit_parameters=sized_submit_parameters(
                            self.releases.spark_submit_parameters(VERSION_PLACEHOLDER), job, config
                        ),
                    )
                    for job in jobs
                ],
                writer_state_machine_names=tuple(names.values()),
                job_runner_policy=self.job_runner_policy,
                telemetry_policy=self.telemetry_policy,
                alert_topic=self.alert_topic,
                alert_publish_policy=alert_publish_policy,
                release_slots=self.release_slots,
                deployed_version=props.version,
                encryption_key=props.key,
                log_retention=log_retention(config.retention.log_group_retention_days),
                job_timeout_minutes=config.emr.job_timeout_minutes,
                retry_attempts=config.emr.job_retry_attempts,
            ),
        )
