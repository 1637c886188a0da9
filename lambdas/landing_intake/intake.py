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
  the pending marker, the running-writer check or the pipeline start failed.

Starting the pipeline (one writer at a time: the pipeline's guard fails fast while another writer runs):

* New accepted objects first set the *pending* marker (one manifest item), then the intake looks for a
  RUNNING execution of every lake writer. None: it starts the pipeline and clears the marker. One: it leaves
  the marker and the message is done; a run already under way may have listed landing before the object
  arrived, so the object waits for the next run, not for this one.
* When a writer's execution ends, its status-change event reaches this queue; if the marker is set and no
  writer runs, the intake starts the pipeline and clears the marker.
* Set-then-check closes the race with a writer that ends in between: the end event's reader sees the
  marker (strongly consistent read), or the setter sees no writer running and starts the pipeline itself.
  The marker is cleared only if no newer object set it again (a conditional delete on its token), so an
  object accepted while the new run starts triggers one more run after it.

Redelivery (and a DLQ redrive) is idempotent: the manifest write is conditional on the object not being
recorded yet (one item per object version), and the pipeline starts under a per-minute execution name
(a concurrent start of the same name is the same execution).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError
from ops_common import log
from ops_common import metric_names as m
from ops_common.aws import client, error_code, is_throttling
from ops_common.metrics import Datum, put_metrics
from ops_common.tracing import annotate

from job_assets.contracts.landing import KNOWN_EXTENSIONS, LANDING_BY_NAME
from job_assets.contracts.model import LandingEntity

ACCEPTED = "accepted"
REJECTED = "rejected"
PENDING_KEY = "#pipeline-pending"
"""The pending marker's ``object_key``: no landing object has it (landing keys start with a source name)."""
PENDING_VERSION = "-"
WRITER_FINISHED = "Step Functions Execution Status Change"
ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
SAFETY_MARGIN_MS = 10_000
"""Stop taking messages when less than this remains: the rest are reported failed, not timed out."""

REJECTION_REASONS = {
    "not_object_created": "the event is not an object creation",
    "wrong_bucket": "the object is not in the landing bucket",
    "hidden_file": "a path part starts with '_' or '.' (markers, temporary files): the bronze job never reads it",
    "bad_layout": "the key is not <source>/<entity>/dt=YYYY-MM-DD/<file>",
    "unknown_entity": "<source>/<entity> is not in the landing contract",
    "missing_dt": "no dt=YYYY-MM-DD partition folder",
    "bad_dt": "the dt= partition is not a valid YYYY-MM-DD date",
    "bad_extension": "the file extension does not match the entity's format",
    "empty_object": "the object is empty (0 bytes)",
}
"""The closed set of reasons an object is rejected (``reason_code`` in the manifest and the logs)."""

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class SettingsError(ValueError):
    """The function's environment is incomplete or wrong (names the variable)."""


class MalformedMessageError(ValueError):
    """A message body that can never be processed: not JSON, not an S3 event, or missing fields."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str
    manifest_table: str
    state_machine_arn: str
    landing_bucket: str
    writer_state_machine_arns: tuple[str, ...] = ()
    """Every lake-writing state machine (the pipeline included): the pipeline starts only when none runs."""
    safety_margin_ms: int = SAFETY_MARGIN_MS

    def __post_init__(self) -> None:
        if self.state_machine_arn not in self.writer_state_machine_arns:
            object.__setattr__(
                self, "writer_state_machine_arns", (self.state_machine_arn, *self.writer_state_machine_arns)
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = (environ.get(name) or "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is missing or empty")
            return value

        def state_machine(name: str, arn: str) -> str:
            parts = arn.split(":")
            if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "stateMachine":
                raise SettingsError(
                    f"environment variable {name}={arn!r} is not a state machine ARN "
                    f"(arn:<partition>:states:<region>:<account>:stateMachine:<name>)"
                )
            return arn

        arn = state_machine("STATE_MACHINE_ARN", required("STATE_MACHINE_ARN"))
        writers = tuple(
            state_machine("WRITER_STATE_MACHINE_ARNS", item.strip())
            for item in (environ.get("WRITER_STATE_MACHINE_ARNS") or "").split(",")
            if item.strip()
        )
        bucket = required("LANDING_BUCKET")
        if "/" in bucket or bucket.startswith("s3:"):
            raise SettingsError(f"environment variable LANDING_BUCKET={bucket!r} must be a bucket name, not a URI")
        return cls(
            environment=required("ENVIRONMENT"),
            manifest_table=required("MANIFEST_TABLE"),
            state_machine_arn=arn,
            landing_bucket=bucket,
            writer_state_machine_arns=writers,
        )


# --- the landing contract, as rules on an object key ------------------------------------------------------


def accepted_extensions(entity: LandingEntity) -> tuple[str, ...]:
    """File name endings the bronze job reads for ``entity`` (by its contract format, with optional ``.gz``)."""
    return tuple(KNOWN_EXTENSIONS[entity.format])


def landing_entity(source: str, entity: str) -> LandingEntity | None:
    return LANDING_BY_NAME.get(f"{source}/{entity}")


def known_entities() -> tuple[str, ...]:
    return tuple(sorted(LANDING_BY_NAME))


@dataclass(frozen=True, kw_only=True)
class Verdict:
    status: str
    """``accepted`` or ``rejected``."""
    reason_code: str = ""
    """One of :data:`REJECTION_REASONS` when rejected."""
    reason: str = ""
    source: str | None = None
    entity: str | None = None
    dt: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


def _reject(code: str, detail: str, **where: str | None) -> Verdict:
    return Verdict(status=REJECTED, reason_code=code, reason=f"{REJECTION_REASONS[code]}: {detail}", **where)


def classify(*, bucket: str, key: str, size: int | None, landing_bucket: str, created: bool = True) -> Verdict:
    """Accept or reject one object (``key`` already URL-decoded) by the landing contract.

    The layout and extension rules are the bronze job's (``classify_landing_path`` and the listing that
    skips ``_``/``.`` names), plus what only the event can tell: the bucket, a real calendar date, size > 0.
    """
    if not created:
        return _reject("not_object_created", "only new objects are ingested")
    if bucket != landing_bucket:
        return _reject("wrong_bucket", f"s3://{bucket}/{key} (the landing bucket is {landing_bucket})")
    parts = key.split("/")
    hidden = [p for p in parts if p.startswith(("_", "."))]
    if hidden:
        return _reject("hidden_file", f"{key} ({hidden[0]!r})")
    if len(parts) < 2:
        return _reject("bad_layout", f"{key} has no <source>/<entity>/ prefix")
    source, entity_name = parts[0], parts[1]
    entity = landing_entity(source, entity_name)
    if entity is None:
        return _reject("unknown_entity", f"{source}/{entity_name} (known: {', '.join(known_entities())})")
    where = {"source": source, "entity": entity_name}
    if len(parts) < 4 or not parts[2].startswith("dt="):
        return _reject("missing_dt", f"{key}: expected {entity.name}/dt=YYYY-MM-DD/<file>", **where)
    if len(parts) > 4:
        return _reject("bad_layout", f"{key}: the file must sit directly in the dt= folder", **where)
    dt_value = parts[2][len("dt=") :]
    try:
        if not _DATE.match(dt_value):
            raise ValueError("not YYYY-MM-DD")
        dt.date.fromisoformat(dt_value)
    except ValueError:
        return _reject("bad_dt", f"dt={dt_value!r} in {key}", **where)
    where["dt"] = dt_value
    name = parts[3]
    if not name:
        return _reject("bad_layout", f"{key} is a folder placeholder, not a file", **where)
    extensions = accepted_extensions(entity)
    if not name.lower().endswith(extensions):
        return _reject(
            "bad_extension", f"{name!r}: {entity.name} is {entity.format}, one of {', '.join(extensions)}", **where
        )
    if size == 0:
        return _reject("empty_object", f"{key} has nothing to ingest", **where)
    return Verdict(status=ACCEPTED, **where)


# --- parsing messages -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ObjectEvent:
    bucket: str
    key: str
    """URL-decoded."""
    size: int | None
    version: str
    """versionId if the bucket is versioned, else eTag, else the event sequencer: the manifest sort key."""
    event_name: str
    event_time: str
    created: bool


@dataclass(frozen=True)
class TestEvent:
    bucket: str


@dataclass(frozen=True)
class WriterEnded:
    """A lake writer's execution ended: objects that arrived while it ran may now start the pipeline."""

    state_machine_arn: str
    execution_arn: str
    status: str


