"""Transformations and DQ on small frames (real local Spark)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from job_assets.contracts import contract
from job_assets.dq import DataQualityError, evaluate_rows
from job_assets.transforms import gold as G
from job_assets.transforms import silver as S

pytestmark = pytest.mark.spark
D = dt.date
TS = dt.datetime


@pytest.mark.parametrize(
    ("raw", "type_name", "expected"),
    [
        ("42", "bigint", 42),
        (" 42 ", "bigint", 42),
        ("12.5", "bigint", None),
        ("C100017", "bigint", None),
        ("12.50", "decimal(18,2)", Decimal("12.50")),
        ("1,5", "decimal(18,2)", None),
        ("9.99 EUR", "decimal(18,2)", None),
        ("2024-02-29", "date", D(2024, 2, 29)),
        ("2023-02-29", "date", None),
        ("2024", "date", None),
        ("2024-03-05T10:22:31.000Z", "timestamp", TS(2024, 3, 5, 10, 22, 31)),
        ("2024-03-05T12:22:31.000+02:00", "timestamp", TS(2024, 3, 5, 10, 22, 31)),
        ("2024-03-05T10:22:31.000+0000", "timestamp", TS(2024, 3, 5, 10, 22, 31)),
        ("2024-03-05 10:22:31.123", "timestamp", TS(2024, 3, 5, 10, 22, 31, 123000)),
        ("2024-13-45 10:00:00", "timestamp", None),
        ("yesterday", "timestamp", None),
        ("true", "boolean", True),
        ("maybe", "boolean", None),
    ],
)
def test_typed_value_is_strict(spark, raw, type_name, expected):
    from pyspark.sql import functions as F

    got = spark.createDataFrame([(raw,)], "v string").select(S.typed_value(F.col("v"), type_name).alias("x")).first().x
    assert got == expected


def test_latest_per_key_prefers_newest_then_latest_delivery(spark):
    df = spark.createDataFrame(
        [
            ("A", TS(2024, 1, 1), "dt=2024-01-01/f", 1, "old"),
            ("A", TS(2024, 2, 1), "dt=2024-01-01/f", 2, "new"),
            ("B", TS(2024, 1, 1), "dt=2024-01-01/f", 3, "first delivery"),
            ("B", TS(2024, 1, 1), "dt=2024-01-02/f", 1, "redelivery"),
        ],
        "id string, lm timestamp, _source_file string, _line_no long, v string",
    )
    got = {r.id: r.v for r in S.latest_per_key(df, ["id"], "lm").collect()}
    assert got == {"A": "new", "B": "redelivery"}


def test_fx_rate_valid_on_the_day(spark):
    fx = spark.createDataFrame(
        [("EUR", D(2023, 1, 1), Decimal("1.1")), ("EUR", D(2023, 6, 1), Decimal("1.2"))],
        "currency string, valid_from date, rate_to_usd decimal(18,8)",
    )
    orders = spark.createDataFrame(
        [(1, "EUR", D(2023, 5, 31)), (2, "EUR", D(2023, 6, 1)), (3, "USD", D(2023, 1, 1)), (4, "EUR", D(2022, 1, 1))],
        "id int, currency string, d date",
    )
    got = {r.id: r.rate for r in S.with_fx(orders, fx, "currency", "d", "rate").collect()}
    assert got == {1: Decimal("1.1"), 2: Decimal("1.2"), 3: Decimal("1"), 4: None}


def test_scd2_history_closes_versions_and_deletes(spark):
    c = contract("silver.accounts_history")
    cols = [x for x in c.column_names if x not in ("valid_from", "valid_to", "is_current")]
    existing = spark.createDataFrame([], ", ".join(f"`{x}` {c.column(x).type}" for x in c.column_names))

    def version(name, lm, deleted=False):
        row = dict.fromkeys(cols)
        row.update(account_id="A1", name=name, last_modified_at=lm, is_deleted=deleted, _batch_id="b")
        return tuple(row[x] for x in cols)

    versions = spark.createDataFrame(
        [version("v1", TS(2024, 1, 1)), version("v2", TS(2024, 2, 1)), version("gone", TS(2024, 3, 1), True)],
        ", ".join(f"`{x}` {c.column(x).type}" for x in cols),
    )
    out = sorted(S.scd2_history(existing, versions, c).collect(), key=lambda r: r.valid_from)
    assert [(r.name, r.valid_to, r.is_current) for r in out] == [
        ("v1", TS(2024, 2, 1), False),
        ("v2", TS(2024, 3, 1), False),
        ("gone", None, False),  # a deleted account has no current version
    ]


def test_first_failing_rule_sets_the_reason_and_fail_rules_raise(spark):
    c = contract("silver.orders")
    df = spark.createDataFrame(
        [("shipped", "-1.00", Decimal("-1.00")), ("completed", "5", Decimal("5"))],
        "status string, __raw_total_amount string, total_amount decimal(18,2)",
    )
    rules = [r for r in c.rules if r.name in ("status_known", "total_amount_non_negative")]
    flagged, stats = evaluate_rows(df, c, rules)
    assert [r._error for r in flagged.orderBy("status").collect()] == [None, "invalid_enum"]
    assert {s.rule.name: (s.checked, s.failed) for s in stats} == {
        "status_known": (2, 1),
        "total_amount_non_negative": (2, 1),
    }
    fx = contract("silver.fx_rates")
    bad = spark.createDataFrame([(Decimal("-1"),)], "rate_to_usd decimal(18,8)")
    with pytest.raises(DataQualityError, match="rate_positive"):
        evaluate_rows(bad, fx, [r for r in fx.rules if r.name == "rate_positive"])


def _silver_fixture(spark):
    customers = spark.createDataFrame(
        [(1, "ACC1", "SMB"), (2, None, "Enterprise")], "customer_id long, crm_account_id string, segment string"
    )
    opps = spark.createDataFrame(
        [
            ("O1", "ACC1", "Closed Won", D(2024, 1, 10), "Web", TS(2024, 1, 10), Decimal("100")),
            ("O2", "ACC1", "Closed Won", D(2024, 2, 10), None, TS(2024, 2, 10), Decimal("50")),
            ("O3", "ACC1", "Closed Lost", D(2024, 1, 5), "Event", TS(2024, 1, 5), Decimal("10")),
            ("O4", "ACC1", "Proposal", D(2024, 3, 1), "Web", TS(2024, 3, 1), Decimal("70")),
        ],
        "opportunity_id string, account_id string, stage_name string, close_date date, lead_source string,"
        " last_modified_at timestamp, amount_usd decimal(18,2)",
    )
    orders = spark.createDataFrame(
        [
            (10, 1, D(2024, 1, 5), "completed", Decimal("10.00")),  # before any win -> Unattributed
            (11, 1, D(2024, 1, 20), "completed", Decimal("20.00")),  # O1 -> Web
            (12, 1, D(2024, 2, 15), "completed", Decimal("30.00")),  # last touch O2 (no source) -> Unknown
            (13, 2, D(2024, 2, 15), "completed", Decimal("40.00")),  # no CRM account -> Unattributed
            (14, 2, D(2024, 2, 16), "cancelled", Decimal("99.00")),  # not revenue
        ],
        "order_id long, customer_id long, order_date date, status string, total_amount_usd decimal(18,2)",
    )
    return orders, customers, opps


def test_revenue_attribution_last_and_first_touch(spark):
    orders, customers, opps = _silver_fixture(spark)

    def result(model):
        df = G.revenue_attribution(orders, customers, opps, model)
        return {(str(r.order_month), r.lead_source): (float(r.revenue_usd), r.order_count) for r in df.collect()}

    assert result("last_touch") == {
        ("2024-01-01", "Unattributed"): (10.0, 1),
        ("2024-01-01", "Web"): (20.0, 1),
        ("2024-02-01", "Unknown"): (30.0, 1),
        ("2024-02-01", "Unattributed"): (40.0, 1),
    }
    assert result("first_touch")[("2024-02-01", "Web")] == (30.0, 1)
    with pytest.raises(ValueError, match="attribution model"):
        G.revenue_attribution(orders, customers, opps, "linear")


def test_pipeline_and_win_rates(spark):
    _, _, opps = _silver_fixture(spark)
    wr = {r.lead_source: (r.won_count, r.lost_count, r.win_rate) for r in G.win_rates(opps).collect()}
    assert wr == {"Web": (1, 0, 1.0), "Unknown": (1, 0, 1.0), "Event": (0, 1, 0.0)}
    sp = {
        (str(r.close_month), r.stage_name): (r.open_count, float(r.open_amount_usd))
        for r in G.sales_pipeline(opps).collect()
    }
    assert sp[("2024-03-01", "Proposal")] == (1, 70.0) and sp[("2024-01-01", "Closed Won")] == (0, 0.0)


def test_segments_and_cohorts(spark):
    orders, customers, _ = _silver_fixture(spark)
    seg = {r.customer_id: r for r in G.customer_segments(orders, customers).collect()}
    assert seg[1].frequency == 3 and float(seg[1].monetary_usd) == 60.0 and seg[1].recency_days == 1
    assert seg[2].recency_days == 1 and seg[2].segment == "Enterprise"
    assert all(1 <= r.r_score <= 5 for r in seg.values())
    coh = {(str(r.cohort_month), r.months_since_first): r for r in G.customer_ltv_cohorts(orders).collect()}
    assert coh[("2024-01-01", 1)].cumulative_revenue_usd == Decimal("60.00")
    assert coh[("2024-02-01", 0)].cohort_size == 1
