"""Lakehouse-<env>-Orchestration: the daily pipeline, weekly maintenance, their schedules and alarms; the release
state of blue/green promotion (slots parameter, deployment parameter, promotions table)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk.compliance import acknowledge
from cdk.config import EnvironmentConfig
from cdk.constructs.catalog_alarm import CatalogAlarmFactory
from cdk.constructs.deployment_parameter import DeploymentParameter, DeploymentParameterProps
from cdk.constructs.pipeline_alarms import PipelineAlarms, PipelineAlarmsProps
from cdk.constructs.promotions_table import PromotionsTable, PromotionsTableProps
from cdk.constructs.release_slots import SLOT_PLACEHOLDER, VERSION_PLACEHOLDER, ReleaseSlots, ReleaseSlotsProps
from cdk.constructs.spark_pipeline import SparkJobStep, SparkPipeline, SparkPipelineProps, telemetry_policy
from cdk.log_retention import log_retention
from platform_model import aws_names
from stacks.compute import ComputeStack, bucket_uri
from stacks.storage import StorageStack

PIPELINE_JOBS = ("bronze", "silver", "gold")
MAINTENANCE_JOBS = ("maintenance",)


@dataclass(frozen=True, kw_only=True)
class _PipelineInputs:
    """What the pipeline and the maintenance state machines share: every input but their name and jobs."""

    config: EnvironmentConfig
    storage: StorageStack
    compute: ComputeStack
    alert_topic: sns.ITopic
    alert_publish_policy: iam.IManagedPolicy
    arguments: tuple[str, ...]
    """Every job's arguments but ``--batch-id``, templated with ``{version}`` and ``{slot}``."""
    writer_state_machine_names: tuple[str, ...]


class OrchestrationStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        storage: StorageStack,
        compute: ComputeStack,
        alert_topic: sns.ITopic,
        alert_publish_policy: iam.IManagedPolicy,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = {
            "Pipeline": aws_names.pipeline_state_machine_name(config.name, config.project),
            "Maintenance": aws_names.maintenance_state_machine_name(config.name, config.project),
        }
        self.state_machine_names = tuple(names.values())
        # Release state of blue/green promotion (docs/PROMOTION.md): which slot runs which job-assets
        # version, how a job is run (for the promotion audit run), and the promotion history and lock.
        self.release_slots = ReleaseSlots(
            self,
            "ReleaseSlots",
            props=ReleaseSlotsProps(
                parameter_name=aws_names.slots_parameter_name(config.name, config.project), prefix=config.prefix
            ),
        )
        common_arguments = compute.job_arguments(storage, config)
        gold_uri = bucket_uri(storage.buckets["gold"])
        self.deployment = self._deployment(config, compute, common_arguments, gold_uri)
        self.promotions = self._promotions(config, storage)
        inputs = _PipelineInputs(
            config=config,
            storage=storage,
            compute=compute,
            alert_topic=alert_topic,
            alert_publish_policy=alert_publish_policy,
            # What the deployment parameter describes, with the execution's slot in the gold URI.
            arguments=(*common_arguments, "--gold-uri", f"{gold_uri}{SLOT_PLACEHOLDER}/"),
            writer_state_machine_names=self.state_machine_names,
        )
        self.telemetry_policy = telemetry_policy(self)
        self.pipeline = self._pipeline("Pipeline", names["Pipeline"], PIPELINE_JOBS, inputs)
        self.maintenance = self._pipeline("Maintenance", names["Maintenance"], MAINTENANCE_JOBS, inputs)
        self.schedules = self._schedules(config, names, self._schedule_role())
        self.execution_reader_policy = self._execution_reader_policy()
        self.alarms = self._alarms(config, compute, alert_topic)

    def _deployment(
        self, config: EnvironmentConfig, compute: ComputeStack, arguments: tuple[str, ...], gold_uri: str
    ) -> DeploymentParameter:
        """The deployment parameter: how this deploy runs a job (the promotion audit run reads it)."""
        return DeploymentParameter(
            self,
            "Deployment",
            props=DeploymentParameterProps(
                parameter_name=aws_names.deployment_parameter_name(config.name, config.project),
                prefix=config.prefix,
                version=compute.job_assets.version,
                application_id=compute.application.application_id,
                artifacts_uri=compute.job_assets.releases_uri,
                gold_uri=gold_uri,
                job_role_arns={job: role.role_arn for job, role in compute.job_roles.items()},
                arguments=arguments,
                spark_submit_parameters=compute.spark_submit_parameters(VERSION_PLACEHOLDER),
                job_sizing={aws_names.AUDIT_JOB: config.spark.jobs[aws_names.AUDIT_JOB].submit_parameters()},
            ),
        )

    def _promotions(self, config: EnvironmentConfig, storage: StorageStack) -> PromotionsTable:
        """The promotion history and lock, encrypted with the artifacts key, in the environment's snapshot plan."""
        return PromotionsTable(
            self,
            "Promotions",
            props=PromotionsTableProps(
                table_name=aws_names.promotions_table_name(config.name, config.project),
                encryption_key=storage.key,
                removal_policy=RemovalPolicy.DESTROY if config.features.allow_destroy else RemovalPolicy.RETAIN,
                backup=storage.backup.snapshots,
            ),
        )

    def _pipeline(
        self, construct_id: str, state_machine_name: str, jobs: tuple[str, ...], inputs: _PipelineInputs
    ) -> SparkPipeline:
        """The state machine ``state_machine_name`` running ``jobs`` in order, each as the release resolves it."""
        compute, config = inputs.compute, inputs.config
        return SparkPipeline(
            self,
            construct_id,
            props=SparkPipelineProps(
                state_machine_name=state_machine_name,
                application=compute.application,
                steps=[
                    SparkJobStep(
                        name=job,
                        role=compute.job_roles[job],
                        entrypoint=compute.job_assets.entrypoint_uri(job, VERSION_PLACEHOLDER),
                        arguments=inputs.arguments,
                        spark_submit_parameters=compute.job_spark_submit_parameters(job, config, VERSION_PLACEHOLDER),
                    )
                    for job in jobs
                ],
                writer_state_machine_names=inputs.writer_state_machine_names,
                job_runner_policy=compute.job_runner_policy,
                telemetry_policy=self.telemetry_policy,
                alert_topic=inputs.alert_topic,
                alert_publish_policy=inputs.alert_publish_policy,
                release_slots=self.release_slots,
                deployed_version=compute.job_assets.version,
                encryption_key=inputs.storage.key,
                log_retention=log_retention(config.retention.log_group_retention_days),
                job_timeout_minutes=config.emr.job_timeout_minutes,
                retry_attempts=config.emr.job_retry_attempts,
            ),
        )

    def _schedule_role(self) -> iam.Role:
        """The role the EventBridge schedules start the two state machines with."""
        return iam.Role(
            self,
            "ScheduleRole",
            description="Lets the EventBridge schedules start the pipeline and maintenance state machines.",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": self.account}}
            ),
            managed_policies=[
                iam.ManagedPolicy(
                    self,
                    "SchedulePolicy",
                    description="Start executions of the lakehouse state machines.",
                    statements=[
                        iam.PolicyStatement(
                            actions=["states:StartExecution"],
                            resources=[w.state_machine.state_machine_arn for w in (self.pipeline, self.maintenance)],
                        )
                    ],
                )
            ],
        )

    def _schedules(self, config: EnvironmentConfig, names: dict[str, str], role: iam.Role) -> list[events.Rule]:
        """One EventBridge rule per state machine, on the schedule ``config`` gives it."""
        return [
            events.Rule(
                self,
                f"{construct_id}Schedule",
                rule_name=f"{names[construct_id]}-schedule",
                description=f"Starts {names[construct_id]} ({expression}).",
                schedule=events.Schedule.expression(expression),
                enabled=config.schedule.enabled,
                targets=[
                    targets.SfnStateMachine(
                        workflow.state_machine, retry_attempts=2, role=role.without_policy_updates()
                    )
                ],
            )
            for construct_id, workflow, expression in (
                ("Pipeline", self.pipeline, config.schedule.pipeline),
                ("Maintenance", self.maintenance, config.schedule.maintenance),
            )
        ]

    def _execution_reader_policy(self) -> iam.ManagedPolicy:
        """Describe the two state machines' executions (the failure notifier reads them)."""
        executions = [
            self.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{name}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for name in self.state_machine_names
        ]
        policy = iam.ManagedPolicy(
            self,
            "ExecutionReaderPolicy",
            description="Describe executions of the pipeline and maintenance state machines (failure alerts).",
            statements=[
                iam.PolicyStatement(
                    sid="DescribeExecutions", actions=["states:DescribeExecution"], resources=executions
                )
            ],
        )
        acknowledge(
            policy,
            rules=["AwsSolutions-IAM5"],
            findings=[
                f"Resource::arn:aws:states:{self.region}:{self.account}:execution:{n}:*"
                for n in self.state_machine_names
            ],
            reason="Execution names are batch ids created per run; access stays within these two state machines.",
        )
        return policy

    def _alarms(self, config: EnvironmentConfig, compute: ComputeStack, alert_topic: sns.ITopic) -> PipelineAlarms:
        """Failed and timed-out executions, failed EMR jobs: catalog alarms to ``alert_topic``."""
        return PipelineAlarms(
            self,
            "Alarms",
            props=PipelineAlarmsProps(
                alarm_prefix=config.prefix,
                application=compute.application,
                state_machines={
                    "Pipeline": self.pipeline.state_machine,
                    "Maintenance": self.maintenance.state_machine,
                },
                alarms=CatalogAlarmFactory(
                    environment=config.name, topic=alert_topic, runbook_base_url=config.ops.runbook_base_url
                ),
            ),
        )
