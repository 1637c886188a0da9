"""Alarms, dashboards and queries against the metric catalog (template assertions on the real synth)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cdk_testkit import REPO_ROOT, Synthesized, resources

from job_assets.contracts import GOLD_TABLES, SILVER_TABLES
from job_assets.contracts import metrics as catalog
from lakehouse.docs.dashboards import Targets, dashboards

ENVS = ("dev", "staging", "prod")
RUNBOOK_LINK = re.compile(r"Runbook: https://\S+/runbooks/([a-z0-9-]+\.md)$")


def _alarms(lakehouse: Synthesized, env: str, cfn_type: str = "AWS::CloudWatch::Alarm") -> list[dict[str, Any]]:
    return [a["Properties"] for _, t in lakehouse.templates(env) for a in resources(t, cfn_type).values()]


def _watched(alarm: dict[str, Any]) -> dict[str, Any]:
    """Namespace, MetricName, Dimensions, Statistic, Period of what the alarm watches: its metric, or the
    ``used`` metric of a percent-of-the-maximum alarm (metric math ``100 * used / cap``)."""
    if "Metrics" not in alarm:
        return alarm
    (used,) = [m["MetricStat"] for m in alarm["Metrics"] if m["Id"] == "used"]
    return {**used["Metric"], "Statistic": used["Stat"], "Period": used["Period"]}


def _catalog_key(alarm: dict[str, Any], env: str) -> str:
    """The catalog entry an alarm watches (by namespace, metric name and dimension names)."""
    alarm = {**alarm, **_watched(alarm)}
    dims = tuple(sorted(d["Name"] for d in alarm["Dimensions"]))
    found = [
        m.key
        for m in catalog.alarmed()
        if m.namespace_for(env) == alarm["Namespace"]
        and m.name == alarm["MetricName"]
        and tuple(sorted(m.dimensions)) == dims
    ]
    assert len(found) == 1, f"{alarm['AlarmName']}: not exactly one catalog alarm ({found})"
    return found[0]


def _expected_counts(env: str, env_config: dict[str, Any]) -> Counter:
    replication = env_config[env].features.replication
    slo_tables = [c for c in (*SILVER_TABLES, *GOLD_TABLES) if c.freshness_slo_minutes is not None]
    return Counter(
        {
            "emr_failed_jobs": 1,
            "sfn_executions_failed": 2,  # pipeline, maintenance
            "sfn_executions_timed_out": 2,
            "lambda_errors": 5 if replication else 4,
            "dlq_depth": 2,  # landing intake, ops failed events
            "freshness_minutes": len(slo_tables),
            "replica_consistent": 1 if replication else 0,
            "dq_score": sum(1 for c in (*SILVER_TABLES, *GOLD_TABLES) if c.rules),
            "cost_per_million_records": 3,  # bronze, silver, gold
            "intake_rejected": 1,
            "emr_application_cpu_allocated": 1,  # percent of MaxCPUAllowed
            "emr_application_memory_allocated": 1,  # percent of MaxMemoryAllowed
        }
    )


@pytest.mark.parametrize("env", ENVS)
def test_every_alarm_comes_from_the_catalog_and_the_counts_match(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    alarms = _alarms(lakehouse, env)
    counts = Counter(_catalog_key(a, env) for a in alarms)
    assert counts == +_expected_counts(env, env_config)
    assert set(counts) | ({"replica_consistent"} if env == "dev" else set()) == {m.key for m in catalog.alarmed()}
    ops = env_config[env].ops
    for alarm in alarms:
        name, key = alarm["AlarmName"], _catalog_key(alarm, env)
        spec = catalog.metric(key)
        rule = spec.alarm
        assert rule is not None
        assert alarm["ComparisonOperator"] == rule.comparison, name
        assert alarm["TreatMissingData"] == rule.missing_data, name
        watched = _watched(alarm)
        assert watched["Statistic"] == spec.statistic, name
        if rule.threshold is not None:
            assert alarm["Threshold"] == rule.threshold_for(env), name
        # the two monitors run on configured intervals: their alarms follow the config, the rest the catalog
        if key == "freshness_minutes":
            period, evaluation, datapoints = ops.freshness_check_minutes * 60, 2, 1
        elif key == "replica_consistent":
            spans = 15 // ops.replica_check_minutes + 1  # longer than the RTC window
            period, evaluation, datapoints = ops.replica_check_minutes * 60, spans, spans
        else:
            period, evaluation, datapoints = spec.period_seconds, rule.evaluation_periods, rule.datapoints_to_alarm
        assert (watched["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            period,
            evaluation,
            datapoints,
        ), name


@pytest.mark.parametrize("env", ENVS)
def test_every_alarm_notifies_the_topic_and_links_an_existing_runbook(lakehouse: Synthesized, env: str) -> None:
    every = _alarms(lakehouse, env) + _alarms(lakehouse, env, "AWS::CloudWatch::CompositeAlarm")
    assert every
    for alarm in every:
        name = alarm["AlarmName"]
        assert len(alarm["AlarmActions"]) == 1 and alarm["OKActions"] == alarm["AlarmActions"], name
        topic = json.dumps(alarm["AlarmActions"])
        assert "Alerting:ExportsOutputRefAlerts" in topic, f"{name}: not the alert topic ({topic})"
        match = RUNBOOK_LINK.search(alarm["AlarmDescription"])
        assert match, f"{name}: description does not end with its runbook link"
        assert (REPO_ROOT / "runbooks" / match.group(1)).is_file(), f"{name}: runbooks/{match.group(1)} missing"
        assert len(alarm["AlarmDescription"]) <= 1024, name


@pytest.mark.parametrize("env", ENVS)
def test_pipeline_unhealthy_is_any_of_the_health_alarms(lakehouse: Synthesized, env: str) -> None:
    (composite,) = _alarms(lakehouse, env, "AWS::CloudWatch::CompositeAlarm")
    assert composite["AlarmName"] == f"lakehouse-{env}-pipeline-unhealthy"
    rule = json.dumps(composite["AlarmRule"])
    members = [
        a
        for a in _alarms(lakehouse, env)
        if catalog.metric(_catalog_key(a, env)).alarm.in_pipeline_health  # type: ignore[union-attr]
    ]
    assert members and rule.count("ALARM(") == len(members)
    assert " OR " in rule and " AND " not in rule
    assert "ImportValue" not in rule  # members by ARN: no export pins their stacks
    for member in members:
        if "-dq-" not in member["AlarmName"]:  # this stack's own alarms are referenced directly
            assert f":alarm:{member['AlarmName']}" in rule, member["AlarmName"]


@pytest.mark.parametrize("env", ENVS)
def test_dashboards_are_the_exported_files_and_chart_only_catalog_metrics(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    template = lakehouse.template(lakehouse.environments[env].observability)
    deployed = {
        d["Properties"]["DashboardName"]: json.loads(d["Properties"]["DashboardBody"])
        for d in resources(template, "AWS::CloudWatch::Dashboard").values()
    }
    boards = dashboards(Targets.from_config(env_config[env]))
    assert len(deployed) == len(boards) == (4 if env_config[env].features.replication else 3)
    names = {(m.namespace_for(env), m.name) for m in catalog.METRICS}
    for board in boards:
        name = f"lakehouse-{env}-{board.key}"
        exported = json.loads(Path(REPO_ROOT / "dashboards" / "cloudwatch" / f"{name}.json").read_text())
        assert deployed[name] == exported, f"{name}: deployed body differs from dashboards/cloudwatch/{name}.json"
        widgets = deployed[name]["widgets"]
        assert len(widgets) == len(board.panels)
        for widget, panel in zip(widgets, board.panels, strict=True):
            assert len(widget["properties"]["metrics"]) == len(panel.lines)
            for entry in widget["properties"]["metrics"]:
                if isinstance(entry[0], dict):  # SEARCH('{namespace,dims} MetricName="X" ...', ...)
                    expression = entry[0]["expression"]
                    namespace = re.search(r"\{([^,}]+)", expression).group(1)  # type: ignore[union-attr]
                    metric = re.search(r'MetricName="([^"]+)"', expression).group(1)  # type: ignore[union-attr]
                    assert (namespace, metric) in names, expression
                else:
                    assert (entry[0], entry[1]) in names, entry
    grafana = {p.name for p in (REPO_ROOT / "dashboards" / "grafana").glob(f"lakehouse-{env}-*.json")}
    assert grafana == {f"lakehouse-{env}-{b.key}.json" for b in boards}


@pytest.mark.parametrize("env", ENVS)
def test_logs_insights_queries_cover_errors_stages_quarantine_and_cold_starts(lakehouse: Synthesized, env: str) -> None:
    template = lakehouse.template(lakehouse.environments[env].observability)
    queries = {
        q["Properties"]["Name"]: q["Properties"] for q in resources(template, "AWS::Logs::QueryDefinition").values()
    }
    assert set(queries) == {
        f"lakehouse-{env}/{n}"
        for n in ("errors-by-job-run", "slowest-job-runs", "quarantine-reasons", "lambda-cold-starts")
    }
    assert queries[f"lakehouse-{env}/errors-by-job-run"]["LogGroupNames"] == [f"/aws/emr-serverless/lakehouse-{env}"]
    cold = queries[f"lakehouse-{env}/lambda-cold-starts"]
    assert f"/aws/lambda/lakehouse-{env}-landing-intake" in cold["LogGroupNames"]
    assert "@initDuration" in cold["QueryString"]
    assert 'event = "quarantined"' in queries[f"lakehouse-{env}/quarantine-reasons"]["QueryString"]
