"""The landing contract as rules on an object key: :func:`classify` accepts or rejects one object."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from job_assets.contracts.landing import KNOWN_EXTENSIONS, LANDING_BY_NAME
from job_assets.contracts.model import LandingEntity

ACCEPTED = "accepted"
REJECTED = "rejected"
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


def _placement(*, bucket: str, key: str, landing_bucket: str, created: bool) -> Verdict | None:
    """The rejection before the key's entity is known (the event, the bucket, hidden parts, no prefix), or None."""
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
    return None


def _partition(key: str, parts: list[str], entity: LandingEntity, where: dict[str, str | None]) -> str | Verdict:
    """The ``dt=`` partition's date, or the rejection (no partition folder, nested folders, not a date)."""
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
    return dt_value


def _file(key: str, name: str, entity: LandingEntity, size: int | None, where: dict[str, str | None]) -> Verdict:
    """Accept the file ``name`` unless it is a folder placeholder, has the wrong extension or is empty."""
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


def classify(*, bucket: str, key: str, size: int | None, landing_bucket: str, created: bool = True) -> Verdict:
    """Accept or reject one object (``key`` already URL-decoded) by the landing contract.

    The layout and extension rules are the bronze job's (``classify_landing_path`` and the listing that
    skips ``_``/``.`` names), plus what only the event can tell: the bucket, a real calendar date, size > 0.
    """
    rejected = _placement(bucket=bucket, key=key, landing_bucket=landing_bucket, created=created)
    if rejected is not None:
        return rejected
    parts = key.split("/")
    source, entity_name = parts[0], parts[1]
    entity = landing_entity(source, entity_name)
    if entity is None:
        return _reject("unknown_entity", f"{source}/{entity_name} (known: {', '.join(known_entities())})")
    where: dict[str, str | None] = {"source": source, "entity": entity_name}
    dt_value = _partition(key, parts, entity, where)
    if isinstance(dt_value, Verdict):
        return dt_value
    where["dt"] = dt_value
    return _file(key, parts[3], entity, size, where)
