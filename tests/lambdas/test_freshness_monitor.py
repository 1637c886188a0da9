"""Freshness monitor: minutes since each table's last Delta commit, against real delta-rs tables on moto S3."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from freshness_monitor import MonitoredTable, monitored_tables
from freshness_monitor.freshness import FreshnessCheckError, check_freshness, freshness_minutes
from freshness_monitor.handler import Settings, SettingsError, handler
from ops_common import metric_names as m

from job_assets.contracts import BRONZE_TABLES, GOLD_TABLES, SILVER_TABLES

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
BUCKETS = {"silver": "lake-silver", "gold": "lake-gold"}
ENV = "test"
ORDERS = MonitoredTable("silver.orders", "silver", 24 * 60)
CUSTOMERS = MonitoredTable("silver.customers", "silver", 24 * 60)
WIN_RATES = MonitoredTable("gold.win_rates", "gold", 26 * 60)


def _commit_ts(local: Path, version: int) -> int:
    for line in (local / "_delta_log" / f"{version:020d}.json").read_text().splitlines():
        if line.strip() and "commitInfo" in (action := json.loads(line)):
            return int(action["commitInfo"]["timestamp"])
    raise AssertionError("no commitInfo")


def _write_table(tmp_path: Path, s3, table: MonitoredTable, versions: int = 2) -> int:
    """A delta-rs table with ``versions`` commits, uploaded to its layer bucket; returns the last commit's ms."""
    local = tmp_path / table.name
    for version in range(versions):
        write_deltalake(str(local), pa.table({"id": [version]}), mode="append")
    for path in sorted(local.rglob("*")):
        if path.is_file():
            key = f"{table.prefix}/{path.relative_to(local).as_posix()}"
            s3.put_object(Bucket=BUCKETS[table.layer], Key=key, Body=path.read_bytes())
    return _commit_ts(local, versions - 1)


def _at(timestamp_ms: int, minutes: float = 0) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC) + dt.timedelta(minutes=minutes)


def _logs(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _datapoints(table: str, now: dt.datetime) -> list[dict]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    response = cloudwatch.get_metric_statistics(
        Namespace=m.namespace(ENV),
        MetricName=m.FRESHNESS_MINUTES,
        Dimensions=[{"Name": m.ENVIRONMENT, "Value": ENV}, {"Name": m.TABLE, "Value": table}],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=10),
        Period=60,
        Statistics=["Maximum"],
    )
    return response["Datapoints"]


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name=REGION)
    for bucket in BUCKETS.values():
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


def test_monitored_tables_are_the_silver_and_gold_contracts_with_an_slo():
    tables = monitored_tables()
    expected = [c for c in (*SILVER_TABLES, *GOLD_TABLES) if c.freshness_slo_minutes is not None]
    assert [(t.name, t.layer, t.slo_minutes) for t in tables] == [
        (c.name, c.layer, c.freshness_slo_minutes) for c in expected
    ]
    assert ORDERS in tables and WIN_RATES in tables
    assert "silver.accounts_history" not in {t.name for t in tables}  # no SLO in its contract
    assert not {t.name for t in tables} & {c.name for c in BRONZE_TABLES}
    name, layer, slo = tables[0]  # a plain tuple for the stack
    assert (name, layer, slo) == (tables[0].name, tables[0].layer, tables[0].slo_minutes)


def test_the_stack_can_import_monitored_tables_without_boto3():
    code = (
        "import sys; from lambdas.freshness_monitor import monitored_tables; "
        "assert monitored_tables(); assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


def test_freshness_minutes_rounds_to_a_tenth_and_is_never_negative():
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    committed = int((now - dt.timedelta(minutes=90, seconds=4)).timestamp() * 1000)
    assert freshness_minutes(now, committed) == 90.1
    assert freshness_minutes(now, int(now.timestamp() * 1000) + 60_000) == 0.0


def test_publishes_minutes_since_the_last_commit_per_table(s3, tmp_path, capsys):
    orders_ts = _write_table(tmp_path, s3, ORDERS, versions=3)
    win_rates_ts = _write_table(tmp_path, s3, WIN_RATES)
    now = _at(orders_ts, minutes=90)

    results = check_freshness(environment=ENV, layer_buckets=BUCKETS, tables=[ORDERS, CUSTOMERS, WIN_RATES], now=now)

    by_table = {r.table: r for r in results}
    assert by_table["silver.orders"].freshness_minutes == 90.0
    assert by_table["silver.orders"].version == 2
    assert by_table["silver.orders"].breached is False
    expected_win_rates = round((now.timestamp() * 1000 - win_rates_ts) / 60_000, 1)
    assert by_table["gold.win_rates"].freshness_minutes == expected_win_rates
    assert [d["Maximum"] for d in _datapoints("silver.orders", now)] == [90.0]
    assert [d["Maximum"] for d in _datapoints("gold.win_rates", now)] == [expected_win_rates]
    # no Delta log yet: a warning with the reason, no datum at all
    assert by_table["silver.customers"].status == "no_delta_log"
    assert by_table["silver.customers"].freshness_minutes is None
    assert _datapoints("silver.customers", now) == []
    metrics = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=m.namespace(ENV))["Metrics"]
    published = {d["Value"] for metric in metrics for d in metric["Dimensions"] if d["Name"] == m.TABLE}
    assert published == {"silver.orders", "gold.win_rates"}
    warnings = [line for line in _logs(capsys) if line["level"] == "WARNING"]
    assert [(w["reason"], w["table"]) for w in warnings] == [("no_delta_log", "silver.customers")]


