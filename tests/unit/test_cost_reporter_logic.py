"""The cost reporter's logic on in-memory repositories (``cost_reporter.fakes``): no moto, no network.

The same behaviour through boto3 on moto is tests/lambdas/test_cost_reporter.py (the functional tier); here
each rule of the logic is checked on its own, fast: the figures published, where the records come from (the
job-total row, the newest per-table rows, gold's active slot), each reason a figure is skipped, the data
point's time, and failed AWS calls raised before anything is published.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.aws_guard import refuse_aws_clients

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lambdas") not in sys.path:  # the Lambda code asset's root: its packages are top-level there
    sys.path.insert(0, str(ROOT / "lambdas"))

from cost_reporter import aws_repositories as aws_module  # noqa: E402
from cost_reporter.cost import CostReportError, Prices, report_cost  # noqa: E402
from cost_reporter.fakes import FakeAws  # noqa: E402
from cost_reporter.repositories import RepositoryError  # noqa: E402
from ops_common import metric_names as m  # noqa: E402
from ops_common import metrics as ops_metrics  # noqa: E402
from ops_common import slots as ops_slots  # noqa: E402
from ops_common.slots import SlotsParameterError  # noqa: E402

ENV = "prod"
APP = "00fkn4d5abcd0901"
RUN_ID = "00f1cbn5g4bb0c01"
BATCH = "b20261122T031500123456Z"
BUCKETS = {"bronze": "lakehouse-prod-bronze", "silver": "lakehouse-prod-silver", "gold": "lakehouse-prod-gold"}
SILVER_SUMMARY = "s3://lakehouse-prod-silver/run_summary"
SLOTS_PARAMETER = "/lakehouse/prod/slots"
PRICES = Prices.of(0.052624, 0.0057785, 0.000111)
KNOWN_UTILIZATION = {"vCPUHour": 2.5, "memoryGBHour": 10.0, "storageGBHour": 0.0}
KNOWN_COST = 0.189345  # 2.5 * 0.052624 + 10 * 0.0057785
NOW = dt.datetime(2026, 11, 22, 3, 30, tzinfo=dt.UTC)
ENDED = dt.datetime(2026, 11, 22, 3, 27, 40, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
THROTTLED = RepositoryError("ThrottlingException: Rate exceeded", code="ThrottlingException", throttled=True)
NO_ANSWER = RepositoryError("Could not connect to the endpoint URL")


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any boto3 client is a failure here."""

    refuse_aws_clients(monkeypatch, aws_module, ops_metrics, ops_slots)


@pytest.fixture
def fake() -> FakeAws:
    """The silver job run ``RUN_ID`` of ``BATCH``, silver's run summary with its job-total row, blue active."""
    aws = FakeAws()
    aws.job_runs.runs[(APP, RUN_ID)] = job_run("silver")
    aws.run_summaries.tables[SILVER_SUMMARY] = [
        summary_row("silver.orders", 100_000, minute=9),
        summary_row("silver.customers", 50_000, minute=9),
        summary_row("*", 150_000, minute=10),
        summary_row("*", 4_000_000, job="bronze"),  # another job's row for the batch: never counted for silver
    ]
    aws.slots.parameters[SLOTS_PARAMETER] = json.dumps({"active": "blue", "slots": {"blue": "", "green": ""}})
    return aws


def job_run(
    job: str, batch: str = BATCH, *, utilization: dict[str, float] | None = None, ended: Any = ENDED
) -> dict[str, Any]:
    """``GetJobRun``'s ``jobRun`` of ``<job>-<batch>`` (with ``--batch-id``), billed ``KNOWN_UTILIZATION``."""
    return {
        "name": f"{job}-{batch}",
        "jobDriver": {"sparkSubmit": {"entryPointArguments": ["--env", ENV, "--batch-id", batch]}},
        "billedResourceUtilization": dict(KNOWN_UTILIZATION if utilization is None else utilization),
        "endedAt": ended,
    }


def summary_row(
    table: str, rows_in: int | None, *, minute: int = 0, job: str = "silver", batch: str = BATCH
) -> dict[str, Any]:
    return {
        "batch_id": batch,
        "job": job,
        "table_name": table,
        "status": "succeeded",
        "rows_in": rows_in,
        "ended_ts": T0 + dt.timedelta(minutes=minute),
    }


def event(state: str = "SUCCESS", *, app: str = APP, run_id: str = RUN_ID) -> dict[str, Any]:
    """The EventBridge job run state change."""
    return {
        "source": "aws.emr-serverless",
        "detail-type": "EMR Serverless Job Run State Change",
        "detail": {"applicationId": app, "jobRunId": run_id, "state": state, "jobRunName": "from-the-event"},
    }


