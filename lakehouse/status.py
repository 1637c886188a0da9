"""`lakehouse status` and `lakehouse history`: read Delta metadata directly (no Spark start-up)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from rich.console import Console
from rich.table import Table

from job_assets.context import LakeLocations
from job_assets.contracts import ALL_TABLES, contract


def _rows(t: DeltaTable) -> int:
    actions = pa.table(t.get_add_actions(flatten=True))
    return int(sum(n or 0 for n in actions.column("num_records").to_pylist())) if actions.num_rows else 0


def _ts(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def print_status(root: Path, console: Console) -> int:
    loc = LakeLocations.for_root(str(root))
    table = Table(title=f"Lake {root}")
    for col in ("table", "version", "rows", "files", "last commit (UTC)", "operation"):
        table.add_column(col, justify="right" if col in ("version", "rows", "files") else "left")
    found = 0
    for c in ALL_TABLES:
        uri = loc.table_uri(c.name)
        if not DeltaTable.is_deltatable(uri):
            continue
        found += 1
        t = DeltaTable(uri)
        h = t.history(1)[0]
        op = h.get("lakehouse.operation") or h.get("operation", "")
        table.add_row(c.name, str(t.version()), f"{_rows(t):,}", str(len(t.file_uris())), _ts(h["timestamp"]), op)
    if not found:
        console.print(f"no tables under {root} yet: run `lakehouse run --lake-root {root}`")
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
        uri = loc.table_uri(f"{layer}.run_summary")
        if not DeltaTable.is_deltatable(uri):
            continue
        rows = [r for r in DeltaTable(uri).to_pyarrow_table().to_pylist() if r["table_name"] == "*"]
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


def print_history(root: Path, name: str, limit: int, console: Console) -> int:
    from .cli import UsageError

    try:
        c = contract(name)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    uri = LakeLocations.for_root(str(root)).table_uri(c.name)
    if not DeltaTable.is_deltatable(uri):
        raise UsageError(f"{name}: no Delta table at {uri} yet (run the pipeline first)")
    t = Table(title=f"{name} — {uri}")
    for col in ("version", "time (UTC)", "operation", "details"):
        t.add_column(col)
    for h in DeltaTable(uri).history(limit):
        op = h.get("lakehouse.operation") or h.get("operation", "")
        details = {k: v for k, v in h.items() if k in ("rows", "inserted", "updated", "deleted", "lakehouse.txn")}
        if not details:
            details = h.get("operationMetrics") or h.get("operationParameters") or {}
        t.add_row(
            str(h.get("version")),
            _ts(h["timestamp"]),
            str(op),
            ", ".join(f"{k}={v}" for k, v in details.items()),
        )
    console.print(t)
    return 0