def test_a_breach_is_logged_with_its_reason(s3, tmp_path, capsys):
    orders_ts = _write_table(tmp_path, s3, ORDERS)
    now = _at(orders_ts, minutes=ORDERS.slo_minutes + 1)
    [result] = check_freshness(environment=ENV, layer_buckets=BUCKETS, tables=[ORDERS], now=now)
    assert (result.freshness_minutes, result.breached) == (ORDERS.slo_minutes + 1.0, True)
    [breach] = [line for line in _logs(capsys) if line.get("reason") == "freshness_slo_breached"]
    assert (breach["table"], breach["slo_minutes"]) == ("silver.orders", ORDERS.slo_minutes)


def test_a_corrupt_log_fails_only_its_table_and_the_run_raises_after_publishing(s3, tmp_path, capsys):
    _write_table(tmp_path, s3, ORDERS)
    win_rates_ts = _write_table(tmp_path, s3, WIN_RATES)
    s3.put_object(Bucket="lake-silver", Key="orders/_delta_log/00000000000000000002.json", Body=b"{not json\n")
    now = _at(win_rates_ts, minutes=30)

    with pytest.raises(FreshnessCheckError, match=r"silver\.orders") as raised:
        check_freshness(environment=ENV, layer_buckets=BUCKETS, tables=[ORDERS, CUSTOMERS, WIN_RATES], now=now)

    statuses = {r.table: r.status for r in raised.value.results}
    assert statuses == {"silver.orders": "unreadable_log", "silver.customers": "no_delta_log", "gold.win_rates": "ok"}
    assert [d["Maximum"] for d in _datapoints("gold.win_rates", now)] == [30.0]
    assert _datapoints("silver.orders", now) == []
    [error] = [line for line in _logs(capsys) if line["level"] == "ERROR"]
    assert error["table"] == "silver.orders"
    assert error["reason"] == "unreadable_log"
    assert "00000000000000000002.json" in error["error"]


def test_handler_reads_settings_and_checks_every_monitored_table(s3, tmp_path, monkeypatch, lambda_context):
    _write_table(tmp_path, s3, ORDERS)
    monkeypatch.setenv("ENVIRONMENT", ENV)
    monkeypatch.setenv("LAYER_BUCKETS", json.dumps(BUCKETS))
    summary = handler({"source": "aws.events"}, lambda_context)
    assert summary["environment"] == ENV
    assert [t["table"] for t in summary["tables"]] == [t.name for t in monitored_tables()]
    assert summary["published"] == 1
    [orders] = [t for t in summary["tables"] if t["table"] == "silver.orders"]
    assert orders["status"] == "ok" and 0 <= orders["freshness_minutes"] < 5
    json.dumps(summary)  # the Lambda returns it as JSON


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LAYER_BUCKETS": json.dumps(BUCKETS)}, "ENVIRONMENT is missing"),
        ({"ENVIRONMENT": ENV}, "LAYER_BUCKETS is missing"),
        ({"ENVIRONMENT": ENV, "LAYER_BUCKETS": "{silver"}, "LAYER_BUCKETS is not valid JSON"),
        ({"ENVIRONMENT": ENV, "LAYER_BUCKETS": '["a"]'}, "LAYER_BUCKETS must be a JSON object"),
        ({"ENVIRONMENT": ENV, "LAYER_BUCKETS": '{"silver": "s"}'}, "LAYER_BUCKETS has no bucket for layer 'gold'"),
    ],
)
def test_settings_errors_name_the_variable(environ, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_settings_from_env():
    settings = Settings.from_env({"ENVIRONMENT": "prod", "LAYER_BUCKETS": json.dumps({**BUCKETS, "bronze": "b"})})
    assert (settings.environment, dict(settings.layer_buckets)) == ("prod", BUCKETS)
