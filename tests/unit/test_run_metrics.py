"""The jobs' end-of-run metrics: what a finished run becomes in PutMetricData terms, and the switch for it."""

from __future__ import annotations

import datetime as dt

import pytest

from job_assets.contracts import metrics as catalog
from job_assets.entrypoints.main import parse_args
from job_assets.jobs.common import JobResult, TableStats
from job_assets.run_metrics import run_datums

START = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC).timestamp()


def result() -> JobResult:
    orders = TableStats("silver.orders", rows_in=100, rows_out=90, rows_quarantined=6, rows_superseded=4)
    orders.errors = {"invalid_enum": 4, "missing_required": 2}
    empty = TableStats("silver.fx_rates")  # no rows and no rule checks: no DQ score
    return JobResult(job="silver", batch_id="b1", tables=[orders, empty], started=START, ended=START + 42.5)


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
    assert ("DQScore", (*job, ("Table", "silver.fx_rates"))) not in by  # no checks, no score
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
