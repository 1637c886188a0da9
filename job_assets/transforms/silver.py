"""Silver transforms: pure DataFrame -> DataFrame functions (typing, derivations, dedup, SCD2)."""

from __future__ import annotations

from typing import List, Optional, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ..contracts.model import TableContract
from ..dq.rules import raw_col

META = ("_source_file", "_line_no", "_batch_id", "_record_hash", "_extra", "_ingest_ts")
INT_RE = r"^\s*[-+]?\d+\s*$"
DEC_RE = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
DATE_RE = r"^\s*\d{4}-\d{2}-\d{2}\s*$"
TS_RE = r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"


def typed_value(raw: Column, type_name: str) -> Column:
    """Strict cast of a raw landing string: anything that is not cleanly the type becomes null."""
    v = F.trim(raw)
    if type_name == "string":
        return F.when(v != "", raw)
    if type_name in ("bigint", "int"):
        return F.when(v.rlike(INT_RE), v.cast(type_name))
    if type_name.startswith("decimal") or type_name == "double":
        return F.when(v.rlike(DEC_RE), v.cast(type_name))
    if type_name == "date":
        return F.when(v.rlike(DATE_RE), F.to_date(v, "yyyy-MM-dd"))
    if type_name == "timestamp":
        # ISO-8601 with 'Z' or an offset (+02:00 or +0200), or a naive UTC time as Snowflake writes it
        iso = F.regexp_replace(v, r"([+-]\d{2})(\d{2})$", "$1:$2")
        return F.when(v.rlike(TS_RE), iso.cast("timestamp"))
    if type_name == "boolean":
        low = F.lower(v)
        return F.when(low.isin("true", "1"), F.lit(True)).when(low.isin("false", "0"), F.lit(False))
    raise ValueError(f"unsupported type {type_name}")


def standardize(bronze: DataFrame, contract: TableContract) -> DataFrame:
    """Bronze raw strings -> typed silver columns, keeping each raw value as ``__raw_<col>`` for DQ."""
    sourced = [c for c in contract.columns if c.source]
    cols: List[Column] = []
    for c in sourced:
        cols.append(typed_value(F.col(f"`{c.source}`"), c.type).alias(c.name))
        cols.append(F.col(f"`{c.source}`").alias(raw_col(c.name)))
    extra = [F.col(m) for m in META if m in bronze.columns]
    passthrough = [F.col(c) for c in ("_quarantine_id",) if c in bronze.columns]
    return bronze.select(*cols, *extra, *passthrough)


def fx_intervals(fx: DataFrame) -> DataFrame:
    """silver.fx_rates -> (currency, valid_from, valid_to, rate_to_usd) with valid_to = next valid_from."""
    w = Window.partitionBy("currency").orderBy("valid_from")
    return fx.select("currency", "valid_from", "rate_to_usd").withColumn("valid_to", F.lead("valid_from").over(w))


def with_fx(df: DataFrame, fx: DataFrame, currency_col: str, date_col: str, out_col: str) -> DataFrame:
    """Add the rate valid on ``date_col`` for ``currency_col`` (1 for USD when no USD rate is listed)."""
    iv = F.broadcast(
        fx_intervals(fx).select(
            F.col("currency").alias("__fx_cur"),
            F.col("valid_from").alias("__fx_from"),
            F.col("valid_to").alias("__fx_to"),
            F.col("rate_to_usd").alias("__fx_rate"),
        )
    )
    cond = (
        (F.col(currency_col) == F.col("__fx_cur"))
        & (F.col(date_col) >= F.col("__fx_from"))
        & (F.col("__fx_to").isNull() | (F.col(date_col) < F.col("__fx_to")))
    )
    joined = df.join(iv, cond, "left")
    rate = F.coalesce(F.col("__fx_rate"), F.when(F.col(currency_col) == "USD", F.lit(1).cast("decimal(18,8)")))
    return joined.withColumn(out_col, rate.cast("decimal(18,8)")).drop("__fx_cur", "__fx_from", "__fx_to", "__fx_rate")


