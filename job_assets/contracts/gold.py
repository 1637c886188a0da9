"""Gold: business tables. Metric definitions live in glossary.py (rendered to docs/data_catalog/GLOSSARY.md by
`lakehouse catalog`) and must match these transforms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from .model import Column, Rule, TableContract

C = Column
OWNER = "analytics@revenue"
# Why a gold column derived from a personal column (a customer id) holds no personal data itself.
AGGREGATE = "aggregate over many customers: a count or figure per cohort, no customer's id"
JOIN_KEY = "the customer id is a join key only: the value is a lead source, no customer's id"

REVENUE_ATTRIBUTION = TableContract(
    name="gold.revenue_attribution",
    description="USD revenue of completed orders by order month and the lead source of the customer's CRM account's "
    "most recent Closed Won opportunity closed on or before the order date ('Unattributed' when none).",
    owner=OWNER,
    grain="one row per order month and lead source",
    keys=("order_month", "lead_source"),
    columns=(
        C("order_month", "date", False, "First day of the order's month (UTC)"),
        C(
            "lead_source",
            "string",
            False,
            "Attributed lead source; 'Unknown' when the opportunity has none",
            pii_cleared=JOIN_KEY,
        ),
        C("revenue_usd", "decimal(18,2)", False, "Sum of total_amount_usd"),
        C("order_count", "bigint", False, "Completed orders"),
        C("distinct_customers", "bigint", False, "Distinct customers ordering", pii_cleared=AGGREGATE),
    ),
    rules=(
        Rule("revenue_non_negative", "range", "revenue_usd", "fail", "out_of_range", min_value=0),
        Rule("grain_unique", "unique", None, "fail", "duplicate_key"),
    ),
    freshness_slo_minutes=26 * 60,
    upstream=("silver.orders", "silver.customers", "silver.opportunities"),
    lineage=(
        ("order_month", ("silver.orders.order_date", "silver.orders.status")),
        (
            "lead_source",
            (  # the picked opportunity: join, Closed Won filter, close-date window and tie-breaks
                "silver.opportunities.lead_source",
                "silver.opportunities.stage_name",
                "silver.opportunities.close_date",
                "silver.opportunities.account_id",
                "silver.opportunities.last_modified_at",
                "silver.opportunities.opportunity_id",
                "silver.customers.customer_id",
                "silver.customers.crm_account_id",
                "silver.orders.customer_id",
                "silver.orders.order_date",
                "silver.orders.status",
            ),
        ),
        ("revenue_usd", ("silver.orders.total_amount_usd", "silver.orders.status")),
        ("order_count", ("silver.orders.order_id", "silver.orders.status")),
        ("distinct_customers", ("silver.orders.customer_id", "silver.orders.status")),
    ),
)

CUSTOMER_SEGMENTS = TableContract(
    name="gold.customer_segments",
    description="RFM scores and a segment label per customer with at least one completed order.",
    owner=OWNER,
    grain="one row per customer with a completed order",
    keys=("customer_id",),
    columns=(
        C("customer_id", "bigint", False, "", pii="identifier"),
        C("segment", "string", False, "Customer's commercial segment from Snowflake"),
        C(
            "recency_days",
            "int",
            False,
            "Days from the last completed order to the latest order date in silver",
        ),
        C("frequency", "bigint", False, "Completed orders"),
        C("monetary_usd", "decimal(18,2)", False, "Revenue of completed orders"),
        C("r_score", "int", False, "1-5, 5 = most recent (quintile)"),
        C("f_score", "int", False, "1-5, 5 = most frequent (quintile)"),
        C("m_score", "int", False, "1-5, 5 = highest spend (quintile)"),
        C("rfm_segment", "string", False, "Champions | Loyal | New | At Risk | Hibernating | Potential"),
    ),
    rules=(
        Rule("scores_in_range", "range", "r_score", "fail", "out_of_range", min_value=1, max_value=5),
        Rule("grain_unique", "unique", None, "fail", "duplicate_key"),
    ),
    freshness_slo_minutes=26 * 60,
    upstream=("silver.orders", "silver.customers"),
    lineage=(
        ("customer_id", ("silver.orders.customer_id",)),
        ("segment", ("silver.customers.segment",)),
        ("recency_days", ("silver.orders.order_date", "silver.orders.status")),
        ("frequency", ("silver.orders.order_id", "silver.orders.status")),
        ("monetary_usd", ("silver.orders.total_amount_usd", "silver.orders.status")),
        ("r_score", ("silver.orders.order_date", "silver.orders.status")),
        ("f_score", ("silver.orders.order_id", "silver.orders.status")),
        ("m_score", ("silver.orders.total_amount_usd", "silver.orders.status")),
        (
            "rfm_segment",
            ("silver.orders.order_date", "silver.orders.order_id", "silver.orders.total_amount_usd"),
        ),
    ),
)

CUSTOMER_LTV_COHORTS = TableContract(
    name="gold.customer_ltv_cohorts",
    description="Cohorts by first completed order month: active customers, revenue and cumulative revenue per "
    "customer for each month since the first order.",
    owner=OWNER,
    grain="one row per cohort month and months since first order (months with activity)",
    keys=("cohort_month", "months_since_first"),
    columns=(
        C("cohort_month", "date", False, "Month of the customer's first completed order"),
        C("months_since_first", "int", False, "0 = the cohort month", pii_cleared=AGGREGATE),
        C("cohort_size", "bigint", False, "Customers in the cohort", pii_cleared=AGGREGATE),
        C(
            "active_customers",
            "bigint",
            False,
            "Cohort customers with a completed order in that month",
            pii_cleared=AGGREGATE,
        ),
        C("revenue_usd", "decimal(18,2)", False, "Cohort revenue in that month"),
        C("cumulative_revenue_usd", "decimal(18,2)", False, "Cohort revenue up to and including that month"),
        C(
            "cumulative_revenue_per_customer",
            "decimal(18,2)",
            False,
            "cumulative_revenue_usd / cohort_size",
            pii_cleared=AGGREGATE,
        ),
    ),
    rules=(Rule("grain_unique", "unique", None, "fail", "duplicate_key"),),
    freshness_slo_minutes=26 * 60,
    upstream=("silver.orders",),
    lineage=(
        ("cohort_month", ("silver.orders.order_date", "silver.orders.status")),
        ("months_since_first", ("silver.orders.order_date", "silver.orders.customer_id", "silver.orders.status")),
        ("cohort_size", ("silver.orders.customer_id", "silver.orders.order_date", "silver.orders.status")),
        (
            "active_customers",
            ("silver.orders.customer_id", "silver.orders.order_date", "silver.orders.status"),
        ),
        ("revenue_usd", ("silver.orders.total_amount_usd", "silver.orders.order_date", "silver.orders.status")),
        (
            "cumulative_revenue_usd",
            ("silver.orders.total_amount_usd", "silver.orders.order_date", "silver.orders.status"),
        ),
        (
            "cumulative_revenue_per_customer",
            (
                "silver.orders.total_amount_usd",
                "silver.orders.customer_id",
                "silver.orders.order_date",
                "silver.orders.status",
            ),
        ),
    ),
)

SALES_PIPELINE = TableContract(
    name="gold.sales_pipeline",
    description="Opportunities by close month and stage: open count and open USD amount (plus all counts).",
    owner=OWNER,
    grain="one row per close month and stage",
    keys=("close_month", "stage_name"),
    columns=(
        C("close_month", "date", False, "First day of the close date's month"),
        C("stage_name", "string", False, ""),
        C("is_open", "boolean", False, "Stage is not Closed Won / Closed Lost"),
        C("opportunity_count", "bigint", False, ""),
        C("open_count", "bigint", False, "Opportunities in an open stage"),
        C("open_amount_usd", "decimal(18,2)", False, "Sum of amount_usd of open opportunities"),
        C("amount_usd", "decimal(18,2)", False, "Sum of amount_usd of all opportunities in the row"),
    ),
    rules=(Rule("grain_unique", "unique", None, "fail", "duplicate_key"),),
    freshness_slo_minutes=26 * 60,
    upstream=("silver.opportunities",),
    lineage=(
        ("close_month", ("silver.opportunities.close_date",)),
        ("stage_name", ("silver.opportunities.stage_name",)),
        ("is_open", ("silver.opportunities.stage_name",)),
        ("opportunity_count", ("silver.opportunities.opportunity_id",)),
        ("open_count", ("silver.opportunities.stage_name",)),
        ("open_amount_usd", ("silver.opportunities.amount_usd", "silver.opportunities.stage_name")),
        ("amount_usd", ("silver.opportunities.amount_usd",)),
    ),
)

WIN_RATES = TableContract(
    name="gold.win_rates",
    description="Win rate by lead source: Closed Won / (Closed Won + Closed Lost).",
    owner=OWNER,
    grain="one row per lead source",
    keys=("lead_source",),
    columns=(
        C("lead_source", "string", False, "'Unknown' when null"),
        C("won_count", "bigint", False, ""),
        C("lost_count", "bigint", False, ""),
        C("win_rate", "double", True, "won / (won + lost); null with no closed opportunities"),
    ),
    rules=(Rule("win_rate_in_range", "range", "win_rate", "fail", "out_of_range", min_value=0, max_value=1),),
    freshness_slo_minutes=26 * 60,
    upstream=("silver.opportunities",),
    lineage=(
        ("lead_source", ("silver.opportunities.lead_source",)),
        ("won_count", ("silver.opportunities.stage_name",)),
        ("lost_count", ("silver.opportunities.stage_name",)),
        ("win_rate", ("silver.opportunities.stage_name", "silver.opportunities.lead_source")),
    ),
)

GOLD_TABLES = (REVENUE_ATTRIBUTION, CUSTOMER_SEGMENTS, CUSTOMER_LTV_COHORTS, SALES_PIPELINE, WIN_RATES)


@dataclass(frozen=True)
class KeyMetric:
    """A business figure of gold that a promotion must not move by surprise (docs/PROMOTION.md).

    Its value is ``sum(<column>)`` over ``<table>``; ``lakehouse promote`` compares the audited version's
    value with the published one against ``promotion.max_metric_change_pct``.
    """

    name: str
    table: str
    column: str
    description: str


KEY_METRICS: Dict[str, KeyMetric] = {
    m.name: m
    for m in (
        KeyMetric("revenue_usd", "gold.revenue_attribution", "revenue_usd", "USD revenue of completed orders"),
        KeyMetric("completed_orders", "gold.revenue_attribution", "order_count", "Completed orders"),
        KeyMetric("cohort_revenue_usd", "gold.customer_ltv_cohorts", "revenue_usd", "Revenue over all cohorts"),
        KeyMetric("open_pipeline_usd", "gold.sales_pipeline", "open_amount_usd", "Open opportunity amount"),
        KeyMetric("won_opportunities", "gold.win_rates", "won_count", "Closed Won opportunities"),
    )
}
