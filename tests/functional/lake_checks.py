"""Helpers for end-to-end checks: read tables with delta-rs, recompute gold in DuckDB, checksum tables."""

from __future__ import annotations

import collections
import decimal
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from job_assets.context import LakeLocations
from job_assets.contracts import GOLD_TABLES

VOLATILE = {"_ingest_ts", "_batch_id", "_quarantined_ts", "_released_batch_id", "_line_no_volatile"}


def table_path(root: Path, name: str) -> str:
    """Where ``layer.table`` lives in a local lake (gold: in the published slot)."""
    return LakeLocations.for_root(str(root)).table_uri(name)


def has_deletion_vectors(dt: DeltaTable) -> bool:
    """The table's protocol lists deletion vectors (reader 3): delta-rs's pyarrow path refuses it."""
    return "deletionVectors" in (dt.protocol().reader_features or [])


def table(root: Path, name: str) -> pa.Table:
    """``layer.table`` as Arrow. A table with deletion vectors (``lakehouse run --conf
    ...enableDeletionVectors=true``, an experiment) is read by delta-rs's DataFusion engine, which applies them;
    its pyarrow path refuses such a table."""
    from job_assets.delta_read import arrow_table

    dt = DeltaTable(table_path(root, name))
    if has_deletion_vectors(dt):
        return arrow_table(dt)
    return dt.to_pyarrow_table()


def version(root: Path, name: str) -> int:
    return DeltaTable(table_path(root, name)).version()


def all_versions(root: Path) -> dict[str, int]:
    out = {}
    locations = LakeLocations.for_root(str(root))
    for layer in ("bronze", "silver", "gold"):
        d = Path(locations.layer(layer))
        if d.is_dir():
            for t in sorted(p.name for p in d.iterdir() if (p / "_delta_log").is_dir()):
                out[f"{layer}.{t}"] = version(root, f"{layer}.{t}")
    return out


def _norm(v):
    if isinstance(v, decimal.Decimal):
        return round(float(v), 2)
    if isinstance(v, float):
        return round(v, 6)
    return v


def rows(t: pa.Table, cols: list[str]) -> list[tuple]:
    return sorted((tuple(_norm(r[c]) for c in cols) for r in t.select(cols).to_pylist()), key=repr)


def duckdb_gold(root: Path) -> dict[str, pa.Table]:
    """The gold definitions of docs/GLOSSARY.md, written independently in SQL over the silver tables."""
    con = duckdb.connect()
    for name in ("orders", "customers", "opportunities"):
        con.register(name, table(root, f"silver.{name}"))
    return gold_sql(con)


