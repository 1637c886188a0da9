"""Cost reporter: billed utilization x prices -> JobCostUSD, and per million records of the run summary (moto).

moto's GetJobRun reports zero utilization, so the tests set a known one on moto's job run (the API then
returns it as AWS would). The run summary is a real Delta table written by delta-rs with the contract's
columns, uploaded to the (moto) layer bucket, with rows of other batches and jobs that must not count.
Gold's run summary is per blue/green slot (``s3://<gold bucket>/<slot>/run_summary``); the active slot is
the ``active`` key of the SSM slots parameter (moto SSM).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from cost_reporter import cost
from cost_reporter import handler as cost_handler
from deltalake import DeltaTable, write_deltalake
from moto.core import DEFAULT_ACCOUNT_ID
from moto.emrserverless.models import emrserverless_backends
from ops_common import delta_log
from ops_common import metric_names as m
from ops_common.slots import SlotsParameterError

from job_assets.contracts.ops import RUN_SUMMARY_COLUMNS
from platform_model import aws_names

REGION = "eu-west-1"
ACCOUNT = DEFAULT_ACCOUNT_ID
BATCH = "b20261122T031500123456Z"
OLDER_BATCH = "b20261121T031500123456Z"
BUCKETS = {"bronze": "lakehouse-prod-bronze", "silver": "lakehouse-prod-silver", "gold": "lakehouse-prod-gold"}
PRICES = {"vcpu_hour": 0.052624, "memory_gb_hour": 0.0057785, "storage_gb_hour": 0.000111}
KNOWN_UTILIZATION = {"vCPUHour": 2.5, "memoryGBHour": 10.0, "storageGBHour": 0.0}
# 2.5 * 0.052624 + 10 * 0.0057785 + 0 * 0.000111 = 0.13156 + 0.057785 = 0.189345
KNOWN_COST = 0.189345
ARROW_TYPES = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
SUMMARY_SCHEMA = pa.schema([pa.field(c.name, ARROW_TYPES[c.type], True) for c in RUN_SUMMARY_COLUMNS])
T0 = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
SLOTS_PARAMETER = aws_names.slots_parameter_name("prod")


# -- run summary tables ------------------------------------------------------------------------------------


def summary_row(batch: str, job: str, table: str, rows_in: int, *, minute: int = 0, status: str = "succeeded"):
    return {
        "batch_id": batch,
        "job": job,
        "table_name": table,
        "status": status,
        "rows_in": rows_in,
        "rows_out": rows_in,
        "rows_quarantined": 0,
        "rows_superseded": 0,
        "rows_released": 0,
        "dq_score": 1.0,
        "table_version": None if table == "*" else 3,
        "started_ts": T0,
        "ended_ts": T0 + dt.timedelta(minutes=minute),
        "duration_s": 60.0 * minute,
        "engine": "delta-spark",
        "env": "prod",
        "message": None,
    }


def write_summary(local: Path, *commits: list[dict]) -> None:
    """One Delta commit per list of rows, as write_ops appends them."""
    for rows in commits:
        write_deltalake(str(local), pa.Table.from_pylist(rows, schema=SUMMARY_SCHEMA), mode="append")


def upload(s3, local: Path, bucket: str, prefix: str = "run_summary") -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{path.relative_to(local).as_posix()}", Body=path.read_bytes())


def set_slots(value: str | dict | None) -> None:
    """Write the slots parameter (``None``: delete it)."""
    ssm = boto3.client("ssm", region_name=REGION)
    if value is None:
        ssm.delete_parameter(Name=SLOTS_PARAMETER)
        return
    body = value if isinstance(value, str) else json.dumps(value)
    ssm.put_parameter(Name=SLOTS_PARAMETER, Type="String", Value=body, Overwrite=True)


@pytest.fixture
def lake(aws, monkeypatch):
    """The layer buckets, the function's settings, and the slots parameter with blue active."""
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in BUCKETS.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    set_slots({"active": "blue", "slots": {"blue": "", "green": ""}})
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("PRICES", json.dumps(PRICES))
    monkeypatch.setenv("LAYER_BUCKETS", json.dumps(BUCKETS))
    monkeypatch.setenv("SLOTS_PARAMETER", SLOTS_PARAMETER)
    monkeypatch.delenv("APPLICATION_ID", raising=False)
    return s3


