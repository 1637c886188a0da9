"""`lakehouse table repair TABLE`: fix what `table check` finds, where the fix loses nothing.

- A missing, incomplete, unreadable or wrong checkpoint (or a ``_last_checkpoint`` naming one): the damaged
  checkpoint is moved aside to ``<table>/_recovery/``, the stale ``_last_checkpoint`` removed, and the engine
  writes a new checkpoint at the latest version (and ``_last_checkpoint``). This needs every JSON commit up to
  the latest version: they are what the checkpoint summarises.
- A lost or damaged file (data file, commit or checkpoint) on an S3 bucket with versioning: its newest earlier
  version (the size the log names, for a data file) becomes current again.
- A lost data file with no earlier version (a local lake, an unversioned bucket): nothing is changed; the
  command names the version to restore to (the one before the file was added: the newest version that does
  not reference it, which `table restore` can reach without the file) and exits 1. So does a commit that
  does not parse and has no earlier version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console

from . import journal
from .check import (
    CHECKPOINT_KINDS,
    CORRUPT_CHECKPOINT,
    CORRUPT_COMMIT,
    FILE_KINDS,
    LOG_GAP,
    CheckResult,
    Finding,
    check_table,
)
from .log import LAST_CHECKPOINT, LOG, missing_versions
from .restore import no_other_writer
from .store import TableStore, relative_path

if TYPE_CHECKING:
    from .target import Target

ASIDE = "_recovery"
"""Where a damaged checkpoint goes, inside the table folder (VACUUM leaves ``_``-folders alone)."""


def _earlier_version(store: TableStore, finding: Finding, expected_size: int | None) -> str | None:
    """The id of the newest stored version of the finding's file that can replace the current one."""
    for v in store.versions(finding.path):
        if v.delete_marker or v.latest:
            continue
        if expected_size is None or v.size == expected_size:
            return v.version_id
    return None


def restore_object_versions(store: TableStore, result: CheckResult, console: Console) -> list[str]:
    """Bring back the earlier S3 version of every lost or damaged file that has one; the paths restored."""
    sizes = {relative_path(store.uri, p): a.get("size") for p, a in result.live.adds.items()}
    restored = []
    for finding in result.findings:
        if finding.kind not in FILE_KINDS | {CORRUPT_COMMIT, CORRUPT_CHECKPOINT, LOG_GAP}:
            continue
        expected = sizes.get(finding.path) if finding.kind in FILE_KINDS else None
        version_id = _earlier_version(store, finding, None if expected is None else int(expected))
        if version_id is not None:
            store.restore_version(finding.path, version_id)
            console.print(f"restored {finding.path} from its earlier S3 version {version_id}")
            restored.append(finding.path)
    return restored


def _move_aside(store: TableStore, path: str) -> None:
    if store.size(path) is None:
        return
    store.write(f"{ASIDE}/{path.rsplit('/', 1)[-1]}", store.read(path))
    store.delete(path)


def rebuild_checkpoint(
    target: Target, result: CheckResult, engine_factory: Callable[[], Any], console: Console
) -> bool:
    """Replace a damaged checkpoint with one the engine writes at the latest version; False when it cannot."""
    if missing_versions(result.listing.commits, -1, result.latest):
        console.print(
            f"cannot rebuild the checkpoint of {target.name}: the log no longer holds every commit from version 0 "
            "(a checkpoint is the only record of the state before them); restore the checkpoint from a backup"
        )
        return False
    for f in result.findings:
        if f.kind in (CORRUPT_CHECKPOINT, "checkpoint-disagrees") or (
            f.kind == "missing-checkpoint" and not f.path.endswith(LAST_CHECKPOINT)
        ):
            version = -1 if f.version is None else f.version
            for part in (*result.listing.checkpoints.get(version, ()), *result.listing.incomplete.get(version, ())):
                _move_aside(target.store, f"{LOG}/{part}")
    target.store.delete(f"{LOG}/{LAST_CHECKPOINT}")
    engine = engine_factory()
    write_checkpoint(engine, target)
    console.print(f"wrote a new checkpoint of {target.name} at version {result.latest} ({engine.name})")
    return True


def write_checkpoint(engine: Any, target: Target) -> None:
    """A classic checkpoint at the table's latest version, and ``_last_checkpoint``, written by ``engine``."""
    if engine.name == "delta-spark":
        jvm, session = engine.spark._jvm, engine.spark._jsparkSession
        jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()  # the cached state may be the damaged checkpoint's
        log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(session, target.uri)
        none = jvm.scala.Option.empty()
        log.checkpoint(log.update(False, none, none), none)  # (snapshot, catalog table): Delta 3.3's signature
        return
    target.lake.reader.open(target.uri).create_checkpoint()  # delta-rs: the table as the CLI's reader opens it


def _advice(target: Target, result: CheckResult, console: Console) -> None:
    lost = [f for f in result.findings if f.kind in FILE_KINDS]
    corrupt = [f for f in result.findings if f.kind == CORRUPT_COMMIT]
    if lost:
        known = [f.version for f in lost if f.version is not None]
        names = ", ".join(f.path for f in lost[:3]) + (f" and {len(lost) - 3} more" if len(lost) > 3 else "")
        if known and min(known) > 0:
            version = min(known) - 1
            console.print(
                f"{names}: no copy to bring back. The newest version without it is {version}: "
                f"`lakehouse table restore {target.name} {target.where} --version {version}`, then re-run the "
                f"batches of the versions after it (`lakehouse history {target.name} {target.where}`)",
                soft_wrap=True,
            )
        else:
            console.print(
                f"{names}: no copy to bring back, and no version without it: rebuild the table", soft_wrap=True
            )
    for f in corrupt:
        console.print(
            f"{f.path}: commit {f.version} does not parse and has no copy; the table is readable up to version "
            f"{(f.version or 0) - 1}: restore the file from a backup",
            soft_wrap=True,
        )


def repair_table(target: Target, engine_factory: Callable[[], Any], console: Console) -> int:
    """Repair ``target``: 0 when `table check` finds nothing afterwards, 1 otherwise (with what to do)."""
    result = check_table(target.store)
    if result.ok:
        console.print(f"{target.name}: nothing to repair (version {result.latest})")
        return 0
    changed: list[str] = []
    with no_other_writer(target, f"lakehouse table repair {target.name}"):
        changed += restore_object_versions(target.store, result, console)
        if changed:
            result = check_table(target.store)
        if any(f.kind in CHECKPOINT_KINDS for f in result.findings) and rebuild_checkpoint(
            target, result, engine_factory, console
        ):
            changed.append(f"checkpoint {result.latest}")
            result = check_table(target.store)
    if changed:
        journal.record(target.root, journal.entry("REPAIR", target.name, repaired=changed, version=result.latest))
    if result.ok:
        console.print(f"[bold green]repaired[/] {target.name}: the check finds nothing (version {result.latest})")
        return 0
    for finding in result.findings:
        console.print(finding.line(), markup=False, soft_wrap=True)
    _advice(target, result, console)
    return 1
