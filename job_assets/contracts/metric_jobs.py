"""The metric catalog's entries the Spark jobs publish at the end of each run (part of
:data:`job_assets.contracts.metrics.METRICS`, in this order).
"""

from __future__ import annotations

from typing import Tuple

from .metric_model import (
    ENVIRONMENT,
    JOB,
    LESS,
    OURS,
    REASON,
    TABLE,
    Alarm,
    Metric,
)

JOBS = "Spark jobs (end of run)"
RUNBOOK_DQ = "dq-score-low.md"

JOB_METRICS: Tuple[Metric, ...] = (
    # --- ours: the Spark jobs, at the end of each run (locally the same figures are the run summary) ---------
    Metric(
        key="records_in",
        namespace=OURS,
        name="RecordsIn",
        dimensions=(ENVIRONMENT, JOB, TABLE),
        unit="Count",
        statistic="Sum",
        period_seconds=3600,
        description="Records a job read for a table in one run (run summary rows_in).",
        publisher=JOBS,
        label="records in",
    ),
    Metric(
        key="records_out",
        namespace=OURS,
        name="RecordsOut",
        dimensions=(ENVIRONMENT, JOB, TABLE),
        unit="Count",
        statistic="Sum",
        period_seconds=3600,
        description="Records a job wrote to a table in one run: inserted, updated or deleted (rows_out).",
        publisher=JOBS,
        label="records out",
    ),
    Metric(
        key="records_quarantined",
        namespace=OURS,
        name="RecordsQuarantined",
        dimensions=(ENVIRONMENT, JOB, TABLE),
        unit="Count",
        statistic="Sum",
        period_seconds=3600,
        description="Records a job refused for a table in one run, each kept with its reason (rows_quarantined).",
        publisher=JOBS,
        label="quarantined",
    ),
    Metric(
        key="quarantined_by_reason",
        namespace=OURS,
        name="QuarantinedByReason",
        dimensions=(ENVIRONMENT, JOB, REASON),
        unit="Count",
        statistic="Sum",
        period_seconds=3600,
        description="Records quarantined in one run, by reason code (the closed set of _error values).",
        publisher=JOBS,
        label="quarantined by reason",
    ),
    Metric(
        key="dq_score",
        namespace=OURS,
        name="DQScore",
        dimensions=(ENVIRONMENT, JOB, TABLE),
        unit="None",
        statistic="Minimum",
        period_seconds=86400,
        description=(
            "Share of a table's data-quality rule checks that passed in one run, 0..1 (per day: the worst run; "
            "a run stopped by a fail rule reports its score too)."
        ),
        publisher=JOBS,
        label="DQ score",
        alarm=Alarm(
            summary="A table's data-quality score fell below the threshold: more records than usual fail its rules.",
            runbook=RUNBOOK_DQ,
            comparison=LESS,
            threshold=0.95,
            per_environment=(("dev", 0.9),),
            missing_data="notBreaching",
            in_pipeline_health=True,
        ),
    ),
    Metric(
        key="job_duration",
        namespace=OURS,
        name="JobDurationSeconds",
        dimensions=(ENVIRONMENT, JOB),
        unit="Seconds",
        statistic="Maximum",
        period_seconds=3600,
        description="Wall-clock seconds of one job run, from the job's start to its last commit.",
        publisher=JOBS,
        label="job duration",
    ),
)
