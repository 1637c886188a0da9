"""`lakehouse status` and `lakehouse history`: read Delta metadata directly with delta-rs (no Spark start-up).

A local lake (``--lake-root``) or a deployed environment's S3 lake (``--env``): the layer buckets come from the
environment's deployment parameter and gold from the active slot of its slots parameter, as the state
machines resolve them. An S3-compatible endpoint in ``AWS_ENDPOINT_URL`` (MinIO, moto) is honoured.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from job_assets.context import LakeLocations
from job_assets.contracts import ALL_TABLES, contract
from job_assets.delta_read import DeltaReader


@dataclass(frozen=True, kw_only=True)
class Lake:
    """Where the tables are, how to name the lake in output, and what delta-rs needs to reach it."""

    locations: LakeLocations
    title: str
    storage_options: dict[str, str] | None = None
    hint: str = ""
    """What to run when it holds no table yet."""

    @property
    def reader(self) -> DeltaReader:
        """The read-only reader of this lake's tables (the CLI's one read path)."""
        return DeltaReader(self.storage_options)

    def table(self, uri: str) -> Any:
        """The table at ``uri`` (a delta-rs ``DeltaTable``), or None when there is none (no log, or an empty
        folder)."""
        return self.reader.open(uri)


def local_lake(root: Path) -> Lake:
    """The local lake at ``root`` for ``status`` and ``history``."""
    return Lake(
        locations=LakeLocations.for_root(str(root)),
        title=f"Lake {root}",
        hint=f"run `lakehouse run --lake-root {root}`",
    )


def s3_storage_options(region: str | None) -> dict[str, str]:
    """delta-rs options for S3: the region, and an http endpoint override (``AWS_ENDPOINT_URL``) allowed."""
    options = {"AWS_REGION": region} if region else {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


def aws_lake(env: str, *, project: str, session: Any) -> Lake:
    """The S3 lake of a deployed environment (its deployment and slots SSM parameters say where)."""
    from ..promotion import AwsControl

    control = AwsControl(env, project=project, session=session)
    arguments = list(control.deployment()["arguments"])
    uris = {
        a[2:-4]: arguments[i + 1] for i, a in enumerate(arguments[:-1]) if a.startswith("--") and a.endswith("-uri")
    }
    missing = [layer for layer in ("landing", "bronze", "silver") if layer not in uris]
    if missing:
        from ..promotion import PromotionError

        raise PromotionError(f"--env {env}: the deployment parameter names no --{missing[0]}-uri")
    slot = control.read().active
    locations = LakeLocations(uris["landing"], uris["bronze"], uris["silver"], control.gold_uri(slot))
    return Lake(
        locations=locations,
        title=f"Environment {env} (gold: {slot} slot)",
        storage_options=s3_storage_options(session.region_name),
        hint=f"start the pipeline: `lakehouse pipeline start --env {env}`",
    )


def _ts(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _commit(raw: dict[str, Any]) -> dict[str, Any]:
    """One of the reader's history dicts (delta-rs's ``commitInfo`` with its version), normalised as the engines'
    ``history()`` normalises it: our metadata in ``userMetadata``, whichever way the commit carried it."""
    from job_assets.engine.base import history_entry

    return history_entry(int(raw["version"]), raw)


def _operation(h: dict[str, Any]) -> str:
    """Our operation name (APPEND, MERGE, ...) of a normalised commit, else Delta's."""
    return str(h["userMetadata"].get("operation") or h["operation"])


def print_status(lake: Lake, console: Console) -> int:
    """Print every table's version, rows, files and last commit, and the last runs; exit code 0."""
    loc = lake.locations
    table = Table(title=lake.title)
    for col in ("table", "version", "rows", "files", "last commit (UTC)", "operation"):
        table.add_column(col, justify="right" if col in ("version", "rows", "files") else "left")
    found = 0
    for c in ALL_TABLES:
        t = lake.table(loc.table_uri(c.name))
        if t is None:
            continue
        found += 1
        h = _commit(t.history(1)[0])
        table.add_row(
            c.name,
            str(t.version()),
            f"{lake.reader.row_count(t):,}",
            str(len(t.file_uris())),
            _ts(h["timestamp"]),
            _operation(h),
        )
    if not found:
        console.print(f"no tables in {lake.title} yet: {lake.hint}")
        return 0
    console.print(table)
    runs = Table(title="Last runs")
    for col in (
        "job",
        "batch",
        "status",
        "ended (UTC)",
        "duration s",
        "rows in",
        "rows out",
        "quarantined",
        "DQ score",
    ):
        runs.add_column(col)
    for layer in ("bronze", "silver", "gold"):
        summary = lake.table(loc.table_uri(f"{layer}.run_summary"))
        if summary is None:
            continue
        rows = [r for r in lake.reader.rows(summary) if r["table_name"] == "*"]
        for r in sorted(rows, key=lambda r: r["ended_ts"])[-3:]:
            runs.add_row(
                r["job"],
                r["batch_id"],
                r["status"],
                str(r["ended_ts"])[:19],
                f"{r['duration_s']:.1f}",
                f"{r['rows_in']:,}",
                f"{r['rows_out']:,}",
                f"{r['rows_quarantined']:,}",
                f"{r['dq_score']:.4f}" if r["dq_score"] is not None else "-",
            )
    console.print(runs)
    return 0


def _details(details: dict[str, Any]) -> str:
    """A commit's details as ``key=value`` pairs; a gold build as its mode and reason (docs/PIPELINE.md)."""
    shown = []
    for key, value in details.items():
        if key == "build" and isinstance(value, dict):
            value = f"{value.get('mode')} ({value.get('reason')})"
        shown.append(f"{key}={value}")
    return ", ".join(shown)


def print_history(lake: Lake, name: str, limit: int, console: Console) -> int:
    """Print the last ``limit`` Delta commits of table ``name``.

    Raises:
        UsageError: ``name`` is not a table of the contracts, or the table was never written.
    """
    from ..errors import UsageError

    try:
        c = contract(name)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    uri = lake.locations.table_uri(c.name)
    found = lake.table(uri)
    if found is None:
        raise UsageError(f"{name}: no Delta table at {uri} yet (run the pipeline first)")
    t = Table(title=f"{name} — {uri}")
    for col in ("version", "time (UTC)", "operation", "details"):
        t.add_column(col)
    for h in map(_commit, found.history(limit)):
        ours = {k: v for k, v in h["userMetadata"].items() if k != "operation"}
        details = ours or h["operationMetrics"] or h["operationParameters"]
        t.add_row(str(h["version"]), _ts(h["timestamp"]), _operation(h), _details(details))
    console.print(t)
    return 0
