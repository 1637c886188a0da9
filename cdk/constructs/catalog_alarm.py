"""CatalogAlarm: a CloudWatch alarm built from one metric catalog entry (job_assets/contracts/metrics.py).

The catalog decides the namespace, metric name, dimensions, statistic, period, comparison, threshold per
environment, datapoints and missing-data treatment, and the runbook; the caller gives only the dimension
values and what the alarm is about. Every alarm notifies the alert topic on ALARM and on OK, and its
description ends with the runbook link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from job_assets.contracts import metrics as catalog
from job_assets.contracts import runbooks

_MISSING = {
    "breaching": cloudwatch.TreatMissingData.BREACHING,
    "notBreaching": cloudwatch.TreatMissingData.NOT_BREACHING,
    "ignore": cloudwatch.TreatMissingData.IGNORE,
    "missing": cloudwatch.TreatMissingData.MISSING,
}

_COMPARISON = {
    catalog.GREATER_OR_EQUAL: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    catalog.GREATER: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    catalog.LESS: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    "LessThanOrEqualToThreshold": cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
}

_SYMBOL = {
    catalog.GREATER_OR_EQUAL: ">=",
    catalog.GREATER: ">",
    catalog.LESS: "<",
    "LessThanOrEqualToThreshold": "<=",
}


def catalog_metric(
    key: str, *, environment: str, dimensions: Mapping[str, str], period: Duration | None = None
) -> cloudwatch.Metric:
    """The CloudWatch metric of catalog entry ``key`` with these dimension values (all of them)."""
    spec = catalog.metric(key)
    if set(dimensions) != set(spec.dimensions):
        raise ValueError(f"metric {key!r} takes dimensions {spec.dimensions}; got {tuple(dimensions)}")
    return cloudwatch.Metric(
        namespace=spec.namespace_for(environment),
        metric_name=spec.name,
        dimensions_map=dict(dimensions),
        statistic=spec.statistic,
        period=period or Duration.seconds(spec.period_seconds),
    )


def _watched(name: str, rule: catalog.Alarm) -> str:
    """What the description says the alarm compares: the metric, or its percent of its cap."""
    return f"{name} as % of {catalog.metric(rule.of_maximum).name}" if rule.of_maximum else name


def _alarm_metric(props: CatalogAlarmProps, rule: catalog.Alarm) -> cloudwatch.IMetric:
    """The catalog metric, or ``100 * metric / cap`` when the alarm is on the percent of a cap."""
    used = catalog_metric(
        props.metric_key, environment=props.environment, dimensions=props.dimensions, period=props.period
    )
    if rule.of_maximum is None:
        return used
    cap = catalog_metric(
        rule.of_maximum, environment=props.environment, dimensions=props.dimensions, period=props.period
    )
    return cloudwatch.MathExpression(
        expression="100 * used / cap",
        using_metrics={"used": used, "cap": cap},
        label=f"{catalog.metric(props.metric_key).name} (% of {catalog.metric(rule.of_maximum).name})",
        period=props.period or Duration.seconds(catalog.metric(props.metric_key).period_seconds),
    )


@dataclass(frozen=True, kw_only=True)
class CatalogAlarmProps:
    metric_key: str
    environment: str
    dimensions: Mapping[str, str]
    alarm_name: str
    subject: str
    """What the alarm watches, named in its description (a table, a function, a queue)."""
    topic: sns.ITopic
    runbook_base_url: str
    threshold: float | None = None
    """Required when the catalog's threshold is per table (``None`` there); else must stay ``None``."""
    period: Duration | None = None
    """When the data arrives on a configured interval (the monitors' check minutes)."""
    evaluation_periods: int | None = None
    """Overrides the catalog's (then ``datapoints_to_alarm`` equals it) when the span derives from config."""
    runbook: str | None = None
    """Overrides the catalog's runbook when this instance is answered elsewhere."""


class CatalogAlarm(cloudwatch.Alarm):
    """A ``cloudwatch.Alarm`` (same construct path, so an alarm moved onto the catalog keeps its identity)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: CatalogAlarmProps) -> None:
        spec = catalog.metric(props.metric_key)
        rule = spec.alarm
        if rule is None:
            raise ValueError(f"metric {props.metric_key!r} has no alarm in the catalog")
        catalog_threshold = rule.threshold_for(props.environment)
        if (catalog_threshold is None) == (props.threshold is None):
            raise ValueError(
                f"{props.alarm_name}: give a threshold exactly when the catalog has none for {props.metric_key!r}"
            )
        threshold = catalog_threshold if catalog_threshold is not None else props.threshold
        assert threshold is not None
        runbook = props.runbook or rule.runbook
        super().__init__(
            scope,
            construct_id,
            alarm_name=props.alarm_name,
            alarm_description=(
                f"{rule.summary} Watches {props.subject}: {_watched(spec.name, rule)} "
                f"{_SYMBOL[rule.comparison]} {threshold:g}. "
                f"Runbook: {runbooks.file_url(props.runbook_base_url, runbook)}"
            ),
            metric=_alarm_metric(props, rule),
            threshold=threshold,
            evaluation_periods=props.evaluation_periods or rule.evaluation_periods,
            datapoints_to_alarm=props.evaluation_periods or rule.datapoints_to_alarm,
            comparison_operator=_COMPARISON[rule.comparison],
            treat_missing_data=_MISSING[rule.missing_data],
        )
        self.metric_key = props.metric_key
        self.name = props.alarm_name
        """The plain alarm name (``alarm_name`` is a token): other stacks address the alarm by it."""
        self.runbook = runbook
        self.in_pipeline_health = rule.in_pipeline_health
        action = actions.SnsAction(props.topic)
        self.add_alarm_action(action)
        self.add_ok_action(action)


@dataclass(frozen=True, kw_only=True)
class CatalogAlarmFactory:
    """What every alarm of one environment shares (its environment, the alert topic, where runbooks live),
    so the constructs and stacks that own alarms pass one value instead of three."""

    environment: str
    topic: sns.ITopic
    runbook_base_url: str

    def alarm(
        self,
        scope: Construct,
        construct_id: str,
        *,
        metric_key: str,
        name: str,
        subject: str,
        dimensions: Mapping[str, str],
        **props: Any,
    ) -> CatalogAlarm:
        return CatalogAlarm(
            scope,
            construct_id,
            props=CatalogAlarmProps(
                metric_key=metric_key,
                environment=self.environment,
                dimensions=dimensions,
                alarm_name=name,
                subject=subject,
                topic=self.topic,
                runbook_base_url=self.runbook_base_url,
                **props,
            ),
        )