def report(fake: FakeAws, body: Any = None, *, now: dt.datetime = NOW) -> dict[str, Any]:
    """Price one event (``event()`` unless given) on the fakes."""
    return report_cost(
        event() if body is None else body,
        environment=ENV,
        prices=PRICES,
        layer_buckets=BUCKETS,
        slots_parameter=SLOTS_PARAMETER,
        application_id=APP,
        now=now,
        repositories=fake.repositories(),
    )


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


# --- the figures ------------------------------------------------------------------------------------------


def test_a_silver_run_publishes_its_cost_and_cost_per_million_records_once(fake: FakeAws, capsys) -> None:
    result = report(fake)

    assert fake.job_runs.calls == [(APP, RUN_ID)]
    [(namespace, data)] = fake.metrics.calls  # one PutMetricData, both figures
    assert namespace == m.namespace(ENV)
    assert [(d.name, d.value) for d in data] == [(m.JOB_COST_USD, KNOWN_COST), (m.COST_PER_MILLION_RECORDS, 1.2623)]
    assert all(d.dimensions == {m.ENVIRONMENT: ENV, m.JOB: "silver"} and d.timestamp == ENDED for d in data)
    assert result["published"] == {m.JOB_COST_USD: KNOWN_COST, m.COST_PER_MILLION_RECORDS: 1.2623}
    assert (result["job"], result["batch_id"], result["job_run_id"]) == ("silver", BATCH, RUN_ID)
    assert (result["slot"], result["records"], result["skipped"]) == (None, 150_000, {})
    assert result["records_source"] == f"job-total row of {SILVER_SUMMARY} (status succeeded)"
    assert result["utilization"] == KNOWN_UTILIZATION and result["cost_usd"] == KNOWN_COST
    assert fake.slots.reads == []  # silver is not slotted
    assert fake.run_summaries.reads == [SILVER_SUMMARY]
    [line] = log_lines(capsys)
    assert (line["reason"], line["records"], line["published"]) == ("job_cost_published", 150_000, result["published"])


def test_without_a_job_total_row_the_newest_per_table_rows_are_summed(fake: FakeAws) -> None:
    fake.run_summaries.tables[SILVER_SUMMARY] = [
        summary_row("silver.orders", 30_000, minute=1),
        summary_row("silver.orders", 40_000, minute=2),  # a re-write: the newest counts
        summary_row("silver.customers", 2_000, minute=2),
    ]

    result = report(fake)

    assert result["records"] == 42_000
    assert result["records_source"] == f"sum of 2 per-table rows of {SILVER_SUMMARY} (no job-total row)"
    per_million = float((Decimal(str(KNOWN_COST)) * 1_000_000 / 42_000).quantize(Decimal("0.000001")))
    assert fake.metrics.by_name()[m.COST_PER_MILLION_RECORDS].value == per_million


def test_the_newest_job_total_row_counts(fake: FakeAws) -> None:
    fake.run_summaries.tables[SILVER_SUMMARY] = [summary_row("*", 100, minute=3), summary_row("*", 300, minute=5)]

    assert report(fake)["records"] == 300


@pytest.mark.parametrize(("slot", "other"), [("blue", "green"), ("green", "blue")])
def test_gold_records_come_from_the_active_slot(fake: FakeAws, slot: str, other: str) -> None:
    fake.job_runs.runs[(APP, RUN_ID)] = job_run("gold")
    fake.slots.parameters[SLOTS_PARAMETER] = json.dumps({"active": slot, "slots": {"blue": "", "green": ""}})
    fake.run_summaries.tables[f"s3://lakehouse-prod-gold/{slot}/run_summary"] = [summary_row("*", 500, job="gold")]
    fake.run_summaries.tables[f"s3://lakehouse-prod-gold/{other}/run_summary"] = [summary_row("*", 9, job="gold")]

    result = report(fake)

    assert fake.slots.reads == [SLOTS_PARAMETER]  # once
    assert (result["slot"], result["records"]) == (slot, 500)
    assert fake.run_summaries.reads == [f"s3://lakehouse-prod-gold/{slot}/run_summary"]


# --- a figure skipped: CostPerMillionRecords needs the records ----------------------------------------------


