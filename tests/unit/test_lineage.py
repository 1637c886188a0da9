"""Lineage: OpenLineage events valid against the vendored schema, column lineage = contracts, impact, HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from job_assets import lineage as ol
from job_assets.context import LakeLocations
from job_assets.contracts import GOLD_TABLES, contract
from job_assets.dq import DataQualityError
from job_assets.jobs.common import JobResult, TableStats
from lakehouse import lineage as L

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "openlineage"


def registry() -> Registry:
    docs = [json.loads(p.read_text()) for p in sorted(SCHEMAS.rglob("*.json"))]
    resources = [(d["$id"], Resource.from_contents(d)) for d in docs]
    core = next(r for uri, r in resources if uri == "https://openlineage.io/spec/2-0-2/OpenLineage.json")
    # the 1-0-0 facets point at the 1-0-2 core: served by 2-0-2 (tests/data/openlineage/README.md says why)
    resources.append(("https://openlineage.io/spec/1-0-2/OpenLineage.json", core))
    return Registry().with_resources(resources)


FORMATS = Draft202012Validator.FORMAT_CHECKER  # checks the uuid runIds (date-time needs rfc3339-validator)
REGISTRY = registry()


def _facets(event: dict) -> list[dict]:
    out = list(event["run"].get("facets", {}).values()) + list(event["job"].get("facets", {}).values())
    for d in event.get("inputs", []) + event.get("outputs", []):
        out += list(d.get("facets", {}).values())
        out += list(d.get("inputFacets", {}).values()) + list(d.get("outputFacets", {}).values())
    return out


def validate_event(event: dict) -> None:
    """The whole event against the core schema, then each facet against the schema its _schemaURL names."""
    core = REGISTRY.contents("https://openlineage.io/spec/2-0-2/OpenLineage.json")
    Draft202012Validator(core, registry=REGISTRY, format_checker=FORMATS).validate(event)
    for facet in _facets(event):
        uri, _, pointer = facet["_schemaURL"].partition("#")
        assert uri in REGISTRY, f"facet schema {uri} is not vendored in tests/data/openlineage"
        Draft202012Validator({"$ref": facet["_schemaURL"]}, registry=REGISTRY, format_checker=FORMATS).validate(facet)
        assert pointer, facet["_schemaURL"]


LOC = LakeLocations.for_root("/lake")


def gold_result() -> JobResult:
    r = JobResult("gold", "b1", engine="delta-rs")
    r.tables = [TableStats(c.name, rows_in=10 + i, rows_out=10 + i, committed=True) for i, c in enumerate(GOLD_TABLES)]
    r.ended = r.started + 1
    return r


@pytest.mark.parametrize("job", ["bronze", "silver", "gold", "maintenance"])
def test_start_complete_fail_events_validate(job):
    result = JobResult(job, "b1")
    if job == "maintenance":
        result.tables = [TableStats("silver.orders", rows_out=0)]
    events = [
        ol.start_event(job, "b1", LOC, "local"),
        ol.complete_event(result, job, "b1", LOC, "local"),
        ol.fail_event(RuntimeError("boom"), job, "b1", LOC, "local"),
    ]
    for event in events:
        validate_event(event)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "FAIL"]
    assert len({e["run"]["runId"] for e in events}) == 1


def test_schema_check_catches_a_bad_event():
    event = ol.complete_event(gold_result(), "gold", "b1", LOC, "local")
    event["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] = "many"
    with pytest.raises(Exception, match="many"):
        validate_event(event)
    event = ol.start_event("gold", "b1", LOC, "local")
    del event["run"]["runId"]
    with pytest.raises(Exception, match="runId"):
        validate_event(event)


def test_run_id_is_deterministic_per_job_batch_env():
    assert ol.run_id("gold", "b1", "dev") == ol.run_id("gold", "b1", "dev")
    assert len({ol.run_id("gold", "b1", "dev"), ol.run_id("silver", "b1", "dev"), ol.run_id("gold", "b2", "dev")}) == 3
    assert ol.run_id("gold", "b1", "dev") != ol.run_id("gold", "b1", "prod")


def test_gold_column_lineage_is_exactly_the_contract():
    event = ol.complete_event(gold_result(), "gold", "b1", LOC, "local")
    out = {d["facets"]["lakehouse_table"]["table"]: d for d in event["outputs"]}
    c = contract("gold.revenue_attribution")
    names = {ol.dataset_name(LOC.table_uri(t)): t for t in c.upstream}
    fields = out[c.name]["facets"]["columnLineage"]["fields"]
    got = {
        col: [f"{names[(i['namespace'], i['name'])]}.{i['field']}" for i in spec["inputFields"]]
        for col, spec in fields.items()
    }
    assert got == {col: list(inputs) for col, inputs in c.lineage}
    assert got["lead_source"] == [  # the picked opportunity: join, filter, window and tie-breaks
        "silver.opportunities.lead_source",
        "silver.opportunities.stage_name",
        "silver.opportunities.close_date",
        "silver.opportunities.account_id",
        "silver.opportunities.last_modified_at",
        "silver.opportunities.opportunity_id",
        "silver.customers.customer_id",
        "silver.customers.crm_account_id",
        "silver.orders.customer_id",
        "silver.orders.order_date",
        "silver.orders.status",
    ]
    assert out[c.name]["outputFacets"]["outputStatistics"]["rowCount"] == 10
    assert [f["name"] for f in out[c.name]["facets"]["schema"]["fields"]] == list(c.column_names)
    assert out[c.name]["namespace"] == "file" and out[c.name]["name"] == "/lake/gold/blue/revenue_attribution"


def test_s3_dataset_naming():
    loc = LakeLocations("s3://l/", "s3://b/", "s3://s/", "s3://g/blue/")
    assert ol.dataset_name(ol.table_location(loc, "gold.win_rates")) == ("s3://g", "blue/win_rates")
    assert ol.dataset_name(ol.table_location(loc, "landing.crm.accounts")) == ("s3://l", "crm/accounts")


def test_fail_event_carries_the_error():
    error = DataQualityError("gold.win_rates", [])
    event = ol.fail_event(error, "gold", "b1", LOC, "local")
    validate_event(event)
    assert "gold.win_rates" in event["run"]["facets"]["errorMessage"]["message"]
    assert event["run"]["facets"]["lakehouse_run"]["failedTable"] == "gold.win_rates"


def test_transport_resolution(tmp_path):
    assert type(ol.transport_from(None, None, environ={})) is ol.Transport
    t = ol.transport_from(None, str(tmp_path), environ={})
    assert isinstance(t, ol.FileTransport) and t.path == str(tmp_path / "_lineage" / "events.jsonl")
    assert type(ol.transport_from(None, "s3://x", environ={})) is ol.Transport
    assert type(ol.transport_from("none", str(tmp_path), environ={})) is ol.Transport
    http = ol.transport_from(None, str(tmp_path), environ={"OPENLINEAGE_URL": "http://marquez:5000"})
    assert isinstance(http, ol.HttpTransport) and http.url == "http://marquez:5000/api/v1/lineage"
    off = {"OPENLINEAGE_URL": "http://m", "OPENLINEAGE_DISABLED": "true"}
    assert type(ol.transport_from(None, str(tmp_path), environ=off)) is ol.Transport
    env = {"LAKEHOUSE_LINEAGE": f"file:{tmp_path}/x"}
    assert ol.transport_from(None, None, environ=env).directory == f"{tmp_path}/x"
    with pytest.raises(ValueError, match="expected none"):
        ol.parse_transport("kafka:x")


def test_emission_never_raises(caplog):
    class Broken(ol.Transport):
        name = "broken"

        def emit(self, event):
            raise OSError("disk full")

    ol.emit_start(Broken(), "gold", "b1", LOC, "local")
    assert "disk full" in caplog.text


def test_run_with_lineage_reraises_and_records(tmp_path):
    class Ctx:
        batch_id, env, locations = "b9", "local", LOC

    mem = ol.MemoryTransport()
    with pytest.raises(RuntimeError):
        ol.run_with_lineage(mem, "gold", Ctx, lambda: (_ for _ in ()).throw(RuntimeError("x")))
    assert [e["eventType"] for e in mem.events] == ["START", "FAIL"]
    ol.run_with_lineage(mem, "gold", Ctx, gold_result)
    assert [e["eventType"] for e in mem.events][2:] == ["START", "COMPLETE"]


# --- graph and impact ---------------------------------------------------------------------------------------


def test_graph_covers_every_data_table_and_is_consistent():
    g = L.build_graph()
    assert L.validate(g) == []
    assert {"landing.crm.accounts", "bronze.crm_accounts", "silver.orders", "gold.win_rates"} <= set(g.tables)
    assert not any(name.endswith(("run_summary", "quarantine", "dq_results", "ingestion_log")) for name in g.tables)


def _nb(tmp_path: Path, name: str, reads: list[str] | None) -> None:
    meta = {"lakehouse": {"reads": reads}} if reads is not None else {}
    doc = {"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / name).write_text(json.dumps(doc))


def test_impact_of_a_silver_column(tmp_path):
    _nb(tmp_path, "a.ipynb", ["gold.customer_ltv_cohorts"])
    _nb(tmp_path, "b.ipynb", ["silver.orders.status", "gold.sales_pipeline"])
    _nb(tmp_path, "c.ipynb", ["silver.orders"])
    _nb(tmp_path, "d.ipynb", ["gold.revenue_attribution.revenue_usd", "gold.revenue_attribution.order_month"])
    _nb(tmp_path, "e.ipynb", None)
    result = L.impact("silver.orders.order_date", notebooks=L.read_notebooks(tmp_path))
    assert [c for c, _, _ in result.columns] == [
        "gold.revenue_attribution.order_month",
        "gold.revenue_attribution.lead_source",  # the attribution window: close_date <= order_date
        "gold.customer_segments.recency_days",
        "gold.customer_segments.r_score",
        "gold.customer_segments.rfm_segment",
        "gold.customer_ltv_cohorts.cohort_month",
        "gold.customer_ltv_cohorts.months_since_first",
        "gold.customer_ltv_cohorts.cohort_size",
        "gold.customer_ltv_cohorts.active_customers",
        "gold.customer_ltv_cohorts.revenue_usd",
        "gold.customer_ltv_cohorts.cumulative_revenue_usd",
        "gold.customer_ltv_cohorts.cumulative_revenue_per_customer",
    ]
    assert result.tables == ["gold.revenue_attribution", "gold.customer_segments", "gold.customer_ltv_cohorts"]
    assert result.notebooks == [
        ("a.ipynb", ["gold.customer_ltv_cohorts"]),
        ("c.ipynb", ["silver.orders"]),
        ("d.ipynb", ["gold.revenue_attribution.order_month"]),
    ]
    assert [p for p, _ in result.panels] == [
        "pipeline: Records written: silver",
        "pipeline: Records written: gold",
        "pipeline: DQ score (silver, gold)",
        "pipeline: Freshness (minutes since last commit)",
        "dr: Replica lag (minutes)",
    ]
    assert dict(result.panels)["pipeline: Records written: gold"] == result.tables


def test_impact_follows_row_filters_and_whole_tables():
    result = L.impact("silver.customers.customer_id", notebooks=[])
    how = {c: h for c, _, h in result.columns}
    assert how["silver.orders.order_date"] == "rows"  # orders of unknown customers are held
    assert how["gold.customer_segments.customer_id"] == "lineage"
    assert "gold.sales_pipeline" not in result.tables
    whole = L.impact("bronze.crm_accounts", notebooks=[])
    assert {"silver.accounts", "silver.accounts_history", "silver.contacts"} <= set(whole.tables)


def test_impact_rejects_unknown_items():
    with pytest.raises(L.LineageError, match="unknown table"):
        L.impact("silver.nope", notebooks=[])
    with pytest.raises(L.LineageError, match="no column"):
        L.impact("silver.orders.nope", notebooks=[])


def test_panels_depend_only_on_per_table_series():
    panels = {p.label: p for p in L.dashboard_panels()}
    assert panels["pipeline: Job duration (s)"].tables == ()
    assert panels["dr: Replica consistent (all tables)"].tables == ()
    assert "silver.accounts_history" not in panels["pipeline: DQ score (silver, gold)"].tables
    assert set(panels["pipeline: Records written: gold"].tables) == {c.name for c in GOLD_TABLES}


def test_html_viewer_is_self_contained(tmp_path):
    path = L.write_graph(tmp_path / "lineage.html")
    text = path.read_text()
    assert "http://" not in text and "https://" not in text
    assert " src=" not in text and " href=" not in text and "@import" not in text
    doc = L.embedded_document(text)
    assert doc == L.graph_document(L.build_graph(), {})
    for name in L.build_graph().tables:
        assert f'data-table="{name}"' in text
    assert "wheel" in text and "mousedown" in text


def test_viewer_shows_last_runs_from_events(tmp_path):
    t = ol.FileTransport(str(tmp_path / "_lineage"))
    t.emit(ol.complete_event(gold_result(), "gold", "b1", LakeLocations.for_root(str(tmp_path)), "local"))
    runs = L.last_runs(tmp_path)
    assert runs["gold.win_rates"]["rowCount"] == 14
    doc = L.embedded_document(L.write_graph(tmp_path / "g.html", tmp_path).read_text())
    assert {t["name"]: t["lastRun"] for t in doc["tables"]}["gold.win_rates"]["job"] == "gold"


def test_cli_parser_wiring(tmp_path, capsys):
    import argparse

    from rich.console import Console

    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    L.add_parser(sub, lambda fn: lambda args: fn(args, Console(width=200)))
    args = p.parse_args(["lineage", "impact", "silver.orders.order_date", "--notebooks", str(tmp_path), "--json"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["tables"][0] == "gold.revenue_attribution"
    args = p.parse_args(["lineage", "graph", "--lake-root", str(tmp_path), "--output", str(tmp_path / "x.html")])
    assert args.func(args) == 0 and (tmp_path / "x.html").is_file()