@pytest.fixture
def silver_summary(lake, tmp_path):
    """silver.run_summary: an older batch, this batch (per-table rows then the job total), a foreign job's
    row for the same batch, a batch with only per-table rows and a batch that read nothing; checkpointed."""
    local = tmp_path / "silver_run_summary"
    write_summary(
        local,
        [
            summary_row(OLDER_BATCH, "silver", "silver.orders", 700_000),
            summary_row(OLDER_BATCH, "silver", "*", 700_000),
        ],
        [
            summary_row(BATCH, "silver", "silver.orders", 100_000, minute=9),
            summary_row(BATCH, "silver", "silver.customers", 50_000, minute=9),
        ],
        [summary_row(BATCH, "silver", "*", 150_000, minute=10)],
    )
    DeltaTable(str(local)).create_checkpoint()
    write_summary(
        local,
        [summary_row(BATCH, "bronze", "*", 4_000_000, minute=11)],  # another job's row: never counted for silver
        [
            summary_row("b-partial", "silver", "silver.orders", 30_000, minute=1),
            summary_row("b-partial", "silver", "silver.orders", 40_000, minute=2),  # a re-write: newest counts
            summary_row("b-partial", "silver", "silver.customers", 2_000, minute=2),
        ],
        [summary_row("b-empty", "silver", "*", 0, status="skipped")],
    )
    upload(lake, local, BUCKETS["silver"])
    return local


# -- EMR Serverless job runs -------------------------------------------------------------------------------


@pytest.fixture
def emr(lake, monkeypatch):
    client = boto3.client("emr-serverless", region_name=REGION)
    app_id = client.create_application(name="lakehouse-prod", releaseLabel="emr-7.12.0", type="SPARK")["applicationId"]
    monkeypatch.setenv("APPLICATION_ID", app_id)
    backend = emrserverless_backends[ACCOUNT][REGION]

    def run(job: str, batch: str = BATCH, utilization: dict | None = None, *, name: str | None = None) -> str:
        run_id = client.start_job_run(
            applicationId=app_id,
            executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/lakehouse-prod-{job}-job",
            name=name if name is not None else f"{job}-{batch}",
            jobDriver={
                "sparkSubmit": {
                    "entryPoint": f"s3://lakehouse-prod-artifacts/jobs/abc/entrypoints/{job}.py",
                    "entryPointArguments": ["--env", "prod", "--batch-id", batch],
                }
            },
        )["jobRunId"]
        model = next(r for r in backend.job_runs[app_id] if r.id == run_id)
        model.billed_resource_utilization = dict(utilization or KNOWN_UTILIZATION)
        model.updated_at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
        return run_id

    return {"app_id": app_id, "run": run}


def success_event(app_id: str, run_id: str, state: str = "SUCCESS") -> dict:
    """The documented shape (EMR Serverless User Guide, "Automating EMR Serverless with EventBridge")."""
    return {
        "version": "0",
        "id": "b13537d9-b14a-6ef1-bd26-fb1090329744",
        "detail-type": "EMR Serverless Job Run State Change",
        "source": "aws.emr-serverless",
        "account": ACCOUNT,
        "time": "2026-11-22T03:27:41Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "jobRunId": run_id,
            "applicationId": app_id,
            "arn": f"arn:aws:emr-serverless:{REGION}:{ACCOUNT}:/applications/{app_id}/jobruns/{run_id}",
            "releaseLabel": "emr-7.12.0",
            "state": state,
            "previousState": "RUNNING",
            "createdBy": f"arn:aws:sts::{ACCOUNT}:assumed-role/lakehouse-prod-pipeline/states",
            "updatedAt": "2026-11-22T03:27:40.283071Z",
            "createdAt": "2026-11-22T03:15:02.780900Z",
        },
    }


def invoke(event, lambda_context):
    return cost_handler.handler(event, lambda_context)


def metric_values(name: str, job: str) -> list[tuple[float, float]]:
    """(Sum, SampleCount) per data point of ``name`` for ``Job=job`` over the last day."""
    now = dt.datetime.now(dt.UTC)
    stats = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace=m.namespace("prod"),
        MetricName=name,
        Dimensions=[{"Name": m.ENVIRONMENT, "Value": "prod"}, {"Name": m.JOB, "Value": job}],
        StartTime=now - dt.timedelta(days=1),
        EndTime=now + dt.timedelta(hours=1),
        Period=86_400,
        Statistics=["Sum", "SampleCount"],
    )
    return [(p["Sum"], p["SampleCount"]) for p in stats["Datapoints"]]


