"""The freshness monitor's logic on in-memory repositories (``freshness_monitor.fakes``): no moto, no network.

The same behaviour through boto3 on moto, on real delta-rs tables, is tests/lambdas/test_freshness_monitor.py
(the functional tier); here each rule of the logic is checked on its own, fast: the datum per measured table,
the SLO breach, a table with no log, gold read from the active slot only, an unknown active slot, and failed
AWS calls (a log, the slots parameter, the data points) with what the function reports for each.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.aws_guard import refuse_aws_clients

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lambdas") not in sys.path:  # the Lambda code asset's root: its packages are top-level there
    sys.path.insert(0, str(ROOT / "lambdas"))

from freshness_monitor import MonitoredTable  # noqa: E402
from freshness_monitor import aws_repositories as aws_module  # noqa: E402
from freshness_monitor.fakes import FakeAws  # noqa: E402
from freshness_monitor.freshness import (  # noqa: E402
    FreshnessCheckError,
    RepositoryError,
    TableFreshness,
    check_freshness,
)
from ops_common import metric_names as m  # noqa: E402
from ops_common import metrics as ops_metrics  # noqa: E402
from ops_common import slots as ops_slots  # noqa: E402
from ops_common.delta_log import DeltaLogError  # noqa: E402

ENV = "test"
BUCKETS = {"silver": "lake-silver", "gold": "lake-gold"}
SLOTS_PARAMETER = "/lakehouse/test/slots"
NOW = dt.datetime(2026, 11, 22, 3, 15, tzinfo=dt.UTC)
ORDERS = MonitoredTable("silver.orders", "silver", 24 * 60)
CUSTOMERS = MonitoredTable("silver.customers", "silver", 24 * 60)
WIN_RATES = MonitoredTable("gold.win_rates", "gold", 26 * 60)
SEGMENTS = MonitoredTable("gold.rfm_segments", "gold", 26 * 60)
THROTTLED = RepositoryError("ThrottlingException: Rate exceeded", code="ThrottlingException", throttled=True)
UNANSWERED = RepositoryError("Could not connect to the endpoint URL")


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any boto3 client is a failure here."""

    refuse_aws_clients(monkeypatch, aws_module, ops_metrics, ops_slots)


@pytest.fixture
def fake() -> FakeAws:
    """Blue active; no table has a log yet."""
    aws = FakeAws()
    aws.slots.activate(SLOTS_PARAMETER, "blue")
    return aws


def ms(minutes_ago: float) -> int:
    """Epoch milliseconds ``minutes_ago`` minutes before ``NOW``."""
    return int((NOW - dt.timedelta(minutes=minutes_ago)).timestamp() * 1000)


def commit(fake: FakeAws, table: MonitoredTable, minutes_ago: float, *, version: int = 1, slot: str = "blue") -> None:
    """A newest commit ``minutes_ago`` for ``table`` (a gold table's under ``slot``)."""
    prefix = f"{slot}/{table.prefix}" if table.layer == "gold" else table.prefix
    fake.logs.commit(BUCKETS[table.layer], prefix, version=version, timestamp_ms=ms(minutes_ago))


def check(fake: FakeAws, *tables: MonitoredTable) -> list[TableFreshness]:
    """The check at ``NOW`` on the fakes."""
    return check_freshness(
        environment=ENV,
        layer_buckets=BUCKETS,
        slots_parameter=SLOTS_PARAMETER,
        tables=tables,
        now=NOW,
        repositories=fake.repositories(),
    )


def failed_check(fake: FakeAws, *tables: MonitoredTable) -> FreshnessCheckError:
    """The check at ``NOW``, which must raise :class:`FreshnessCheckError`."""
    with pytest.raises(FreshnessCheckError) as raised:
        check(fake, *tables)
    return raised.value


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def by_reason(lines: list[dict[str, Any]], reason: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("reason") == reason]


# --- measured tables ----------------------------------------------------------------------------------------


