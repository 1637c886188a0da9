"""Gold job: rebuild the business tables from silver when silver has moved on.

Gold is a pure function of silver, so each gold table is recomputed and overwritten in one commit,
tagged with the silver batch it was built from (``gold:<batch>``): rebuilding the same silver state
makes no commit. Each commit records its build (:mod:`job_assets.jobs.gold_build`); with the job flag
``gold_by_month=always`` the monthly tables recompute only the months silver's changes since their last build
can move, and keep the others (off by default: measured, it does not pay on a realistic feed).
Fail-severity rules run on the computed frame (the whole table) BEFORE the write, so a failing rule leaves
the published table exactly as it was.

After the writes every gold table is profiled (job_assets/profiling.py: all tables in two Spark
actions), the profiles are appended to ``gold.profiles`` and compared with the earlier ones; anomalies
become ``warn`` rules named ``profile:*`` in ``gold.dq_results`` and the job result: never a failure.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Tuple

from pyspark.sql import DataFrame

from ..context import RunContext
from ..contracts import contract
from ..dq.rules import RuleStat, table_checks
from ..engine import TableNotFoundError, Txn
from ..flags import flag
from ..profiling import profile_job_tables
from ..spark import materialize, release
from ..transforms import gold as G
from ..transforms import gold_months as GM
from ..transforms.silver import to_table_columns
from . import gold_build
from .bronze import parallelism
from .common import JobResult, Progress, StepCounter, TableStats, completed_batches, write_ops

log = logging.getLogger("lakehouse.jobs.gold")
JOB = "gold"


def build(silver: Dict[str, DataFrame], flags: Optional[Dict[str, str]] = None) -> Dict[str, DataFrame]:
    """silver tables by name -> gold frames by name (pure)."""
    flags = flags or {}
    orders, customers, opps = (
        silver["silver.orders"],
        silver["silver.customers"],
        silver["silver.opportunities"],
    )
    model = flag(flags, "attribution_model")
    builders: Dict[str, Callable[[], DataFrame]] = {
        "gold.revenue_attribution": lambda: G.revenue_attribution(orders, customers, opps, model),
        "gold.customer_segments": lambda: G.customer_segments(orders, customers),
        "gold.customer_ltv_cohorts": lambda: G.customer_ltv_cohorts(orders),
        "gold.sales_pipeline": lambda: G.sales_pipeline(opps),
        "gold.win_rates": lambda: G.win_rates(opps),
    }
    return {name: to_table_columns(fn(), contract(name)) for name, fn in builders.items()}


def build_months(
    name: str, months: List, silver: Dict[str, DataFrame], flags: Optional[Dict[str, str]] = None
) -> DataFrame:
    """The rows of ``months`` of monthly gold table ``name`` (pure; :data:`gold_build.MONTHLY`)."""
    return to_table_columns(gold_build.MONTHLY[name].rows(months, silver, flags or {}), contract(name))


Checked = Dict[str, Tuple[DataFrame, List[RuleStat]]]
"""Gold table name -> (its frame, materialized; its DQ stats), for every table that passed its fail rules."""


def _pending_batch(ctx: RunContext) -> Tuple[str, Optional[JobResult]]:
    """(the last finished silver batch, None), or (_, the skipped result) when there is nothing to build."""
    silver_done = completed_batches(ctx, "silver", "silver")
    if not silver_done:
        return "", JobResult(
            JOB, ctx.batch_id, "skipped", message="silver has no finished batch", engine=ctx.engine.name
        )
    batch = silver_done[-1]
    if batch in set(completed_batches(ctx, "gold", JOB)):
        return batch, JobResult(
            JOB,
            batch,
            "skipped",
            message=f"gold is already built from silver batch {batch}",
            engine=ctx.engine.name,
        )
    return batch, None


def _read_silver(ctx: RunContext) -> Tuple[Dict[str, DataFrame], Dict[str, gold_build.Pinned]]:
    """Each silver input, read once (materialized) at the version it is pinned to, before the tables that share
    it are computed side by side; and those versions, which each gold commit records.

    Gold runs once silver has finished a batch, and every finished batch leaves every silver table (created
    empty if need be): a missing input was lost, and gold refuses rather than publish tables built without it.
    """
    silver, pinned = {}, {}
    for n in ("silver.orders", "silver.customers", "silver.opportunities"):
        pinned[n] = gold_build.pin(ctx, n)
        if pinned[n].version is None:
            raise TableNotFoundError(
                f"gold: {n} is missing at {ctx.uri(n)} although silver has finished batches; nothing was "
                "published: restore it (runbooks/table-restore.md) or rebuild silver from bronze "
                "(runbooks/rebuild-from-bronze.md)"
            )
        silver[n] = materialize(ctx.engine.read(ctx.uri(n), version=pinned[n].version))
    return silver, pinned


def _plan(
    ctx: RunContext, frames: Dict[str, DataFrame], silver: Dict[str, DataFrame], pinned: Dict[str, gold_build.Pinned]
) -> Dict[str, gold_build.Plan]:
    """How each table is built; a monthly table with months to recompute gets its frame replaced by the
    table as it is with those months recomputed."""
    plans = {}
    for name in frames:
        plans[name] = gold_build.plan(ctx, name, pinned, silver, ctx.flags)
        months = plans[name].months
        if months is not None:
            existing = ctx.engine.read(ctx.uri(name))  # this version: the overwrite leaves its files in place
            recomputed = build_months(name, months, silver, ctx.flags)
            frames[name] = GM.splice(existing, recomputed, gold_build.MONTHLY[name].column, months)
        log.info("%s: %s (%s)", name, plans[name].mode, plans[name].reason)
    return plans


def _step(counter: StepCounter, label: str, name: str) -> None:
    """One gold task done: ``label`` (checked or wrote) of table ``name``."""
    counter.step(f"gold {label} {name.split('.', 1)[1]}")


def _check_all(
    ctx: RunContext,
    pool: ThreadPoolExecutor,
    frames: Dict[str, DataFrame],
    silver: Dict[str, DataFrame],
    counter: StepCounter,
) -> Checked:
    """Compute and check every table side by side. A `fail` rule of any table raises the first error, once
    every table is through and the cached frames are released: nothing is written."""

    def compute(name: str) -> Tuple[DataFrame, List[RuleStat]]:
        df = materialize(frames[name])
        dq = table_checks(df, contract(name), ctx.timestamp())  # raises on a `fail` rule
        _step(counter, "checked", name)
        return df, dq

    checked = {n: pool.submit(compute, n) for n in frames}
    computed: Checked = {}
    errors = []
    for n in frames:
        try:
            computed[n] = checked[n].result()
        except Exception as exc:
            errors.append(exc)
    if errors:
        for df in [*silver.values(), *(df for df, _ in computed.values())]:
            release(df)
        raise errors[0]
    return computed


def _publish(
    ctx: RunContext,
    batch: str,
    name: str,
    checked: Tuple[DataFrame, List[RuleStat]],
    counter: StepCounter,
    build: Dict[str, object],
) -> TableStats:
    """Overwrite gold table ``name`` with its checked frame (one commit tagged with the silver batch, carrying
    its ``build`` provenance)."""
    df, dq = checked
    stats = TableStats(name, dq=dq)
    w = ctx.engine.overwrite(ctx.uri(name), df, txn=Txn(f"{JOB}:{batch}", 1), metadata=build)
    stats.committed, stats.version = w.committed, ctx.engine.version(ctx.uri(name))
    stats.rows_in = stats.rows_out = w.rows_added if w.committed else df.count()
    _step(counter, "wrote", name)
    return stats


def run(ctx: RunContext, progress: Optional[Progress] = None) -> JobResult:
    """Rebuild every gold table from the last finished silver batch, then profile what was written."""
    batch, skipped = _pending_batch(ctx)
    if skipped is not None:
        return skipped
    result = JobResult(JOB, batch, engine=ctx.engine.name)
    silver, pinned = _read_silver(ctx)
    frames = build(silver, ctx.flags)
    plans = _plan(ctx, frames, silver, pinned)
    builds = {n: gold_build.provenance(n, batch, pinned, ctx.flags, plans[n]) for n in frames}
    result.message = "; ".join(f"{n}: {len(p.months)} months" for n, p in plans.items() if p.months is not None)
    names = list(frames)
    counter = StepCounter(progress, 2 * len(names))
    # tables are independent: compute and check them side by side, and write only when every table
    # passed its fail rules, so a refused run leaves all of gold as it was
    with ThreadPoolExecutor(max_workers=parallelism(len(names)), thread_name_prefix="gold") as pool:
        computed = _check_all(ctx, pool, frames, silver, counter)
        result.tables = list(pool.map(lambda n: _publish(ctx, batch, n, computed[n], counter, builds[n]), names))
    written = [(computed[n][0], contract(n)) for n in names]  # materialized: exactly what the tables hold
    for df in silver.values():
        release(df)
    profile_job_tables(ctx, "gold", result, batch, written)  # anomalies -> warn rules in the tables' DQ stats
    for df, _ in written:
        release(df)
    if progress:
        progress("gold done", len(frames), len(frames))
    write_ops(ctx, "gold", result, batch)
    return result