def published_metric_names() -> list[str]:
    listed = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=m.namespace("prod"))["Metrics"]
    return sorted(metric["MetricName"] for metric in listed)


# -- the figures -------------------------------------------------------------------------------------------


def test_cost_and_cost_per_million_records_from_known_utilization(emr, silver_summary, lambda_context):
    run_id = emr["run"]("silver")

    result = invoke(success_event(emr["app_id"], run_id), lambda_context)

    # records: the job-total row of this batch (150,000); other batches and the bronze row do not count
    per_million = 1.2623  # 0.189345 / 0.15
    assert result["published"] == {m.JOB_COST_USD: KNOWN_COST, m.COST_PER_MILLION_RECORDS: per_million}
    assert result["skipped"] == {}
    assert (result["job"], result["batch_id"], result["records"]) == ("silver", BATCH, 150_000)
    assert result["utilization"] == KNOWN_UTILIZATION
    assert metric_values(m.JOB_COST_USD, "silver") == [(KNOWN_COST, 1.0)]
    assert metric_values(m.COST_PER_MILLION_RECORDS, "silver") == [(per_million, 1.0)]


def test_without_a_job_total_row_the_newest_per_table_rows_are_summed(emr, silver_summary, lambda_context):
    run_id = emr["run"]("silver", "b-partial", {"vCPUHour": 1.0, "memoryGBHour": 4.0, "storageGBHour": 30.0})

    result = invoke(success_event(emr["app_id"], run_id), lambda_context)

    # 1 * 0.052624 + 4 * 0.0057785 + 30 * 0.000111 = 0.052624 + 0.023114 + 0.00333 = 0.079068
    assert result["records"] == 42_000  # orders 40,000 (the newer of two rows) + customers 2,000
    assert result["published"] == {m.JOB_COST_USD: 0.079068, m.COST_PER_MILLION_RECORDS: 1.882571}
    assert "sum of 2 per-table rows" in result["records_source"]


def test_maintenance_publishes_job_cost_only_and_says_why(emr, lambda_context, capsys):
    run_id = emr["run"]("maintenance")

    result = invoke(success_event(emr["app_id"], run_id), lambda_context)

    assert result["published"] == {m.JOB_COST_USD: KNOWN_COST}
    assert result["skipped"] == {m.COST_PER_MILLION_RECORDS: "no_run_summary_for_job"}
    assert metric_values(m.JOB_COST_USD, "maintenance") == [(KNOWN_COST, 1.0)]
    assert published_metric_names() == [m.JOB_COST_USD]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    skip = next(line for line in lines if line["reason"] == "no_run_summary_for_job")
    assert skip["job"] == "maintenance" and "keeps no run summary" in skip["message"]


@pytest.mark.parametrize(
    ("batch", "reason"),
    [("b-empty", "zero_records"), ("b-unknown", "no_run_summary_rows")],
)
def test_no_records_skips_cost_per_million_with_a_log_line(emr, silver_summary, lambda_context, capsys, batch, reason):
    run_id = emr["run"]("silver", batch)

    result = invoke(success_event(emr["app_id"], run_id), lambda_context)

    assert result["published"] == {m.JOB_COST_USD: KNOWN_COST}
    assert result["skipped"] == {m.COST_PER_MILLION_RECORDS: reason}
    assert published_metric_names() == [m.JOB_COST_USD]
    assert any(json.loads(line)["reason"] == reason for line in capsys.readouterr().out.splitlines())


def test_a_layer_without_a_run_summary_table_yet(emr, lambda_context):
    run_id = emr["run"]("gold")
    result = invoke(success_event(emr["app_id"], run_id), lambda_context)
    assert result["published"] == {m.JOB_COST_USD: KNOWN_COST}
    assert result["skipped"] == {m.COST_PER_MILLION_RECORDS: "no_run_summary_table"}
    assert result["records_source"] == "s3://lakehouse-prod-gold/blue/run_summary holds no Delta table yet"


# -- blue/green: gold's run summary is the active slot's ---------------------------------------------------