def _field(mapping: Any, path: str) -> Any:
    value = mapping
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise MalformedMessageError(f"missing field {path}")
        value = value[part]
    return value


def _text(mapping: Any, path: str) -> str:
    value = _field(mapping, path)
    if not isinstance(value, str) or not value:
        raise MalformedMessageError(f"field {path} is not a non-empty string")
    return value


def _size(obj: dict[str, Any], path: str) -> int:
    value = obj.get("size")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        problem = f"missing field {path}" if value is None else f"field {path}={value!r} is not a size"
        raise MalformedMessageError(problem)
    return value


def _version(obj: dict[str, Any], names: Sequence[str], where: str) -> str:
    for name in names:
        value = obj.get(name)
        if isinstance(value, str) and value:
            return value
    raise MalformedMessageError(f"{where} has none of {', '.join(names)}")


def _from_notification(record: Any, index: int) -> ObjectEvent:
    where = f"Records[{index}]"
    if not isinstance(record, dict):
        raise MalformedMessageError(f"{where} is not a JSON object")
    if record.get("eventSource") != "aws:s3":
        raise MalformedMessageError(f"{where} is not an S3 event (eventSource={record.get('eventSource')!r})")
    event_name = _text(record, "eventName")
    created = event_name.startswith("ObjectCreated:")
    bucket = _text(record, "s3.bucket.name")
    obj = _field(record, "s3.object")
    if not isinstance(obj, dict):
        raise MalformedMessageError(f"{where}.s3.object is not a JSON object")
    key = unquote_plus(_text(record, "s3.object.key"))
    size = _size(obj, f"{where}.s3.object.size") if created else None
    version = _version(obj, ("versionId", "eTag", "sequencer"), f"{where}.s3.object")
    event_time = record.get("eventTime") if isinstance(record.get("eventTime"), str) else ""
    return ObjectEvent(
        bucket=bucket,
        key=key,
        size=size,
        version=version,
        event_name=event_name,
        event_time=event_time,
        created=created,
    )


