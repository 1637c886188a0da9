"""Gold by month: which months of the monthly gold tables a set of silver changes can move, and those months
recomputed (pure DataFrame functions; the gold job decides when to use them, docs/PIPELINE.md "Gold").

``revenue_attribution`` has one row per order month and ``customer_ltv_cohorts`` one row per cohort month
and month since; a month's rows depend only on silver rows that the functions below follow from a change.
The months they return are a superset of the months whose rows can differ from a full rebuild: recomputing
those months and keeping the others gives the full rebuild's table (a test holds the two equal).

Changes are Delta change-data-feed rows (``_change_type``): ``update_preimage`` and ``delete`` rows carry a
row as it was, ``insert`` and ``update_postimage`` rows as it is. A feed that reads a rewritten file as all
its rows deleted and inserted again (another writer's copy-on-write MERGE) is a superset too, and safe.
"""

from __future__ import annotations

from typing import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .gold import completed_orders, customer_ltv_cohorts, revenue_attribution

ORDER_COLUMNS = ("order_id", "customer_id", "order_date", "status")
CUSTOMER_COLUMNS = ("customer_id",)
OPPORTUNITY_COLUMNS = ("account_id", "stage_name", "close_date")
BEFORE = ("update_preimage", "delete")
MONTH = "month"


def _month(column: str) -> F.Column:
    return F.trunc(column, "month")


def _months(df: DataFrame, column: str) -> DataFrame:
    return df.select(_month(column).alias(MONTH))


def attribution_months(
    order_changes: DataFrame,
    customer_changes: DataFrame,
    opportunity_changes: DataFrame,
    orders: DataFrame,
    customers: DataFrame,
) -> DataFrame:
    """Order months whose attribution rows the changes can move (one column, ``month``, distinct).

    - a changed completed order: its month before and after;
    - a changed customer: the months of its completed orders (its CRM account decides their lead source);
    - a changed Closed Won opportunity (before or after): the months of the completed orders of the customers
      linked to its account, from its close date on (only those orders can pick it).
    """
    changed_orders = _months(completed_orders(order_changes), "order_date")
    since = F.to_date(F.lit("0001-01-01"))
    by_customer = customer_changes.select("customer_id", since.alias("__since"))
    won = (
        opportunity_changes.filter(F.col("stage_name") == "Closed Won")
        .groupBy("account_id")
        .agg(F.min("close_date").alias("__since"))
    )
    by_account = customers.join(won, customers["crm_account_id"] == won["account_id"]).select(
        customers["customer_id"], "__since"
    )
    reached = by_customer.unionByName(by_account).groupBy("customer_id").agg(F.min("__since").alias("__since"))
    touched = completed_orders(orders).join(reached, "customer_id").filter(F.col("order_date") >= F.col("__since"))
    return changed_orders.unionByName(_months(touched, "order_date")).filter(F.col(MONTH).isNotNull()).distinct()


def cohort_months(order_changes: DataFrame, orders: DataFrame) -> DataFrame:
    """Cohort months whose rows the order changes can move (one column, ``month``, distinct).

    A cohort's rows change only through a customer with a changed order, and such a customer can leave its
    old cohort and join a new one. Its new cohort is the month of its first completed order now; its old
    one is either the first month of its orders that did not change, or the month of a changed order as it
    was (every such month is included).
    """
    before = _months(completed_orders(order_changes.filter(F.col("_change_type").isin(*BEFORE))), "order_date")
    customers = order_changes.select("customer_id").distinct()
    changed = order_changes.select("order_id").distinct().withColumn("__changed", F.lit(True))
    current = completed_orders(orders).join(customers, "customer_id", "left_semi").join(changed, "order_id", "left")
    firsts = current.groupBy("customer_id").agg(
        F.min(_month("order_date")).alias("__first"),
        F.min(F.when(F.col("__changed").isNull(), _month("order_date"))).alias("__first_unchanged"),
    )
    now = firsts.select(F.col("__first").alias(MONTH))
    unchanged = firsts.select(F.col("__first_unchanged").alias(MONTH))
    return before.unionByName(now).unionByName(unchanged).filter(F.col(MONTH).isNotNull()).distinct()


def revenue_attribution_in(
    months: Sequence, orders: DataFrame, customers: DataFrame, opportunities: DataFrame, model: str
) -> DataFrame:
    """:func:`revenue_attribution`'s rows of ``months`` only (each order is attributed on its own)."""
    return revenue_attribution(orders.filter(_month("order_date").isin(list(months))), customers, opportunities, model)


def customer_ltv_cohorts_in(months: Sequence, orders: DataFrame) -> DataFrame:
    """:func:`customer_ltv_cohorts`' rows of cohort ``months`` only: from every order of the customers with a
    completed order in one of those months (a cohort's members all have one there)."""
    members = completed_orders(orders).filter(_month("order_date").isin(list(months))).select("customer_id")
    cohorts = customer_ltv_cohorts(orders.join(members.distinct(), "customer_id", "left_semi"))
    return cohorts.filter(F.col("cohort_month").isin(list(months)))


def splice(existing: DataFrame, recomputed: DataFrame, column: str, months: Sequence) -> DataFrame:
    """The table with the rows of ``months`` (by ``column``) replaced by ``recomputed``."""
    kept = existing.filter(~F.col(column).isin(list(months))) if months else existing
    return kept.unionByName(recomputed.select(*existing.columns))
