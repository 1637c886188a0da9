"""Landing intake: check each new landing object against the landing contract, record it, start the pipeline.

Input is an SQS batch (event source mapping with ``ReportBatchItemFailures``). A message body is one of

* an EventBridge ``Object Created`` event from ``aws.s3`` (how the Ops stack routes the landing bucket),
* an S3 event notification (``{"Records": [{"eventSource": "aws:s3", ...}, ...]}``, possibly wrapped in an
  SNS envelope), which may hold several objects,
* an ``s3:TestEvent`` (S3 sends one when a notification is configured): logged, nothing to record,
* an EventBridge ``Step Functions Execution Status Change`` of a lake writer (the pipeline or maintenance)
  that ended: the signal to start the pipeline for objects that arrived while that writer ran.

Object keys arrive URL-encoded in both S3 formats (``dt%3D2025-01-01``, ``+`` for a space): they are decoded
with :func:`urllib.parse.unquote_plus`.

What happens to a message:

* **processed** (deleted by SQS): every object in it is in the intake manifest (DynamoDB) with status
  ``accepted`` or ``rejected`` (and why), written now or by an earlier delivery. An object that can never be
  valid (unknown ``<source>/<entity>``, no or a bad ``dt=`` partition, empty, wrong extension, other bucket)
  is *rejected*, not failed: retrying cannot help.
* **failed** (its messageId in ``batchItemFailures``; SQS redelivers it and after ``maxReceiveCount``
  receives moves it to the dead-letter queue, so nothing is dropped): the body is not JSON or not an S3
  event, an S3 record lacks a field, a manifest write was throttled or failed, the time budget ran out
  before the message was reached, or, for a message that accepted an object or announced an ended writer,
  the pending marker, the running-writer check or the pipeline start failed (or, for a failed pipeline run
  whose event names no error, DescribeExecution).

Starting the pipeline (one writer at a time: the pipeline's guard fails fast while another writer runs):

* New accepted objects first set the *pending* marker (one manifest item), then the intake looks for a
  RUNNING execution of every lake writer. None: it starts the pipeline and clears the marker. One: it leaves
  the marker and the message is done; a run already under way may have listed landing before the object
  arrived, so the object waits for the next run, not for this one.
* When a writer's execution ends, its status-change event reaches this queue; if the marker is set and no
  writer runs, the intake starts the pipeline and clears the marker. ListExecutions is eventually consistent
  and may still list the execution that just ended: the executions whose ends the batch announces are not
  counted as running (else the last end would be answered "waiting" and nothing would start the run).
* A run the intake started can still be refused by the pipeline's guard (a writer started between the check
  and the guard, or the listing lagged): it fails with ``Lakehouse.ConcurrentExecution`` having listed no
  landing object, after the marker was cleared. Its end event (the error from ``detail.error``, or from
  DescribeExecution when the event carries neither error nor cause) counts as accepted objects: the marker
  is set again, and the pipeline starts now if no writer runs, else at that writer's end. Other failures
  set nothing (a failing job is not started again in a loop; its alert and runbook cover it).
* Set-then-check closes the race with a writer that ends in between: the end event's reader sees the
  marker (strongly consistent read), or the setter sees no writer running and starts the pipeline itself.
  The marker is cleared only if no newer object set it again (a conditional delete on its token), so an
  object accepted while the new run starts triggers one more run after it.

Redelivery (and a DLQ redrive) is idempotent: the manifest write is conditional on the object not being
recorded yet (one item per object version), and the pipeline starts under a per-minute execution name
(a concurrent start of the same name is the same execution).

Modules (every name is importable from here too):

* ``settings``: :class:`Settings` (the function's environment) and :class:`SettingsError`.
* ``events``: parsing message bodies (:func:`parse_body`, :class:`ObjectEvent`, :class:`TestEvent`,
  :class:`WriterEnded`, :class:`MalformedMessageError`).
* ``classification``: the landing contract as rules on an object key (:func:`classify`, :class:`Verdict`,
  :data:`REJECTION_REASONS`).
* ``manifest``: the manifest write (:func:`record_object`, :func:`manifest_key`).
* ``pipeline``: the pending marker, the running-writer check and the pipeline start (:func:`ensure_pipeline`,
  :func:`batch_id`), and the guard's refusals (:func:`refused_by_guard`).
* ``repositories``: what the logic asks of AWS, one interface per concern (the manifest store, the pending
  marker, the pipeline starter, the metrics publisher; :class:`Repositories` bundles them) and
  :class:`RepositoryError`. ``aws_repositories``: their boto3 implementations (:func:`aws_repositories`,
  what the handler wires); ``fakes``: in-memory ones for tests of the logic.
* ``intake`` (this module): the batch, one message at a time (:func:`process_batch`, :func:`process_message`),
  on the repositories it is given (the AWS ones of the settings by default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ops_common import log
from ops_common import metric_names as m
from ops_common.metrics import Datum
from ops_common.tracing import annotate

from landing_intake.aws_repositories import aws_repositories
from landing_intake.classification import (
    ACCEPTED,
    REJECTED,
    REJECTION_REASONS,
    Verdict,
    accepted_extensions,
    classify,
    known_entities,
    landing_entity,
)
from landing_intake.events import (
    ENDED,
    WRITER_FINISHED,
    MalformedMessageError,
    ObjectEvent,
    TestEvent,
    WriterEnded,
    parse_body,
)
from landing_intake.manifest import manifest_item, manifest_key, record_object
from landing_intake.pipeline import (
    GUARD_REFUSED,
    PENDING_KEY,
    PENDING_VERSION,
    PipelineResult,
    batch_id,
    clear_pending,
    ensure_pipeline,
    mark_pending,
    pending_token,
    refused_by_guard,
    running_writer,
    start_pipeline,
)
from landing_intake.repositories import ManifestStore, PipelineStarter, Repositories, RepositoryError
from landing_intake.settings import SAFETY_MARGIN_MS, Settings, SettingsError

__all__ = [
    "ACCEPTED",
    "ENDED",
    "GUARD_REFUSED",
    "PENDING_KEY",
    "PENDING_VERSION",
    "REJECTED",
    "REJECTION_REASONS",
    "SAFETY_MARGIN_MS",
    "WRITER_FINISHED",
    "BatchSummary",
    "MalformedMessageError",
    "ObjectEvent",
    "PipelineResult",
    "Repositories",
    "RepositoryError",
    "Settings",
    "SettingsError",
    "TestEvent",
    "Verdict",
    "WriterEnded",
    "accepted_extensions",
    "aws_repositories",
    "batch_id",
    "classify",
    "clear_pending",
    "ensure_pipeline",
    "known_entities",
    "landing_entity",
    "manifest_item",
    "manifest_key",
    "mark_pending",
    "parse_body",
    "pending_token",
    "process_batch",
    "process_message",
    "record_object",
    "refused_by_guard",
    "running_writer",
    "start_pipeline",
]


# --- the batch --------------------------------------------------------------------------------------------


@dataclass
class BatchSummary:
    messages: int = 0
    failed: list[str] = field(default_factory=list)
    accepted_messages: list[str] = field(default_factory=list)
    writer_ended_messages: list[str] = field(default_factory=list)
    refused_messages: list[str] = field(default_factory=list)
    """Ends of pipeline runs the single-writer guard refused (among ``writer_ended_messages``)."""
    ended_executions: list[str] = field(default_factory=list)
    """The executions whose ends ``writer_ended_messages`` announce."""
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    pipeline: str = "not_needed"

    def fail(self, message_ids: Iterable[str]) -> None:
        for message_id in message_ids:
            if message_id not in self.failed:
                self.failed.append(message_id)


def _message_id(record: Any) -> str | None:
    value = record.get("messageId") if isinstance(record, dict) else None
    return value if isinstance(value, str) and value else None


def _receive_count(record: dict[str, Any]) -> str:
    attributes = record.get("attributes")
    return str(attributes.get("ApproximateReceiveCount", "")) if isinstance(attributes, dict) else ""


def _count(summary: BatchSummary, obj: ObjectEvent, verdict: Verdict, *, new: bool, where: dict[str, Any]) -> None:
    """Count and log one recorded object: a duplicate delivery, accepted or rejected."""
    if not new:
        summary.duplicates += 1
        log.info("already recorded: nothing to do", reason="duplicate", status=verdict.status, **where)
    elif verdict.accepted:
        summary.accepted += 1
        log.info(
            "object accepted",
            reason="accepted",
            source=verdict.source,
            entity=verdict.entity,
            dt=verdict.dt,
            size=obj.size,
            **where,
        )
    else:
        summary.rejected += 1
        log.warning(
            "object rejected: it can never be ingested",
            reason=verdict.reason,
            reason_code=verdict.reason_code,
            size=obj.size,
            **where,
        )


def _writer_ended(
    ended: WriterEnded,
    settings: Settings,
    summary: BatchSummary,
    context: dict[str, str],
    pipeline: PipelineStarter | None,
) -> bool:
    """Note a lake writer's end in ``summary`` (a pipeline run the guard refused: objects wait); False when the
    message must be retried (whether the guard refused it could not be read)."""
    known = ended.state_machine_arn in settings.writer_state_machine_arns
    log.info(
        "a lake writer's execution ended" if known else "an execution of another state machine ended: ignored",
        reason="writer_ended" if known else "not_a_writer",
        execution=ended.execution_arn,
        status=ended.status,
        **context,
    )
    if not known:
        return True
    try:
        refused = refused_by_guard(settings, ended, pipeline=pipeline)
    except RepositoryError as error:
        log.error(
            "cannot tell whether the single-writer guard refused the run: the message is retried",
            reason="execution_describe_failed",
            throttled=error.throttled,
            error=str(error),
            execution=ended.execution_arn,
            **context,
        )
        return False
    if refused:
        log.info(
            "the single-writer guard refused this pipeline run: the objects it was started for wait again",
            reason="refused_by_guard",
            execution=ended.execution_arn,
            **context,
        )
        summary.refused_messages.append(context["message_id"])
    summary.writer_ended_messages.append(context["message_id"])
    summary.ended_executions.append(ended.execution_arn)
    return True


def process_message(
    record: dict[str, Any],
    settings: Settings,
    summary: BatchSummary,
    now: dt.datetime,
    *,
    store: ManifestStore | None = None,
    pipeline: PipelineStarter | None = None,
) -> bool:
    """Record every object of one message in ``store`` (the settings' manifest table unless given), or note an
    ended writer (``pipeline``: where its error is read, the settings' state machine unless given); False when
    the message must be retried (logged with the reason)."""
    message_id = record["messageId"]
    context = {"message_id": message_id, "receive_count": _receive_count(record)}
    try:
        parsed = parse_body(record.get("body"))
    except MalformedMessageError as bad:
        log.error("malformed message: reported failed (it moves to the DLQ)", reason=str(bad), **context)
        return False
    if isinstance(parsed, TestEvent):
        log.info("S3 test event: nothing to record", reason="s3_test_event", bucket=parsed.bucket, **context)
        return True
    if isinstance(parsed, WriterEnded):
        return _writer_ended(parsed, settings, summary, context, pipeline)
    accepted_any = False
    for obj in parsed:
        verdict = classify(
            bucket=obj.bucket, key=obj.key, size=obj.size, landing_bucket=settings.landing_bucket, created=obj.created
        )
        where = {"key": obj.key, "bucket": obj.bucket, "version": obj.version, **context}
        try:
            new = record_object(settings, obj, verdict, message_id=message_id, now=now, store=store)
        except RepositoryError as error:
            throttled = error.throttled
            log.error(
                "manifest write throttled: the message is retried" if throttled else "manifest write failed",
                reason="manifest_throttled" if throttled else "manifest_write_failed",
                error=str(error),
                **where,
            )
            return False
        accepted_any = accepted_any or verdict.accepted
        _count(summary, obj, verdict, new=new, where=where)
    if accepted_any:
        summary.accepted_messages.append(message_id)
    return True


def _publish(settings: Settings, summary: BatchSummary, repositories: Repositories) -> None:
    dimensions = {m.ENVIRONMENT: settings.environment}
    try:
        repositories.metrics.publish(
            [
                Datum(name=m.INTAKE_ACCEPTED, value=summary.accepted, unit="Count", dimensions=dimensions),
                Datum(name=m.INTAKE_REJECTED, value=summary.rejected, unit="Count", dimensions=dimensions),
            ],
            namespace=m.namespace(settings.environment),
        )
    except RepositoryError as error:
        # The manifest is the record; a lost data point must not make SQS redeliver recorded objects.
        log.error("intake metrics not published", reason="metrics_failed", error=str(error))


def _process_records(
    records: list[Any],
    context: Any,
    settings: Settings,
    summary: BatchSummary,
    now: dt.datetime,
    repositories: Repositories,
) -> None:
    """Each message in turn, until the time budget is nearly spent; failed ones are noted in ``summary``."""
    for index, record in enumerate(records):
        message_id = _message_id(record)
        if message_id is None:
            log.error("SQS record without messageId: it cannot be reported", reason="no_message_id", index=index)
            continue
        remaining_ms = context.get_remaining_time_in_millis()
        if remaining_ms < settings.safety_margin_ms:
            left = [i for i in map(_message_id, records[index:]) if i]
            summary.fail(left)
            log.error(
                "time budget nearly spent: the remaining messages are reported failed and retried",
                reason="time_budget",
                remaining_ms=remaining_ms,
                safety_margin_ms=settings.safety_margin_ms,
                unprocessed=len(left),
            )
            break
        try:
            ok = process_message(
                record, settings, summary, now, store=repositories.manifest, pipeline=repositories.pipeline
            )
        except Exception as error:  # never let one message fail the whole batch
            log.error(
                "unexpected error: the message is retried",
                reason="unexpected_error",
                error=f"{type(error).__name__}: {error}",
                message_id=message_id,
            )
            ok = False
        if not ok:
            summary.fail([message_id])


def process_batch(
    event: Any,
    context: Any,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    repositories: Repositories | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Handle one SQS batch; returns the partial batch response (the messages SQS must redeliver).

    ``repositories``: where the manifest, the pending marker, the pipeline and the metrics are (the AWS ones
    of ``settings`` unless given).
    """
    now = now or dt.datetime.now(dt.UTC)
    repositories = repositories if repositories is not None else aws_repositories(settings)
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        log.error("not an SQS batch: nothing to process", reason="event has no Records list")
        return {"batchItemFailures": []}
    summary = BatchSummary(messages=len(records))
    _process_records(records, context, settings, summary, now, repositories)
    if summary.accepted_messages or summary.writer_ended_messages:
        result = ensure_pipeline(
            settings,
            now,
            new_objects=bool(summary.accepted_messages or summary.refused_messages),
            ended=tuple(summary.ended_executions),
            marker=repositories.pending,
            pipeline=repositories.pipeline,
        )
        summary.pipeline = result.action
        if not result.ok:
            summary.fail([*summary.accepted_messages, *summary.writer_ended_messages])
    _publish(settings, summary, repositories)
    annotate(
        accepted=summary.accepted, rejected=summary.rejected, failed=len(summary.failed), pipeline=summary.pipeline
    )
    log.info(
        "intake batch done",
        reason="batch_done",
        messages=summary.messages,
        failed=len(summary.failed),
        accepted=summary.accepted,
        rejected=summary.rejected,
        duplicates=summary.duplicates,
        pipeline=summary.pipeline,
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in summary.failed]}
