"""What a job run cost Spark, read from the driver's status store (job_assets/spark_metrics.py) on real local
Spark, and published as the catalog's Spark metrics with the run metrics."""

from __future__ import annotations

import datetime as dt

import pytest

from job_assets.contracts import metrics as catalog
from job_assets.jobs.common import JobResult
from job_assets.run_metrics import run_datums
from job_assets.spark_metrics import SparkMetrics, collect, stage_watermark

pytestmark = pytest.mark.spark


def test_a_shuffle_is_measured_and_only_the_stages_since_the_watermark_count(spark) -> None:
    since = stage_watermark(spark)  # the session's earlier stages (other tests', the fixture's) do not count

    rows = spark.range(0, 10_000).selectExpr("id % 97 AS k", "id AS v").groupBy("k").sum("v").collect()
    assert len(rows) == 97
    metrics = collect(spark, since)

    assert metrics is not None
    assert metrics.stages >= 2  # the map side and the reduce side of the groupBy
    assert metrics.shuffle_write_bytes > 0 and metrics.shuffle_read_bytes > 0
    assert metrics.executor_run_time_s > 0 and metrics.executor_cpu_time_s > 0
    assert metrics.peak_executor_heap_bytes > 0
    assert metrics.spill_memory_bytes >= 0 and metrics.spill_disk_bytes >= 0

    later = stage_watermark(spark)
    assert later > since
    idle = collect(spark, later)  # nothing ran since: nothing counted
    assert idle is not None and (idle.stages, idle.shuffle_read_bytes, idle.executor_run_time_s) == (0, 0, 0.0)


def test_the_figures_are_published_with_the_catalog_names_and_units() -> None:
    ended = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC).timestamp()
    figures = SparkMetrics(
        stages=12,
        executor_run_time_s=41.5,
        executor_cpu_time_s=30.25,
        shuffle_read_bytes=2048,
        shuffle_write_bytes=4096,
        spill_memory_bytes=0,
        spill_disk_bytes=0,
        peak_executor_heap_bytes=512 * 1024 * 1024,
    )
    result = JobResult(job="silver", batch_id="b1", started=ended - 60, ended=ended, spark=figures)

    data = {d["MetricName"]: d for d in run_datums(result, "prod")}

    assert data["SparkShuffleWriteBytes"]["Value"] == 4096 and data["SparkShuffleWriteBytes"]["Unit"] == "Bytes"
    assert data["SparkExecutorRunTimeSeconds"]["Value"] == 41.5
    assert data["SparkExecutorRunTimeSeconds"]["Unit"] == "Seconds"
    assert data["SparkPeakExecutorHeapBytes"]["Value"] == 512 * 1024 * 1024
    assert data["SparkSpillDiskBytes"]["Value"] == 0  # no spill is a figure too
    spark_names = {m.name for m in catalog.SPARK_METRICS}
    assert spark_names <= set(data)
    for name in spark_names:
        assert [(x["Name"], x["Value"]) for x in data[name]["Dimensions"]] == [
            ("Environment", "prod"),
            ("Job", "silver"),
        ]
    # not collected (the status store could not be read): the run's other metrics only
    assert not spark_names & {d["MetricName"] for d in run_datums(JobResult(job="silver", batch_id="b1"), "prod")}
