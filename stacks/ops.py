"""Lakehouse-<env>-Ops: the operational Lambdas, their queues, rules, schedules and alarms.

One construct per function (``cdk/constructs/``), composed here over what they share: the ops key, the
failed-events queue, the pyarrow layer and the code asset (:class:`~cdk.constructs.ops_function.OpsCommon`).

* landing intake: S3 "Object Created" (EventBridge) -> SQS (+ DLQ) -> Lambda -> manifest + pipeline start
* failure notifier: EMR job runs FAILED/CANCELLED, executions FAILED/TIMED_OUT -> one readable alert
* freshness monitor: every silver/gold table's minutes since its last commit, an alarm per table at its SLO
* DR replica verifier (when replication is on): replica consistency and lag, an alarm past the RTC window
* cost reporter: each successful job run's cost and cost per million records

Gold is kept per blue/green slot; the freshness monitor and the cost reporter read the active slot from the
environment's SSM slots parameter (``aws_names.slots_parameter_name``), created by another stack and
addressed here by its deterministic name and ARN (no cross-stack reference).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk.config import EnvironmentConfig
from cdk.constructs.catalog_alarm import CatalogAlarmFactory
from cdk.constructs.cost_reporter import CostReporter, CostReporterProps
from cdk.constructs.encrypted_queue import EncryptedQueue, EncryptedQueueProps
from cdk.constructs.failure_notifier import FailureNotifier, FailureNotifierProps
from cdk.constructs.freshness_monitor import FreshnessMonitor, FreshnessMonitorProps
from cdk.constructs.landing_intake import LandingIntake, LandingIntakeProps
from cdk.constructs.layer_key import LayerKey, LayerKeyProps
from cdk.constructs.ops_function import ARCHITECTURE, RUNTIME, XRAY_ACTIONS, OpsCommon, OpsFunction
from cdk.constructs.replica_verifier import ReplicaVerifier, ReplicaVerifierProps
from cdk.constructs.star_resource_policy import StarResourcePolicy, StarResourcePolicyProps
from cdk.lambda_packaging import LambdaBuild
from cdk.log_retention import log_retention
from job_assets.contracts import runbooks
from job_assets.contracts.freshness import MONITORED_LAYERS
from job_assets.contracts.layout import LAYERS
from platform_model import aws_names
from stacks.compute import ComputeStack
from stacks.dr import DrStack
from stacks.network import NetworkStack
from stacks.orchestration import OrchestrationStack
from stacks.storage import StorageStack


class OpsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        storage: StorageStack,
        compute: ComputeStack,
        orchestration: OrchestrationStack,
        alert_topic: sns.ITopic,
        alert_publish_policy: iam.IManagedPolicy,
        dr: DrStack | None,
        lambda_build: LambdaBuild,
        network: NetworkStack | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        alarm_factory = CatalogAlarmFactory(
            environment=config.name, topic=alert_topic, runbook_base_url=config.ops.runbook_base_url
        )
        removal = RemovalPolicy.DESTROY if config.features.allow_destroy else RemovalPolicy.RETAIN
        self.key = self._key(config, removal)
        self.slots_parameter_name = aws_names.slots_parameter_name(config.name, config.project)
        self.arrow_layer = lambda_.LayerVersion(
            self,
            "ArrowLayer",
            code=lambda_.Code.from_asset(str(lambda_build.arrow_layer_zip)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="pyarrow (pinned in lambdas/requirements-arrow.txt): reads Delta checkpoints.",
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.failed_events = EncryptedQueue(
            self,
            "FailedEvents",
            props=EncryptedQueueProps(
                queue_name=aws_names.failed_events_queue_name(config.name, config.project),
                encryption_key=self.key,
                alarms=alarm_factory,
                runbook=runbooks.runbook_file(runbooks.LAMBDA_ERRORS),
            ),
        )
        self.common = self._common(config, alarm_factory, removal, compute, lambda_build, network)
        self._compose(storage, compute, orchestration, alert_topic, alert_publish_policy, dr)

    def _common(
        self,
        config: EnvironmentConfig,
        alarms: CatalogAlarmFactory,
        removal: RemovalPolicy,
        compute: ComputeStack,
        lambda_build: LambdaBuild,
        network: NetworkStack | None,
    ) -> OpsCommon:
        """What every function shares: code, key, alarms, failed-events queue, the X-Ray and metrics policies."""
        tracing = StarResourcePolicy(
            self,
            "LambdaTracing",
            props=StarResourcePolicyProps(
                description=f"X-Ray trace writes of the {config.prefix} operational Lambdas.",
                statements=[iam.PolicyStatement(sid="Tracing", actions=[*XRAY_ACTIONS], resources=["*"])],
                reason="X-Ray PutTraceSegments/PutTelemetryRecords take no resource ARN (AWS documents '*').",
            ),
        ).policy
        return OpsCommon(
            environment=config.name,
            project=config.project,
            code=lambda_.Code.from_asset(str(lambda_build.code_dir)),
            encryption_key=self.key,
            log_retention=log_retention(config.retention.log_group_retention_days),
            alarms=alarms,
            failed_events=self.failed_events.dead_letter_queue,
            removal_policy=removal,
            tracing_policy=tracing,
            metrics_policy=compute.metrics_publisher_policy,
            network=network.function_network if network else None,
        )

    def _compose(
        self,
        storage: StorageStack,
        compute: ComputeStack,
        orchestration: OrchestrationStack,
        alert_topic: sns.ITopic,
        alert_publish_policy: iam.IManagedPolicy,
        dr: DrStack | None,
    ) -> None:
        """One construct per function; ``functions`` and ``alarms`` in the order the stack always built them."""
        self.landing_intake = self._landing_intake(storage, orchestration)
        self.failure_notifier = self._failure_notifier(compute, orchestration, alert_topic, alert_publish_policy)
        self.cost_reporter = self._cost_reporter(storage, compute)
        self.freshness_monitor = self._freshness_monitor(storage)
        self.replica_verifier = self._replica_verifier(storage, dr) if dr is not None else None
        self.functions: dict[str, OpsFunction] = {
            "landing-intake": self.landing_intake,
            "failure-notifier": self.failure_notifier,
            "cost-reporter": self.cost_reporter,
            "freshness-monitor": self.freshness_monitor,
        }
        if self.replica_verifier is not None:
            self.functions["replica-verifier"] = self.replica_verifier
        self.alarms: list[cloudwatch.Alarm] = [
            self.failed_events.depth_alarm,
            *(alarm for function in self.functions.values() for alarm in function.alarms),
            *(function.errors_alarm for function in self.functions.values()),
        ]

    def _key(self, config: EnvironmentConfig, removal: RemovalPolicy) -> kms.Key:
        """The ops key (no lake data): the account's roles through SQS and DynamoDB (IAM decides which: the
        Lambdas' and the state machines' policies), CloudWatch Logs for the Lambdas' log groups, EventBridge
        delivering to the encrypted queues; the account itself only administers it."""
        key = LayerKey(
            self,
            "OpsKey",
            props=LayerKeyProps(
                alias=aws_names.kms_alias(config.name, "ops", config.project),
                description=f"Encrypts the {config.prefix} operational queues, intake manifest and Lambda logs.",
                removal_policy=removal,
                via_services=[f"{service}.{self.region}.amazonaws.com" for service in ("sqs", "dynamodb")],
                cloudwatch_logs=True,
            ),
        ).key
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeToDeliverToEncryptedQueues",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        return key

    # --- functions ---------------------------------------------------------------------------------

    def _landing_intake(self, storage: StorageStack, orchestration: OrchestrationStack) -> LandingIntake:
        config = self.config
        pipeline = orchestration.pipeline.state_machine
        return LandingIntake(
            self,
            "LandingIntake",
            props=LandingIntakeProps(
                common=self.common,
                landing_bucket=storage.buckets["landing"],
                pipeline=pipeline,
                writers=[pipeline, orchestration.maintenance.state_machine],
                name_prefix=config.prefix,
                max_receive_count=config.ops.intake_max_receive_count,
                batch_size=config.ops.intake_batch_size,
                batching_window=Duration.seconds(config.ops.intake_batching_window_seconds),
                deletion_protection=not config.features.allow_destroy,
                backup=storage.backup.snapshots,
                execution_reader_policy=orchestration.execution_reader_policy,
            ),
        )

    def _failure_notifier(
        self,
        compute: ComputeStack,
        orchestration: OrchestrationStack,
        alert_topic: sns.ITopic,
        alert_publish_policy: iam.IManagedPolicy,
    ) -> FailureNotifier:
        config = self.config
        return FailureNotifier(
            self,
            "FailureNotifier",
            props=FailureNotifierProps(
                common=self.common,
                application=compute.application,
                state_machines=[orchestration.pipeline.state_machine, orchestration.maintenance.state_machine],
                alert_topic=alert_topic,
                alert_publish_policy=alert_publish_policy,
                reader_policies=[compute.job_run_reader_policy, orchestration.execution_reader_policy],
                runbook_base_url=config.ops.runbook_base_url,
                emr_log_group=f"/aws/emr-serverless/{config.prefix}",
                name_prefix=config.prefix,
            ),
        )

    def _cost_reporter(self, storage: StorageStack, compute: ComputeStack) -> CostReporter:
        prices = self.config.pricing
        return CostReporter(
            self,
            "CostReporter",
            props=CostReporterProps(
                common=self.common,
                application=compute.application,
                prices={
                    "vcpu_hour": prices.vcpu_hour,
                    "memory_gb_hour": prices.memory_gb_hour,
                    "storage_gb_hour": prices.storage_gb_hour,
                },
                layer_buckets={layer: storage.buckets[layer] for layer in LAYERS},
                slots_parameter_name=self.slots_parameter_name,
                arrow_layer=self.arrow_layer,
                reader_policies=[
                    compute.job_run_reader_policy,
                    *(storage.run_summary_read_policies[layer] for layer in LAYERS),
                ],
                name_prefix=self.config.prefix,
            ),
        )

    def _freshness_monitor(self, storage: StorageStack) -> FreshnessMonitor:
        return FreshnessMonitor(
            self,
            "FreshnessMonitor",
            props=FreshnessMonitorProps(
                common=self.common,
                layer_buckets={layer: storage.buckets[layer] for layer in MONITORED_LAYERS},
                read_policies=[storage.delta_log_read_policies[layer] for layer in MONITORED_LAYERS],
                slots_parameter_name=self.slots_parameter_name,
                check_minutes=self.config.ops.freshness_check_minutes,
                name_prefix=self.config.prefix,
            ),
        )

    def _replica_verifier(self, storage: StorageStack, dr: DrStack) -> ReplicaVerifier:
        config = self.config
        return ReplicaVerifier(
            self,
            "ReplicaVerifier",
            props=ReplicaVerifierProps(
                common=self.common,
                replica_region=config.dr_region,
                source_buckets={layer: storage.buckets[layer] for layer in LAYERS},
                replica_buckets={layer: dr.buckets[layer] for layer in LAYERS},
                read_policies=[
                    *(storage.delta_log_read_policies[layer] for layer in LAYERS),
                    *(dr.delta_log_read_policies[layer] for layer in LAYERS),
                ],
                arrow_layer=self.arrow_layer,
                check_minutes=config.ops.replica_check_minutes,
                name_prefix=config.prefix,
            ),
        )
