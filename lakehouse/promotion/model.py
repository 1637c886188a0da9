"""The promotion vocabulary: its errors, the slots document (:class:`SlotState`), the records of
promotions, gates and audit runs, and :class:`Control`, the few operations both control planes implement
(:mod:`lakehouse.promotion.local`, :mod:`lakehouse.promotion.aws`).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from job_assets.context import SLOTS


class PromotionError(Exception):
    """A promotion or rollback that cannot go ahead: one clear line for the operator (exit 2)."""


class LockedError(PromotionError):
    """Another promotion or rollback holds the environment's lock."""


# --- the slots document ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotState:
    """The slots document: which slot is published and which version each slot runs.

    ``slots[s] == ""`` means "the deployed version" (nobody promoted to this slot yet). ``rollback`` is the
    slot whose gold was published before and is still intact, or ``None`` (nothing published yet, or a
    promotion in progress).
    """

    active: str
    slots: Mapping[str, str]
    rollback: str | None = None
    updated_at: str = ""
    updated_by: str = ""
    change: str = ""

    @property
    def inactive(self) -> str:
        return next(s for s in SLOTS if s != self.active)

    def version(self, slot: str, deployed: str) -> str:
        """The version ``slot`` runs: its pinned version, else the ``deployed`` one."""
        return self.slots.get(slot) or deployed

    def to_json(self) -> str:
        """The state as the JSON document the slots parameter (or file) holds."""
        return json.dumps(asdict(self) | {"slots": dict(self.slots)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> SlotState:
        """The state in ``text``, read from ``source``.

        Raises:
            PromotionError: ``text`` is not a slots document (the message names ``source``).
        """
        try:
            raw = json.loads(text)
        except ValueError as error:
            raise PromotionError(f"{source}: not JSON ({error})") from None
        if not isinstance(raw, dict) or raw.get("active") not in SLOTS:
            raise PromotionError(f"{source}: 'active' must be one of {', '.join(SLOTS)}, got {raw!r:.200}")
        slots = raw.get("slots")
        if (
            not isinstance(slots, dict)
            or set(slots) != set(SLOTS)
            or not all(isinstance(v, str) for v in slots.values())
        ):
            raise PromotionError(f"{source}: 'slots' must map {' and '.join(SLOTS)} to version strings, got {slots!r}")
        rollback = raw.get("rollback")
        if rollback not in (None, *SLOTS) or rollback == raw["active"]:
            raise PromotionError(f"{source}: 'rollback' must be the inactive slot or null, got {rollback!r}")
        return cls(
            active=raw["active"],
            slots=dict(slots),
            rollback=rollback,
            updated_at=str(raw.get("updated_at", "")),
            updated_by=str(raw.get("updated_by", "")),
            change=str(raw.get("change", "")),
        )


INITIAL_STATE = SlotState(active=SLOTS[0], slots={s: "" for s in SLOTS})


# --- records -----------------------------------------------------------------------------------------


@dataclass
class Gate:
    """One promotion gate's verdict: name, passed, detail, and the published and candidate figures it compared."""

    name: str
    passed: bool
    detail: str
    published: float | None = None
    candidate: float | None = None
    change_pct: float | None = None
    limit_pct: float | None = None


@dataclass
class Record:
    """One promotion or rollback, as ``lakehouse promotions`` lists it."""

    id: str
    env: str
    action: str  # promote | rollback
    version: str
    from_slot: str
    to_slot: str
    actor: str
    started_at: str
    ended_at: str = ""
    result: str = ""  # published | refused | rolled-back | failed
    message: str = ""
    previous_version: str = ""
    source_env: str = ""
    gates: list[dict[str, Any]] = field(default_factory=list)
    previous_state: str = ""
    """The slots document before a promotion (``lakehouse promotions --recover`` restores it)."""


@dataclass
class AuditRun:
    """The audit run of a candidate version: whether its gold job succeeded, its batch, summary and log."""

    ok: bool
    batch_id: str
    summary: dict[str, Any]
    """The gold job's run summary (its JSON line), or ``{"status": "failed", "error": ...}``."""
    log: str = ""
    """Where the job's output is (a file locally, the job run on AWS)."""


def now_iso() -> str:
    """UTC with milliseconds: records sort by it, and two rollbacks can happen within one second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_actor() -> str:
    """Who is promoting, for the history: ``user@host``."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


# --- control planes ----------------------------------------------------------------------------------


class Control(Protocol):
    """The promotion control plane of one environment: the slots' state, the published and audit gold, the
    promotion lock and history. ``LocalControl`` keeps them in the local lake, ``AwsControl`` in SSM, DynamoDB
    and S3.
    """

    env: str

    def read(self) -> SlotState:
        """The slots' state."""

    def write(self, state: SlotState) -> None:
        """Store the slots' state."""

    def deployed_version(self) -> str:
        """The job version the environment's deployment ships (what a slot without a pin runs)."""

    def gold_uri(self, slot: str) -> str:
        """Where ``slot``'s gold tables live."""

    def audit_uri(self) -> str:
        """Where the audit (shadow) gold of a candidate is written."""

    def clear_audit(self) -> None:
        """Remove the audit gold."""

    def move_audit_to(self, slot: str) -> None:
        """Make the audited gold ``slot``'s gold (not yet published) and drop the audit copy."""

    def publish_readers(self, slot: str) -> list[str]:
        """Point the gold readers (Glue tables) at ``slot``; returns the ones moved."""

    def readers_elsewhere(self, slot: str) -> list[str]:
        """The gold readers not pointing at ``slot``."""

    def lock(self, record: Record) -> Any:
        """A context manager holding the environment's promotion lock for ``record``.

        Raises:
            LockedError: another promotion holds it.
        """

    def release_abandoned(self, promotion_id: str) -> bool:
        """Release the lock only if ``promotion_id`` holds it (its process died); whether it did."""

    def check_no_writer_running(self) -> None:
        """Refuse (PromotionError) while a lake writer runs: gold would straddle the flip."""

    def record(self, record: Record) -> None:
        """Add or update ``record`` in the promotion history."""

    def history(self) -> list[Record]:
        """Every promotion and rollback record."""

    def storage_options(self) -> dict[str, str] | None:
        """delta-rs' storage options for reading gold (credentials on AWS; None locally)."""

    def table_exists(self, uri: str) -> bool:
        """Whether a Delta table exists at ``uri``."""