def test_each_measured_table_gets_one_datum_and_an_ok_result(fake: FakeAws, capsys) -> None:
    commit(fake, ORDERS, 90, version=4)
    commit(fake, WIN_RATES, 30.04)

    orders, win_rates = check(fake, ORDERS, WIN_RATES)

    assert (orders.status, orders.version, orders.freshness_minutes, orders.breached) == ("ok", 4, 90.0, False)
    assert orders.committed_at == "2026-11-22T01:45:00.000+00:00"
    assert (orders.location, orders.slot) == ("s3://lake-silver/orders/", None)
    assert (win_rates.freshness_minutes, win_rates.slot) == (30.0, "blue")
    assert win_rates.location == "s3://lake-gold/blue/win_rates/"
    [(namespace, datum), _] = fake.metrics.published
    assert namespace == m.namespace(ENV)
    assert (datum.name, datum.value, datum.timestamp) == (m.FRESHNESS_MINUTES, 90.0, NOW)
    assert dict(datum.dimensions) == {m.ENVIRONMENT: ENV, m.TABLE: "silver.orders"}
    assert fake.metrics.values("gold.win_rates") == [30.0]
    lines = log_lines(capsys)
    assert [line["table"] for line in by_reason(lines, "freshness_measured")] == ["silver.orders", "gold.win_rates"]
    [done] = by_reason(lines, "freshness_check_done")
    assert (done["published"], done["active_slot"], done["failed"], done["breached"]) == (2, "blue", [], [])


def test_a_table_past_its_slo_is_breached_and_logged_as_a_warning(fake: FakeAws, capsys) -> None:
    commit(fake, ORDERS, ORDERS.slo_minutes + 0.1)
    commit(fake, CUSTOMERS, CUSTOMERS.slo_minutes)  # at the SLO: not breached (the alarm is "greater than")

    orders, customers = check(fake, ORDERS, CUSTOMERS)

    assert (orders.breached, customers.breached) == (True, False)
    assert fake.metrics.values("silver.orders") == [ORDERS.slo_minutes + 0.1]  # still published
    lines = log_lines(capsys)
    [breach] = by_reason(lines, "freshness_slo_breached")
    assert (breach["level"], breach["table"], breach["slo_minutes"]) == ("WARNING", "silver.orders", ORDERS.slo_minutes)
    assert by_reason(lines, "freshness_check_done")[0]["breached"] == ["silver.orders"]


def test_a_commit_stamped_in_the_future_is_zero_minutes_old(fake: FakeAws) -> None:
    commit(fake, ORDERS, -5)

    [orders] = check(fake, ORDERS)

    assert (orders.freshness_minutes, orders.breached) == (0.0, False)


def test_a_table_with_no_log_gets_a_warning_and_no_datum_and_nothing_fails(fake: FakeAws, capsys) -> None:
    commit(fake, ORDERS, 10)

    orders, customers = check(fake, ORDERS, CUSTOMERS)

    assert (customers.status, customers.freshness_minutes, customers.location) == (
        "no_delta_log",
        None,
        "s3://lake-silver/customers/",
    )
    assert orders.status == "ok" and fake.metrics.values("silver.customers") == []
    lines = log_lines(capsys)
    [warning] = [line for line in lines if line["level"] == "WARNING"]
    assert (warning["reason"], warning["table"]) == ("no_delta_log", "silver.customers")
    assert by_reason(lines, "freshness_check_done")[0]["no_log"] == ["silver.customers"]


# --- gold: the active slot ----------------------------------------------------------------------------------


def test_gold_is_read_from_the_active_slot_only_and_the_parameter_once(fake: FakeAws) -> None:
    fake.slots.activate(SLOTS_PARAMETER, "green")
    commit(fake, WIN_RATES, 5, slot="blue")  # fresh, but not published
    commit(fake, WIN_RATES, 3 * WIN_RATES.slo_minutes, version=7, slot="green")

    win_rates, segments = check(fake, WIN_RATES, SEGMENTS)

    assert (win_rates.slot, win_rates.version, win_rates.breached) == ("green", 7, True)
    assert (segments.status, segments.location) == ("no_delta_log", "s3://lake-gold/green/rfm_segments/")
    assert fake.logs.reads == [("lake-gold", "green/win_rates/"), ("lake-gold", "green/rfm_segments/")]
    assert fake.slots.reads == [SLOTS_PARAMETER]


def test_silver_alone_does_not_read_the_slots_parameter(fake: FakeAws) -> None:
    fake.slots.values.clear()  # it would fail if it were read
    commit(fake, ORDERS, 1)

    [orders] = check(fake, ORDERS)

    assert orders.status == "ok" and fake.slots.reads == []