def test_a_job_without_a_run_summary_publishes_its_cost_only_and_says_why(fake: FakeAws, capsys) -> None:
    fake.job_runs.runs[(APP, RUN_ID)] = job_run("maintenance")

    result = report(fake)

    assert result["published"] == {m.JOB_COST_USD: KNOWN_COST}
    assert result["skipped"] == {m.COST_PER_MILLION_RECORDS: "no_run_summary_for_job"}
    assert fake.run_summaries.reads == [] and fake.slots.reads == []
    assert [d.name for _, data in fake.metrics.calls for d in data] == [m.JOB_COST_USD]
    skipped = next(line for line in log_lines(capsys) if line["reason"] == "no_run_summary_for_job")
    assert skipped["message"].startswith(f"{m.COST_PER_MILLION_RECORDS} skipped: job maintenance keeps no run summary")
    assert (skipped["job"], skipped["batch_id"], skipped["job_run_id"]) == ("maintenance", BATCH, RUN_ID)


def test_a_run_name_without_a_batch_id_skips_the_records(fake: FakeAws) -> None:
    run = job_run("silver")
    run["name"], run["jobDriver"] = "silver", {}
    fake.job_runs.runs[(APP, RUN_ID)] = run

    result = report(fake)

    assert (result["job"], result["batch_id"]) == ("silver", "")
    assert result["skipped"] == {m.COST_PER_MILLION_RECORDS: "no_batch_id"}
    assert result["records_source"] == "job run name 'silver' holds no batch id"
    assert fake.run_summaries.reads == []


def test_the_event_s_run_name_stands_in_for_a_nameless_run(fake: FakeAws) -> None:
    run = job_run("silver")
    run["name"], run["jobDriver"] = None, {}
    fake.job_runs.runs[(APP, RUN_ID)] = run

    result = report(fake)

    assert (result["job"], result["batch_id"]) == ("from", "the-event")
    assert result["skipped"] == {m.COST_PER_MILLION_RECORDS: "no_run_summary_for_job"}


@pytest.mark.parametrize(
    ("rows", "reason", "detail"),
    [
        (None, "no_run_summary_table", f"{SILVER_SUMMARY} holds no Delta table yet"),
        ([summary_row("*", 7, batch="b-other")], "no_run_summary_rows", f"{SILVER_SUMMARY} has no row for job silver"),
        ([summary_row("*", 0)], "zero_records", f"job-total row of {SILVER_SUMMARY}"),
        ([summary_row("silver.orders", None)], "zero_records", f"sum of 1 per-table rows of {SILVER_SUMMARY}"),
    ],
)
def test_unknown_or_zero_records_skip_cost_per_million(
    fake: FakeAws, capsys, rows: list[dict[str, Any]] | None, reason: str, detail: str
) -> None:
    if rows is None:
        del fake.run_summaries.tables[SILVER_SUMMARY]
    else:
        fake.run_summaries.tables[SILVER_SUMMARY] = rows

    result = report(fake)

    assert result["published"] == {m.JOB_COST_USD: KNOWN_COST}
    assert result["skipped"] == {m.COST_PER_MILLION_RECORDS: reason}
    assert result["records"] == (0 if reason == "zero_records" else None)
    assert result["records_source"].startswith(detail)
    assert any(line["reason"] == reason for line in log_lines(capsys))


# --- the data point's time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ended", "expected"),
    [
        (ENDED.replace(tzinfo=None), ENDED),  # a naive time is UTC
        (NOW - dt.timedelta(days=15), NOW),  # CloudWatch refuses points older than two weeks
        (NOW + dt.timedelta(minutes=10), NOW),  # a clock ahead of ours
        (None, NOW),
    ],
)
def test_the_data_points_are_stamped_at_the_run_s_end_when_cloudwatch_takes_it(
    fake: FakeAws, ended: Any, expected: dt.datetime
) -> None:
    fake.job_runs.runs[(APP, RUN_ID)] = job_run("silver", ended=ended)

    report(fake)

    assert {d.timestamp for _, data in fake.metrics.calls for d in data} == {expected}


def test_without_an_end_time_the_last_update_stamps_the_data_points(fake: FakeAws) -> None:
    run = job_run("silver", ended=None)
    run["updatedAt"] = ENDED
    fake.job_runs.runs[(APP, RUN_ID)] = run

    report(fake)

    assert fake.metrics.by_name()[m.JOB_COST_USD].timestamp == ENDED