def _from_eventbridge(body: dict[str, Any]) -> ObjectEvent:
    event_name = _text(body, "detail-type")
    created = event_name == "Object Created"
    bucket = _text(body, "detail.bucket.name")
    obj = _field(body, "detail.object")
    if not isinstance(obj, dict):
        raise MalformedMessageError("detail.object is not a JSON object")
    key = unquote_plus(_text(body, "detail.object.key"))
    size = _size(obj, "detail.object.size") if created else None
    version = _version(obj, ("version-id", "etag", "sequencer"), "detail.object")
    event_time = body.get("time") if isinstance(body.get("time"), str) else ""
    return ObjectEvent(
        bucket=bucket,
        key=key,
        size=size,
        version=version,
        event_name=event_name,
        event_time=event_time,
        created=created,
    )


def _writer_ended(body: dict[str, Any]) -> WriterEnded:
    status = _text(body, "detail.status")
    if status not in ENDED:
        raise MalformedMessageError(f"detail.status={status!r} is not an ended execution ({', '.join(sorted(ENDED))})")
    return WriterEnded(
        state_machine_arn=_text(body, "detail.stateMachineArn"),
        execution_arn=_text(body, "detail.executionArn"),
        status=status,
    )


def parse_body(body: Any) -> list[ObjectEvent] | TestEvent | WriterEnded:
    """What a message body announces: objects, the S3 test event, or an ended writer execution.

    :class:`MalformedMessageError` (naming the field) when it is none of them.
    """
    if not isinstance(body, str):
        raise MalformedMessageError("the message has no body")
    try:
        parsed = json.loads(body)
    except ValueError as bad:
        raise MalformedMessageError(f"the body is not JSON ({bad})") from None
    if isinstance(parsed, dict) and parsed.get("Type") == "Notification" and isinstance(parsed.get("Message"), str):
        try:  # S3 -> SNS -> SQS: the S3 event is the SNS message
            parsed = json.loads(parsed["Message"])
        except ValueError as bad:
            raise MalformedMessageError(f"the SNS message is not JSON ({bad})") from None
    if not isinstance(parsed, dict):
        raise MalformedMessageError(f"the body is JSON but not an object ({type(parsed).__name__})")
    if parsed.get("Event") == "s3:TestEvent":
        return TestEvent(bucket=str(parsed.get("Bucket", "")))
    if "Records" in parsed:
        records = parsed["Records"]
        if not isinstance(records, list) or not records:
            raise MalformedMessageError("Records is not a non-empty list")
        return [_from_notification(record, i) for i, record in enumerate(records)]
    if parsed.get("source") == "aws.s3" and "detail-type" in parsed:
        return [_from_eventbridge(parsed)]
    if parsed.get("source") == "aws.states" and parsed.get("detail-type") == WRITER_FINISHED:
        return _writer_ended(parsed)
    keys = ", ".join(sorted(map(str, parsed))[:8]) or "none"
    raise MalformedMessageError(
        "the body is neither an S3 event notification, an EventBridge aws.s3 event nor a Step Functions "
        f"execution status change (top-level keys: {keys})"
    )