def test_a_missing_slots_parameter_checks_silver_but_no_gold_and_raises(fake: FakeAws, capsys) -> None:
    fake.slots.values.clear()
    commit(fake, ORDERS, 5)
    commit(fake, WIN_RATES, 5)

    raised = failed_check(fake, ORDERS, WIN_RATES)

    assert f"1 gold table(s) not checked: SSM parameter {SLOTS_PARAMETER} does not exist" in str(raised)
    assert "the other 1 freshness datum(s) were published" in str(raised)
    orders, win_rates = raised.results
    assert orders.status == "ok" and fake.metrics.values("silver.orders") == [5.0]
    assert (win_rates.status, win_rates.location, win_rates.slot) == ("active_slot_unknown", None, None)
    assert win_rates.error == f"SSM parameter {SLOTS_PARAMETER} does not exist"
    assert fake.logs.reads == [("lake-silver", "orders/")]  # no slot is guessed
    lines = log_lines(capsys)
    [error] = [line for line in lines if line["level"] == "ERROR"]
    assert (error["reason"], error["parameter"], error["error_code"]) == (
        "active_slot_unknown",
        SLOTS_PARAMETER,
        "ParameterNotFound",
    )
    assert by_reason(lines, "freshness_check_done")[0]["active_slot_unknown"] == ["gold.win_rates"]


@pytest.mark.parametrize(("error", "code"), [(THROTTLED, "ThrottlingException"), (UNANSWERED, None)])
def test_an_unreadable_slots_parameter_gives_gold_no_datum(
    fake: FakeAws, capsys, error: RepositoryError, code: str | None
) -> None:
    fake.slots.errors["active_slot"] = error

    raised = failed_check(fake, WIN_RATES, SEGMENTS)

    assert [r.status for r in raised.results] == ["active_slot_unknown", "active_slot_unknown"]
    assert f"2 gold table(s) not checked: SSM parameter {SLOTS_PARAMETER} cannot be read" in str(raised)
    assert fake.logs.reads == [] and fake.metrics.published == []
    [line] = by_reason(log_lines(capsys), "active_slot_unknown")
    assert line["error_code"] == code and str(error) in line["error"]


def test_a_slots_parameter_that_names_no_slot_gives_gold_no_datum(fake: FakeAws, capsys) -> None:
    fake.slots.values[SLOTS_PARAMETER] = '{"active": "purple"}'
    commit(fake, WIN_RATES, 5)

    raised = failed_check(fake, WIN_RATES)

    assert "names active slot 'purple'" in str(raised)
    assert raised.results[0].status == "active_slot_unknown" and fake.metrics.published == []
    [line] = by_reason(log_lines(capsys), "active_slot_unknown")
    assert line["error_code"] is None  # no call failed


# --- a table's log that cannot be read ----------------------------------------------------------------------


@pytest.mark.parametrize(("error", "code"), [(THROTTLED, "ThrottlingException"), (UNANSWERED, None)])
def test_a_failed_log_read_fails_only_its_table_and_raises_after_publishing(
    fake: FakeAws, capsys, error: RepositoryError, code: str | None
) -> None:
    commit(fake, ORDERS, 10)
    commit(fake, WIN_RATES, 20)
    fake.logs.fail("lake-silver", "orders", error)

    raised = failed_check(fake, ORDERS, CUSTOMERS, WIN_RATES)

    assert str(raised) == (
        "could not read the Delta log of 1 table(s): silver.orders (the other 1 freshness datum(s) were published)"
    )
    assert [r.status for r in raised.results] == ["unreadable_log", "no_delta_log", "ok"]
    assert raised.results[0].error == f"RepositoryError: {error}"
    assert fake.metrics.values("gold.win_rates") == [20.0] and fake.metrics.values("silver.orders") == []
    lines = log_lines(capsys)
    [line] = [line for line in lines if line["level"] == "ERROR"]
    assert (line["reason"], line["table"], line["location"]) == (
        "unreadable_log",
        "silver.orders",
        "s3://lake-silver/orders/",
    )
    assert (line["error_type"], line["error_code"], line["error"]) == ("RepositoryError", code, str(error))
    assert by_reason(lines, "freshness_check_done")[0]["failed"] == ["silver.orders"]


def test_a_failed_call_is_reported_as_the_aws_error_it_wraps(fake: FakeAws, capsys) -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2")
    wrapped = RepositoryError(str(denied), code="AccessDenied")
    wrapped.__cause__ = denied  # as the AWS repositories raise it: ``from`` the botocore error
    fake.logs.fail("lake-silver", "orders", wrapped)

    raised = failed_check(fake, ORDERS)

    assert raised.results[0].error == f"ClientError: {denied}"
    [line] = by_reason(log_lines(capsys), "unreadable_log")
    assert (line["error_type"], line["error_code"]) == ("ClientError", "AccessDenied")


def test_a_log_that_is_not_delta_fails_its_table(fake: FakeAws, capsys) -> None:
    fake.logs.fail("lake-gold", "blue/win_rates", DeltaLogError("00000000000000000002.json line 1 is not JSON"))

    raised = failed_check(fake, WIN_RATES)

    assert raised.results[0].error == "DeltaLogError: 00000000000000000002.json line 1 is not JSON"
    [line] = by_reason(log_lines(capsys), "unreadable_log")
    assert (line["error_type"], line["error_code"]) == ("DeltaLogError", None)


