"""`lakehouse profile <layer.table>`: profile a table on demand, store it with history, show anomalies.

The figures and thresholds are job_assets/profiling.py's (docs/PROFILING.md); the profile is appended to
``<layer>.profiles`` (gold: in the published slot) under a new id, so it becomes history for later ones.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from job_assets.context import LakeLocations, RunContext, new_batch_id
from job_assets.contracts import REGISTRY
from job_assets.profiling import (
    DEFAULT_THRESHOLDS,
    QUANTILES,
    Anomaly,
    Thresholds,
    anomalies,
    profile,
    read_history,
    stamp,
    store,
)

SOURCE = "cli"


class ProfileError(Exception):
    """Bad input to `lakehouse profile` (unknown table, no such table in the lake): one line, exit 2."""


@dataclass
class ProfileRun:
    """One profile of a table: its rows (one per column), the anomalies found against earlier profiles, and
    how many earlier profiles were compared.
    """

    profile_id: str
    table: str
    uri: str
    rows: list[dict[str, Any]]
    anomalies: list[Anomaly] = field(default_factory=list)
    history: int = 0  # earlier profiles compared with

    @property
    def row_count(self) -> int:
        return int(self.rows[0]["row_count"]) if self.rows else 0


def known_tables() -> list[str]:
    """The tables ``lakehouse profile`` can profile, sorted."""
    return sorted(REGISTRY)


def table_uri(root: Path, name: str) -> str:
    """Where ``layer.table`` lives; an unknown name or a table not written yet is a ProfileError."""
    if name not in REGISTRY:
        raise ProfileError(f"unknown table {name!r}; known tables: {', '.join(known_tables())}")
    if not root.is_dir():
        raise ProfileError(f"--lake-root {root}: no such folder")
    uri = LakeLocations.for_root(str(root)).table_uri(name)
    if not Path(uri, "_delta_log").is_dir():
        raise ProfileError(f"{name}: no Delta table at {uri} yet (run the pipeline first)")
    return uri


def profile_table(
    root: Path,
    name: str,
    *,
    spark: Any = None,
    engine: str = "auto",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> ProfileRun:
    """Profile ``name`` with Spark, compare with its stored history, append the profile under a new id."""
    uri = table_uri(root, name)  # before Spark starts: bad input fails fast
    from job_assets.engine import make_engine

    if spark is None:
        from job_assets.spark import local_session

        spark = local_session("lakehouse-profile")
    ctx = RunContext(spark, make_engine(spark, engine), LakeLocations.for_root(str(root)), new_batch_id())
    layer = name.split(".", 1)[0]
    rows = stamp(profile(ctx.engine.read(uri), REGISTRY[name]), ctx.batch_id, SOURCE, ctx.timestamp())
    history = read_history(ctx, layer, [name], exclude=ctx.batch_id, last=thresholds.history)
    found = anomalies(rows, history, thresholds)
    store(ctx, layer, rows)
    return ProfileRun(ctx.batch_id, name, uri, rows, found, len({h["batch_id"] for h in history}))


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    text = str(v)
    return text if len(text) <= 24 else text[:23] + "…"


def _num(v: Any, fmt: str = ",") -> str:
    return "-" if v is None else format(v, fmt)


def _mean(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.2f}" if abs(v) < 1e15 else f"{v:.4g}"


def stats_table(run: ProfileRun) -> Table:
    """A profile's column statistics as a Rich table."""
    t = Table(title=f"{run.table} — {run.row_count:,} rows · profile {run.profile_id}")
    q = [f"p{round(x * 100):02d}" for x in QUANTILES]
    for col in ("column", "type", "null %", "distinct", "min", "max", "mean", " · ".join(q), "top values (count)"):
        t.add_column(col, justify="right" if col in ("null %", "distinct", "mean") else "left")
    for r in run.rows:
        top = json.loads(r["top_values"])
        t.add_row(
            r["column_name"],
            r["column_type"],
            _num(r["null_pct"], ".2f"),
            _num(r["distinct_count"]),
            _cell(r["min_value"]),
            _cell(r["max_value"]),
            _mean(r["mean_value"]),
            " · ".join(_cell(r[k]) for k in q) if r[q[0]] is not None else "-",
            ", ".join(f"{_cell(x['value'])} ({x['count']:,})" for x in top) or "-",
        )
    return t


def anomalies_table(run: ProfileRun) -> Table:
    """A profile's anomalies against the earlier profiles as a Rich table."""
    t = Table(title=f"Anomalies vs the last {run.history} profile(s)")
    for col in ("rule (dq_results)", "column", "now", "median before", "limit"):
        t.add_column(col, justify="left" if col in ("rule (dq_results)", "column") else "right")
    for a in run.anomalies:
        pct = a.check != "row_count_jump"
        t.add_row(
            a.rule,
            a.column or "(rows)",
            f"{a.current:.1f} %" if pct else f"{a.current:,.0f}",
            f"{a.baseline:.1f} %" if pct else f"{a.baseline:,.0f}",
            f"+{a.limit:g} points" if pct else f"±{a.limit:g} %",
        )
    return t


def cmd_profile(args: argparse.Namespace, console: Console) -> int:
    """``lakehouse profile TABLE``: profile a table of the local lake, print its statistics and anomalies."""
    root = Path(args.lake_root).expanduser().resolve()
    run = profile_table(root, args.table, engine=args.engine)
    console.print(stats_table(run))
    if not run.history:
        console.print("no earlier profile of this table: nothing to compare with yet")
    elif run.anomalies:
        console.print(anomalies_table(run))
        for a in run.anomalies:
            console.print(f"[yellow]warning:[/] {a.message}")
    else:
        console.print(f"no anomalies against the last {run.history} profile(s)")
    layer = args.table.split(".", 1)[0]
    console.print(f"stored as profile {run.profile_id} in {layer}.profiles")
    return 0


def add_parser(sub: Any, run: Any, lake_default: str) -> None:
    """Register ``lakehouse profile`` on the ``lakehouse`` subparsers; ``run(fn)`` adapts ``fn(args, console)``."""
    p = sub.add_parser(
        "profile", help="column statistics of a table (null %%, distinct, min/max, quantiles, top values), anomalies"
    )
    p.add_argument("table", help="layer.table, e.g. gold.revenue_attribution")
    p.add_argument("--lake-root", default=lake_default)
    p.add_argument("--engine", default="auto", choices=("auto", "delta-rs", "delta-spark"))
    p.set_defaults(func=run(cmd_profile))
