"""Lakehouse-<env>-Compute: the EMR Serverless application, one runtime role per job, the job assets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import acknowledge
from cdk.config import EnvironmentConfig
from cdk.constructs.emr_spark_application import EmrSparkApplication, EmrSparkApplicationProps
from cdk.constructs.job_assets import JobAssets, JobAssetsProps
from cdk.constructs.job_runner_policy import JobRunnerPolicy, JobRunnerPolicyProps
from cdk.constructs.spark_job_role import SparkJobRole, SparkJobRoleProps
from cdk.constructs.star_resource_policy import StarResourcePolicy, StarResourcePolicyProps
from cdk.log_retention import log_retention
from cdk.spark_sizing import InitialCapacity
from job_assets.contracts import metrics as catalog
from platform_model import aws_names
from stacks.layer_access import JOBS, READS, WRITES, job_role_name
from stacks.network import NetworkStack
from stacks.storage import EMR_LOGS_PREFIX, StorageStack


class ComputeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        storage: StorageStack,
        package_dir: Path,
        build_dir: Path,
        network: NetworkStack | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = network
        self.application = self._application(config, storage)
        self.job_assets = JobAssets(
            self,
            "JobAssets",
            props=JobAssetsProps(
                package_dir=package_dir,
                build_dir=build_dir,
                bucket=storage.artifacts,
                publisher_policy=storage.job_publisher_policy,
                log_encryption_key=storage.key,
                log_retention=log_retention(config.retention.log_group_retention_days),
                network=network.function_network if network else None,
            ),
        )
        self.metrics_publisher_policy = metrics_publisher_policy(self, config)
        self.job_roles: dict[str, iam.IRole] = {job: self._job_role(job, config, storage) for job in JOBS}
        self.job_runner_policy = JobRunnerPolicy(
            self,
            "JobRunner",
            props=JobRunnerPolicyProps(application=self.application, job_roles=list(self.job_roles.values())),
        ).policy
        self.job_run_reader_policy = self._job_run_reader_policy()

    def _application(self, config: EnvironmentConfig, storage: StorageStack) -> EmrSparkApplication:
        """The EMR Serverless application and its encrypted CloudWatch log group."""
        removal = RemovalPolicy.DESTROY if config.features.allow_destroy else RemovalPolicy.RETAIN
        return spark_application(
            self,
            config,
            key=storage.key,
            logs_bucket=storage.artifacts,
            removal_policy=removal,
            subnets=self.network.subnets.subnets if self.network else (),
            security_groups=(self.network.workloads,) if self.network else (),
            initial_capacity=config.spark.initial_capacity,
        )

    def _job_role(self, job: str, config: EnvironmentConfig, storage: StorageStack) -> iam.IRole:
        """``job``'s runtime role: its layers (``READS``, ``WRITES``), its release and logs, its metrics."""
        return SparkJobRole(
            self,
            f"{job.capitalize()}JobRole",
            props=SparkJobRoleProps(
                role_name=job_role_name(config.prefix, job),
                description=(
                    f"Runtime role of the {job} Spark job: reads {', '.join(READS[job] + WRITES[job])}; "
                    f"writes {', '.join(WRITES[job])}."
                ),
                managed_policies=(
                    *(storage.read_policies[layer] for layer in READS[job]),
                    *(storage.read_write_policies[layer] for layer in WRITES[job]),
                    storage.spark_runtime_policy,
                    self.application.job_logging_policy,
                    self.metrics_publisher_policy,
                ),
            ),
        ).role

    def _job_run_reader_policy(self) -> iam.ManagedPolicy:
        """GetJobRun on this application's job runs (failure alerts, cost reporting)."""
        application_id = self.resolve(self.get_logical_id(self.application.application))
        policy = iam.ManagedPolicy(
            self,
            "JobRunReaderPolicy",
            description=f"Read job runs of the {self.application.name} application (alerts, cost reporting).",
            statements=[
                iam.PolicyStatement(
                    sid="ReadJobRuns", actions=["emr-serverless:GetJobRun"], resources=[self.application.job_runs_arn]
                )
            ],
        )
        acknowledge(
            policy,
            rules=["AwsSolutions-IAM5"],
            findings=[f"Resource::<{application_id}.Arn>/jobruns/*"],
            reason="Job run ids are created per run; reading stays within this one application's job runs.",
        )
        return policy

    def job_arguments(self, storage: StorageStack, config: EnvironmentConfig) -> tuple[str, ...]:
        """The arguments every entrypoint takes, except the two an execution adds: ``--gold-uri`` (gold lives
        under the slot the execution runs, ``<gold_uri><slot>/``) and ``--batch-id``."""
        return job_arguments({layer: bucket_uri(bucket) for layer, bucket in storage.buckets.items()}, config)

    def spark_submit_parameters(self, version: str | None = None) -> str:
        """For release ``version`` (default: this deploy's); ``version`` may be the ``{version}`` placeholder."""
        return self.job_assets.spark_submit_parameters(version)

    def job_spark_submit_parameters(self, job: str, config: EnvironmentConfig, version: str | None = None) -> str:
        """:meth:`spark_submit_parameters` followed by ``job``'s Spark sizing (``config.spark``)."""
        return sized_submit_parameters(self.spark_submit_parameters(version), job, config)


