"""A job's end-of-run figures as CloudWatch metrics (the catalog's job metrics), published on AWS.

Locally the same figures are the run summary (``<layer>.run_summary``) and nothing is sent. On EMR the
entrypoint passes ``--metrics cloudwatch`` and the driver calls ``PutMetricData`` once the run summary is
committed: records in/out/quarantined and the DQ score per table, records quarantined per reason, the
job's duration and what the run cost Spark (executor time, shuffle, spill, peak heap: the run summary
line's ``spark``), under ``Lakehouse/<env>`` with the catalog's names, dimensions and units.

Publishing never fails the job: the run summary is the record, and a metric that cannot be sent (no
boto3 on the image, no permission, throttling) is logged with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Optional

from .contracts import metrics as catalog
from .contracts.ops import OPS_TABLES
from .dq.rules import DataQualityError, dq_score
from .jobs.common import JobResult

log = logging.getLogger("lakehouse.metrics")

MAX_PER_CALL = 1000
"""PutMetricData takes up to 1,000 metrics per call."""
NOT_RECORDS = frozenset(c.name for c in OPS_TABLES)
"""Operational tables (the ingestion log, ...) a job reports on but that hold no records of the data."""
NOT_QUARANTINE = frozenset({"empty_file"})
"""Error codes counted in files, not records: never part of QuarantinedByReason."""


def _datum(key: str, value: float, dims: Dict[str, str], when: dt.datetime) -> Dict[str, Any]:
    spec = catalog.metric(key)
    if set(dims) != set(spec.dimensions):
        raise ValueError(f"metric {key!r} takes dimensions {spec.dimensions}, got {tuple(dims)}")
    return {
        "MetricName": spec.name,
        "Dimensions": [{"Name": name, "Value": dims[name]} for name in spec.dimensions],
        "Value": float(value),
        "Unit": spec.unit,
        "Timestamp": when,
    }


def run_datums(result: JobResult, env: str) -> List[Dict[str, Any]]:
    """The ``MetricData`` entries of one finished run (timestamped at its end)."""
    ended = result.ended or result.started + result.duration_s
    when = dt.datetime.fromtimestamp(ended, dt.timezone.utc)
    job = {catalog.ENVIRONMENT: env, catalog.JOB: result.job}
    data = [_datum("job_duration", round(result.duration_s, 3), job, when)]
    for table in result.tables:
        if table.table in NOT_RECORDS:
            continue
        dims = {**job, catalog.TABLE: table.table}
        data.append(_datum("records_in", table.rows_in, dims, when))
        data.append(_datum("records_out", table.rows_out, dims, when))
        data.append(_datum("records_quarantined", table.rows_quarantined, dims, when))
        if table.dq_score is not None:
            data.append(_datum("dq_score", table.dq_score, dims, when))
    for reason, count in sorted(result.errors().items()):
        if reason not in NOT_QUARANTINE:
            data.append(_datum("quarantined_by_reason", count, {**job, catalog.REASON: reason}, when))
    return data + spark_datums(result, env)


SPARK_FIGURES = (
    ("spark_executor_run_time", "executor_run_time_s"),
    ("spark_executor_cpu_time", "executor_cpu_time_s"),
    ("spark_shuffle_read", "shuffle_read_bytes"),
    ("spark_shuffle_write", "shuffle_write_bytes"),
    ("spark_spill_memory", "spill_memory_bytes"),
    ("spark_spill_disk", "spill_disk_bytes"),
    ("spark_peak_executor_heap", "peak_executor_heap_bytes"),
)
"""Catalog key -> :class:`job_assets.spark_metrics.SparkMetrics` field."""


def spark_datums(result: JobResult, env: str) -> List[Dict[str, Any]]:
    """What the run cost Spark (``result.spark``), one datum per figure; none when it was not collected."""
    if result.spark is None:
        return []
    ended = result.ended or result.started + result.duration_s
    when = dt.datetime.fromtimestamp(ended, dt.timezone.utc)
    dims = {catalog.ENVIRONMENT: env, catalog.JOB: result.job}
    return [_datum(key, getattr(result.spark, field), dims, when) for key, field in SPARK_FIGURES]


def refused_datums(job: str, env: str, error: DataQualityError, started: float, ended: float) -> List[Dict[str, Any]]:
    """A run stopped by a ``fail`` rule writes nothing, but its DQ score and duration are still published.

    Without this the DQ-score alarm could never see a refused run (a gold table's rules are all ``fail``).
    """
    when = dt.datetime.fromtimestamp(ended, dt.timezone.utc)
    dims = {catalog.ENVIRONMENT: env, catalog.JOB: job}
    data = [_datum("job_duration", round(ended - started, 3), dims, when)]
    score = dq_score(error.stats)
    if score is not None:
        data.append(_datum("dq_score", score, {**dims, catalog.TABLE: error.table}, when))
    return data


def publish(result: JobResult, env: str, client: Optional[Any] = None) -> bool:
    """Send the run's metrics; True when every call succeeded. Never raises."""
    return send(run_datums(result, env), env, client)


def send(data: List[Dict[str, Any]], env: str, client: Optional[Any] = None) -> bool:
    """``PutMetricData`` in chunks under ``Lakehouse/<env>``; True when every call succeeded. Never raises."""
    namespace = catalog.our_namespace(env)
    try:
        if client is None:
            from .shipped import use_shipped_dependencies

            use_shipped_dependencies()  # on EMR boto3 comes from the release's pydeps.zip (docs/adr/0002)
            import boto3
            from botocore.config import Config

            # Short timeouts and few retries: a slow endpoint must not hold the finished driver for minutes.
            config = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
            client = boto3.client("cloudwatch", config=config)
        for start in range(0, len(data), MAX_PER_CALL):
            client.put_metric_data(Namespace=namespace, MetricData=data[start : start + MAX_PER_CALL])
    except Exception as error:  # the run summary holds the figures; a lost data point is not a failed run
        log.warning(
            "run metrics not published to %s (%d data points): %s: %s",
            namespace,
            len(data),
            type(error).__name__,
            error,
        )
        return False
    log.info("published %d run metrics to %s", len(data), namespace)
    return True
