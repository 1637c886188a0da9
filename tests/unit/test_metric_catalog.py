"""The metric catalog is consistent, and everything generated from it (dashboards, METRICS.md) is current."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))

from job_assets.contracts import metrics as catalog  # noqa: E402
from job_assets.contracts import runbooks  # noqa: E402
from lakehouse.cli import main as cli_main  # noqa: E402
from lakehouse.docs import dashboards as d  # noqa: E402


def test_catalog_validates_and_every_alarm_has_a_runbook_file() -> None:
    catalog.validate()
    assert len({m.key for m in catalog.METRICS}) == len(catalog.METRICS)
    for m in catalog.alarmed():
        assert m.alarm is not None
        assert m.alarm.runbook in runbooks.RUNBOOKS.values(), m.key
        assert (ROOT / "runbooks" / m.alarm.runbook).is_file(), m.key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"unit": "Furlongs"}, "unit 'Furlongs'"),
        ({"statistic": "p99.9"}, "statistic 'p99.9'"),
        ({"period_seconds": 90}, "not a multiple of 60"),
        ({"dimensions": ("Table",)}, "carry the Environment dimension"),
        ({"namespace": "Custom/Thing"}, "neither ours nor AWS"),
        ({"description": "no full stop"}, "ending with '.'"),
    ],
)
def test_validate_names_the_entry_and_the_field(monkeypatch, change: dict, message: str) -> None:
    bad = dataclasses.replace(catalog.metric("records_in"), **change)
    monkeypatch.setattr(catalog, "METRICS", (*catalog.METRICS, dataclasses.replace(bad, key="broken")))
    with pytest.raises(ValueError, match=message) as error:
        catalog.validate()
    assert "metric 'broken'" in str(error.value)


def test_alarm_rules_are_checked(monkeypatch) -> None:
    spec = catalog.metric("dq_score")
    assert spec.alarm is not None
    two_days = dataclasses.replace(
        spec,
        key="slow",
        period_seconds=86400,
        alarm=dataclasses.replace(spec.alarm, evaluation_periods=2, datapoints_to_alarm=1),
    )
    monkeypatch.setattr(catalog, "METRICS", (*catalog.METRICS, two_days))
    with pytest.raises(ValueError, match="at most one day"):
        catalog.validate()


def test_namespace_is_per_environment_and_thresholds_per_environment_apply() -> None:
    assert catalog.our_namespace("prod") == "Lakehouse/prod"
    with pytest.raises(ValueError, match="plain name"):
        catalog.our_namespace("prod/x")
    dq = catalog.metric("dq_score")
    assert (
        dq.namespace_for("dev") == "Lakehouse/dev"
        and catalog.metric("emr_failed_jobs").namespace_for("dev") == "AWS/EMRServerless"
    )
    assert dq.alarm is not None and (dq.alarm.threshold_for("dev"), dq.alarm.threshold_for("prod")) == (0.9, 0.95)
    with pytest.raises(KeyError, match="known: "):
        catalog.metric("records_inn")


def test_lambda_data_points_must_match_a_catalog_entry() -> None:
    """Every Lambda publishes through this check, so a stray name, dimension set or unit fails its tests."""
    sys.path.insert(0, str(ROOT / "lambdas"))
    try:
        from ops_common.metrics import Datum, check_against_catalog
    finally:
        sys.path.remove(str(ROOT / "lambdas"))
    check_against_catalog(Datum(name="FreshnessMinutes", value=3, dimensions={"Environment": "dev", "Table": "t"}))
    check_against_catalog(Datum(name="ReplicaConsistent", value=1, dimensions={"Environment": "dev"}))
    check_against_catalog(Datum(name="ReplicaConsistent", value=1, dimensions={"Environment": "dev", "Table": "t"}))
    with pytest.raises(ValueError, match="'Freshness' is not in the metric catalog"):
        check_against_catalog(Datum(name="Freshness", value=3, dimensions={"Environment": "dev"}))
    with pytest.raises(ValueError, match=r"FreshnessMinutes with dimensions \['Environment'\] in None matches no"):
        check_against_catalog(Datum(name="FreshnessMinutes", value=3, dimensions={"Environment": "dev"}))
    with pytest.raises(ValueError, match="in Seconds matches no catalog entry"):
        check_against_catalog(
            Datum(name="FreshnessMinutes", value=3, unit="Seconds", dimensions={"Environment": "dev", "Table": "t"})
        )


def test_generated_dashboards_and_metrics_doc_are_current() -> None:
    """`lakehouse dashboards export` is run and committed whenever the catalog or the layout changes."""
    assert d.stale_files(ROOT) == []


def test_grafana_dashboards_ask_for_the_cloudwatch_data_source_and_search_exact_schemas() -> None:
    (t,) = [t for t in d.load_targets(ROOT) if t.env == "prod"]
    for board in d.dashboards(t):
        doc = d.grafana_dashboard(board, t)
        assert doc["schemaVersion"] == d.GRAFANA_SCHEMA_VERSION
        assert [(i["name"], i["pluginId"]) for i in doc["__inputs"]] == [("DS_CLOUDWATCH", "cloudwatch")]
        assert len(doc["panels"]) == len(board.panels)
        for panel in doc["panels"]:
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= d.GRID_WIDTH
            for target in panel["targets"]:
                assert target["datasource"] == {"type": "cloudwatch", "uid": "${DS_CLOUDWATCH}"}
                # a name may have entries at several levels (CPUAllocated: per worker type, and per application)
                schemas = [set(m.dimensions) for m in catalog.METRICS if m.name == target["metricName"]]
                assert set(target["dimensions"]) in schemas  # every dimension of one entry: fixed or *
                assert target["matchExact"] is True  # series with extra dimensions never add to a panel


def test_export_check_reports_a_stale_file_and_export_repairs_it(tmp_path: Path, capsys) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "cdk.json", repo / "cdk.json")
    assert cli_main(["dashboards", "export", "--repo", str(repo), "--check"]) == 1  # nothing exported yet
    assert cli_main(["dashboards", "export", "--repo", str(repo)]) == 0
    assert cli_main(["dashboards", "export", "--repo", str(repo), "--check"]) == 0
    target = repo / "dashboards" / "cloudwatch" / "lakehouse-prod-pipeline.json"
    body = json.loads(target.read_text())
    body["widgets"].pop()
    target.write_text(json.dumps(body))
    (repo / "dashboards" / "grafana" / "lakehouse-qa-pipeline.json").write_text("{}")  # no such environment
    capsys.readouterr()
    assert cli_main(["dashboards", "export", "--repo", str(repo), "--check"]) == 1
    err = capsys.readouterr().err
    assert "stale: dashboards/cloudwatch/lakehouse-prod-pipeline.json" in err
    assert "stale: dashboards/grafana/lakehouse-qa-pipeline.json" in err
    assert cli_main(["dashboards", "export", "--repo", str(repo)]) == 0
    assert "removed dashboards/grafana/lakehouse-qa-pipeline.json" in capsys.readouterr().out
    assert d.stale_files(repo) == []


def test_export_outside_a_checkout_says_so(tmp_path: Path, capsys) -> None:
    assert cli_main(["dashboards", "export", "--repo", str(tmp_path)]) == 2
    assert "cdk.json not found" in capsys.readouterr().err
