"""The one pipeline driver: runs jobs in pipeline order, each wrapped in its OpenLineage run events.

Everything that runs jobs calls :func:`run_pipeline`: ``lakehouse run`` (all three layers, with progress
bars), each EMR entrypoint (one job, as Step Functions starts it) and the tests. Callers add only what is
theirs: the CLI its progress display and summary tables, the entrypoint argument parsing, the summary
line and CloudWatch metrics.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence

from .. import lineage, spark_metrics
from ..context import RunContext
from ..contracts.layout import LAYERS
from ..spark import release_materialized
from . import bronze, gold, maintenance, silver
from .common import JobResult, Progress

JOBS = {"bronze": bronze.run, "silver": silver.run, "gold": gold.run, "maintenance": maintenance.run}

ProgressFor = Callable[[str], Optional[Progress]]
"""Gives the progress callback of one job (or None)."""
Finished = Callable[[JobResult], None]
"""Called with each job's result as soon as it ends."""


def run_pipeline(
    ctx: RunContext,
    layers: Sequence[str] = LAYERS,
    *,
    transport: Optional[lineage.Transport] = None,
    progress_for: Optional[ProgressFor] = None,
    finished: Optional[Finished] = None,
) -> List[JobResult]:
    """Run the jobs named in ``layers`` (pipeline order: bronze, silver, gold, then maintenance) on ``ctx``.

    Each job emits START and COMPLETE (or FAIL, with the error) to ``transport``; lineage never fails a
    job. A job's exception (e.g. ``DataQualityError``) stops the run and propagates after its FAIL event:
    the jobs before it keep their commits, the jobs after it do not start. Each result carries what its run
    cost Spark (``result.spark``: :mod:`job_assets.spark_metrics`).

    >>> run_pipeline(ctx)                                     # doctest: +SKIP
    >>> run_pipeline(ctx, ["gold"], transport=lineage.transport_from("file:/tmp/ol"))  # doctest: +SKIP
    """
    unknown = [x for x in layers if x not in JOBS]
    if unknown:
        raise ValueError(f"unknown job(s) {', '.join(unknown)}; choose from {', '.join(JOBS)}")
    results: List[JobResult] = []
    for job in [x for x in JOBS if x in layers]:
        progress = progress_for(job) if progress_for else None
        since = spark_metrics.stage_watermark(ctx.spark)
        try:
            result = lineage.run_with_lineage(
                transport, job, ctx, lambda job=job, progress=progress: JOBS[job](ctx, progress)
            )
        finally:
            release_materialized(ctx.spark)  # the job's checkpointed frames: nothing reads them after it
        result.spark = spark_metrics.collect(ctx.spark, since)
        results.append(result)
        if finished:
            finished(result)
    return results
