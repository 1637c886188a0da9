"""Lakehouse-<env>-Ops: the operational Lambdas, their queues, rules, schedules and alarms.

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

import json
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.config import RTC_WINDOW_MINUTES, EnvironmentConfig
from cdk.constructs.catalog_alarm import CatalogAlarm, CatalogAlarmFactory
from cdk.constructs.encrypted_queue import EncryptedQueue, EncryptedQueueProps
from cdk.constructs.ops_function import ARCHITECTURE, RUNTIME, OpsFunction, OpsFunctionProps
from cdk.lambda_packaging import LambdaBuild
from cdk.log_retention import log_retention
from job_assets.contracts import metrics as catalog
from job_assets.contracts import runbooks
from job_assets.contracts.freshness import MONITORED_LAYERS, monitored_tables
from job_assets.contracts.layout import LAYERS
from platform_model import aws_names
from stacks.compute import ComputeStack
from stacks.dr import DrStack
from stacks.orchestration import OrchestrationStack
from stacks.storage import StorageStack

INTAKE_TIMEOUT = Duration.seconds(60)


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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.topic = alert_topic
        self.alarm_factory = CatalogAlarmFactory(
            environment=config.name, topic=alert_topic, runbook_base_url=config.ops.runbook_base_url
        )
        removal = RemovalPolicy.DESTROY if config.features.allow_destroy else RemovalPolicy.RETAIN
        self.removal = removal
        self.key = self._key(config, removal)
        self.slots_parameter_name = aws_names.slots_parameter_name(config.name, config.project)
        self.slots_parameter_arn = self.format_arn(
            service="ssm", resource="parameter", resource_name=self.slots_parameter_name.lstrip("/")
        )
        self.code = lambda_.Code.from_asset(str(lambda_build.code_dir))
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
                alarms=self.alarm_factory,
                runbook=runbooks.runbook_file(runbooks.LAMBDA_ERRORS),
            ),
        )
        self.functions: dict[str, OpsFunction] = {}
        self.alarms: list[cloudwatch.Alarm] = [self.failed_events.depth_alarm]
        self._landing_intake(storage, orchestration)
        self._failure_notifier(compute, orchestration, alert_publish_policy)
        self._cost_reporter(storage, compute)
        self._freshness_monitor(storage)
        if dr is not None:
            self._replica_verifier(storage, dr)
        self.alarms += [f.errors_alarm for f in self.functions.values()]

    # --- shared pieces ---------------------------------------------------------------------------

    def _key(self, config: EnvironmentConfig, removal: RemovalPolicy) -> kms.Key:
        key = kms.Key(
            self,
            "OpsKey",
            alias=f"alias/{config.prefix}-ops",
            description=f"Encrypts the {config.prefix} operational queues, intake manifest and Lambda logs.",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=removal,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForThisAccountsLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
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

    def _function(self, name: str, handler: str, description: str, **props: Any) -> OpsFunction:
        function = OpsFunction(
            self,
            "".join(part.capitalize() for part in name.split("-")),
            props=OpsFunctionProps(
                function_name=aws_names.function_name(self.config.name, name, self.config.project),
                description=description,
                handler=handler,
                code=self.code,
                encryption_key=self.key,
                log_retention=log_retention(self.config.retention.log_group_retention_days),
                alarms=self.alarm_factory,
                removal_policy=self.removal,
                **props,
            ),
        )
        self.functions[name] = function
        return function

    def _put_metrics(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid="PublishLakehouseMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": catalog.our_namespace(self.config.name)}},
        )

    def _read_active_slot(self) -> iam.PolicyStatement:
        """GetParameter on exactly the slots parameter (a String: no KMS key to decrypt)."""
        return iam.PolicyStatement(
            sid="ReadActiveSlot", actions=["ssm:GetParameter"], resources=[self.slots_parameter_arn]
        )

    def _alarm(self, construct_id: str, **props: Any) -> CatalogAlarm:
        alarm = self.alarm_factory.alarm(self, construct_id, **props)
        self.alarms.append(alarm)
        return alarm

    def _async_target(self, function: OpsFunction) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            function.function,
            dead_letter_queue=self.failed_events.dead_letter_queue,
            retry_attempts=8,
            max_event_age=Duration.hours(6),
        )

    # --- functions ---------------------------------------------------------------------------------

    def _landing_intake(self, storage: StorageStack, orchestration: OrchestrationStack) -> None:
        config = self.config
        queue = EncryptedQueue(
            self,
            "IntakeQueue",
            props=EncryptedQueueProps(
                queue_name=aws_names.intake_queue_name(config.name, config.project),
                encryption_key=self.key,
                alarms=self.alarm_factory,
                max_receive_count=config.ops.intake_max_receive_count,
                # AWS: at least 6x the function timeout, so a retried batch is not received twice at once.
                visibility_timeout=Duration.seconds(INTAKE_TIMEOUT.to_seconds() * 6),
            ),
        )
        assert queue.queue is not None
        self.intake_queue = queue
        self.alarms.append(queue.depth_alarm)
        self.manifest = dynamodb.TableV2(
            self,
            "IntakeManifest",
            table_name=aws_names.intake_manifest_table_name(config.name, config.project),
            partition_key=dynamodb.Attribute(name="object_key", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="object_version", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(self.key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=not config.features.allow_destroy,
            removal_policy=self.removal,
        )
        storage.backup.snapshots.add(self, "IntakeManifestBackup", self.manifest.table_arn)
        pipeline = orchestration.pipeline.state_machine
        writers = [pipeline, orchestration.maintenance.state_machine]
        function = self._function(
            "landing-intake",
            "landing_intake.handler.handler",
            "Validates new landing objects against the landing contract, records them, starts the pipeline.",
            environment={
                "ENVIRONMENT": config.name,
                "MANIFEST_TABLE": self.manifest.table_name,
                "STATE_MACHINE_ARN": pipeline.state_machine_arn,
                "WRITER_STATE_MACHINE_ARNS": ",".join(w.state_machine_arn for w in writers),
                "LANDING_BUCKET": storage.buckets["landing"].bucket_name,
            },
            timeout=INTAKE_TIMEOUT,
            reserved_concurrency=5,
            statements=[
                iam.PolicyStatement(
                    sid="ConsumeIntakeQueue",
                    actions=[
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                    ],
                    resources=[queue.queue.queue_arn],
                ),
                iam.PolicyStatement(
                    sid="RecordObjectsAndPendingMarker",
                    actions=["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:DeleteItem"],
                    resources=[self.manifest.table_arn],
                ),
                iam.PolicyStatement(
                    sid="UseOpsKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[self.key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": [
                                f"sqs.{self.region}.amazonaws.com",
                                f"dynamodb.{self.region}.amazonaws.com",
                            ]
                        }
                    },
                ),
                iam.PolicyStatement(
                    sid="FindRunningWriters",
                    actions=["states:ListExecutions"],
                    resources=[w.state_machine_arn for w in writers],
                ),
                iam.PolicyStatement(
                    sid="StartPipeline", actions=["states:StartExecution"], resources=[pipeline.state_machine_arn]
                ),
                self._put_metrics(),
            ],
        )
        function.function.add_event_source(
            sources.SqsEventSource(
                queue.queue,
                batch_size=config.ops.intake_batch_size,
                max_batching_window=Duration.seconds(config.ops.intake_batching_window_seconds),
                report_batch_item_failures=True,
            )
        )
        landing = storage.buckets["landing"]
        self.landing_rule = events.Rule(
            self,
            "LandingObjectCreated",
            rule_name=f"{config.prefix}-landing-object-created",
            description=f"New objects in {config.prefix} landing -> the landing intake queue.",
            event_pattern=events.EventPattern(
                source=["aws.s3"], detail_type=["Object Created"], detail={"bucket": {"name": [landing.bucket_name]}}
            ),
            targets=[self._queue_target(queue.queue)],
        )
        # Objects that land while a writer runs wait (the pending marker) for that writer's end.
        self.writer_ended_rule = events.Rule(
            self,
            "WriterEnded",
            rule_name=f"{config.prefix}-writer-ended",
            description="Pipeline and maintenance executions that end -> the landing intake queue (pending objects).",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [w.state_machine_arn for w in writers],
                },
            ),
            targets=[self._queue_target(queue.queue)],
        )

    def _queue_target(self, queue: sqs.IQueue) -> targets.SqsQueue:
        return targets.SqsQueue(
            queue,
            dead_letter_queue=self.failed_events.dead_letter_queue,
            retry_attempts=8,
            max_event_age=Duration.hours(6),
        )

    def _failure_notifier(
        self, compute: ComputeStack, orchestration: OrchestrationStack, alert_publish_policy: iam.IManagedPolicy
    ) -> None:
        config = self.config
        application = compute.application
        machines = [orchestration.pipeline.state_machine, orchestration.maintenance.state_machine]
        function = self._function(
            "failure-notifier",
            "failure_notifier.handler.handler",
            "Turns failed EMR job runs and pipeline executions into one readable alert with links and runbook.",
            environment={
                "ENVIRONMENT": config.name,
                "ALERT_TOPIC_ARN": self.topic.topic_arn,
                "RUNBOOK_BASE_URL": config.ops.runbook_base_url,
                "LOG_GROUP": f"/aws/emr-serverless/{config.prefix}",
                "APPLICATION_ID": application.application_id,
                "PROJECT": config.project,
            },
            reserved_concurrency=2,
            managed_policies=[
                alert_publish_policy,
                compute.job_run_reader_policy,
                orchestration.execution_reader_policy,
            ],
            failed_events_queue=self.failed_events.dead_letter_queue,
        )
        self.notifier_rules = [
            events.Rule(
                self,
                "JobRunFailed",
                rule_name=f"{config.prefix}-job-run-failed",
                description="EMR Serverless job runs of the lakehouse application that end FAILED or CANCELLED.",
                event_pattern=events.EventPattern(
                    source=["aws.emr-serverless"],
                    detail_type=["EMR Serverless Job Run State Change"],
                    detail={"state": ["FAILED", "CANCELLED"], "applicationId": [application.application_id]},
                ),
                targets=[self._async_target(function)],
            ),
            events.Rule(
                self,
                "ExecutionFailed",
                rule_name=f"{config.prefix}-execution-failed",
                description="Pipeline and maintenance executions that end FAILED or TIMED_OUT.",
                event_pattern=events.EventPattern(
                    source=["aws.states"],
                    detail_type=["Step Functions Execution Status Change"],
                    detail={
                        "status": ["FAILED", "TIMED_OUT"],
                        "stateMachineArn": [s.state_machine_arn for s in machines],
                    },
                ),
                targets=[self._async_target(function)],
            ),
        ]

    def _cost_reporter(self, storage: StorageStack, compute: ComputeStack) -> None:
        config = self.config
        application = compute.application
        prices = config.pricing
        function = self._function(
            "cost-reporter",
            "cost_reporter.handler.handler",
            "Prices each successful job run (billed utilization) and publishes cost per million records.",
            environment={
                "ENVIRONMENT": config.name,
                "APPLICATION_ID": application.application_id,
                "PRICES": json.dumps(
                    {
                        "vcpu_hour": prices.vcpu_hour,
                        "memory_gb_hour": prices.memory_gb_hour,
                        "storage_gb_hour": prices.storage_gb_hour,
                    }
                ),
                "LAYER_BUCKETS": json.dumps({layer: storage.buckets[layer].bucket_name for layer in LAYERS}),
                "SLOTS_PARAMETER": self.slots_parameter_name,
            },
            timeout=Duration.minutes(2),
            memory_mb=1024,
            layers=[self.arrow_layer],
            reserved_concurrency=2,
            managed_policies=[
                compute.job_run_reader_policy,
                *(storage.read_policies[layer] for layer in LAYERS),
            ],
            failed_events_queue=self.failed_events.dead_letter_queue,
            statements=[self._put_metrics(), self._read_active_slot()],
        )
        self.cost_rule = events.Rule(
            self,
            "JobRunSucceeded",
            rule_name=f"{config.prefix}-job-run-succeeded",
            description="Successful EMR Serverless job runs of the lakehouse application -> the cost reporter.",
            event_pattern=events.EventPattern(
                source=["aws.emr-serverless"],
                detail_type=["EMR Serverless Job Run State Change"],
                detail={"state": ["SUCCESS"], "applicationId": [application.application_id]},
            ),
            targets=[self._async_target(function)],
        )

    def _freshness_monitor(self, storage: StorageStack) -> None:
        config = self.config
        layers = MONITORED_LAYERS
        function = self._function(
            "freshness-monitor",
            "freshness_monitor.handler.handler",
            "Publishes minutes since the last Delta commit of every silver and gold table.",
            environment={
                "ENVIRONMENT": config.name,
                "LAYER_BUCKETS": json.dumps({layer: storage.buckets[layer].bucket_name for layer in layers}),
                "SLOTS_PARAMETER": self.slots_parameter_name,
            },
            timeout=Duration.minutes(2),
            reserved_concurrency=1,
            managed_policies=[storage.read_policies[layer] for layer in layers],
            failed_events_queue=self.failed_events.dead_letter_queue,
            statements=[self._put_metrics(), self._read_active_slot()],
        )
        self.freshness_schedule = events.Rule(
            self,
            "FreshnessSchedule",
            rule_name=f"{config.prefix}-freshness-monitor",
            description=f"Runs the freshness monitor every {config.ops.freshness_check_minutes} minutes.",
            schedule=events.Schedule.rate(Duration.minutes(config.ops.freshness_check_minutes)),
            targets=[self._async_target(function)],
        )
        self.freshness_alarms = {}
        for monitored in monitored_tables():  # the same list the function checks
            table = monitored.name
            self.freshness_alarms[table] = self._alarm(
                f"Freshness{''.join(p.capitalize() for p in table.replace('.', '_').split('_'))}",
                metric_key="freshness_minutes",
                name=f"{config.prefix}-freshness-{table.replace('.', '-').replace('_', '-')}",
                subject=table,
                dimensions={catalog.ENVIRONMENT: config.name, catalog.TABLE: table},
                threshold=monitored.slo_minutes,
                # One check per period (the catalog: 1 of 2 periods, so a late check does not flap).
                period=Duration.minutes(config.ops.freshness_check_minutes),
            )

    def _replica_verifier(self, storage: StorageStack, dr: DrStack) -> None:
        config = self.config
        function = self._function(
            "replica-verifier",
            "replica_verifier.handler.handler",
            "Checks every replicated Delta table: all files of the latest replicated version exist; lag.",
            environment={
                "ENVIRONMENT": config.name,
                "REPLICA_REGION": config.dr_region,
                "BUCKET_PAIRS": json.dumps(
                    {
                        layer: {"source": storage.buckets[layer].bucket_name, "replica": dr.buckets[layer].bucket_name}
                        for layer in LAYERS
                    }
                ),
            },
            timeout=Duration.minutes(5),
            memory_mb=1024,
            layers=[self.arrow_layer],
            reserved_concurrency=1,
            managed_policies=[
                *(storage.read_policies[layer] for layer in LAYERS),
                *(dr.read_policies[layer] for layer in LAYERS),
            ],
            failed_events_queue=self.failed_events.dead_letter_queue,
            statements=[self._put_metrics()],
        )
        self.replica_schedule = events.Rule(
            self,
            "ReplicaCheckSchedule",
            rule_name=f"{config.prefix}-replica-verifier",
            description=f"Runs the DR replica verifier every {config.ops.replica_check_minutes} minutes.",
            schedule=events.Schedule.rate(Duration.minutes(config.ops.replica_check_minutes)),
            targets=[self._async_target(function)],
        )
        periods = RTC_WINDOW_MINUTES // config.ops.replica_check_minutes + 1
        self.replica_alarm = self._alarm(
            "ReplicaInconsistent",
            metric_key="replica_consistent",
            name=f"{config.prefix}-replica-inconsistent",
            subject=f"every replicated table in {config.dr_region}",
            dimensions={catalog.ENVIRONMENT: config.name},
            period=Duration.minutes(config.ops.replica_check_minutes),
            evaluation_periods=periods,
        )
