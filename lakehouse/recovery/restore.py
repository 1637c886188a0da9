"""`lakehouse table restore TABLE --version N | --timestamp T`: Delta RESTORE through the table engine.

In order, and nothing changes until the last step: the table must open, the version (or the timestamp,
resolved to the newest commit at or before it) must be one the log holds and not the current one; no writer
may run (:mod:`.writer_guard`); the operator confirms. Then the engine restores, with the commit's
``userMetadata`` naming the operation, the operator and the reason (delta-spark; delta-rs's restore takes
no metadata), and the restore is recorded in the local lake's journal (:mod:`.journal`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console

from . import journal
from .errors import RecoveryError
from .writer_guard import check_no_aws_writer, operator, writer_lock

if TYPE_CHECKING:
    from .target import Target

USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
"""delta-spark's session setting for the next commits' ``userMetadata``."""


@dataclass(frozen=True)
class RestorePlan:
    """What a restore will do: the table from ``current`` back to the state of ``version``."""

    table: str
    current: int
    version: int
    version_time: str


def parse_timestamp(text: str) -> dt.datetime:
    """ISO 8601 (``2026-12-06T08:00:00Z``, ``2026-12-06 08:00``, a date); no zone means UTC."""
    try:
        stamp = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RecoveryError(f"--timestamp {text!r}: not an ISO 8601 time (e.g. 2026-12-06T08:00:00Z)") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def plan_restore(name: str, history: list[dict[str, Any]], version: int | None, timestamp: str | None) -> RestorePlan:
    """Check ``--version`` / ``--timestamp`` against the table's history (commitInfo dicts, any order)."""
    commits = {int(h["version"]): int(h["timestamp"]) for h in history if h.get("version") is not None}
    current, first = max(commits), min(commits)
    if timestamp is not None:
        at = parse_timestamp(timestamp)
        ms = int(at.timestamp() * 1000)
        earlier = [v for v, t in commits.items() if t <= ms]
        if not earlier:
            raise RecoveryError(
                f"--timestamp {timestamp}: before {name}'s first commit in the log "
                f"(version {first}, {_utc(commits[first])})"
            )
        version = max(earlier)
    if version is None:
        raise RecoveryError("--version or --timestamp: say which state to restore")
    if version not in commits:
        raise RecoveryError(f"--version {version}: {name} has no such version in its log (versions {first}..{current})")
    return RestorePlan(name, current, version, _utc(commits[version]))


def open_history(target: Target) -> list[dict[str, Any]]:
    """The table's history through the CLI's reader; RecoveryError when there is no table or it does not open."""
    try:
        table = target.lake.reader.open(target.uri)
    except Exception as error:  # delta-rs's errors on a damaged log: say so in one line
        raise RecoveryError(
            f"{target.name}: the table at {target.uri} does not open ({str(error).splitlines()[0]}): "
            f"run `lakehouse table check {target.name} {target.where}`"
        ) from None
    if table is None:
        raise RecoveryError(f"{target.name}: no Delta table at {target.uri}")
    return list(table.history())


@contextmanager
def no_other_writer(target: Target, holder: str) -> Iterator[None]:
    """The local writer lock for the block, or (``--env``) no running pipeline or maintenance execution."""
    if target.root is not None:
        with writer_lock(target.root, holder):
            yield
        return
    check_no_aws_writer(str(target.env), project=str(target.project), session=target.session)
    yield


def _metadata_setting(engine: Any, doc: dict[str, Any]) -> AbstractContextManager[None]:
    if getattr(engine, "name", "") != "delta-spark":
        return nullcontext()
    return _session_setting(engine.spark, USER_METADATA, json.dumps(doc, sort_keys=True, separators=(",", ":")))


@contextmanager
def _session_setting(spark: Any, key: str, value: str) -> Iterator[None]:
    spark.conf.set(key, value)
    try:
        yield
    finally:
        spark.conf.unset(key)


def restore_table(
    target: Target,
    plan: RestorePlan,
    *,
    reason: str,
    confirm: Callable[[str], bool],
    engine_factory: Callable[[], Any],
    console: Console,
) -> int:
    """Restore ``target`` as ``plan`` says, once confirmed, holding off other writers; 0 when done."""
    if plan.version == plan.current:
        console.print(f"{plan.table} is at version {plan.current} already: nothing to restore")
        return 0
    question = (
        f"Restore {plan.table} ({target.uri}) from version {plan.current} to the state of version {plan.version} "
        f"({plan.version_time})?"
    )
    with no_other_writer(target, f"lakehouse table restore {plan.table}"):
        if not confirm(question):
            console.print("not restored: nothing changed")
            return 1
        engine = engine_factory()
        doc = {"operation": "RESTORE", "operator": operator(), "reason": reason, "restoredFrom": plan.current}
        with _metadata_setting(engine, doc):
            try:
                result = engine.restore(target.uri, plan.version)
            except Exception as error:  # the engine's own refusal (e.g. the version's files were vacuumed)
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise RecoveryError(f"{plan.table}: the engine refused the restore, nothing changed: {first}") from None
    logged = journal.record(
        target.root,
        journal.entry(
            "RESTORE",
            plan.table,
            from_version=plan.current,
            to_version=plan.version,
            new_version=result.version,
            engine=engine.name,
            reason=reason,
        ),
    )
    console.print(
        f"[bold green]restored[/] {plan.table} to the state of version {plan.version}: new version {result.version}"
        + (f" (recorded in {logged})" if logged else "")
    )
    return 0
