"""The metric catalog: every metric the platform charts or alarms on, ours and AWS's, declared once.

It is the single source for the CDK alarms and dashboards, the exported CloudWatch and Grafana dashboards
(``dashboards/``), the metric reference (``docs/METRICS.md``, generated), the Spark jobs' end-of-run
metrics and the operational Lambdas' metrics. Each entry says where the metric lives (namespace, name,
dimensions), how to read it (unit, statistic, period), who publishes it, and, when it has an alarm, the
threshold per environment and the runbook that answers it.

Our metrics live in one namespace per environment, ``Lakehouse/<env>`` (:func:`our_namespace`), so
nothing of dev can trip a prod alarm; they keep the ``Environment`` dimension too, so a Grafana panel or a
cross-account search that mixes environments stays unambiguous.

Pure Python 3.9 with no dependencies: the Spark jobs on EMR, the Lambdas, the CDK app and the CLI all
import it.

Where it lives: :mod:`.metric_model` holds the model (the :class:`Metric` and :class:`Alarm` dataclasses,
the dimension names, the CloudWatch vocabulary and :func:`our_namespace`); the entries are grouped by who
publishes them, :mod:`.metric_jobs` (the Spark jobs), :mod:`.metric_lambdas` (the operational Lambdas) and
:mod:`.metric_aws` (AWS services), with :mod:`.metric_spark` (what the jobs' runs cost Spark, after the jobs'
own); this module re-exports all of it and assembles :data:`METRICS`, in that
order, with the lookups (:func:`metric`, :func:`alarmed`) and :func:`validate`. Import this module, not the
parts.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from .metric_aws import AWS_METRICS
from .metric_jobs import JOB_METRICS, JOBS, RUNBOOK_DQ
from .metric_lambdas import LAMBDA_METRICS
from .metric_model import (
    APPLICATION_ID,
    APPLICATION_NAME,
    CAPACITY_ALLOCATION_TYPE,
    COMPARISONS,
    CURRENCY,
    DESTINATION_BUCKET,
    ENVIRONMENT,
    FUNCTION_NAME,
    GREATER,
    GREATER_OR_EQUAL,
    JOB,
    LESS,
    MISSING_DATA,
    OURS,
    QUEUE_NAME,
    REASON,
    RULE_ID,
    SOURCE_BUCKET,
    STATE_MACHINE_ARN,
    STATISTICS,
    TABLE,
    UNITS,
    WORKER_TYPE,
    Alarm,
    Metric,
    our_namespace,
)
from .metric_spark import SPARK_METRICS

__all__ = [
    "APPLICATION_ID",
    "APPLICATION_NAME",
    "BY_KEY",
    "CAPACITY_ALLOCATION_TYPE",
    "COMPARISONS",
    "CURRENCY",
    "DESTINATION_BUCKET",
    "ENVIRONMENT",
    "FUNCTION_NAME",
    "GREATER",
    "GREATER_OR_EQUAL",
    "JOB",
    "JOBS",
    "LESS",
    "METRICS",
    "MISSING_DATA",
    "OURS",
    "QUEUE_NAME",
    "REASON",
    "RULE_ID",
    "RUNBOOK_DQ",
    "SOURCE_BUCKET",
    "SPARK_METRICS",
    "STATE_MACHINE_ARN",
    "STATISTICS",
    "TABLE",
    "UNITS",
    "WORKER_TYPE",
    "Alarm",
    "Metric",
    "alarmed",
    "metric",
    "our_namespace",
    "validate",
]

METRICS: Tuple[Metric, ...] = JOB_METRICS + SPARK_METRICS + LAMBDA_METRICS + AWS_METRICS

BY_KEY: Dict[str, Metric] = {m.key: m for m in METRICS}


def metric(key: str) -> Metric:
    """The catalog entry ``key``; an unknown key is a ``KeyError`` naming the known ones."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"no metric {key!r} in the catalog; known: {', '.join(sorted(BY_KEY))}") from None


def alarmed() -> Tuple[Metric, ...]:
    """The metrics that carry an alarm."""
    return tuple(m for m in METRICS if m.alarm is not None)


def validate(entries: Optional[Tuple[Metric, ...]] = None) -> None:
    """Raise ``ValueError`` naming the entry and the field when the catalog is inconsistent. ``entries``: the
    catalog, or a candidate one (``METRICS + (new_entry,)``: docs/examples/add_a_metric_and_alarm.py)."""
    entries = METRICS if entries is None else entries
    seen: Dict[str, Metric] = {}
    for m in entries:
        if m.key in seen:
            raise ValueError(f"metric {m.key!r}: key declared twice")
        seen[m.key] = m
    for m in entries:
        _validate_metric(m)
        if m.alarm is not None:
            _validate_alarm(m, m.alarm, seen)


def _validate_metric(m: Metric) -> None:
    """One entry's namespace, dimensions, unit, statistic, period and description."""
    where = f"metric {m.key!r}"
    if not (m.ours or m.namespace.startswith("AWS/")):
        raise ValueError(f"{where}: namespace {m.namespace!r} is neither ours nor AWS/...")
    if m.ours and ENVIRONMENT not in m.dimensions:
        raise ValueError(f"{where}: our metrics carry the {ENVIRONMENT} dimension")
    if m.unit not in UNITS:
        raise ValueError(f"{where}: unit {m.unit!r} is not one of {UNITS}")
    if m.statistic not in STATISTICS:
        raise ValueError(f"{where}: statistic {m.statistic!r} is not one of {STATISTICS}")
    if m.period_seconds < 60 or m.period_seconds % 60:
        raise ValueError(f"{where}: period {m.period_seconds}s is not a multiple of 60")
    if not m.description.endswith("."):
        raise ValueError(f"{where}: the description is a sentence ending with '.'")


def _validate_alarm(m: Metric, a: Alarm, by_key: Dict[str, Metric]) -> None:
    """An alarmed entry's comparison, missing-data treatment, evaluation window and runbook."""
    where = f"metric {m.key!r}"
    if a.comparison not in COMPARISONS:
        raise ValueError(f"{where}: alarm comparison {a.comparison!r} is not one of {COMPARISONS}")
    if a.missing_data not in MISSING_DATA:
        raise ValueError(f"{where}: alarm missing_data {a.missing_data!r} is not one of {MISSING_DATA}")
    if not 1 <= a.datapoints_to_alarm <= a.evaluation_periods:
        raise ValueError(f"{where}: alarm needs 1 <= datapoints_to_alarm <= evaluation_periods")
    if m.period_seconds * a.evaluation_periods > 86400:
        raise ValueError(f"{where}: an alarm evaluates at most one day (period x evaluation_periods)")
    if not a.runbook.endswith(".md") or "/" in a.runbook:
        raise ValueError(f"{where}: alarm runbook {a.runbook!r} is a file name under runbooks/")
    if a.of_maximum is not None:
        cap = by_key.get(a.of_maximum)
        if cap is None or (cap.namespace, cap.dimensions) != (m.namespace, m.dimensions):
            raise ValueError(f"{where}: alarm of_maximum {a.of_maximum!r} is no catalog metric with its dimensions")


validate()