@pytest.fixture
def gold_summaries(lake, tmp_path):
    """gold.run_summary of both slots for this batch (blue read 200,000, green 400,000), and a leftover at the
    bucket root (where gold no longer lives) that must never count."""
    for prefix, rows_in in (("blue/run_summary", 200_000), ("green/run_summary", 400_000), ("run_summary", 1_000)):
        local = tmp_path / prefix.replace("/", "_")
        write_summary(local, [summary_row(BATCH, "gold", "*", rows_in, minute=5)])
        upload(lake, local, BUCKETS["gold"], prefix)


def test_gold_records_come_from_the_active_slot_and_flipping_it_changes_them(emr, gold_summaries, lambda_context):
    run_id = emr["run"]("gold")

    blue = invoke(success_event(emr["app_id"], run_id), lambda_context)
    set_slots({"active": "green", "slots": {"blue": "v1", "green": "v2"}})  # a promotion
    green = invoke(success_event(emr["app_id"], run_id), lambda_context)

    assert (blue["slot"], blue["records"]) == ("blue", 200_000)
    assert "s3://lakehouse-prod-gold/blue/run_summary" in blue["records_source"]
    assert blue["published"] == {m.JOB_COST_USD: KNOWN_COST, m.COST_PER_MILLION_RECORDS: 0.946725}
    assert (green["slot"], green["records"]) == ("green", 400_000)
    assert "s3://lakehouse-prod-gold/green/run_summary" in green["records_source"]
    assert green["published"] == {m.JOB_COST_USD: KNOWN_COST, m.COST_PER_MILLION_RECORDS: 0.473363}


def test_other_layers_do_not_read_the_slots_parameter(emr, silver_summary, lambda_context):
    set_slots(None)  # silver is not slotted: no parameter needed
    result = invoke(success_event(emr["app_id"], emr["run"]("silver")), lambda_context)
    assert (result["slot"], result["records"]) == (None, 150_000)
    assert "s3://lakehouse-prod-silver/run_summary" in result["records_source"]


def test_a_missing_slots_parameter_raises_naming_it_before_anything_is_published(
    emr, gold_summaries, lambda_context, capsys
):
    set_slots(None)
    run_id = emr["run"]("gold")
    with pytest.raises(SlotsParameterError, match=f"SSM parameter {SLOTS_PARAMETER} does not exist"):
        invoke(success_event(emr["app_id"], run_id), lambda_context)
    assert published_metric_names() == []  # the retry publishes each figure once
    error = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (error["level"], error["reason"], error["parameter"]) == ("ERROR", "active_slot_unknown", SLOTS_PARAMETER)
    assert (error["error_code"], error["job_run_id"], error["batch_id"]) == ("ParameterNotFound", run_id, BATCH)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ('"blue"', "holds a JSON str, not an object"),
        ('{"slots": {"blue": "", "green": ""}}', 'has no "active" key'),
        ('{"active": "red", "slots": {}}', "names active slot 'red'; expected \"active\": 'blue' or 'green'"),
    ],
)
def test_a_malformed_slots_parameter_raises_naming_what_is_wrong(emr, gold_summaries, lambda_context, value, problem):
    set_slots(value)
    with pytest.raises(SlotsParameterError) as raised:
        invoke(success_event(emr["app_id"], emr["run"]("gold")), lambda_context)
    assert str(raised.value) == f"SSM parameter {SLOTS_PARAMETER} {raised.value.problem}"
    assert problem in str(raised.value)
    assert published_metric_names() == []


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED", "RUNNING"])
def test_a_run_that_did_not_succeed_publishes_nothing(emr, lambda_context, state):
    run_id = emr["run"]("silver")
    result = invoke(success_event(emr["app_id"], run_id, state=state), lambda_context)
    assert result == {"published": {}, "reason": "not_success"}
    assert published_metric_names() == []


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (None, "the event is a NoneType"),
        ({"source": "aws.states", "detail-type": "Step Functions Execution Status Change"}, "source 'aws.states'"),
        (
            {"source": "aws.emr-serverless", "detail-type": "EMR Serverless Job Run State Change", "detail": []},
            "no detail object",
        ),
        (
            {
                "source": "aws.emr-serverless",
                "detail-type": "EMR Serverless Job Run State Change",
                "detail": {"state": "SUCCESS", "applicationId": "00app"},
            },
            "detail lacks jobRunId",
        ),
    ],
)
def test_malformed_events_are_logged_and_publish_nothing(lake, lambda_context, capsys, event, problem):
    result = invoke(event, lambda_context)
    assert result["published"] == {} and result["reason"] == "malformed_event"
    assert problem in result["problem"]
    assert published_metric_names() == []
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["reason"] == "malformed_event"