# --- the manifest -----------------------------------------------------------------------------------------


def manifest_key(obj: ObjectEvent, landing_bucket: str) -> str:
    """The object key for landing objects; other buckets' objects are recorded as ``s3://bucket/key``."""
    return obj.key if obj.bucket == landing_bucket else f"s3://{obj.bucket}/{obj.key}"


def record_object(settings: Settings, obj: ObjectEvent, verdict: Verdict, *, message_id: str, now: dt.datetime) -> bool:
    """Write the object's manifest item unless it is there already. True: written now; False: already recorded."""
    item: dict[str, dict[str, str]] = {
        "object_key": {"S": manifest_key(obj, settings.landing_bucket)},
        "object_version": {"S": obj.version},
        "status": {"S": verdict.status},
        "bucket": {"S": obj.bucket},
        "event_name": {"S": obj.event_name},
        "recorded_at": {"S": now.isoformat(timespec="milliseconds")},
        "message_id": {"S": message_id},
    }
    optional = {
        "reason_code": verdict.reason_code,
        "reason": verdict.reason,
        "source": verdict.source,
        "entity": verdict.entity,
        "dt": verdict.dt,
        "event_time": obj.event_time,
    }
    item.update({name: {"S": value} for name, value in optional.items() if value})
    if obj.size is not None:
        item["size"] = {"N": str(obj.size)}
    try:
        client("dynamodb").put_item(
            TableName=settings.manifest_table,
            Item=item,
            ConditionExpression="attribute_not_exists(object_key)",
        )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True


# --- the pipeline -----------------------------------------------------------------------------------------


def batch_id(now: dt.datetime, *, precision: str = "minute") -> str:
    """The execution name, which every job receives as its batch id.

    The format is ``job_assets.context.new_batch_id``'s (``b%Y%m%dT%H%M%S%fZ``, sortable) at minute
    precision, so concurrent invocations in one minute name the same execution. ``precision="second"``
    is the fallback when this minute's name belongs to an execution that already finished.
    """
    now = now.astimezone(dt.UTC)
    now = now.replace(microsecond=0) if precision == "second" else now.replace(second=0, microsecond=0)
    return now.strftime("b%Y%m%dT%H%M%S%fZ")


@dataclass(frozen=True, kw_only=True)
class PipelineResult:
    ok: bool
    action: str
    """``started``, ``waiting`` (a writer runs; the marker stays), ``not_needed`` (nothing pending) or ``failed``."""
    execution_arn: str = ""


class _UnavailableError(Exception):
    """An AWS call of the pipeline start failed; logged where it happened."""


def _pending_item_key() -> dict[str, dict[str, str]]:
    return {"object_key": {"S": PENDING_KEY}, "object_version": {"S": PENDING_VERSION}}


