"""The intake manifest (DynamoDB): one item per landing object version, written once (:func:`record_object`)."""

from __future__ import annotations

import datetime as dt

from botocore.exceptions import ClientError
from ops_common.aws import client, error_code

from landing_intake.classification import Verdict
from landing_intake.events import ObjectEvent
from landing_intake.settings import Settings

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
