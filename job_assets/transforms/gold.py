"""Gold transforms: silver -> business tables. Definitions: docs/GLOSSARY.md (keep them in step)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from ..contracts.landing import OPEN_STAGES
from ..flags import FLAGS

ATTRIBUTION_MODELS = FLAGS["attribution_model"].values
UNATTRIBUTED = "Unattributed"
UNKNOWN_SOURCE = "Unknown"


def completed_orders(orders: DataFrame) -> DataFrame:
    return orders.filter(F.col("status") == "completed")


def _money(col) -> F.Column:
    return F.coalesce(col, F.lit(0)).cast("decimal(18,2)")


def revenue_attribution(
    orders: DataFrame, customers: DataFrame, opportunities: DataFrame, model: str = "last_touch"
) -> DataFrame:
    """Revenue of completed orders by month and attributed lead source.

    last_touch: the most recent Closed Won opportunity of the customer's CRM account with
    close_date <= order_date; first_touch: the earliest such opportunity. Ties break on the later
    last_modified_at, then the larger opportunity_id. No such opportunity -> 'Unattributed'; an
    opportunity without a lead source -> 'Unknown'.
    """
    if model not in ATTRIBUTION_MODELS:
        raise ValueError(f"attribution model {model!r} is not one of {', '.join(ATTRIBUTION_MODELS)}")
    o = completed_orders(orders).select("order_id", "customer_id", "order_date", "total_amount_usd")
    o = o.join(customers.select("customer_id", "crm_account_id"), "customer_id", "left")
    won = opportunities.filter(F.col("stage_name") == "Closed Won").select(
        F.col("account_id").alias("__acct"),
        F.col("close_date").alias("__close"),
        F.col("last_modified_at").alias("__lm"),
        F.col("opportunity_id").alias("__opp"),
        F.col("lead_source").alias("__ls"),
    )
    j = o.join(won, (F.col("crm_account_id") == F.col("__acct")) & (F.col("__close") <= F.col("order_date")), "left")
    close_order = F.col("__close").desc() if model == "last_touch" else F.col("__close").asc()
    w = Window.partitionBy("order_id").orderBy(close_order, F.col("__lm").desc(), F.col("__opp").desc())
    picked = j.withColumn("__rn", F.row_number().over(w)).filter("__rn = 1")
    lead = F.when(F.col("__opp").isNull(), F.lit(UNATTRIBUTED)).otherwise(
        F.coalesce(F.col("__ls"), F.lit(UNKNOWN_SOURCE))
    )
    return (
        picked.withColumn("lead_source", lead)
        .withColumn("order_month", F.trunc("order_date", "month"))
        .groupBy("order_month", "lead_source")
        .agg(
            _money(F.sum("total_amount_usd")).alias("revenue_usd"),
            F.count(F.lit(1)).alias("order_count"),
            F.countDistinct("customer_id").alias("distinct_customers"),
        )
    )


def rfm_segment() -> F.Column:
    """The documented RFM segment label (first matching row of the table in docs/GLOSSARY.md)."""
    return (
        F.when((F.col("r_score") >= 4) & (F.col("f_score") >= 4) & (F.col("m_score") >= 4), "Champions")
        .when((F.col("r_score") >= 3) & (F.col("f_score") >= 4), "Loyal")
        .when((F.col("r_score") >= 4) & (F.col("f_score") <= 2), "New")
        .when((F.col("r_score") <= 2) & (F.col("f_score") >= 3), "At Risk")
        .when((F.col("r_score") <= 2) & (F.col("f_score") <= 2), "Hibernating")
        .otherwise("Potential")
    )


def customer_segments(orders: DataFrame, customers: DataFrame) -> DataFrame:
    """RFM per customer with a completed order; scores are quintiles (ntile(5)), ties broken by id."""
    as_of = orders.agg(F.max("order_date").alias("as_of"))
    per = (
        completed_orders(orders)
        .groupBy("customer_id")
        .agg(
            F.max("order_date").alias("last_order"),
            F.count(F.lit(1)).alias("frequency"),
            _money(F.sum("total_amount_usd")).alias("monetary_usd"),
        )
    )
    per = per.crossJoin(F.broadcast(as_of)).withColumn("recency_days", F.datediff("as_of", "last_order").cast("int"))
    per = (
        per.withColumn("r_score", F.ntile(5).over(Window.orderBy(F.col("recency_days").desc(), "customer_id")))
        .withColumn("f_score", F.ntile(5).over(Window.orderBy(F.col("frequency").asc(), "customer_id")))
        .withColumn("m_score", F.ntile(5).over(Window.orderBy(F.col("monetary_usd").asc(), "customer_id")))
    )
    per = per.join(customers.select("customer_id", "segment"), "customer_id", "left")
    return per.select(
        "customer_id",
        F.coalesce("segment", F.lit(UNKNOWN_SOURCE)).alias("segment"),
        "recency_days",
        "frequency",
        "monetary_usd",
        F.col("r_score").cast("int").alias("r_score"),
        F.col("f_score").cast("int").alias("f_score"),
        F.col("m_score").cast("int").alias("m_score"),
        rfm_segment().alias("rfm_segment"),
    )


def customer_ltv_cohorts(orders: DataFrame) -> DataFrame:
    """Cohort (first completed order month) x months since: active customers, revenue, cumulative LTV."""
    c = completed_orders(orders).select("customer_id", F.trunc("order_date", "month").alias("m"), "total_amount_usd")
    first = c.groupBy("customer_id").agg(F.min("m").alias("cohort_month"))
    sizes = first.groupBy("cohort_month").agg(F.count(F.lit(1)).alias("cohort_size"))
    j = c.join(first, "customer_id").withColumn("months_since_first", F.months_between("m", "cohort_month").cast("int"))
    agg = j.groupBy("cohort_month", "months_since_first").agg(
        F.countDistinct("customer_id").alias("active_customers"),
        _money(F.sum("total_amount_usd")).alias("revenue_usd"),
    )
    w = Window.partitionBy("cohort_month").orderBy("months_since_first").rowsBetween(Window.unboundedPreceding, 0)
    agg = agg.join(sizes, "cohort_month").withColumn("cumulative_revenue_usd", _money(F.sum("revenue_usd").over(w)))
    return agg.select(
        "cohort_month",
        "months_since_first",
        "cohort_size",
        "active_customers",
        "revenue_usd",
        "cumulative_revenue_usd",
        F.round(F.col("cumulative_revenue_usd") / F.col("cohort_size"), 2)
        .cast("decimal(18,2)")
        .alias("cumulative_revenue_per_customer"),
    )


def sales_pipeline(opportunities: DataFrame) -> DataFrame:
    is_open = F.col("stage_name").isin(list(OPEN_STAGES))
    return (
        opportunities.withColumn("close_month", F.trunc("close_date", "month"))
        .withColumn("__open", is_open)
        .groupBy("close_month", "stage_name")
        .agg(
            F.first("__open").alias("is_open"),
            F.count(F.lit(1)).alias("opportunity_count"),
            F.sum(F.when(F.col("__open"), 1).otherwise(0)).cast("bigint").alias("open_count"),
            _money(F.sum(F.when(F.col("__open"), F.col("amount_usd")))).alias("open_amount_usd"),
            _money(F.sum("amount_usd")).alias("amount_usd"),
        )
    )


def win_rates(opportunities: DataFrame) -> DataFrame:
    won = F.sum(F.when(F.col("stage_name") == "Closed Won", 1).otherwise(0)).cast("bigint")
    lost = F.sum(F.when(F.col("stage_name") == "Closed Lost", 1).otherwise(0)).cast("bigint")
    agg = (
        opportunities.withColumn("lead_source", F.coalesce("lead_source", F.lit(UNKNOWN_SOURCE)))
        .groupBy("lead_source")
        .agg(won.alias("won_count"), lost.alias("lost_count"))
    )
    closed = F.col("won_count") + F.col("lost_count")
    return agg.withColumn("win_rate", F.when(closed > 0, F.col("won_count") / closed).cast("double"))