# --- nothing to price: no AWS call ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (event("FAILED"), {"published": {}, "reason": "not_success"}),
        (event(app="00otherapp000001"), {"published": {}, "reason": "other_application"}),
    ],
)
def test_runs_not_to_price_ask_aws_nothing(fake: FakeAws, body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert report(fake, body) == expected
    assert fake.job_runs.calls == [] and fake.metrics.calls == []


def test_a_malformed_event_is_logged_and_asks_aws_nothing(fake: FakeAws, capsys) -> None:
    result = report(fake, {"source": "aws.states"})

    assert (result["published"], result["reason"]) == ({}, "malformed_event")
    assert fake.job_runs.calls == [] and fake.metrics.calls == []
    assert log_lines(capsys)[-1]["reason"] == "malformed_event"


def test_a_run_without_billed_utilization_raises_before_anything_is_published(fake: FakeAws, capsys) -> None:
    fake.job_runs.runs[(APP, RUN_ID)]["billedResourceUtilization"] = {}

    with pytest.raises(
        CostReportError, match=f"job run {RUN_ID} of application {APP} has no billedResourceUtilization"
    ):
        report(fake)

    assert fake.metrics.calls == [] and fake.run_summaries.reads == []
    assert log_lines(capsys)[-1]["reason"] == "no_billed_utilization"


# --- failed AWS calls: raised before anything is published (Lambda retries the event) ---------------------


@pytest.mark.parametrize(
    ("error", "code"), [(THROTTLED, "ThrottlingException"), (NO_ANSWER, ""), (None, "ResourceNotFoundException")]
)
def test_a_failed_get_job_run_is_logged_and_raised(
    fake: FakeAws, capsys, error: RepositoryError | None, code: str
) -> None:
    if error is None:
        fake.job_runs.runs.clear()  # the fake answers as GetJobRun does for an unknown run
    else:
        fake.job_runs.errors["job_run"] = error

    with pytest.raises(RepositoryError) as raised:
        report(fake)

    assert error is None or raised.value is error
    assert fake.metrics.calls == [] and fake.run_summaries.reads == []
    line = log_lines(capsys)[-1]
    assert (line["level"], line["reason"], line["error_code"]) == ("ERROR", "get_job_run_failed", code)
    assert (line["application_id"], line["job_run_id"], line["error"]) == (APP, RUN_ID, str(raised.value))


@pytest.mark.parametrize(
    ("value", "error", "code", "problem"),
    [
        (None, None, "ParameterNotFound", "does not exist"),
        ("{}", THROTTLED, "ThrottlingException", "cannot be read: ThrottlingException"),
        ("{}", NO_ANSWER, None, "cannot be read"),
        ('{"active": "red"}', None, None, "names active slot 'red'"),
    ],
)
def test_a_gold_run_whose_active_slot_is_unknown_raises_before_anything_is_published(
    fake: FakeAws, capsys, value: str | None, error: RepositoryError | None, code: str | None, problem: str
) -> None:
    fake.job_runs.runs[(APP, RUN_ID)] = job_run("gold")
    if value is None:
        del fake.slots.parameters[SLOTS_PARAMETER]
    else:
        fake.slots.parameters[SLOTS_PARAMETER] = value
    if error is not None:
        fake.slots.errors["active_slot"] = error

    with pytest.raises(SlotsParameterError, match=problem):
        report(fake)

    assert fake.metrics.calls == [] and fake.run_summaries.reads == []
    line = log_lines(capsys)[-1]
    assert (line["level"], line["reason"], line["parameter"]) == ("ERROR", "active_slot_unknown", SLOTS_PARAMETER)
    assert (line["error_code"], line["job"], line["batch_id"], line["job_run_id"]) == (code, "gold", BATCH, RUN_ID)


@pytest.mark.parametrize("error", [THROTTLED, NO_ANSWER])
def test_a_failed_run_summary_read_raises_before_anything_is_published(
    fake: FakeAws, capsys, error: RepositoryError
) -> None:
    fake.run_summaries.errors["rows"] = error

    with pytest.raises(RepositoryError) as raised:
        report(fake)

    assert raised.value is error
    assert fake.metrics.calls == []
    assert log_lines(capsys) == []  # nothing logged: the error is Lambda's to report


@pytest.mark.parametrize("error", [THROTTLED, NO_ANSWER])
def test_failed_metrics_raise_and_the_run_is_not_reported_priced(fake: FakeAws, capsys, error: RepositoryError) -> None:
    fake.metrics.errors["publish"] = error

    with pytest.raises(RepositoryError) as raised:
        report(fake)

    assert raised.value is error
    assert not any(line["reason"] == "job_cost_published" for line in log_lines(capsys))


# --- the wiring -------------------------------------------------------------------------------------------


def test_the_aws_repositories_create_no_client_until_called() -> None:
    """Wiring the boto3 repositories (what the handler does) calls no AWS API: the fixture would fail it."""
    repositories = aws_module.aws_repositories()

    for call in (
        lambda: repositories.job_runs.job_run(APP, RUN_ID),
        lambda: repositories.run_summaries.rows("bucket", "run_summary", ("job",), {}),
    ):
        with pytest.raises(AssertionError, match="AWS client was requested"):
            call()
    with pytest.raises(SlotsParameterError, match="AWS client was requested"):
        repositories.slots.active_slot(SLOTS_PARAMETER)  # read_active_slot turns any failure into this error
