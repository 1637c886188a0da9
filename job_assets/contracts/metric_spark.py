"""The metric catalog's entries for what each Spark job run cost Spark (part of
:data:`job_assets.contracts.metrics.METRICS`, after the jobs' run metrics): executor time, shuffle, spill and
peak executor heap, read from the driver's status store at the end of the run (``job_assets/spark_metrics.py``)
and published with the run metrics. They size the EMR jobs (docs/guides/EMR_SIZING.md).
"""

from __future__ import annotations

from typing import Tuple

from .metric_jobs import JOBS
from .metric_model import ENVIRONMENT, JOB, OURS, Metric

_RUN = (ENVIRONMENT, JOB)


def _spark(key: str, name: str, unit: str, statistic: str, description: str, label: str) -> Metric:
    """One per-run Spark figure: ours, per environment and job, hourly (one run per job and hour at most)."""
    return Metric(
        key=key,
        namespace=OURS,
        name=name,
        dimensions=_RUN,
        unit=unit,
        statistic=statistic,
        period_seconds=3600,
        description=description,
        publisher=JOBS,
        label=label,
    )


SPARK_METRICS: Tuple[Metric, ...] = (
    _spark(
        "spark_executor_run_time",
        "SparkExecutorRunTimeSeconds",
        "Seconds",
        "Sum",
        "Task run time of one job run summed over every stage: the executors' busy seconds (stage time).",
        "executor run time",
    ),
    _spark(
        "spark_executor_cpu_time",
        "SparkExecutorCpuSeconds",
        "Seconds",
        "Sum",
        "CPU seconds the executors spent on one job run's tasks (the billed vCPU-seconds' useful share).",
        "executor CPU",
    ),
    _spark(
        "spark_shuffle_read",
        "SparkShuffleReadBytes",
        "Bytes",
        "Sum",
        "Shuffle bytes one job run's stages read (local and remote).",
        "shuffle read",
    ),
    _spark(
        "spark_shuffle_write",
        "SparkShuffleWriteBytes",
        "Bytes",
        "Sum",
        "Shuffle bytes one job run's stages wrote.",
        "shuffle write",
    ),
    _spark(
        "spark_spill_memory",
        "SparkSpillMemoryBytes",
        "Bytes",
        "Sum",
        "Deserialized size of the data one job run spilled: above zero, executors ran short of execution memory.",
        "spill (memory)",
    ),
    _spark(
        "spark_spill_disk",
        "SparkSpillDiskBytes",
        "Bytes",
        "Sum",
        "Bytes one job run's spills wrote to the executors' disks.",
        "spill (disk)",
    ),
    _spark(
        "spark_peak_executor_heap",
        "SparkPeakExecutorHeapBytes",
        "Bytes",
        "Maximum",
        "Largest JVM heap one executor used during a job run (against spark.executor.memory of its sizing).",
        "peak executor heap",
    ),
)
