"""Add a table contract and its data-quality rules.

A table is declared once, as a ``TableContract`` in ``job_assets/contracts/<layer>.py``: its columns,
keys, data-quality rules and lineage. The jobs, the DQ engine, the data catalog, the Glue tables and the
lineage graph all read it from the registry (``job_assets.contracts.REGISTRY``). Each rule has a severity:
``warn`` counts the record and keeps it, ``quarantine`` refuses it (kept in ``<layer>.quarantine`` with its
reason, one of ``ERROR_CODES``), ``fail`` stops the job and leaves the table unchanged.

This example declares ``silver.refunds``, runs its rules on a few records with the engine the silver job
runs (``job_assets.dq``: row rules, then the table checks on the rows kept), and registers it into a copy
of the registry. To add it for real: append it to ``SILVER_TABLES`` in ``job_assets/contracts/silver.py``
and run ``lakehouse catalog`` (the data catalog is generated from the contracts).

Run: ``.venv/bin/python docs/examples/add_a_table_contract.py`` (starts a local Spark session).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from job_assets.contracts import REGISTRY, Column, Rule, TableContract, contract
from job_assets.dq import DataQualityError, evaluate_rows, table_checks
from job_assets.spark import local_session

REFUNDS = TableContract(
    name="silver.refunds",
    description="Refunds of orders, current state: one row per refund.",
    owner="data-platform@revenue",
    grain="one row per refund",
    keys=("refund_id",),
    columns=(
        Column("refund_id", "bigint", False, "Refund id"),
        Column("order_id", "bigint", False, "The refunded order"),
        Column("amount_usd", "decimal(18,2)", False, "Refunded amount in USD"),
        Column("reason", "string", True, "Why the customer asked for it"),
    ),
    rules=(
        Rule("refund_id_not_null", "not_null", "refund_id"),  # quarantine, missing_required: the defaults
        Rule("amount_positive", "range", "amount_usd", "quarantine", "out_of_range", min_value=0, min_inclusive=False),
        Rule("reason_known", "accepted_values", "reason", "warn", "invalid_enum", values=("damaged", "late", "other")),
        Rule("refund_id_unique", "unique", None, "fail", "duplicate_key"),
    ),
    upstream=("silver.orders",),
    lineage=(("order_id", ("silver.orders.order_id",)),),
)

# A rule's severity and error code are checked when it is declared.
try:
    Rule("amount_small", "range", "amount_usd", "page-someone", "out_of_range", max_value=1000)
except ValueError as error:
    print(f"refused at declaration: {error}")

# Register into a copy: the real registry does not know the table.
registry = {**REGISTRY, REFUNDS.name: REFUNDS}
assert REFUNDS.name not in REGISTRY and registry[REFUNDS.name].keys == ("refund_id",)
try:
    contract(REFUNDS.name)
except KeyError:
    print(f"{REFUNDS.name}: in the copy of the registry only ({len(registry)} tables)")

spark = SparkSession.getActiveSession() or local_session("examples", cores=1, shuffle_partitions=1)
records = [
    (1, 100, Decimal("25.00"), "damaged"),
    (2, 101, Decimal("-5.00"), "late"),  # quarantined: amount_positive
    (None, 102, Decimal("3.10"), "other"),  # quarantined: refund_id_not_null
    (4, 103, Decimal("9.99"), "changed mind"),  # kept, counted by the warn rule
]
frame = spark.createDataFrame(records, REFUNDS.ddl())

# Row rules in one pass: every record flagged, each rule counted; _error is the first failing quarantine rule.
flagged, stats = evaluate_rows(frame, REFUNDS)
for s in stats:
    print(f"{s.rule.name:<20} {s.rule.severity:<10} failed {s.failed} of {s.checked}")
assert {s.rule.name: s.failed for s in stats} == {"refund_id_not_null": 1, "amount_positive": 1, "reason_known": 1}
refused = {r["order_id"]: r["_error"] for r in flagged.filter(F.col("_error").isNotNull()).collect()}
print(f"quarantined (order_id -> _error): {refused}")
assert refused == {101: "out_of_range", 102: "missing_required"}

# Table checks on the rows kept: the unique key holds; a duplicate is a `fail` rule: the job stops.
kept = flagged.filter(F.col("_error").isNull()).select(*REFUNDS.column_names)
now = dt.datetime.now(dt.UTC)
(unique,) = table_checks(kept, REFUNDS, now)
print(f"{unique.rule.name}: {unique.failed} duplicates in {unique.checked} rows")
try:
    table_checks(kept.unionByName(kept.limit(1)), REFUNDS, now)
except DataQualityError as error:
    print(f"stopped: {error}")
else:
    raise AssertionError("a duplicate refund_id should stop the job")
print("OK: silver.refunds validates its records with its own rules")
