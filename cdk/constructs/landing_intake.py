"""LandingIntake: the landing intake Lambda with its queue (+ DLQ), its manifest table and the rules feeding it.

S3 "Object Created" (EventBridge) -> SQS (+ DLQ) -> Lambda -> manifest + pipeline start; lake writers' ended
executions reach the same queue (objects that landed while a writer ran wait for its end: the pending marker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.constructs.backup_plan import BackupMembership
from cdk.constructs.encrypted_queue import EncryptedQueue, EncryptedQueueProps
from cdk.constructs.ops_function import OpsCommon, OpsFunction
from job_assets.contracts import metrics as catalog
from platform_model import aws_names

INTAKE_TIMEOUT = Duration.seconds(60)


@dataclass(frozen=True, kw_only=True)
class LandingIntakeProps:
    common: OpsCommon
    landing_bucket: s3.IBucket
    pipeline: sfn.IStateMachine
    """The state machine the intake starts."""
    writers: Sequence[sfn.IStateMachine]
    """Every lake writer, the pipeline included: the pipeline starts only when none of them runs."""
    name_prefix: str
    """Names the rules ``<prefix>-landing-object-created`` and ``<prefix>-writer-ended``."""
    max_receive_count: int
    """Receives of one message before it moves to the intake dead-letter queue."""
    batch_size: int
    batching_window: Duration
    deletion_protection: bool
    """Of the manifest table (off only where the environment may be destroyed)."""
    backup: BackupMembership
    """The environment's AWS Backup snapshot plan: the manifest table is added to it (a selection in this
    construct, in the table's stack)."""
    execution_reader_policy: iam.IManagedPolicy
    """Describes the pipeline's executions: whether an ended run was one the single-writer guard refused, when
    its event does not say (the failure notifier attaches the same policy)."""