def gold_sql(con) -> dict[str, pa.Table]:
    """Run the gold definitions over relations named orders, customers and opportunities."""
    q = {}
    q["gold.revenue_attribution"] = """
        WITH o AS (
            SELECT o.order_id, o.customer_id, o.order_date, o.total_amount_usd, c.crm_account_id
            FROM orders o LEFT JOIN customers c USING (customer_id) WHERE o.status = 'completed'),
        cand AS (
            SELECT o.order_id, p.opportunity_id, p.lead_source,
                   row_number() OVER (PARTITION BY o.order_id
                                      ORDER BY p.close_date DESC, p.last_modified_at DESC, p.opportunity_id DESC) AS rn
            FROM o JOIN opportunities p
              ON p.account_id = o.crm_account_id AND p.stage_name = 'Closed Won' AND p.close_date <= o.order_date),
        pick AS (
            SELECT o.*, CASE WHEN c.opportunity_id IS NULL THEN 'Unattributed'
                             ELSE coalesce(c.lead_source, 'Unknown') END AS lead_source
            FROM o LEFT JOIN cand c ON c.order_id = o.order_id AND c.rn = 1)
        SELECT CAST(date_trunc('month', order_date) AS DATE) AS order_month, lead_source,
               sum(total_amount_usd) AS revenue_usd, count(*) AS order_count,
               count(DISTINCT customer_id) AS distinct_customers
        FROM pick GROUP BY 1, 2"""
    q["gold.customer_segments"] = """
        WITH as_of AS (SELECT max(order_date) AS d FROM orders),
        per AS (
            SELECT customer_id, max(order_date) AS last_order, count(*) AS frequency,
                   sum(total_amount_usd) AS monetary_usd
            FROM orders WHERE status = 'completed' GROUP BY customer_id),
        scored AS (
            SELECT per.*, CAST(date_diff('day', last_order, (SELECT d FROM as_of)) AS INTEGER) AS recency_days,
                   ntile(5) OVER (ORDER BY date_diff('day', last_order, (SELECT d FROM as_of)) DESC, customer_id) AS r,
                   ntile(5) OVER (ORDER BY frequency, customer_id) AS f,
                   ntile(5) OVER (ORDER BY monetary_usd, customer_id) AS m
            FROM per)
        SELECT s.customer_id, coalesce(c.segment, 'Unknown') AS segment, recency_days, frequency, monetary_usd,
               r AS r_score, f AS f_score, m AS m_score,
               CASE WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'Champions'
                    WHEN r >= 3 AND f >= 4 THEN 'Loyal'
                    WHEN r >= 4 AND f <= 2 THEN 'New'
                    WHEN r <= 2 AND f >= 3 THEN 'At Risk'
                    WHEN r <= 2 AND f <= 2 THEN 'Hibernating'
                    ELSE 'Potential' END AS rfm_segment
        FROM scored s LEFT JOIN customers c USING (customer_id)"""
    q["gold.customer_ltv_cohorts"] = """
        WITH c AS (SELECT customer_id, CAST(date_trunc('month', order_date) AS DATE) AS m, total_amount_usd
                   FROM orders WHERE status = 'completed'),
        first AS (SELECT customer_id, min(m) AS cohort_month FROM c GROUP BY 1),
        sizes AS (SELECT cohort_month, count(*) AS cohort_size FROM first GROUP BY 1),
        agg AS (
            SELECT f.cohort_month,
                   (year(c.m) * 12 + month(c.m)) - (year(f.cohort_month) * 12 + month(f.cohort_month))
                       AS months_since_first,
                   count(DISTINCT c.customer_id) AS active_customers, sum(c.total_amount_usd) AS revenue_usd
            FROM c JOIN first f USING (customer_id) GROUP BY 1, 2)
        SELECT a.cohort_month, a.months_since_first, s.cohort_size, a.active_customers, a.revenue_usd,
               sum(a.revenue_usd) OVER w AS cumulative_revenue_usd,
               -- exact half-up rounding to cents, in integer arithmetic (no floating point)
               ((CAST(sum(a.revenue_usd) OVER w * 100 AS BIGINT) * 2 + s.cohort_size) // (2 * s.cohort_size)) / 100
                   AS cumulative_revenue_per_customer
        FROM agg a JOIN sizes s USING (cohort_month)
        WINDOW w AS (PARTITION BY a.cohort_month ORDER BY a.months_since_first)"""
    q["gold.sales_pipeline"] = """
        SELECT CAST(date_trunc('month', close_date) AS DATE) AS close_month, stage_name,
               stage_name NOT IN ('Closed Won', 'Closed Lost') AS is_open,
               count(*) AS opportunity_count,
               sum(CASE WHEN stage_name NOT IN ('Closed Won', 'Closed Lost') THEN 1 ELSE 0 END) AS open_count,
               coalesce(sum(CASE WHEN stage_name NOT IN ('Closed Won', 'Closed Lost') THEN amount_usd END), 0)
                   AS open_amount_usd,
               coalesce(sum(amount_usd), 0) AS amount_usd
        FROM opportunities GROUP BY 1, 2"""
    q["gold.win_rates"] = """
        SELECT coalesce(lead_source, 'Unknown') AS lead_source,
               sum(CASE WHEN stage_name = 'Closed Won' THEN 1 ELSE 0 END) AS won_count,
               sum(CASE WHEN stage_name = 'Closed Lost' THEN 1 ELSE 0 END) AS lost_count,
               CASE WHEN sum(CASE WHEN stage_name IN ('Closed Won', 'Closed Lost') THEN 1 ELSE 0 END) > 0
                    THEN sum(CASE WHEN stage_name = 'Closed Won' THEN 1 ELSE 0 END) * 1.0
                         / sum(CASE WHEN stage_name IN ('Closed Won', 'Closed Lost') THEN 1 ELSE 0 END) END AS win_rate
        FROM opportunities GROUP BY 1"""
    return {name: con.sql(sql).to_arrow_table() for name, sql in q.items()}


def checksum(spark, engine, uri: str) -> tuple[int, int]:
    """(row count, order-independent checksum over the non-volatile columns)."""
    from pyspark.sql import functions as F

    df = engine.read(uri)
    cols = [c for c in df.columns if c not in VOLATILE]
    row = df.agg(F.count(F.lit(1)).alias("n"), F.sum(F.xxhash64(*cols).cast("decimal(38,0)")).alias("h")).collect()[0]
    return int(row["n"]), int(row["h"] or 0)


def errors_in_lake(root: Path) -> collections.Counter:
    counts = collections.Counter()
    for layer in ("bronze", "silver"):
        for r in table(root, f"{layer}.quarantine").to_pylist():
            counts[r["_error"]] += 1
    return counts


def reconcile(root: Path, manifest: dict) -> None:
    """Every planted error is in a quarantine (or flagged), and silver holds exactly the rows the generator expects."""
    expected = dict(manifest["expected_errors"])
    found = errors_in_lake(root)
    # unexpected_column records are kept (warn): counted in bronze DQ results, not quarantined
    dq = table(root, "bronze.dq_results").to_pylist()
    found["unexpected_column"] = sum(r["failed"] for r in dq if r["rule"] == "no_unexpected_columns")
    found["empty_file"] = sum(1 for r in table(root, "bronze.ingestion_log").to_pylist() if r["status"] == "empty")
    assert dict(found) == {k: v for k, v in expected.items() if v}
    for name, n in manifest["expected_silver_rows"].items():
        assert table(root, name).num_rows == n, name
    assert table(root, "silver.accounts_history").num_rows == manifest["expected_accounts_history_rows"]


def gold_matches_duckdb(root: Path) -> None:
    """Gold equals the independent DuckDB computation over the same silver tables."""
    expected = duckdb_gold(root)
    for c in GOLD_TABLES:
        cols = list(c.column_names)
        got, want = rows(table(root, c.name), cols), rows(expected[c.name], cols)
        assert len(got) == len(want) and got == want, c.name


def held_rdds(spark) -> set:
    """Ids of the RDDs whose blocks ``spark``'s block manager holds for frames (cached or checkpointed); not
    Delta's own cache of each table's state ("Delta Table State ..."), which Delta keeps and evicts itself."""
    infos = spark.sparkContext._jsc.sc().getRDDStorageInfo()
    return {int(i.id()) for i in infos if not str(i.name() or "").startswith("Delta Table State")}