def derive(contract: TableContract, df: DataFrame, fx: Optional[DataFrame]) -> DataFrame:
    """Columns silver computes (not sourced from landing)."""
    name = contract.name
    if name == "silver.orders":
        df = df.withColumn("order_date", F.to_date("order_ts"))
        df = with_fx(df, fx, "currency", "order_date", "fx_rate_to_usd")
        return df.withColumn(
            "total_amount_usd",
            F.round(F.col("total_amount") * F.col("fx_rate_to_usd"), 2).cast("decimal(18,2)"),
        )
    if name == "silver.opportunities":
        df = with_fx(df, fx, "currency", "close_date", "__rate")
        return df.withColumn("amount_usd", F.round(F.col("amount") * F.col("__rate"), 2).cast("decimal(18,2)")).drop(
            "__rate"
        )
    if name == "silver.order_items":
        return df.withColumn("line_amount", (F.col("quantity") * F.col("unit_price")).cast("decimal(18,2)"))
    return df


def order_newest_first(version_col: Optional[str]) -> List[Column]:
    """Newest version first; equal versions: the later delivery (file path sorts by dt=, then line)."""
    cols = [F.col(version_col).desc_nulls_last()] if version_col else []
    return [*cols, F.col("_source_file").desc(), F.col("_line_no").desc()]


def latest_per_key(df: DataFrame, keys: Sequence[str], version_col: Optional[str]) -> DataFrame:
    w = Window.partitionBy(*keys).orderBy(*order_newest_first(version_col))
    return df.withColumn("__rn", F.row_number().over(w)).filter("__rn = 1").drop("__rn")


def to_table_columns(df: DataFrame, contract: TableContract) -> DataFrame:
    from ..contracts.spark_schema import spark_type

    return df.select(*[F.col(f"`{c.name}`").cast(spark_type(c.type)).alias(c.name) for c in contract.columns])


def merge_conditions(contract: TableContract) -> dict:
    """Delta MERGE conditions for a current-state table: newest wins; IsDeleted removes."""
    vc = contract.version_column
    has_delete = "is_deleted" in contract.column_names
    if contract.name == "silver.fx_rates":
        return {"update_condition": "NOT (s.rate_to_usd <=> t.rate_to_usd)"}
    cond = {"update_condition": f"s.`{vc}` > t.`{vc}`"}
    if has_delete:
        cond["delete_condition"] = f"coalesce(s.is_deleted, false) AND s.`{vc}` > t.`{vc}`"
        cond["insert_condition"] = "NOT coalesce(s.is_deleted, false)"
    return cond


def scd2_history(existing: DataFrame, versions: DataFrame, contract: TableContract) -> DataFrame:
    """Recompute SCD2 validity for the keys in ``versions``.

    ``existing``: current history rows of those keys; ``versions``: incoming account versions (one row
    per account_id and last_modified_at). Returns every history row of those keys with valid_from,
    valid_to (the next version's valid_from) and is_current (latest and not deleted).
    """
    cols = [c for c in contract.column_names if c not in ("valid_from", "valid_to", "is_current")]
    incoming = versions.withColumn("valid_from", F.col("last_modified_at"))
    old = existing.select(*cols, "valid_from")
    new = incoming.select(*cols, "valid_from").join(
        old.select("account_id", "valid_from"), ["account_id", "valid_from"], "left_anti"
    )
    allv = old.unionByName(new)
    w = Window.partitionBy("account_id").orderBy("valid_from")
    out = allv.withColumn("valid_to", F.lead("valid_from").over(w))
    out = out.withColumn("is_current", F.col("valid_to").isNull() & ~F.coalesce(F.col("is_deleted"), F.lit(False)))
    return out.select(*contract.column_names)