def mark_pending(settings: Settings, now: dt.datetime) -> None:
    """Set the pending marker (a new token each time; ``since`` keeps the oldest waiting object's time)."""
    stamp = now.isoformat(timespec="milliseconds")
    try:
        client("dynamodb").update_item(
            TableName=settings.manifest_table,
            Key=_pending_item_key(),
            UpdateExpression="SET pending_token = :token, updated_at = :now, since = if_not_exists(since, :now)",
            ExpressionAttributeValues={":token": {"S": uuid.uuid4().hex}, ":now": {"S": stamp}},
        )
    except (ClientError, BotoCoreError) as error:
        log.error(
            "pending marker not set",
            reason="pending_mark_failed",
            throttled=is_throttling(error),
            error=str(error),
        )
        raise _UnavailableError from error


def pending_token(settings: Settings) -> str | None:
    """The pending marker's token, or None when nothing waits for a run (strongly consistent read)."""
    try:
        item = (
            client("dynamodb")
            .get_item(TableName=settings.manifest_table, Key=_pending_item_key(), ConsistentRead=True)
            .get("Item")
        )
    except (ClientError, BotoCoreError) as error:
        log.error("pending marker not read", reason="pending_read_failed", error=str(error))
        raise _UnavailableError from error
    return item["pending_token"]["S"] if item and "pending_token" in item else None


def clear_pending(settings: Settings, token: str) -> None:
    """Delete the marker unless an object set it again since ``token`` was read (then one more run follows)."""
    try:
        client("dynamodb").delete_item(
            TableName=settings.manifest_table,
            Key=_pending_item_key(),
            ConditionExpression="pending_token = :token",
            ExpressionAttributeValues={":token": {"S": token}},
        )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            log.info("pending marker set again while starting: it stays for the next run", reason="pending_renewed")
            return
        # The run started: a marker left behind costs at most one extra run after it, never a lost object.
        log.warning("pending marker not cleared", reason="pending_clear_failed", error=str(error))
    except BotoCoreError as error:
        log.warning("pending marker not cleared", reason="pending_clear_failed", error=str(error))


def running_writer(settings: Settings) -> str | None:
    """The ARN of a RUNNING execution of any lake writer, or None."""
    sfn = client("stepfunctions")
    for arn in settings.writer_state_machine_arns:
        try:
            running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1)["executions"]
        except (ClientError, BotoCoreError) as error:
            log.error(
                "pipeline not started: cannot list running executions",
                reason="pipeline_list_failed",
                throttled=is_throttling(error),
                error=str(error),
                state_machine=arn,
            )
            raise _UnavailableError from error
        if running:
            return str(running[0]["executionArn"])
    return None


def start_pipeline(settings: Settings, now: dt.datetime) -> str:
    """Start the pipeline under this minute's batch id (or this second's); the execution ARN."""
    arn = settings.state_machine_arn
    for precision in ("minute", "second"):
        name = batch_id(now, precision=precision)
        try:
            response = client("stepfunctions").start_execution(stateMachineArn=arn, name=name, input="{}")
        except ClientError as error:
            if error_code(error) == "ExecutionAlreadyExists":
                # Same name and input while RUNNING is the same execution (StartExecution succeeds), so this
                # name belongs to an execution that already finished: it may have missed these objects.
                log.warning(
                    "an execution with this name already finished; trying a new name",
                    reason="execution_name_taken",
                    batch_id=name,
                )
                continue
            log.error(
                "pipeline not started",
                reason="pipeline_start_failed",
                throttled=is_throttling(error),
                error=str(error),
                batch_id=name,
            )
            raise _UnavailableError from error
        except BotoCoreError as error:
            log.error("pipeline not started", reason="pipeline_start_failed", error=str(error), batch_id=name)
            raise _UnavailableError from error
        log.info("pipeline started", reason="pending_objects", batch_id=name, execution=response["executionArn"])
        return str(response["executionArn"])
    log.error("pipeline not started: both execution names are taken", reason="pipeline_start_failed")
    raise _UnavailableError