def job_arguments(layer_uris: Mapping[str, str], config: EnvironmentConfig) -> tuple[str, ...]:
    """Every entrypoint's arguments but ``--gold-uri`` and ``--batch-id``, over the landing, bronze and silver
    buckets ``layer_uris`` names (the primary's, or the replicas for the DR standby)."""
    arguments: list[str] = []
    for layer in ("landing", "bronze", "silver"):
        arguments += [f"--{layer}-uri", layer_uris[layer]]
    for name, value in sorted(config.job_flags.items()):
        arguments += ["--flag", f"{name}={value}"]
    return (*arguments, "--env", config.name, "--metrics", "cloudwatch", "--lineage", config.lineage)


def metrics_publisher_policy(scope: Construct, config: EnvironmentConfig) -> iam.IManagedPolicy:
    """``JobMetrics`` under ``scope``: PutMetricData to this environment's catalog namespace only (the jobs and
    the operational Lambdas that publish metrics attach it). The Ops stack imports it: renaming it takes two
    deploys (the new one exported and attached first, the old export removed after)."""
    namespace = catalog.our_namespace(config.name)
    return StarResourcePolicy(
        scope,
        "JobMetrics",
        props=StarResourcePolicyProps(
            description=f"Publish the jobs' and the Lambdas' metrics to {namespace} (and no other namespace).",
            statements=[
                iam.PolicyStatement(
                    sid="PublishRunMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
                )
            ],
            reason="PutMetricData has no resource-level permissions; the namespace condition scopes it.",
        ),
    ).policy


def sized_submit_parameters(release: str, job: str, config: EnvironmentConfig) -> str:
    """``release``'s ``SparkSubmitParameters`` (the job's code) followed by ``job``'s sizing from ``config``."""
    return f"{release} {config.spark.jobs[job].submit_parameters()}"


def bucket_uri(bucket: s3.IBucket) -> str:
    """``s3://<bucket>/``."""
    return f"s3://{bucket.bucket_name}/"


def spark_application(
    scope: Construct,
    config: EnvironmentConfig,
    *,
    key: kms.IKey,
    logs_bucket: s3.IBucket,
    removal_policy: RemovalPolicy,
    subnets: Sequence[ec2.ISubnet] = (),
    security_groups: Sequence[ec2.ISecurityGroup] = (),
    initial_capacity: InitialCapacity | None = None,
) -> EmrSparkApplication:
    """The environment's EMR Serverless application (``Spark``) and its encrypted log group (``SparkLogs``) in
    ``scope``: the primary's in the Compute stack, the standby's in the DR stack, configured alike (but for the
    pre-initialized ``initial_capacity``, the primary's only: the standby runs only after a failover)."""
    log_group = logs.LogGroup(
        scope,
        "SparkLogs",
        log_group_name=f"/aws/emr-serverless/{config.prefix}",
        encryption_key=key,
        retention=log_retention(config.retention.log_group_retention_days),
        removal_policy=removal_policy,
    )
    return EmrSparkApplication(
        scope,
        "Spark",
        props=EmrSparkApplicationProps(
            name=aws_names.emr_application_name(config.name, config.project),
            release_label=config.emr.release_label,
            max_vcpu=config.emr.max_vcpu,
            max_memory_gb=config.emr.max_memory_gb,
            max_disk_gb=config.emr.max_disk_gb,
            idle_timeout_minutes=config.emr.idle_timeout_minutes,
            log_group=log_group,
            encryption_key=key,
            logs_bucket=logs_bucket,
            logs_prefix=EMR_LOGS_PREFIX,
            subnets=subnets,
            security_groups=security_groups,
            initial_capacity=initial_capacity,
        ),
    )