# --- the data points ----------------------------------------------------------------------------------------


def test_unpublished_data_points_fail_the_check_before_its_summary(fake: FakeAws, capsys) -> None:
    commit(fake, ORDERS, 10)
    fake.metrics.errors["publish"] = THROTTLED

    with pytest.raises(RepositoryError) as raised:
        check(fake, ORDERS)

    assert raised.value is THROTTLED
    assert by_reason(log_lines(capsys), "freshness_check_done") == []


def test_unpublished_data_points_raise_the_aws_error_itself(fake: FakeAws) -> None:
    throttled = ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "PutMetricData")
    wrapped = RepositoryError(str(throttled), code="Throttling", throttled=True)
    wrapped.__cause__ = throttled
    fake.metrics.errors["publish"] = wrapped
    commit(fake, ORDERS, 10)

    with pytest.raises(ClientError) as raised:
        check(fake, ORDERS)

    assert raised.value is throttled  # as botocore raised it: nothing chained to it
    assert (raised.value.__cause__, raised.value.__context__, raised.value.__suppress_context__) == (None, None, False)


# --- what is checked before any call ------------------------------------------------------------------------


def test_a_layer_without_a_bucket_fails_before_any_call(fake: FakeAws) -> None:
    with pytest.raises(ValueError, match="no bucket for layer"):
        check_freshness(
            environment=ENV,
            layer_buckets={"silver": "lake-silver"},
            slots_parameter=SLOTS_PARAMETER,
            tables=[ORDERS, WIN_RATES],
            repositories=fake.repositories(),
        )

    assert fake.slots.reads == [] and fake.logs.reads == [] and fake.metrics.published == []


def test_now_must_be_timezone_aware(fake: FakeAws) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_freshness(
            environment=ENV,
            layer_buckets=BUCKETS,
            slots_parameter=SLOTS_PARAMETER,
            tables=[ORDERS],
            now=dt.datetime(2026, 1, 1),  # naive: refused
            repositories=fake.repositories(),
        )


def test_the_aws_repositories_create_no_client_until_called() -> None:
    """Wiring the boto3 repositories (what the handler does) calls no AWS API: the fixture would fail it."""
    repositories = aws_module.aws_repositories()

    with pytest.raises(AssertionError, match="AWS client was requested"):
        repositories.logs.latest_commit("lake-silver", "orders")
    with pytest.raises(AssertionError, match="AWS client was requested"):
        repositories.metrics.publish([], namespace=m.namespace(ENV))
    with pytest.raises(ops_slots.SlotsParameterError, match="AWS client was requested"):
        repositories.slots.active_slot(SLOTS_PARAMETER)


class _NoSuchKeyError(Exception):
    """Stands for the S3 client's modeled ``NoSuchKey`` (the log reader catches it)."""


@pytest.mark.parametrize(
    ("error", "code", "throttled"),
    [
        (
            ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}, "GetObject"),
            "SlowDown",
            True,
        ),
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject"),
            "AccessDenied",
            False,
        ),
        (EndpointConnectionError(endpoint_url="https://s3"), "", False),
    ],
)
def test_the_aws_repositories_raise_a_repository_error_from_the_botocore_error(
    monkeypatch: pytest.MonkeyPatch, error: Exception, code: str, throttled: bool
) -> None:
    """A stand-in client (not boto3's) whose every call fails with ``error``."""

    def fail(**kwargs: Any) -> Any:
        raise error

    stub = SimpleNamespace(get_object=fail, put_metric_data=fail, exceptions=SimpleNamespace(NoSuchKey=_NoSuchKeyError))
    monkeypatch.setattr(aws_module, "client", lambda service: stub)
    monkeypatch.setattr(ops_metrics, "client", lambda service: stub)
    repositories = aws_module.aws_repositories()
    datum = ops_metrics.Datum(
        name=m.FRESHNESS_MINUTES, value=1.0, dimensions={m.ENVIRONMENT: ENV, m.TABLE: "silver.orders"}
    )

    for call in (
        lambda: repositories.logs.latest_commit("lake-silver", "orders"),
        lambda: repositories.metrics.publish([datum], namespace=m.namespace(ENV)),
    ):
        with pytest.raises(RepositoryError) as raised:
            call()
        assert (raised.value.code, raised.value.throttled, str(raised.value)) == (code, throttled, str(error))
        assert raised.value.__cause__ is error
