"""Parsing SQS message bodies: S3 event notifications, EventBridge ``aws.s3`` events, the S3 test event and
ended lake-writer executions (:func:`parse_body`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

WRITER_FINISHED = "Step Functions Execution Status Change"
ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


class MalformedMessageError(ValueError):
    """A message body that can never be processed: not JSON, not an S3 event, or missing fields."""


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
    error: str = ""
    """``detail.error`` of a FAILED execution (e.g. ``Lakehouse.ConcurrentExecution``); "" when the event has none."""
    cause: str = ""
    """``detail.cause``; "" when the event has none (older events carry neither: DescribeExecution has them)."""


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
    detail = body["detail"]
    return WriterEnded(
        state_machine_arn=_text(body, "detail.stateMachineArn"),
        execution_arn=_text(body, "detail.executionArn"),
        status=status,
        error=detail["error"] if isinstance(detail.get("error"), str) else "",
        cause=detail["cause"] if isinstance(detail.get("cause"), str) else "",
    )


def _load(body: Any) -> dict[str, Any]:
    """The JSON object a message body holds (an SNS envelope unwrapped)."""
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
    return parsed


def parse_body(body: Any) -> list[ObjectEvent] | TestEvent | WriterEnded:
    """What a message body announces: objects, the S3 test event, or an ended writer execution.

    :class:`MalformedMessageError` (naming the field) when it is none of them.
    """
    parsed = _load(body)
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
