"""Freshness monitor: minutes since each table's last Delta commit, against real delta-rs tables on moto S3.

Gold tables live under their blue/green slot (``s3://<gold bucket>/<slot>/<table>/``); the active slot is
the ``active`` key of the SSM slots parameter (moto SSM).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from freshness_monitor import MonitoredTable, monitored_tables
from freshness_monitor.freshness import FreshnessCheckError, check_freshness, freshness_minutes
from freshness_monitor.handler import Settings, SettingsError, handler
from ops_common import metric_names as m
from ops_common import slots

from job_assets.contracts import BRONZE_TABLES, GOLD_TABLES, SILVER_TABLES
from platform_model import aws_names

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
BUCKETS = {"silver": "lake-silver", "gold": "lake-gold"}
ENV = "test"
ORDERS = MonitoredTable("silver.orders", "silver", 24 * 60)
CUSTOMERS = MonitoredTable("silver.customers", "silver", 24 * 60)
WIN_RATES = MonitoredTable("gold.win_rates", "gold", 26 * 60)
SLOTS_PARAMETER = aws_names.slots_parameter_name(ENV)
ACTIVE = "blue"


def _commit_ts(local: Path, version: int) -> int:
    for line in (local / "_delta_log" / f"{version:020d}.json").read_text().splitlines():
        if line.strip() and "commitInfo" in (action := json.loads(line)):
            return int(action["commitInfo"]["timestamp"])
    raise AssertionError("no commitInfo")


def _write_table(
    tmp_path: Path,
    s3,
    table: MonitoredTable,
    versions: int = 2,
    *,
    slot: str | None = ACTIVE,
    committed_ms: int | None = None,
    maintained: bool = False,
) -> int:
    """A delta-rs table with ``versions`` commits, uploaded to its layer bucket; returns the last commit's ms.

    A gold table goes under ``slot``'s prefix (``None``: the bucket root, where gold no longer lives).
    ``committed_ms`` rewrites the last commit's ``commitInfo.timestamp`` (a commit made that long ago).
    ``maintained``: then the weekly maintenance's commits, now (OPTIMIZE, VACUUM START and END): no data change.
    """
    local = tmp_path / f"{table.name}-{slot}"
    for version in range(versions):
        write_deltalake(str(local), pa.table({"id": [version]}), mode="append")
    if committed_ms is not None:
        _set_commit_ts(local, versions - 1, committed_ms)
    if maintained:
        maintained_table = DeltaTable(str(local))
        assert maintained_table.optimize.compact()["numFilesRemoved"] == versions
        maintained_table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
        assert DeltaTable(str(local)).version() == versions + 2
    prefix = table.prefix if table.layer != "gold" or slot is None else f"{slot}/{table.prefix}"
    for path in sorted(local.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(local).as_posix()}"
            s3.put_object(Bucket=BUCKETS[table.layer], Key=key, Body=path.read_bytes())
    return _commit_ts(local, versions - 1)


def _set_commit_ts(local: Path, version: int, timestamp_ms: int) -> None:
    commit = local / "_delta_log" / f"{version:020d}.json"
    actions = [json.loads(line) for line in commit.read_text().splitlines() if line.strip()]
    for action in actions:
        if "commitInfo" in action:
            action["commitInfo"]["timestamp"] = timestamp_ms
    commit.write_text("".join(json.dumps(a) + "\n" for a in actions))


def _set_slots(value: str | dict) -> None:
    body = value if isinstance(value, str) else json.dumps(value)
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=SLOTS_PARAMETER, Type="String", Value=body, Overwrite=True
    )


def _check(tables, now, **kwargs):
    return check_freshness(
        environment=ENV, layer_buckets=BUCKETS, slots_parameter=SLOTS_PARAMETER, tables=tables, now=now, **kwargs
    )


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
    """The layer buckets, and no slots parameter yet (see ``active_blue``)."""
    client = boto3.client("s3", region_name=REGION)
    for bucket in BUCKETS.values():
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


@pytest.fixture
def active_blue(s3):
    """The slots parameter as CloudFormation creates it: blue active, no version promoted yet."""
    _set_slots({"active": ACTIVE, "slots": {"blue": "", "green": ""}})


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
        "import sys; from job_assets.contracts.freshness import monitored_tables; "
        "assert monitored_tables(); assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


def test_freshness_minutes_rounds_to_a_tenth_and_is_never_negative():
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    committed = int((now - dt.timedelta(minutes=90, seconds=4)).timestamp() * 1000)
    assert freshness_minutes(now, committed) == 90.1
    assert freshness_minutes(now, int(now.timestamp() * 1000) + 60_000) == 0.0


def test_publishes_minutes_since_the_last_commit_per_table(s3, active_blue, tmp_path, capsys):
    orders_ts = _write_table(tmp_path, s3, ORDERS, versions=3)
    win_rates_ts = _write_table(tmp_path, s3, WIN_RATES)
    now = _at(orders_ts, minutes=90)

    results = _check([ORDERS, CUSTOMERS, WIN_RATES], now)

    by_table = {r.table: r for r in results}
    assert by_table["silver.orders"].freshness_minutes == 90.0
    assert by_table["silver.orders"].version == 2
    assert by_table["silver.orders"].breached is False
    expected_win_rates = round((now.timestamp() * 1000 - win_rates_ts) / 60_000, 1)
    assert by_table["gold.win_rates"].freshness_minutes == expected_win_rates
    assert by_table["gold.win_rates"].location == "s3://lake-gold/blue/win_rates/"
    assert (by_table["gold.win_rates"].slot, by_table["silver.orders"].slot) == ("blue", None)
    assert by_table["silver.orders"].location == "s3://lake-silver/orders/"  # silver is not slotted
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
    [result] = _check([ORDERS], now)  # silver only: the slots parameter (absent here) is not read
    assert (result.freshness_minutes, result.breached) == (ORDERS.slo_minutes + 1.0, True)
    [breach] = [line for line in _logs(capsys) if line.get("reason") == "freshness_slo_breached"]
    assert (breach["table"], breach["slo_minutes"]) == ("silver.orders", ORDERS.slo_minutes)


def test_maintenance_commits_do_not_make_a_stale_table_fresh(s3, tmp_path, capsys):
    """The weekly OPTIMIZE and VACUUM commit after the last write: the table is as stale as before."""
    now = dt.datetime.now(dt.UTC)
    written_ms = int((now - dt.timedelta(days=3)).timestamp() * 1000)
    _write_table(tmp_path, s3, ORDERS, versions=2, committed_ms=written_ms, maintained=True)

    [result] = _check([ORDERS], now)

    assert result.version == 1  # the last append, not the OPTIMIZE (2) or the VACUUM (3, 4) after it
    assert result.freshness_minutes == freshness_minutes(now, written_ms) == 3 * 24 * 60.0
    assert result.breached is True
    [breach] = [line for line in _logs(capsys) if line.get("reason") == "freshness_slo_breached"]
    assert breach["version"] == 1


def test_a_corrupt_log_fails_only_its_table_and_the_run_raises_after_publishing(s3, active_blue, tmp_path, capsys):
    _write_table(tmp_path, s3, ORDERS)
    win_rates_ts = _write_table(tmp_path, s3, WIN_RATES)
    s3.put_object(Bucket="lake-silver", Key="orders/_delta_log/00000000000000000002.json", Body=b"{not json\n")
    now = _at(win_rates_ts, minutes=30)

    with pytest.raises(FreshnessCheckError, match=r"silver\.orders") as raised:
        _check([ORDERS, CUSTOMERS, WIN_RATES], now)

    statuses = {r.table: r.status for r in raised.value.results}
    assert statuses == {"silver.orders": "unreadable_log", "silver.customers": "no_delta_log", "gold.win_rates": "ok"}
    assert [d["Maximum"] for d in _datapoints("gold.win_rates", now)] == [30.0]
    assert _datapoints("silver.orders", now) == []
    [error] = [line for line in _logs(capsys) if line["level"] == "ERROR"]
    assert error["table"] == "silver.orders"
    assert error["reason"] == "unreadable_log"
    assert "00000000000000000002.json" in error["error"]


def test_handler_reads_settings_and_checks_every_monitored_table(
    s3, active_blue, tmp_path, monkeypatch, lambda_context
):
    _write_table(tmp_path, s3, ORDERS)
    _write_table(tmp_path, s3, WIN_RATES, slot="green")  # the inactive slot: not what is published
    monkeypatch.setenv("ENVIRONMENT", ENV)
    monkeypatch.setenv("LAYER_BUCKETS", json.dumps(BUCKETS))
    monkeypatch.setenv("SLOTS_PARAMETER", SLOTS_PARAMETER)
    summary = handler({"source": "aws.events"}, lambda_context)
    assert summary["environment"] == ENV and summary["active_slot"] == "blue"
    assert [t["table"] for t in summary["tables"]] == [t.name for t in monitored_tables()]
    assert summary["published"] == 1
    [orders] = [t for t in summary["tables"] if t["table"] == "silver.orders"]
    assert orders["status"] == "ok" and 0 <= orders["freshness_minutes"] < 5
    [win_rates] = [t for t in summary["tables"] if t["table"] == "gold.win_rates"]
    assert (win_rates["status"], win_rates["location"]) == ("no_delta_log", "s3://lake-gold/blue/win_rates/")
    json.dumps(summary)  # the Lambda returns it as JSON


def test_handler_fails_naming_a_missing_slots_parameter(s3, tmp_path, monkeypatch, lambda_context):
    _write_table(tmp_path, s3, ORDERS)
    _write_table(tmp_path, s3, WIN_RATES)
    monkeypatch.setenv("ENVIRONMENT", ENV)
    monkeypatch.setenv("LAYER_BUCKETS", json.dumps(BUCKETS))
    monkeypatch.setenv("SLOTS_PARAMETER", SLOTS_PARAMETER)
    with pytest.raises(FreshnessCheckError, match=f"SSM parameter {SLOTS_PARAMETER} does not exist"):
        handler({"source": "aws.events"}, lambda_context)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LAYER_BUCKETS": json.dumps(BUCKETS)}, "ENVIRONMENT is missing"),
        ({"ENVIRONMENT": ENV}, "LAYER_BUCKETS is missing"),
        ({"ENVIRONMENT": ENV, "LAYER_BUCKETS": "{silver"}, "LAYER_BUCKETS is not valid JSON"),
        ({"ENVIRONMENT": ENV, "LAYER_BUCKETS": '["a"]'}, "LAYER_BUCKETS must be a JSON object"),
        ({"ENVIRONMENT": ENV, "LAYER_BUCKETS": '{"silver": "s"}'}, "LAYER_BUCKETS has no bucket for layer 'gold'"),
        ({"ENVIRONMENT": ENV, "LAYER_BUCKETS": json.dumps(BUCKETS)}, "SLOTS_PARAMETER is missing"),
        (
            {"ENVIRONMENT": ENV, "LAYER_BUCKETS": json.dumps(BUCKETS), "SLOTS_PARAMETER": "  "},
            "SLOTS_PARAMETER is missing or empty",
        ),
    ],
)
def test_settings_errors_name_the_variable(environ, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_settings_from_env():
    settings = Settings.from_env(
        {
            "ENVIRONMENT": "prod",
            "LAYER_BUCKETS": json.dumps({**BUCKETS, "bronze": "b"}),
            "SLOTS_PARAMETER": "/lakehouse/prod/slots",
        }
    )
    assert (settings.environment, dict(settings.layer_buckets)) == ("prod", BUCKETS)
    assert settings.slots_parameter == "/lakehouse/prod/slots"


# -- blue/green: gold is read from the active slot ----------------------------------------------------------


def test_gold_is_read_from_the_active_slot_and_flipping_it_changes_the_result(s3, tmp_path):
    """Blue stale (committed two SLOs ago), green fresh, and a fresh leftover at the bucket root (ignored)."""
    green_ts = _write_table(tmp_path, s3, WIN_RATES, slot="green")
    now = _at(green_ts, minutes=10)
    stale_ms = int((now - dt.timedelta(minutes=2 * WIN_RATES.slo_minutes)).timestamp() * 1000)
    _write_table(tmp_path, s3, WIN_RATES, slot="blue", committed_ms=stale_ms, versions=3)
    _write_table(tmp_path, s3, WIN_RATES, slot=None)

    _set_slots({"active": "blue", "slots": {"blue": "v1", "green": "v2"}})
    [blue] = _check([WIN_RATES], now)
    assert (blue.slot, blue.version, blue.breached) == ("blue", 2, True)
    assert blue.freshness_minutes == 2 * WIN_RATES.slo_minutes
    assert blue.location == "s3://lake-gold/blue/win_rates/"
    assert [d["Maximum"] for d in _datapoints("gold.win_rates", now)] == [2.0 * WIN_RATES.slo_minutes]

    _set_slots({"active": "green", "slots": {"blue": "v1", "green": "v2"}})  # a promotion
    later = now + dt.timedelta(minutes=1)
    [green] = _check([WIN_RATES], later)
    assert (green.slot, green.version, green.breached, green.freshness_minutes) == ("green", 1, False, 11.0)
    assert green.location == "s3://lake-gold/green/win_rates/"


def test_an_empty_active_slot_has_no_datum_even_when_the_other_slot_is_fresh(s3, tmp_path):
    _write_table(tmp_path, s3, WIN_RATES, slot="blue")
    _set_slots({"active": "green", "slots": {"blue": "v1", "green": "v2"}})
    [result] = _check([WIN_RATES], None)
    assert (result.status, result.slot, result.freshness_minutes) == ("no_delta_log", "green", None)


def test_a_missing_slots_parameter_checks_silver_but_gives_gold_no_datum_and_raises(s3, tmp_path, capsys):
    orders_ts = _write_table(tmp_path, s3, ORDERS)
    for slot in ("blue", "green", None):  # fresh gold everywhere: none of it may be reported
        _write_table(tmp_path, s3, WIN_RATES, slot=slot)
    now = _at(orders_ts, minutes=5)

    with pytest.raises(FreshnessCheckError) as raised:
        _check([ORDERS, WIN_RATES], now)

    message = str(raised.value)
    assert f"SSM parameter {SLOTS_PARAMETER} does not exist" in message
    assert "1 gold table(s) not checked" in message and "1 freshness datum(s) were published" in message
    orders, win_rates = raised.value.results
    assert (orders.status, orders.freshness_minutes) == ("ok", 5.0)
    assert (win_rates.status, win_rates.freshness_minutes, win_rates.slot) == ("active_slot_unknown", None, None)
    assert SLOTS_PARAMETER in win_rates.error
    assert [d["Maximum"] for d in _datapoints("silver.orders", now)] == [5.0]
    assert _datapoints("gold.win_rates", now) == []  # never looks fresh
    [error] = [line for line in _logs(capsys) if line["level"] == "ERROR"]
    assert (error["reason"], error["parameter"], error["error_code"]) == (
        "active_slot_unknown",
        SLOTS_PARAMETER,
        "ParameterNotFound",
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("blue", "is not valid JSON"),
        ('["blue"]', "holds a JSON list, not an object"),
        ('{"slots": {"blue": "", "green": ""}}', 'has no "active" key'),
        ('{"active": "purple"}', "names active slot 'purple'; expected \"active\": 'blue' or 'green'"),
        ('{"active": "Blue"}', "names active slot 'Blue'"),
        ('{"active": null}', "names active slot None"),
    ],
)
def test_a_malformed_slots_parameter_is_named_with_what_is_wrong(s3, tmp_path, value, problem):
    _write_table(tmp_path, s3, WIN_RATES)
    _set_slots(value)
    with pytest.raises(FreshnessCheckError) as raised:
        _check([WIN_RATES], None)
    assert f"SSM parameter {SLOTS_PARAMETER} {problem}" in str(raised.value)
    [result] = raised.value.results
    assert result.status == "active_slot_unknown" and result.freshness_minutes is None
    assert _datapoints("gold.win_rates", dt.datetime.now(dt.UTC)) == []


def test_the_slots_parameter_is_read_once_per_check(s3, active_blue, tmp_path, monkeypatch):
    calls = []
    read = slots.read_active_slot
    monkeypatch.setattr("freshness_monitor.freshness.read_active_slot", lambda name: calls.append(name) or read(name))
    _check([WIN_RATES, MonitoredTable("gold.rfm_segments", "gold", 60), ORDERS], None)
    assert calls == [SLOTS_PARAMETER]


def test_lambda_slots_match_the_cli_names():
    """The Lambda package carries its own copy of the slot layout (``lakehouse`` is not shipped to Lambda)."""
    assert slots.SLOTS == aws_names.SLOTS
    for slot in aws_names.SLOTS:
        assert slots.slot_prefix(slot) == aws_names.gold_slot_prefix(slot)
        assert slots.table_location("gold", "win_rates", slot) == f"{aws_names.gold_slot_prefix(slot)}win_rates"
        assert slots.table_location("silver", "orders", slot) == "orders"
    with pytest.raises(ValueError, match="a slot is required"):
        slots.table_location("gold", "win_rates", None)