def ensure_pipeline(settings: Settings, now: dt.datetime, *, new_objects: bool) -> PipelineResult:
    """Make sure a pipeline run will ingest every accepted object (see the module docstring).

    ``new_objects``: this batch accepted objects (set the marker first); otherwise a writer ended and the
    pipeline starts only if the marker is set. ``failed``: the caller reports the messages for retry.
    """
    try:
        if new_objects:
            mark_pending(settings, now)
        token = pending_token(settings)
        if token is None:
            log.info("no objects wait for a run", reason="nothing_pending")
            return PipelineResult(ok=True, action="not_needed")
        execution = running_writer(settings)
        if execution is not None:
            log.info(
                "a lake writer is running: the pipeline starts when it ends",
                reason="writer_running",
                execution=execution,
            )
            return PipelineResult(ok=True, action="waiting", execution_arn=execution)
        execution = start_pipeline(settings, now)
    except _UnavailableError:
        return PipelineResult(ok=False, action="failed")
    clear_pending(settings, token)
    return PipelineResult(ok=True, action="started", execution_arn=execution)


# --- the batch --------------------------------------------------------------------------------------------


@dataclass
class BatchSummary:
    messages: int = 0
    failed: list[str] = field(default_factory=list)
    accepted_messages: list[str] = field(default_factory=list)
    writer_ended_messages: list[str] = field(default_factory=list)
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


def process_message(record: dict[str, Any], settings: Settings, summary: BatchSummary, now: dt.datetime) -> bool:
    """Record every object of one message; False when the message must be retried (logged with the reason)."""
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
        known = parsed.state_machine_arn in settings.writer_state_machine_arns
        log.info(
            "a lake writer's execution ended" if known else "an execution of another state machine ended: ignored",
            reason="writer_ended" if known else "not_a_writer",
            execution=parsed.execution_arn,
            status=parsed.status,
            **context,
        )
        if known:
            summary.writer_ended_messages.append(message_id)
        return True
    accepted_any = False
    for obj in parsed:
        verdict = classify(
            bucket=obj.bucket, key=obj.key, size=obj.size, landing_bucket=settings.landing_bucket, created=obj.created
        )
        where = {"key": obj.key, "bucket": obj.bucket, "version": obj.version, **context}
        try:
            new = record_object(settings, obj, verdict, message_id=message_id, now=now)
        except (ClientError, BotoCoreError) as error:
            throttled = is_throttling(error)
            log.error(
                "manifest write throttled: the message is retried" if throttled else "manifest write failed",
                reason="manifest_throttled" if throttled else "manifest_write_failed",
                error=str(error),
                **where,
            )
            return False
        accepted_any = accepted_any or verdict.accepted
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
    if accepted_any:
        summary.accepted_messages.append(message_id)
    return True


def _publish(settings: Settings, summary: BatchSummary) -> None:
    dimensions = {m.ENVIRONMENT: settings.environment}
    try:
        put_metrics(
            [
                Datum(name=m.INTAKE_ACCEPTED, value=summary.accepted, unit="Count", dimensions=dimensions),
                Datum(name=m.INTAKE_REJECTED, value=summary.rejected, unit="Count", dimensions=dimensions),
            ],
            namespace=m.namespace(settings.environment),
        )
    except (ClientError, BotoCoreError) as error:
        # The manifest is the record; a lost data point must not make SQS redeliver recorded objects.
        log.error("intake metrics not published", reason="metrics_failed", error=str(error))


def process_batch(
    event: Any, context: Any, settings: Settings, *, now: dt.datetime | None = None
) -> dict[str, list[dict[str, str]]]:
    """Handle one SQS batch; returns the partial batch response (the messages SQS must redeliver)."""
    now = now or dt.datetime.now(dt.UTC)
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        log.error("not an SQS batch: nothing to process", reason="event has no Records list")
        return {"batchItemFailures": []}
    summary = BatchSummary(messages=len(records))
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
            ok = process_message(record, settings, summary, now)
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
    if summary.accepted_messages or summary.writer_ended_messages:
        result = ensure_pipeline(settings, now, new_objects=bool(summary.accepted_messages))
        summary.pipeline = result.action
        if not result.ok:
            summary.fail([*summary.accepted_messages, *summary.writer_ended_messages])
    _publish(settings, summary)
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
