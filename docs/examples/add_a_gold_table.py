"""Add a gold table: a contract, a pure transformation from silver, and the gold job's checks.

A gold table is a pure function of silver. Adding one takes three pieces, each where the existing five
live:

1. its ``TableContract`` in ``job_assets/contracts/gold.py`` (appended to ``GOLD_TABLES``), with ``fail``
   rules only: gold never quarantines, a failing rule stops the job and leaves the published table as it was;
2. a transformation ``silver frames -> DataFrame`` in ``job_assets/transforms/gold.py``;
3. one line in ``job_assets.jobs.gold.build``, which conforms every frame to its contract
   (``to_table_columns``) before the job checks it (``table_checks``) and overwrites the table.

This example writes ``gold.revenue_by_segment`` (revenue of completed orders by month and commercial
segment) the same way, runs it on a few silver rows, and checks it as the gold job does. The glossary
(``job_assets/contracts/glossary.py``) is where its definition would go.

Run: ``.venv/bin/python docs/examples/add_a_gold_table.py`` (starts a local Spark session).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from job_assets.contracts import Column, Rule, TableContract, contract
from job_assets.dq import DataQualityError, table_checks
from job_assets.spark import local_session, materialize
from job_assets.transforms import gold as G
from job_assets.transforms.silver import to_table_columns

REVENUE_BY_SEGMENT = TableContract(
    name="gold.revenue_by_segment",
    description="USD revenue of completed orders by order month and the customer's commercial segment.",
    owner="analytics@revenue",
    grain="one row per order month and segment",
    keys=("order_month", "segment"),
    columns=(
        Column("order_month", "date", False, "First day of the order's month (UTC)"),
        Column("segment", "string", False, "The customer's Snowflake SEGMENT; 'Unknown' when none"),
        Column("revenue_usd", "decimal(18,2)", False, "Sum of total_amount_usd"),
        Column("order_count", "bigint", False, "Completed orders"),
    ),
    rules=(
        Rule("revenue_non_negative", "range", "revenue_usd", "fail", "out_of_range", min_value=0),
        Rule("grain_unique", "unique", None, "fail", "duplicate_key"),
    ),
    freshness_slo_minutes=26 * 60,
    upstream=("silver.orders", "silver.customers"),
    lineage=(
        ("order_month", ("silver.orders.order_date", "silver.orders.status")),
        ("segment", ("silver.customers.segment",)),
        ("revenue_usd", ("silver.orders.total_amount_usd", "silver.orders.status")),
        ("order_count", ("silver.orders.order_id", "silver.orders.status")),
    ),
)


def revenue_by_segment(orders: DataFrame, customers: DataFrame) -> DataFrame:
    """Revenue of completed orders by month and segment (a pure silver -> gold function, like job_assets'
    ``transforms/gold.py``)."""
    completed = G.completed_orders(orders).join(customers.select("customer_id", "segment"), "customer_id", "left")
    return completed.groupBy(
        F.trunc("order_date", "month").alias("order_month"),
        F.coalesce("segment", F.lit("Unknown")).alias("segment"),
    ).agg(F.sum("total_amount_usd").alias("revenue_usd"), F.count(F.lit(1)).alias("order_count"))


def silver(spark: SparkSession, table: str, rows: list[tuple], columns: tuple[str, ...]) -> DataFrame:
    """A few rows of a silver table, typed as its contract types them (only the columns given)."""
    types = {c.name: c.type for c in contract(table).columns}
    return spark.createDataFrame(rows, ", ".join(f"{c} {types[c]}" for c in columns))


spark = SparkSession.getActiveSession() or local_session("examples", cores=1, shuffle_partitions=1)
orders = silver(
    spark,
    "silver.orders",
    [
        (1, 10, dt.date(2026, 11, 3), "completed", Decimal("120.00")),
        (2, 11, dt.date(2026, 11, 9), "completed", Decimal("80.50")),
        (3, 10, dt.date(2026, 11, 20), "cancelled", Decimal("999.00")),  # not revenue
        (4, 12, dt.date(2026, 12, 1), "completed", Decimal("42.00")),  # no such customer: 'Unknown'
    ],
    ("order_id", "customer_id", "order_date", "status", "total_amount_usd"),
)
customers = silver(spark, "silver.customers", [(10, "Enterprise"), (11, "SMB")], ("customer_id", "segment"))

# What the job does for every gold table: build() transforms and conforms it to its contract, the job
# computes it once (materialize) and runs the fail rules before it overwrites the table.
gold = materialize(to_table_columns(revenue_by_segment(orders, customers), REVENUE_BY_SEGMENT))
stats = table_checks(gold, REVENUE_BY_SEGMENT, dt.datetime.now(dt.UTC))
print(", ".join(f"{s.rule.name}: {s.failed} failed of {s.checked}" for s in stats))
rows = {(r["order_month"].isoformat(), r["segment"]): (r["revenue_usd"], r["order_count"]) for r in gold.collect()}
for key, value in sorted(rows.items()):
    print(key, value)
assert rows == {
    ("2026-11-01", "Enterprise"): (Decimal("120.00"), 1),
    ("2026-11-01", "SMB"): (Decimal("80.50"), 1),
    ("2026-12-01", "Unknown"): (Decimal("42.00"), 1),
}
assert gold.columns == list(REVENUE_BY_SEGMENT.column_names)

# A refund booked as a negative completed order breaks revenue_non_negative: the job would stop here.
refund = silver(
    spark,
    "silver.orders",
    [(5, 11, dt.date(2026, 11, 10), "completed", Decimal("-500.00"))],
    ("order_id", "customer_id", "order_date", "status", "total_amount_usd"),
)
try:
    bad = materialize(to_table_columns(revenue_by_segment(orders.unionByName(refund), customers), REVENUE_BY_SEGMENT))
    table_checks(bad, REVENUE_BY_SEGMENT, dt.datetime.now(dt.UTC))
except DataQualityError as error:
    print(f"stopped: {error}")
else:
    raise AssertionError("negative revenue should stop the gold job")
print("OK: gold.revenue_by_segment built from silver and checked like every gold table")
