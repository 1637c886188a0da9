"""What every job shares: results, operational writes (dq_results, run_summary), progress, and the
small scheduler that runs a job's tables side by side."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, TypeVar

from ..context import RunContext
from ..contracts import contract
from ..contracts.spark_schema import schema_of
from ..dq.rules import RuleStat, dq_score, results_rows
from ..engine import Txn
from ..spark_metrics import SparkMetrics

log = logging.getLogger("lakehouse.jobs")

Progress = Callable[[str, int, int], None]  # (message, done, total)
T = TypeVar("T")


@dataclass
class TableStats:
    """One table's figures in a job run: rows in, out, quarantined, superseded and released, the version
    committed, and the failed-record counts per rule.
    """

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
    """One job run: its status (``succeeded``, ``skipped`` or ``failed``), per-table figures, timing, message
    and table engine; the run summary tables and the CLI's summary are made from it.
    """

    job: str
    batch_id: str
    status: str = "succeeded"  # succeeded | skipped | failed
    tables: List[TableStats] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    ended: Optional[float] = None
    message: str = ""
    engine: str = ""
    spark: Optional[SparkMetrics] = None
    """What the run cost Spark (:mod:`job_assets.spark_metrics`), set by the pipeline driver at the job's end."""

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
        """Rows in, out, quarantined, superseded and released, summed over the job's tables."""
        keys = ("rows_in", "rows_out", "rows_quarantined", "rows_superseded", "rows_released")
        return {k: sum(getattr(t, k) for t in self.tables) for k in keys}

    def errors(self) -> Dict[str, int]:
        """Failed-record counts per rule, summed over the job's tables."""
        out: Dict[str, int] = {}
        for t in self.tables:
            for k, v in t.errors.items():
                out[k] = out.get(k, 0) + v
        return out


def write_ops(ctx: RunContext, layer: str, result: JobResult, batch_id: str) -> None:
    """Append this run's DQ results and run summary to the layer's ops tables (idempotent per batch).

    The '*' summary row with status 'succeeded' is what marks the batch done for this job: it is written
    last, in one commit with the per-table rows (Txn ``<job>:<batch>:done``), so a batch's summary is whole
    or absent.
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
    summary = ctx.uri(f"{layer}.run_summary")
    summary_schema = schema_of(contract(f"{layer}.run_summary"))
    ctx.engine.append_rows(summary, [*rows, total_row], summary_schema, txn=Txn(f"{result.job}:{batch_id}:done", 1))


SUMMARY_COLUMNS = ("job", "table_name", "status", "batch_id", "ended_ts")
"""The run summary's columns that say which batches a job finished (:func:`finished_batches`)."""


def summary_rows(ctx: RunContext, layer: str, columns: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """Every row of the layer's run summary, :data:`SUMMARY_COLUMNS` and ``columns`` ([] with no table)."""
    return ctx.engine.read_rows(ctx.uri(f"{layer}.run_summary"), (*SUMMARY_COLUMNS, *columns))


def finished_batches(rows: Iterable[Dict[str, Any]], job: str) -> List[str]:
    """Batches ``job`` finished among run summary ``rows`` (its '*' row says succeeded), oldest first."""
    done = [r for r in rows if r["job"] == job and r["table_name"] == "*" and r["status"] == "succeeded"]
    return [r["batch_id"] for r in sorted(done, key=lambda r: (r["ended_ts"], r["batch_id"]))]


def completed_batches(ctx: RunContext, layer: str, job: str) -> List[str]:
    """Batches this job finished (its '*' row says succeeded), oldest first."""
    return finished_batches(summary_rows(ctx, layer), job)


class StepCounter:
    """Thread-safe progress of a job's tasks: each :meth:`step` reports one more task done of ``total``."""

    def __init__(self, progress: Optional[Progress], total: int) -> None:
        self.progress = progress
        self.total = total
        self._done = 0
        self._lock = threading.Lock()

    def step(self, message: str) -> None:
        """One more task done: report ``message`` with the new count (nothing without a progress callback)."""
        if self.progress is None:
            return
        with self._lock:
            self._done += 1
            self.progress(message, self._done, self.total)


class UpstreamFailedError(RuntimeError):
    """A task was not run to its end because a task it depends on failed in the same run."""


class TaskScheduler:
    """Named tasks, one thread each, at most ``slots`` of them working at once.

    A task that waits for others (:meth:`wait_for`) gives its slot up while it waits, so a waiting task
    never holds back one that can run. :meth:`run` raises the first failure that is not an
    :class:`UpstreamFailedError` (the cause, not the tasks it stopped), else the first failure. One
    scheduler runs one set of tasks.
    """

    def __init__(self, slots: int, thread_name_prefix: str) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._submitted = threading.Event()
        self._futures: Dict[str, Future] = {}
        self._prefix = thread_name_prefix

    def wait_for(self, names: Iterable[str], waiter: str) -> None:
        """Block until every task in ``names`` succeeded; raise :class:`UpstreamFailedError` if one failed."""
        self._slots.release()
        try:
            self._submitted.wait()
            for name in sorted(names):
                try:
                    self._futures[name].result()
                except Exception as exc:
                    raise UpstreamFailedError(f"{waiter}: not merged because {name} failed ({exc})") from exc
        finally:
            self._slots.acquire()

    def run(self, tasks: Dict[str, Callable[[], T]], then: Optional[Callable[[str, T], None]] = None) -> Dict[str, T]:
        """Run every task on its own thread; ``then(name, result)`` follows each success outside its slot.

        Returns the results by name, in the order of ``tasks``.
        """

        def in_slot(name: str, task: Callable[[], T]) -> T:
            with self._slots:
                out = task()
            if then is not None:
                then(name, out)
            return out

        with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix=self._prefix) as pool:
            for name, task in tasks.items():
                self._futures[name] = pool.submit(in_slot, name, task)
            self._submitted.set()
        failures = [f.exception() for f in self._futures.values() if f.exception() is not None]
        if failures:
            raise next((e for e in failures if not isinstance(e, UpstreamFailedError)), failures[0])
        return {name: self._futures[name].result() for name in tasks}
