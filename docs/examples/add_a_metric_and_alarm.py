"""Add a metric and its alarm: one catalog entry, from which the CloudWatch alarm is derived.

Every metric the platform charts or alarms on is one ``Metric`` in the catalog
(``job_assets/contracts/metric_jobs.py`` for the Spark jobs' metrics, re-exported by
``job_assets.contracts.metrics``): namespace, name, dimensions, unit, statistic, period, and, when it
pages someone, an ``Alarm`` with its threshold per environment and the runbook that answers it. The CDK
alarm (``cdk/constructs/catalog_alarm.py``: ``CatalogAlarm``), the dashboards and docs/METRICS.md are all
derived from that entry.

This example declares ``QuarantineRate`` (percent of a table's records refused in one run), validates a
candidate catalog holding it, and builds its alarm for dev and prod in a one-alarm CDK stack (not the
app), with the entry registered only while the stack is built: the real catalog is unchanged. To add it
for real: append the entry to ``JOB_METRICS``, publish it from ``job_assets/run_metrics.py``
(``run_datums``), create the alarm where the other per-table alarms are created, and run
``lakehouse dashboards export``.

Run from the checkout: ``.venv/bin/python docs/examples/add_a_metric_and_alarm.py``
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # cdk/ is the checkout's package, not an installed one

from job_assets.contracts import metrics as catalog  # noqa: E402

QUARANTINE_RATE = catalog.Metric(
    key="quarantine_rate",
    namespace=catalog.OURS,  # Lakehouse/<env>
    name="QuarantineRate",
    dimensions=(catalog.ENVIRONMENT, catalog.JOB, catalog.TABLE),
    unit="Percent",
    statistic="Maximum",
    period_seconds=3600,
    description="Percent of a table's records a job refused in one run (rows_quarantined / rows_in).",
    publisher=catalog.JOBS,
    label="quarantine rate",
    alarm=catalog.Alarm(
        summary="A job refused an unusual share of a table's records.",
        runbook=catalog.RUNBOOK_DQ,  # runbooks/dq-score-low.md answers it
        comparison=catalog.GREATER,
        threshold=5.0,
        per_environment=(("prod", 2.0),),  # prod pages earlier
    ),
)

# 1. The catalog's own checks, on a candidate catalog: the real one plus the new entry.
catalog.validate((*catalog.METRICS, QUARANTINE_RATE))
print(f"catalog of {len(catalog.METRICS) + 1} metrics validates with {QUARANTINE_RATE.name}")
broken = dataclasses.replace(QUARANTINE_RATE, period_seconds=90)
try:
    catalog.validate((*catalog.METRICS, broken))
except ValueError as error:
    print(f"a broken entry is refused: {error}")
else:
    raise AssertionError("a 90 s period should be refused")

# 2. The alarm, derived from the entry by CatalogAlarm, in each environment.
import aws_cdk as cdk  # noqa: E402
from aws_cdk import assertions  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402

from cdk.constructs.catalog_alarm import CatalogAlarmFactory  # noqa: E402

alarms = {}
with mock.patch.dict(catalog.BY_KEY, {QUARANTINE_RATE.key: QUARANTINE_RATE}):
    for env in ("dev", "prod"):
        stack = cdk.Stack(cdk.App(), f"Example-{env}")
        factory = CatalogAlarmFactory(
            environment=env, topic=sns.Topic(stack, "Alerts"), runbook_base_url="https://example.org/runbooks/"
        )
        factory.alarm(
            stack,
            "SilverOrdersQuarantineRate",
            metric_key=QUARANTINE_RATE.key,
            name=f"lakehouse-{env}-silver-orders-quarantine-rate",
            subject="silver.orders",
            dimensions={catalog.ENVIRONMENT: env, catalog.JOB: "silver", catalog.TABLE: "silver.orders"},
        )
        (alarm,) = assertions.Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
        alarms[env] = alarm["Properties"]
assert QUARANTINE_RATE.key not in catalog.BY_KEY  # the real catalog is unchanged

for env, props in alarms.items():
    print(f"{env}: {props['Namespace']} {props['MetricName']} {props['ComparisonOperator']} {props['Threshold']}")
    print(f"  {props['AlarmDescription']}")
assert (alarms["dev"]["Threshold"], alarms["prod"]["Threshold"]) == (5.0, 2.0)
assert alarms["prod"]["Namespace"] == "Lakehouse/prod" and alarms["prod"]["Statistic"] == "Maximum"
assert alarms["prod"]["AlarmDescription"].endswith("Runbook: https://example.org/runbooks/dq-score-low.md")
print("OK: one catalog entry gives the metric, its alarm per environment and its runbook link")
