"""The intake manifest: one item per landing object version, written once (:func:`record_object`) through a
:class:`~landing_intake.repositories.ManifestStore` (DynamoDB when deployed)."""

from __future__ import annotations

import datetime as dt

from landing_intake.aws_repositories import DynamoManifestStore
from landing_intake.classification import Verdict
from landing_intake.events import ObjectEvent
from landing_intake.repositories import ManifestStore
from landing_intake.settings import Settings

# --- the manifest -----------------------------------------------------------------------------------------


def manifest_key(obj: ObjectEvent, landing_bucket: str) -> str:
    """The object key for landing objects; other buckets' objects are recorded as ``s3://bucket/key``."""
    return obj.key if obj.bucket == landing_bucket else f"s3://{obj.bucket}/{obj.key}"


def manifest_item(
    obj: ObjectEvent, verdict: Verdict, *, landing_bucket: str, message_id: str, now: dt.datetime
) -> dict[str, str | int]:
    """The object's manifest item (plain values): its key, its verdict and what the event told."""
    item: dict[str, str | int] = {
        "object_key": manifest_key(obj, landing_bucket),
        "object_version": obj.version,
        "status": verdict.status,
        "bucket": obj.bucket,
        "event_name": obj.event_name,
        "recorded_at": now.isoformat(timespec="milliseconds"),
        "message_id": message_id,
    }
    optional = {
        "reason_code": verdict.reason_code,
        "reason": verdict.reason,
        "source": verdict.source,
        "entity": verdict.entity,
        "dt": verdict.dt,
        "event_time": obj.event_time,
    }
    item.update({name: value for name, value in optional.items() if value})
    if obj.size is not None:
        item["size"] = obj.size
    return item


def record_object(
    settings: Settings,
    obj: ObjectEvent,
    verdict: Verdict,
    *,
    message_id: str,
    now: dt.datetime,
    store: ManifestStore | None = None,
) -> bool:
    """Write the object's manifest item unless it is there already. True: written now; False: already recorded.

    ``store``: the settings' manifest table unless given. A failed write raises ``RepositoryError``.
    """
    store = store if store is not None else DynamoManifestStore(settings.manifest_table)
    item = manifest_item(obj, verdict, landing_bucket=settings.landing_bucket, message_id=message_id, now=now)
    return store.add(item)
