"""Is one region's copy of every Delta table whole, and how far is it behind the other region's?

For each table of the contracts (gold: under both blue/green slots, as ``gold.blue/win_rates``) the newest
``_delta_log`` commit is listed on both sides, and the copy is checked as ``lakehouse table check`` checks a
table (:func:`lakehouse.recovery.check.check_table`: a contiguous log, the checkpoint, every file its latest
version references present, of the right size, with a Parquet footer). A table is consistent when that check
finds nothing and the copy holds the other side's newest commit; when the other side cannot be read (its
region is down), only the first half can be known and the lag is reported as unknown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from job_assets.contracts import ALL_TABLES
from platform_model import aws_names

from ..recovery.check import NoTableError, check_table
from ..recovery.log import LOG, commit_actions, commit_name, parse_listing
from ..recovery.store import S3Store
from .sites import Site


@dataclass(frozen=True, kw_only=True)
class TableState:
    """One table on both sides: the newest commits, the copy's findings, its last commit's time."""

    table: str
    source_version: int | None
    """The newest commit where the data comes from (None: no table there, or the region is unreachable)."""
    copy_version: int | None
    """The newest commit of the copy (None: the copy holds no table)."""
    copy_timestamp: str = ""
    """``commitInfo.timestamp`` of the copy's newest commit, ISO UTC (``""`` when it has none)."""
    findings: tuple[str, ...] = ()
    ahead_counts: bool = False
    """Whether commits beyond the source's make the copy inconsistent: when the copy is the primary being
    failed back to (while failed over, the DR region is ahead of the primary by design)."""

    @property
    def behind(self) -> int | None:
        """Commits the copy lacks (None: unknown, the source could not be read)."""
        if self.source_version is None:
            return None
        return max(0, self.source_version - (-1 if self.copy_version is None else self.copy_version))

    @property
    def ahead(self) -> int:
        """Commits the copy holds beyond the source's newest (e.g. a primary's commits abandoned at a forced
        failover, which the DR region never had): 0 when none or unknown."""
        if self.source_version is None or self.copy_version is None:
            return 0
        return max(0, self.copy_version - self.source_version)

    @property
    def consistent(self) -> bool:
        """The copy is whole and holds exactly the source's newest commit (as far as the source could be read)."""
        ahead = self.ahead if self.ahead_counts else 0
        return not self.findings and self.copy_version is not None and not self.behind and not ahead

    def reason(self) -> str:
        """What makes it inconsistent, in one clause."""
        if self.copy_version is None:
            return "missing from the copy"
        if self.findings:
            return f"{len(self.findings)} finding(s) ({self.findings[0]})"
        if self.ahead and self.ahead_counts:
            return (
                f"{self.ahead} commit(s) ahead (version {self.copy_version} of {self.source_version}): commits the "
                "other region never had"
            )
        return f"{self.behind} commit(s) behind (version {self.copy_version} of {self.source_version})"


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Every table present on either side; ``source_reachable`` False when only the copy could be read."""

    source_region: str
    copy_region: str
    source_reachable: bool
    tables: tuple[TableState, ...] = field(default_factory=tuple)

    @property
    def inconsistent(self) -> list[TableState]:
        """The tables that are not :attr:`TableState.consistent`."""
        return [t for t in self.tables if not t.consistent]

    @property
    def consistent(self) -> bool:
        """Some table and every table consistent (an empty copy is not a consistent one)."""
        return bool(self.tables) and not self.inconsistent

    def summary(self) -> str:
        """One line: consistent, or the first inconsistent tables and why."""
        if not self.tables:
            return f"no Delta table in {self.copy_region}"
        bad = self.inconsistent
        if not bad:
            return f"all {len(self.tables)} tables consistent in {self.copy_region}"
        listed = "; ".join(f"{t.table} {t.reason()}" for t in bad[:3])
        more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
        return f"{len(bad)} of {len(self.tables)} tables inconsistent in {self.copy_region}: {listed}{more}"

    def as_json(self) -> dict[str, Any]:
        """What ``lakehouse dr status --json`` prints."""
        return {
            "source_region": self.source_region,
            "copy_region": self.copy_region,
            "source_reachable": self.source_reachable,
            "consistent": self.consistent,
            "tables": [
                {
                    "table": t.table,
                    "source_version": t.source_version,
                    "copy_version": t.copy_version,
                    "copy_timestamp": t.copy_timestamp,
                    "commits_lost": t.behind,
                    "consistent": t.consistent,
                    "findings": list(t.findings),
                }
                for t in self.tables
            ],
        }


def table_paths() -> Iterator[tuple[str, str, str]]:
    """(name, layer, key prefix in the layer's bucket) of every table: gold once per slot."""
    for contract in ALL_TABLES:
        layer, table = contract.name.split(".", 1)
        if layer == "gold":
            for slot in aws_names.SLOTS:
                yield f"gold.{slot}/{table}", layer, f"{aws_names.gold_slot_prefix(slot)}{table}"
        else:
            yield contract.name, layer, table


def _latest(store: S3Store) -> int | None:
    return parse_listing(store.list(LOG)).latest


def _timestamp(store: S3Store, version: int) -> str:
    try:
        actions = commit_actions(store.read(commit_name(version)))
    except Exception:  # a commit that does not read is already a finding of the check
        return ""
    for action in actions:
        if "commitInfo" in action and "timestamp" in action["commitInfo"]:
            stamp = dt.datetime.fromtimestamp(int(action["commitInfo"]["timestamp"]) / 1000, dt.UTC)
            return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")
    return ""


def _holds_files(store: S3Store) -> bool:
    """Any object under the table's prefix (data files whose log did not arrive, say)."""
    bucket, _, key = store.uri.split("://", 1)[1].partition("/")
    return bool(store.client.list_objects_v2(Bucket=bucket, Prefix=key.strip("/") + "/", MaxKeys=1).get("KeyCount"))


def _table(name: str, source: S3Store | None, copy: S3Store, ahead_counts: bool = False) -> TableState | None:
    source_version = _latest(source) if source else None
    try:
        result = check_table(copy)
    except NoTableError:
        if source_version is None and not _holds_files(copy):
            return None  # on neither side (as far as an unreachable source lets us know)
        return TableState(table=name, source_version=source_version, copy_version=None, ahead_counts=ahead_counts)
    return TableState(
        table=name,
        source_version=source_version,
        copy_version=result.latest,
        copy_timestamp=_timestamp(copy, result.latest),
        findings=tuple(f.line() for f in result.findings),
        ahead_counts=ahead_counts,
    )


def compare(source: Site | None, copy: Site, *, source_region: str, ahead_counts: bool = False) -> Comparison:
    """Every table of ``copy`` against ``source`` (None: unreachable, the copy is checked on its own);
    ``ahead_counts``: a copy with commits the source never had is inconsistent (failback's check)."""
    states = []
    for name, layer, key in table_paths():
        copy_store = S3Store(f"s3://{copy.bucket(layer)}/{key}", copy.client("s3"))
        source_store = S3Store(f"s3://{source.bucket(layer)}/{key}", source.client("s3")) if source else None
        state = _table(name, source_store, copy_store, ahead_counts)
        if state is not None:
            states.append(state)
    return Comparison(
        source_region=source_region,
        copy_region=copy.region,
        source_reachable=source is not None,
        tables=tuple(states),
    )
