"""Gold job: rebuild the business tables from silver when silver has moved on.

Gold is a pure function of silver, so each gold table is recomputed and overwritten in one commit,
tagged with the silver batch it was built from (``gold:<batch>``): rebuilding the same silver state
makes no commit. Fail-severity rules run on the computed frame BEFORE the write, so a failing rule
leaves the published table exactly as it was.

After the writes every gold table is profiled (job_assets/profiling.py: all tables in two Spark
actions), the profiles are appended to ``gold.profiles`` and compared with the earlier ones; anomalies
become ``warn`` rules named ``profile:*`` in ``gold.dq_results`` and the job result: never a failure.
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, Optional

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from ..context import RunContext
from ..contracts import contract
from ..contracts.spark_schema import schema_of
from ..dq.rules import table_checks
from ..engine import Txn
from ..flags import flag
from ..profiling import profile_job_tables
from ..spark import materialize
from ..transforms import gold as G
from ..transforms.silver import to_table_columns
from .common import JobResult, Progress, TableStats, completed_batches, write_ops

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


def run(ctx: RunContext, progress: Optional[Progress] = None) -> JobResult:
    silver_done = completed_batches(ctx, "silver", "silver")
    if not silver_done:
        return JobResult(JOB, ctx.batch_id, "skipped", message="silver has no finished batch", engine=ctx.engine.name)
    batch = silver_done[-1]
    if batch in set(completed_batches(ctx, "gold", JOB)):
        return JobResult(
            JOB,
            batch,
            "skipped",
            message=f"gold is already built from silver batch {batch}",
            engine=ctx.engine.name,
        )
    result = JobResult(JOB, batch, engine=ctx.engine.name)
    names = ("silver.orders", "silver.customers", "silver.opportunities")
    silver = {}
    for n in names:
        silver[n] = ctx.engine.read_or_empty(ctx.uri(n), schema_of(contract(n))).persist(StorageLevel.MEMORY_AND_DISK)
    frames = build(silver, ctx.flags)
    written = []
    for i, (name, df) in enumerate(frames.items()):
        if progress:
            progress(f"gold {name.split('.', 1)[1]}", i, len(frames))
        c = contract(name)
        df = materialize(df)
        stats = TableStats(name)
        stats.dq = table_checks(df, c, ctx.timestamp())  # raises before the write on a `fail` rule
        w = ctx.engine.overwrite(ctx.uri(name), df, txn=Txn(f"{JOB}:{batch}", 1))
        stats.committed, stats.version = w.committed, ctx.engine.version(ctx.uri(name))
        stats.rows_in = stats.rows_out = w.rows_added if w.committed else df.count()
        result.tables.append(stats)
        written.append((df, c))  # materialized: exactly what the table now holds
    for df in silver.values():
        df.unpersist()
    profile_job_tables(ctx, "gold", result, batch, written)  # anomalies -> warn rules in the tables' DQ stats
    for df, _ in written:
        df.unpersist()
    if progress:
        progress("gold done", len(frames), len(frames))
    write_ops(ctx, "gold", result, batch)
    return result
