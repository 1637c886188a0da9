"""What every job shares: results, operational writes (dq_results, run_summary), progress."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from ..context import RunContext
from ..contracts import contract
from ..contracts.spark_schema import schema_of
from ..dq.rules import RuleStat, dq_score, results_rows
from ..engine import Txn

log = logging.getLogger("lakehouse.jobs")

Progress = Callable[[str, int, int], None]  # (message, done, total)


@dataclass
class TableStats:
    table: str
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    rows_superseded: int = 0
    rows_released: int = 0
    version: Optional[int] = None
    committed: bool = False
    errors: Dict[str, int] = field(default_factory=dict)
    dq: List[RuleStat] = field(default_factory=list)

    @property
    def dq_score(self) -> Optional[float]:
        return dq_score(self.dq)

    def balanced(self) -> bool:
        """records in (+ released orphans) == written + quarantined + superseded."""
        return self.rows_in + self.rows_released == self.rows_out + self.rows_quarantined + self.rows_superseded


@dataclass
class JobResult:
    job: str
    batch_id: str
    status: str = "succeeded"  # succeeded | skipped | failed
    tables: List[TableStats] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    ended: Optional[float] = None
    message: str = ""
    engine: str = ""

    @property
    def duration_s(self) -> float:
        return (self.ended or time.time()) - self.started

    @property
    def dq(self) -> List[RuleStat]:
        return [s for t in self.tables for s in t.dq]

    @property
    def dq_score(self) -> Optional[float]:
        return dq_score(self.dq)

    def totals(self) -> Dict[str, int]:
        keys = ("rows_in", "rows_out", "rows_quarantined", "rows_superseded", "rows_released")
        return {k: sum(getattr(t, k) for t in self.tables) for k in keys}

    def errors(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for t in self.tables:
            for k, v in t.errors.items():
                out[k] = out.get(k, 0) + v
        return out


def write_ops(ctx: RunContext, layer: str, result: JobResult, batch_id: str) -> None:
    """Append this run's DQ results and run summary to the layer's ops tables (idempotent per batch).

    The '*' summary row with status 'succeeded' is what marks the batch done for this job: it is
    written last, in its own commit.
    """
    ts = ctx.timestamp()
    result.ended = result.ended or time.time()
    txn = Txn(f"{result.job}:{batch_id}:ops", 1)
    dq_rows = results_rows(result.dq, batch_id, result.job, ts)
    if dq_rows:
        ctx.engine.append_rows(
            ctx.uri(f"{layer}.dq_results"), dq_rows, schema_of(contract(f"{layer}.dq_results")), txn=txn
        )
    started = dt.datetime.fromtimestamp(result.started, dt.timezone.utc).replace(tzinfo=None)
    ended = dt.datetime.fromtimestamp(result.ended, dt.timezone.utc).replace(tzinfo=None)
    base = {
        "batch_id": batch_id,
        "job": result.job,
        "started_ts": started,
        "ended_ts": ended,
        "duration_s": round(result.duration_s, 3),
        "engine": ctx.engine.name,
        "env": ctx.env,
    }
    rows = [
        {
            **base,
            "table_name": t.table,
            "status": "succeeded" if t.committed else "skipped",
            "rows_in": t.rows_in,
            "rows_out": t.rows_out,
            "rows_quarantined": t.rows_quarantined,
            "rows_superseded": t.rows_superseded,
            "rows_released": t.rows_released,
            "dq_score": t.dq_score,
            "table_version": t.version,
            "message": ", ".join(f"{k}={v}" for k, v in sorted(t.errors.items())) or None,
        }
        for t in result.tables
    ]
    summary = ctx.uri(f"{layer}.run_summary")
    summary_schema = schema_of(contract(f"{layer}.run_summary"))
    if rows:
        ctx.engine.append_rows(summary, rows, summary_schema, txn=txn)
    tot = result.totals()
    total_row = {
        **base,
        "table_name": "*",
        "status": result.status,
        **tot,
        "dq_score": result.dq_score,
        "table_version": None,
        "message": result.message or None,
    }
    ctx.engine.append_rows(summary, [total_row], summary_schema, txn=Txn(f"{result.job}:{batch_id}:done", 1))


def completed_batches(ctx: RunContext, layer: str, job: str) -> List[str]:
    """Batches this job finished (its '*' row says succeeded), oldest first."""
    rows = ctx.engine.read_rows(
        ctx.uri(f"{layer}.run_summary"), ("job", "table_name", "status", "batch_id", "ended_ts")
    )
    done = [r for r in rows if r["job"] == job and r["table_name"] == "*" and r["status"] == "succeeded"]
    return [r["batch_id"] for r in sorted(done, key=lambda r: (r["ended_ts"], r["batch_id"]))]
