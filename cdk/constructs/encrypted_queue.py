"""EncryptedQueue: an SQS queue under a customer-managed key, TLS only, with its dead-letter queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MAX_RETENTION = Duration.days(14)


@dataclass(frozen=True, kw_only=True)
class EncryptedQueueProps:
    queue_name: str
    encryption_key: kms.IKey
    alarm_topic: sns.ITopic
    runbook_url: str
    """Linked from the dead-letter depth alarm."""
    max_receive_count: int | None = None
    """Receives before a message moves to the dead-letter queue (``None``: this queue *is* a DLQ only)."""
    visibility_timeout: Duration = field(default_factory=lambda: Duration.seconds(30))


class EncryptedQueue(Construct):
    """``queue`` (unless DLQ-only) and ``dead_letter_queue``, both SSE-KMS and TLS-only, 14-day retention.

    An alarm fires as soon as the dead-letter queue holds a message: something could not be processed
    and waits for an operator (``lakehouse dlq status`` / ``redrive`` for the landing intake).
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: EncryptedQueueProps) -> None:
        super().__init__(scope, construct_id)
        common = {
            "encryption": sqs.QueueEncryption.KMS,
            "encryption_master_key": props.encryption_key,
            "data_key_reuse": Duration.minutes(5),
            "enforce_ssl": True,
            "retention_period": MAX_RETENTION,
        }
        dlq_name = props.queue_name if props.max_receive_count is None else f"{props.queue_name}-dlq"
        self.dead_letter_queue = sqs.Queue(self, "DeadLetterQueue", queue_name=dlq_name, **common)
        self.queue: sqs.Queue | None = None
        if props.max_receive_count is not None:
            self.queue = sqs.Queue(
                self,
                "Queue",
                queue_name=props.queue_name,
                visibility_timeout=props.visibility_timeout,
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=self.dead_letter_queue, max_receive_count=props.max_receive_count
                ),
                **common,
            )
        self.depth_alarm = cloudwatch.Alarm(
            self,
            "DeadLetterDepthAlarm",
            alarm_name=f"{dlq_name}-not-empty",
            alarm_description=(
                f"Messages wait in the dead-letter queue {dlq_name}: they failed every attempt. "
                f"Runbook: {props.runbook_url}"
            ),
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = actions.SnsAction(props.alarm_topic)
        self.depth_alarm.add_alarm_action(action)
        self.depth_alarm.add_ok_action(action)
