"""EncryptedQueue: an SQS queue under a customer-managed key, TLS only, with its dead-letter queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.catalog_alarm import CatalogAlarmFactory
from job_assets.contracts import metrics as catalog

MAX_RETENTION = Duration.days(14)


@dataclass(frozen=True, kw_only=True)
class EncryptedQueueProps:
    queue_name: str
    encryption_key: kms.IKey
    alarms: CatalogAlarmFactory
    """Builds the dead-letter depth alarm (catalog entry ``dlq_depth``)."""
    runbook: str | None = None
    """The runbook the depth alarm links, when not the catalog's (``intake-dlq-not-empty.md``)."""
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
        self.depth_alarm = props.alarms.alarm(
            self,
            "DeadLetterDepthAlarm",
            metric_key="dlq_depth",
            name=f"{dlq_name}-not-empty",
            subject=f"dead-letter queue {dlq_name}",
            dimensions={catalog.QUEUE_NAME: self.dead_letter_queue.queue_name},
            runbook=props.runbook,
        )