class LandingIntake(OpsFunction):
    """The ``landing-intake`` function (an :class:`OpsFunction`) and what only it uses.

    The queue, the manifest table and the two rules are created beside the function, in ``scope`` (the
    Ops stack), where they stood before this construct existed: their construct paths, hence their logical
    IDs and the IDs derived from them (the event source mapping's names the queue), stay as deployed.
    One per scope.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: LandingIntakeProps) -> None:
        common = props.common
        queue = EncryptedQueue(
            scope,
            "IntakeQueue",
            props=EncryptedQueueProps(
                queue_name=aws_names.intake_queue_name(common.environment, common.project),
                encryption_key=common.encryption_key,
                alarms=common.alarms,
                max_receive_count=props.max_receive_count,
                # AWS: at least 6x the function timeout, so a retried batch is not received twice at once.
                visibility_timeout=Duration.seconds(INTAKE_TIMEOUT.to_seconds() * 6),
            ),
        )
        assert queue.queue is not None
        manifest = _manifest_table(scope, common, deletion_protection=props.deletion_protection)
        super().__init__(
            scope,
            construct_id,
            props=common.function_props(
                "landing-intake",
                handler="landing_intake.handler.handler",
                description=(
                    "Validates new landing objects against the landing contract, records them, starts the pipeline."
                ),
                environment={
                    "ENVIRONMENT": common.environment,
                    "MANIFEST_TABLE": manifest.table_name,
                    "STATE_MACHINE_ARN": props.pipeline.state_machine_arn,
                    "WRITER_STATE_MACHINE_ARNS": ",".join(w.state_machine_arn for w in props.writers),
                    "LANDING_BUCKET": props.landing_bucket.bucket_name,
                },
                timeout=INTAKE_TIMEOUT,
                reserved_concurrency=5,
                managed_policies=[common.metrics_policy, props.execution_reader_policy],
                statements=_statements(scope, props, queue.queue, manifest),
            ),
        )
        self.intake_queue = queue
        self.manifest = manifest
        self.rejected_alarm = common.alarms.alarm(
            scope,
            "IntakeRejectedAlarm",
            metric_key="intake_rejected",
            name=f"{aws_names.prefix(common.environment, common.project)}-landing-intake-rejected",
            subject="the landing intake",
            dimensions={catalog.ENVIRONMENT: common.environment},
        )
        self.alarms = [queue.depth_alarm, self.rejected_alarm]
        self.function.add_event_source(
            sources.SqsEventSource(
                queue.queue,
                batch_size=props.batch_size,
                max_batching_window=props.batching_window,
                report_batch_item_failures=True,
            )
        )
        self.landing_rule, self.writer_ended_rule = _rules(scope, props, queue.queue)
        props.backup.add(self, "ManifestBackup", manifest.table_arn)


def _manifest_table(scope: Construct, common: OpsCommon, *, deletion_protection: bool) -> dynamodb.TableV2:
    """One item per landing object version, plus the pending marker; under the ops key, PITR on (and in the
    AWS Backup snapshot plan: the caller adds it)."""
    manifest = dynamodb.TableV2(
        scope,
        "IntakeManifest",
        table_name=aws_names.intake_manifest_table_name(common.environment, common.project),
        partition_key=dynamodb.Attribute(name="object_key", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="object_version", type=dynamodb.AttributeType.STRING),
        billing=dynamodb.Billing.on_demand(),
        encryption=dynamodb.TableEncryptionV2.customer_managed_key(common.encryption_key),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        deletion_protection=deletion_protection,
        removal_policy=common.removal_policy,
    )
    return manifest


def _statements(
    scope: Construct, props: LandingIntakeProps, queue: sqs.IQueue, manifest: dynamodb.TableV2
) -> list[iam.PolicyStatement]:
    """Consume the queue, write the manifest (objects and the pending marker), find running writers, start."""
    region = Stack.of(scope).region
    return [
        iam.PolicyStatement(
            sid="ConsumeIntakeQueue",
            actions=[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            resources=[queue.queue_arn],
        ),
        iam.PolicyStatement(
            sid="RecordObjectsAndPendingMarker",
            actions=["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:DeleteItem"],
            resources=[manifest.table_arn],
        ),
        iam.PolicyStatement(
            sid="UseOpsKey",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[props.common.encryption_key.key_arn],
            conditions={
                "StringEquals": {"kms:ViaService": [f"sqs.{region}.amazonaws.com", f"dynamodb.{region}.amazonaws.com"]}
            },
        ),
        iam.PolicyStatement(
            sid="FindRunningWriters",
            actions=["states:ListExecutions"],
            resources=[w.state_machine_arn for w in props.writers],
        ),
        iam.PolicyStatement(
            sid="StartPipeline", actions=["states:StartExecution"], resources=[props.pipeline.state_machine_arn]
        ),
    ]


def _rules(scope: Construct, props: LandingIntakeProps, queue: sqs.IQueue) -> tuple[events.Rule, events.Rule]:
    """New landing objects, and lake writers' ended executions, -> the intake queue."""
    prefix = props.name_prefix
    landing_rule = events.Rule(
        scope,
        "LandingObjectCreated",
        rule_name=f"{prefix}-landing-object-created",
        description=f"New objects in {prefix} landing -> the landing intake queue.",
        event_pattern=events.EventPattern(
            source=["aws.s3"],
            detail_type=["Object Created"],
            detail={"bucket": {"name": [props.landing_bucket.bucket_name]}},
        ),
        targets=[props.common.queue_target(queue)],
    )
    # Objects that land while a writer runs wait (the pending marker) for that writer's end.
    writer_ended_rule = events.Rule(
        scope,
        "WriterEnded",
        rule_name=f"{prefix}-writer-ended",
        description="Pipeline and maintenance executions that end -> the landing intake queue (pending objects).",
        event_pattern=events.EventPattern(
            source=["aws.states"],
            detail_type=["Step Functions Execution Status Change"],
            detail={
                "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
                "stateMachineArn": [w.state_machine_arn for w in props.writers],
            },
        ),
        targets=[props.common.queue_target(queue)],
    )
    return landing_rule, writer_ended_rule
