"""The jobs' end-of-run metrics: what a finished run becomes in PutMetricData terms, and the switch for it."""

from __future__ import annotations

import datetime as dt

import pytest

from job_assets.contracts import metrics as catalog
from job_assets.contracts.model import Rule
from job_assets.dq.rules import DataQualityError, RuleStat
from job_assets.entrypoints.main import parse_args
from job_assets.jobs.common import JobResult, TableStats
from job_assets.run_metrics import refused_datums, run_datums, send

START = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC).timestamp()


STATUS = Rule("status_accepted", "accepted_values", "status", error="invalid_enum", values=("completed",))
REQUIRED = Rule("id_not_null", "not_null", "order_id")


def result() -> JobResult:
    orders = TableStats("silver.orders", rows_in=100, rows_out=90, rows_quarantined=6, rows_superseded=4)
    orders.errors = {"invalid_enum": 4, "missing_required": 2}
    orders.dq = [RuleStat("silver.orders", STATUS, 100, 4), RuleStat("silver.orders", REQUIRED, 100, 2)]
    empty = TableStats("silver.fx_rates")  # no rows and no rule checks: no DQ score
    log = TableStats("bronze.ingestion_log", errors={"empty_file": 3})  # files, not records
    return JobResult(job="silver", batch_id="b1", tables=[orders, empty, log], started=START, ended=START + 42.5)


def test_one_datum_per_figure_with_the_catalog_names_units_and_dimensions() -> None:
    data = run_datums(result(), "prod")
    by = {(d["MetricName"], tuple((x["Name"], x["Value"]) for x in d["Dimensions"])): d for d in data}
    job = (("Environment", "prod"), ("Job", "silver"))
    assert by[("JobDurationSeconds", job)]["Value"] == 42.5 and by[("JobDurationSeconds", job)]["Unit"] == "Seconds"
    orders = (*job, ("Table", "silver.orders"))
    assert by[("RecordsIn", orders)]["Value"] == 100 and by[("RecordsOut", orders)]["Value"] == 90
    assert by[("RecordsQuarantined", orders)]["Value"] == 6
    assert by[("QuarantinedByReason", (*job, ("Reason", "invalid_enum")))]["Value"] == 4
    assert by[("QuarantinedByReason", (*job, ("Reason", "missing_required")))]["Value"] == 2
    assert by[("DQScore", orders)]["Value"] == 0.97  # 194 of 200 checks passed
    assert ("DQScore", (*job, ("Table", "silver.fx_rates"))) not in by  # no checks, no score
    assert not [d for d in data if "bronze.ingestion_log" in str(d["Dimensions"])]  # an ops table: no records
    assert ("QuarantinedByReason", (*job, ("Reason", "empty_file"))) not in by  # counts files
    assert {d["Timestamp"] for d in data} == {dt.datetime.fromtimestamp(START + 42.5, dt.UTC)}
    names = {m.name for m in catalog.METRICS if m.ours and m.publisher == catalog.JOBS}
    assert {d["MetricName"] for d in data} <= names
    for d in data:
        spec = next(m for m in catalog.METRICS if m.name == d["MetricName"] and m.publisher == catalog.JOBS)
        assert [x["Name"] for x in d["Dimensions"]] == list(spec.dimensions) and d["Unit"] == spec.unit


def test_metrics_go_to_cloudwatch_only_when_asked() -> None:
    base = ["--batch-id", "b1", "--env", "dev", "--lake-root", "/tmp/lake"]
    assert parse_args("silver", base).metrics == "none"
    assert parse_args("silver", [*base, "--metrics", "cloudwatch"]).metrics == "cloudwatch"
    with pytest.raises(SystemExit) as exit_:
        parse_args("silver", [*base, "--metrics", "statsd"])
    assert exit_.value.code == 2


def test_a_run_refused_by_a_fail_rule_still_reports_its_dq_score() -> None:
    unique = Rule("one_row_per_key", "unique", "customer_id", severity="fail", error="duplicate_key")
    positive = Rule("ltv_positive", "range", "ltv", severity="fail", error="out_of_range", min_value=0)
    stats = [
        RuleStat("gold.customer_ltv_cohorts", unique, 50, 5),
        RuleStat("gold.customer_ltv_cohorts", positive, 50, 0),
    ]
    error = DataQualityError("gold.customer_ltv_cohorts", [stats[0]], stats)

    data = refused_datums("gold", "prod", error, START, START + 12.0)

    by = {d["MetricName"]: d for d in data}
    assert by["DQScore"]["Value"] == 0.95  # 95 of 100 checks passed, the failing rule included
    assert [x["Value"] for x in by["DQScore"]["Dimensions"]] == ["prod", "gold", "gold.customer_ltv_cohorts"]
    assert by["JobDurationSeconds"]["Value"] == 12.0


def test_send_never_raises_and_chunks_at_the_api_limit(caplog) -> None:
    calls = []

    class Recording:
        def put_metric_data(self, Namespace, MetricData):  # noqa: N803 (the API's names)
            calls.append((Namespace, len(MetricData)))

    many = run_datums(result(), "dev") * 200
    assert send(many, "dev", client=Recording())
    assert [n for _, n in calls] == [1000] * (len(many) // 1000) + ([len(many) % 1000] if len(many) % 1000 else [])
    assert {ns for ns, _ in calls} == {"Lakehouse/dev"}

    class Throttled:
        def put_metric_data(self, **_):
            raise RuntimeError("Throttling: Rate exceeded")

    assert send(many, "dev", client=Throttled()) is False
    assert "run metrics not published to Lakehouse/dev" in caplog.text


def test_the_entrypoint_refuses_a_flag_the_registry_does_not_know() -> None:
    base = ["--batch-id", "b1", "--env", "dev", "--lake-root", "/tmp/lake"]
    assert parse_args("gold", [*base, "--flag", "attribution_model=first_touch"]).flag == [
        "attribution_model=first_touch"
    ]
    for bad in ("attribution_model=middle_touch", "colour=blue"):
        with pytest.raises(SystemExit) as exit_:
            parse_args("gold", [*base, "--flag", bad])
        assert exit_.value.code == 2
