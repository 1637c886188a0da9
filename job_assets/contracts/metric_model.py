"""The metric catalog's model: the :class:`Metric` and :class:`Alarm` entries, the dimension names, the
CloudWatch vocabulary (comparisons, statistics, units, missing-data treatments) and :func:`our_namespace`.

The entries themselves are in :mod:`.metric_jobs`, :mod:`.metric_lambdas` and :mod:`.metric_aws`; the
catalog and its lookups are :mod:`job_assets.contracts.metrics`. Pure Python 3.9 with no dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

OURS = "Lakehouse"
"""Our namespaces are ``Lakehouse/<env>``; a :class:`Metric` with this namespace is one of ours."""

# --- dimensions ---------------------------------------------------------------------------------------------
ENVIRONMENT = "Environment"
JOB = "Job"
TABLE = "Table"
REASON = "Reason"
APPLICATION_ID = "ApplicationId"
APPLICATION_NAME = "ApplicationName"
STATE_MACHINE_ARN = "StateMachineArn"
FUNCTION_NAME = "FunctionName"
QUEUE_NAME = "QueueName"
SOURCE_BUCKET = "SourceBucket"
DESTINATION_BUCKET = "DestinationBucket"
RULE_ID = "RuleId"
CURRENCY = "Currency"
WORKER_TYPE = "WorkerType"
CAPACITY_ALLOCATION_TYPE = "CapacityAllocationType"

# --- CloudWatch vocabulary (the values CloudFormation takes) ---------------------------------------------------
GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"
GREATER = "GreaterThanThreshold"
LESS = "LessThanThreshold"
COMPARISONS = (GREATER_OR_EQUAL, GREATER, LESS, "LessThanOrEqualToThreshold")
MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
UNITS = ("Count", "Seconds", "Milliseconds", "None", "Percent", "Bytes")


def our_namespace(env: str) -> str:
    """``Lakehouse/<env>``: the namespace of our metrics in one environment."""
    if not env or "/" in env:
        raise ValueError(f"environment {env!r} is not a plain name like dev")
    return f"{OURS}/{env}"


@dataclass(frozen=True)
class Alarm:
    """The alarm a metric carries: when it fires, and the runbook that answers it."""

    summary: str
    """What the alarm means, in one sentence (the start of the alarm description)."""
    runbook: str
    """File under ``runbooks/``; the description ends with ``Runbook: <runbook_base_url><file>``."""
    comparison: str
    threshold: Optional[float]
    """``None``: per table, from the table contract (the freshness SLO)."""
    per_environment: Tuple[Tuple[str, float], ...] = ()
    """Thresholds that differ from ``threshold`` in some environments: ``(("prod", 2.0),)``."""
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    missing_data: str = "notBreaching"
    in_pipeline_health: bool = False
    """Part of the composite ``pipeline-unhealthy`` alarm."""
    of_maximum: Optional[str] = None
    """The key of the catalog metric this one is capped by (same dimensions): the alarm then watches
    ``100 * metric / maximum``, a percent of the cap, so a raised cap moves the alarm with it."""

    def threshold_for(self, env: str) -> Optional[float]:
        """The alarm's threshold in environment ``env``: its per-environment value, else the default."""
        return dict(self.per_environment).get(env, self.threshold)


@dataclass(frozen=True)
class Metric:
    """One metric of the catalog: its namespace, name, dimensions, unit, statistic and period, as the alarms,
    dashboards and docs/METRICS.md read it (ADR 0009).
    """

    key: str
    """Stable id used by dashboards, panels and code."""
    namespace: str
    """``AWS/...`` or :data:`OURS` (resolved per environment by :meth:`namespace_for`)."""
    name: str
    dimensions: Tuple[str, ...]
    unit: str
    statistic: str
    period_seconds: int
    description: str
    publisher: str
    """Who puts the data points: a job, a Lambda, or an AWS service."""
    alarm: Optional[Alarm] = None
    label: str = ""
    """Short chart label; defaults to ``name``."""

    @property
    def ours(self) -> bool:
        return self.namespace == OURS

    def namespace_for(self, env: str) -> str:
        """The metric's CloudWatch namespace in environment ``env`` (ours are per environment)."""
        return our_namespace(env) if self.ours else self.namespace

    @property
    def title(self) -> str:
        return self.label or self.name