def test_job_runs_of_another_application_are_ignored(emr, lambda_context):
    result = invoke(success_event("00otherapp000001", "00f1cbn5g4bb0c01"), lambda_context)
    assert result == {"published": {}, "reason": "other_application"}


def test_get_job_run_errors_raise_before_anything_is_published(emr, lambda_context, capsys):
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        invoke(success_event(emr["app_id"], "00nosuchjobrun01"), lambda_context)
    assert published_metric_names() == []
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["reason"] == "get_job_run_failed"


# -- pieces ------------------------------------------------------------------------------------------------


def test_job_cost_is_decimal_exact_and_rounded_half_up():
    prices = cost.Prices.of(0.1, 0.2, 0.3)
    assert cost.job_cost({"vCPUHour": 0.1, "memoryGBHour": 0.2, "storageGBHour": 0.3}, prices) == cost.Decimal(
        "0.140000"
    )  # 0.01 + 0.04 + 0.09, no float drift
    assert cost.job_cost({"vCPUHour": 0.0000005}, cost.Prices.of(1, 0, 0)) == cost.Decimal("0.000001")
    assert cost.cost_per_million(cost.Decimal("0.189345"), 150_000) == cost.Decimal("1.262300")


def test_the_run_summary_contract_has_the_columns_read():
    assert cost.contract_columns_missing() == []


def test_read_rows_filters_a_checkpointed_table(lake, silver_summary):
    rows = delta_log.read_rows(
        lake, BUCKETS["silver"], "run_summary", ("table_name", "rows_in", "no_such_column"), {"batch_id": BATCH}
    )
    assert sorted((r["table_name"], r["rows_in"], r["no_such_column"]) for r in rows) == [
        ("*", 150_000, None),
        ("*", 4_000_000, None),
        ("silver.customers", 50_000, None),
        ("silver.orders", 100_000, None),
    ]
    assert delta_log.read_rows(lake, BUCKETS["silver"], "run_summary", ("job",), {"no_such_column": "x"}) == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ENVIRONMENT", "", "ENVIRONMENT is missing"),
        ("PRICES", "", "PRICES is missing"),
        ("PRICES", "{not json", "PRICES is not valid JSON"),
        ("PRICES", "[1, 2, 3]", "PRICES must be a JSON object"),
        ("PRICES", '{"vcpu_hour": 0.05, "memory_gb_hour": 0.005}', "PRICES needs 'storage_gb_hour'"),
        ("PRICES", '{"vcpu_hour": -1, "memory_gb_hour": 0.005, "storage_gb_hour": 0}', "PRICES needs 'vcpu_hour'"),
        ("LAYER_BUCKETS", "", "LAYER_BUCKETS is missing"),
        ("LAYER_BUCKETS", "{}", "LAYER_BUCKETS names no layer bucket"),
        ("LAYER_BUCKETS", '{"silver": ""}', "LAYER_BUCKETS has no bucket for layer 'silver'"),
        ("APPLICATION_ID", "Not An Id", "APPLICATION_ID is not an EMR Serverless application id"),
        ("SLOTS_PARAMETER", "", "SLOTS_PARAMETER is missing or empty"),
    ],
)
def test_settings_name_the_bad_variable(name, value, message):
    environ = {
        "ENVIRONMENT": "prod",
        "PRICES": json.dumps(PRICES),
        "LAYER_BUCKETS": json.dumps(BUCKETS),
        "SLOTS_PARAMETER": SLOTS_PARAMETER,
        name: value,
    }
    with pytest.raises(cost_handler.SettingsError, match=message):
        cost_handler.Settings.from_env(environ)


def test_settings_parse_prices_and_buckets():
    settings = cost_handler.Settings.from_env(
        {
            "ENVIRONMENT": "prod",
            "PRICES": json.dumps(PRICES),
            "LAYER_BUCKETS": json.dumps(BUCKETS),
            "SLOTS_PARAMETER": SLOTS_PARAMETER,
        }
    )
    assert settings.prices == cost.Prices.of(0.052624, 0.0057785, 0.000111)
    assert settings.layer_buckets == BUCKETS and settings.application_id is None
    assert settings.slots_parameter == "/lakehouse/prod/slots"
