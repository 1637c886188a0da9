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
from lakehouse.dashboards import Targets, dashboards

ENVS = ("dev", "staging", "prod")
RUNBOOK_LINK = re.compile(r"Runbook: https://\S+/runbooks/([a-z0-9-]+\.md)$")


def _alarms(lakehouse: Synthesized, env: str, cfn_type: str = "AWS::CloudWatch::Alarm") -> list[dict[str, Any]]:
    return [a["Properties"] for _, t in lakehouse.templates(env) for a in resources(t, cfn_type).values()]


def _catalog_key(alarm: dict[str, Any], env: str) -> str:
    """The catalog entry an alarm watches (by namespace, metric name and dimension names)."""
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
    for alarm in alarms:
        rule = catalog.metric(_catalog_key(alarm, env)).alarm
        assert rule is not None
        assert alarm["ComparisonOperator"] == rule.comparison, alarm["AlarmName"]
        assert alarm["TreatMissingData"] == rule.missing_data, alarm["AlarmName"]
        if rule.threshold is not None:
            assert alarm["Threshold"] == rule.threshold_for(env), alarm["AlarmName"]


@pytest.mark.parametrize("env", ENVS)
def test_every_alarm_notifies_the_topic_and_links_an_existing_runbook(lakehouse: Synthesized, env: str) -> None:
    every = _alarms(lakehouse, env) + _alarms(lakehouse, env, "AWS::CloudWatch::CompositeAlarm")
    assert every
    for alarm in every:
        name = alarm["AlarmName"]
        assert alarm["AlarmActions"] and alarm["OKActions"], name
        topic = json.dumps(alarm["AlarmActions"])
        assert "Alerts" in topic or "alerts" in topic.lower(), f"{name}: not the alert topic ({topic})"
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
