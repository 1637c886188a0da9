"""Silver: typed, validated, deduplicated current state (plus account history as SCD type 2)."""

from __future__ import annotations

from typing import Dict, Tuple

from . import landing as L
from .model import Column, LandingEntity, Rule, TableContract

C = Column
LINEAGE_COLUMNS = (
    C("_source_file", "string", True, "Landing file of the current version"),
    C("_batch_id", "string", False, "Batch that wrote the current version"),
    C("_record_hash", "string", True, "Identity of the raw record of the current version"),
)
ISO2 = "^[A-Z]{2}$"
EMAIL = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"


def _typed_rules(entity: LandingEntity, columns: Tuple[Column, ...]) -> Tuple[Rule, ...]:
    """not_null for required landing fields, cast for every non-string column (derived, not hand-written)."""
    by_source: Dict[str, Column] = {c.source: c for c in columns if c.source}
    rules = []
    for f in entity.fields:
        col = by_source[f.name]
        if f.required:
            rules.append(Rule(f"{col.name}_not_null", "not_null", col.name, "quarantine", "missing_required"))
    for f in entity.fields:
        col = by_source[f.name]
        if col.type != "string":
            err = "invalid_date" if col.type in ("date", "timestamp") else "invalid_type"
            rules.append(Rule(f"{col.name}_is_{col.type.split('(')[0]}", "cast", col.name, "quarantine", err))
    return tuple(rules)


def _lineage(entity: LandingEntity, columns: Tuple[Column, ...]) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    return tuple((c.name, (f"{entity.bronze_table}.{c.source}",)) for c in columns if c.source)


def _silver(
    entity: LandingEntity,
    name: str,
    description: str,
    columns: Tuple[Column, ...],
    keys: Tuple[str, ...],
    version_column: str,
    extra_rules: Tuple[Rule, ...] = (),
    upstream_extra: Tuple[str, ...] = (),
    derived_lineage: Tuple[Tuple[str, Tuple[str, ...]], ...] = (),
    grain: str = "",
    slo: int = 24 * 60,
    change_feed: bool = False,
) -> TableContract:
    return TableContract(
        name=name,
        description=description,
        owner="data-platform@silver",
        grain=grain or f"one current row per {', '.join(keys)}",
        columns=columns + LINEAGE_COLUMNS,
        keys=keys,
        rules=_typed_rules(entity, columns) + extra_rules,
        freshness_slo_minutes=slo,
        upstream=(entity.bronze_table, *upstream_extra),
        lineage=_lineage(entity, columns) + derived_lineage,
        landing=entity,
        version_column=version_column,
        change_feed=change_feed,
    )


FX_RATES = _silver(
    L.FX_RATES,
    "silver.fx_rates",
    "FX rates to USD by currency and validity start; the rate valid on a date is the latest VALID_FROM <= it.",
    (
        C("currency", "string", False, "ISO-4217 code", "CURRENCY"),
        C("rate_to_usd", "decimal(18,8)", False, "USD per 1 unit of currency", "RATE_TO_USD"),
        C("valid_from", "date", False, "First day the rate applies", "VALID_FROM"),
    ),
    keys=("currency", "valid_from"),
    version_column="valid_from",
    extra_rules=(
        Rule("currency_known", "accepted_values", "currency", "quarantine", "invalid_enum", values=L.CURRENCIES),
        Rule(
            "rate_positive",
            "range",
            "rate_to_usd",
            "fail",
            "out_of_range",
            min_value=0,
            min_inclusive=False,
            description="A zero or negative rate would corrupt every USD figure: the job fails.",
        ),
    ),
)

_ACCOUNT_COLS = (
    C("account_id", "string", False, "Salesforce account Id", "Id"),
    C("name", "string", False, "Account name", "Name", pii="name"),
    C("industry", "string", True, "", "Industry"),
    C("billing_country", "string", True, "ISO-3166 alpha-2", "BillingCountry"),
    C("annual_revenue", "decimal(18,2)", True, "USD", "AnnualRevenue"),
    C("created_at", "timestamp", True, "UTC", "CreatedDate"),
    C("last_modified_at", "timestamp", False, "UTC; newest version wins", "LastModifiedDate"),
    C("is_deleted", "boolean", True, "Deleted in the CRM (never true in current state)", "IsDeleted"),
)
_ACCOUNT_RULES = (
    Rule("annual_revenue_non_negative", "range", "annual_revenue", "quarantine", "out_of_range", min_value=0),
    Rule("billing_country_iso2", "pattern", "billing_country", "warn", "invalid_format", pattern=ISO2),
)

ACCOUNTS = _silver(
    L.ACCOUNTS,
    "silver.accounts",
    "Current CRM accounts: newest LastModifiedDate per Id; deleted accounts removed.",
    _ACCOUNT_COLS,
    keys=("account_id",),
    version_column="last_modified_at",
    extra_rules=_ACCOUNT_RULES,
)

ACCOUNTS_HISTORY = TableContract(
    name="silver.accounts_history",
    description="Every version of every CRM account as SCD type 2: one row per version with its validity.",
    owner="data-platform@silver",
    grain="one row per account version",
    columns=(
        *tuple(c for c in _ACCOUNT_COLS),
        C("valid_from", "timestamp", False, "LastModifiedDate of this version"),
        C("valid_to", "timestamp", True, "LastModifiedDate of the next version; null while current"),
        C("is_current", "boolean", False, "True for the latest version of a live account"),
        *LINEAGE_COLUMNS,
    ),
    keys=("account_id", "valid_from"),
    upstream=("bronze.crm_accounts",),
    lineage=(
        *_lineage(L.ACCOUNTS, _ACCOUNT_COLS),
        ("valid_from", ("bronze.crm_accounts.LastModifiedDate",)),
        ("valid_to", ("bronze.crm_accounts.LastModifiedDate",)),
    ),
    landing=L.ACCOUNTS,
    version_column="last_modified_at",
)

CONTACTS = _silver(
    L.CONTACTS,
    "silver.contacts",
    "Current CRM contacts.",
    (
        C("contact_id", "string", False, "", "Id", pii="identifier"),
        C("account_id", "string", True, "Parent account", "AccountId"),
        C("email", "string", True, "", "Email", pii="email"),
        C("first_name", "string", True, "", "FirstName", pii="name"),
        C("last_name", "string", True, "", "LastName", pii="name"),
        C("title", "string", True, "", "Title"),
        C("created_at", "timestamp", True, "", "CreatedDate"),
        C("last_modified_at", "timestamp", False, "", "LastModifiedDate"),
        C("is_deleted", "boolean", True, "", "IsDeleted"),
    ),
    keys=("contact_id",),
    version_column="last_modified_at",
    extra_rules=(
        Rule("email_format", "pattern", "email", "warn", "invalid_format", pattern=EMAIL),
        Rule(
            "account_exists",
            "ref",
            "account_id",
            "warn",
            "orphan_reference",
            ref_table="silver.accounts_history",
            ref_column="account_id",
        ),
    ),
    upstream_extra=("silver.accounts_history",),
)

OPPORTUNITIES = _silver(
    L.OPPORTUNITIES,
    "silver.opportunities",
    "Current CRM opportunities with the amount converted to USD at the rate valid on the close date.",
    (
        C("opportunity_id", "string", False, "", "Id"),
        C("account_id", "string", False, "Parent account (must exist)", "AccountId"),
        C("name", "string", True, "", "Name"),
        C("stage_name", "string", False, "Sales stage", "StageName"),
        C("amount", "decimal(18,2)", True, "In currency", "Amount"),
        C("currency", "string", False, "", "CurrencyIsoCode"),
        C("close_date", "date", False, "", "CloseDate"),
        C("lead_source", "string", True, "Marketing lead source; null when unknown", "LeadSource"),
        C("campaign_id", "string", True, "", "CampaignId"),
        C("created_at", "timestamp", True, "", "CreatedDate"),
        C("last_modified_at", "timestamp", False, "", "LastModifiedDate"),
        C("is_deleted", "boolean", True, "", "IsDeleted"),
        C("amount_usd", "decimal(18,2)", True, "amount x rate_to_usd valid on close_date"),
    ),
    keys=("opportunity_id",),
    version_column="last_modified_at",
    extra_rules=(
        Rule("stage_known", "accepted_values", "stage_name", "quarantine", "invalid_enum", values=L.STAGES),
        Rule("currency_known", "accepted_values", "currency", "quarantine", "invalid_enum", values=L.CURRENCIES),
        Rule(
            "lead_source_known",
            "accepted_values",
            "lead_source",
            "quarantine",
            "invalid_enum",
            values=L.LEAD_SOURCES,
        ),
        Rule("amount_non_negative", "range", "amount", "quarantine", "out_of_range", min_value=0),
        Rule(
            "account_exists",
            "ref",
            "account_id",
            "quarantine",
            "orphan_reference",
            ref_table="silver.accounts_history",
            ref_column="account_id",
        ),
    ),
    upstream_extra=("silver.accounts_history", "silver.fx_rates"),
    derived_lineage=(
        (
            "amount_usd",
            (
                "bronze.crm_opportunities.Amount",
                "bronze.crm_opportunities.CurrencyIsoCode",
                "silver.fx_rates.rate_to_usd",
            ),
        ),
    ),
    change_feed=True,  # gold's incremental months read what changed (docs/PIPELINE.md)
)

CUSTOMERS = _silver(
    L.CUSTOMERS,
    "silver.customers",
    "Current Snowflake customers, optionally linked to a CRM account.",
    (
        C("customer_id", "bigint", False, "", "CUSTOMER_ID", pii="identifier"),
        C("crm_account_id", "string", True, "Linked CRM account, if any", "CRM_ACCOUNT_ID"),
        C("email", "string", True, "", "EMAIL", pii="email"),
        C("country", "string", True, "ISO-3166 alpha-2", "COUNTRY"),
        C("segment", "string", False, "SMB | MidMarket | Enterprise", "SEGMENT"),
        C("created_at", "timestamp", True, "", "CREATED_AT"),
        C("updated_at", "timestamp", False, "", "UPDATED_AT"),
    ),
    keys=("customer_id",),
    version_column="updated_at",
    extra_rules=(
        Rule("segment_known", "accepted_values", "segment", "quarantine", "invalid_enum", values=L.SEGMENTS),
        Rule("country_iso2", "pattern", "country", "warn", "invalid_format", pattern=ISO2),
        Rule(
            "crm_account_exists",
            "ref",
            "crm_account_id",
            "warn",
            "orphan_reference",
            ref_table="silver.accounts_history",
            ref_column="account_id",
        ),
    ),
    upstream_extra=("silver.accounts_history",),
    change_feed=True,  # gold's incremental months read what changed (docs/PIPELINE.md)
)

ORDERS = _silver(
    L.ORDERS,
    "silver.orders",
    "Current Snowflake orders with the total converted to USD at the rate valid on the order date.",
    (
        C("order_id", "bigint", False, "", "ORDER_ID"),
        C("customer_id", "bigint", False, "Must exist in silver.customers", "CUSTOMER_ID", pii="identifier"),
        C("order_ts", "timestamp", False, "UTC", "ORDER_TS"),
        C("status", "string", False, "completed | pending | cancelled | refunded", "STATUS"),
        C("currency", "string", False, "", "CURRENCY"),
        C("total_amount", "decimal(18,2)", False, "In currency", "TOTAL_AMOUNT"),
        C("updated_at", "timestamp", False, "", "UPDATED_AT"),
        C("order_date", "date", False, "UTC date of order_ts"),
        C("fx_rate_to_usd", "decimal(18,8)", False, "Rate valid on order_date"),
        C("total_amount_usd", "decimal(18,2)", False, "round(total_amount x fx_rate_to_usd, 2)"),
    ),
    keys=("order_id",),
    version_column="updated_at",
    extra_rules=(
        Rule("status_known", "accepted_values", "status", "quarantine", "invalid_enum", values=L.ORDER_STATUSES),
        Rule("currency_known", "accepted_values", "currency", "quarantine", "invalid_enum", values=L.CURRENCIES),
        Rule("total_amount_non_negative", "range", "total_amount", "quarantine", "out_of_range", min_value=0),
        Rule(
            "fx_rate_available",
            "not_null",
            "fx_rate_to_usd",
            "quarantine",
            "missing_fx_rate",
            description="A rate for the currency valid on the order date exists.",
        ),
        Rule(
            "customer_exists",
            "ref",
            "customer_id",
            "quarantine",
            "orphan_reference",
            ref_table="silver.customers",
            ref_column="customer_id",
        ),
    ),
    upstream_extra=("silver.customers", "silver.fx_rates"),
    derived_lineage=(
        ("order_date", ("bronze.snowflake_orders.ORDER_TS",)),
        ("fx_rate_to_usd", ("silver.fx_rates.rate_to_usd", "bronze.snowflake_orders.CURRENCY")),
        (
            "total_amount_usd",
            (
                "bronze.snowflake_orders.TOTAL_AMOUNT",
                "bronze.snowflake_orders.CURRENCY",
                "silver.fx_rates.rate_to_usd",
            ),
        ),
    ),
    change_feed=True,  # gold's incremental months read what changed (docs/PIPELINE.md)
)

ORDER_ITEMS = _silver(
    L.ORDER_ITEMS,
    "silver.order_items",
    "Current order lines.",
    (
        C("order_id", "bigint", False, "Must exist in silver.orders", "ORDER_ID"),
        C("line_no", "int", False, "", "LINE_NO"),
        C("sku", "string", False, "", "SKU"),
        C("quantity", "int", False, "> 0", "QUANTITY"),
        C("unit_price", "decimal(18,2)", False, "In the order's currency", "UNIT_PRICE"),
        C("updated_at", "timestamp", False, "", "UPDATED_AT"),
        C("line_amount", "decimal(18,2)", False, "quantity x unit_price, in the order's currency"),
    ),
    keys=("order_id", "line_no"),
    version_column="updated_at",
    extra_rules=(
        Rule(
            "quantity_positive",
            "range",
            "quantity",
            "quarantine",
            "out_of_range",
            min_value=0,
            min_inclusive=False,
        ),
        Rule("unit_price_non_negative", "range", "unit_price", "quarantine", "out_of_range", min_value=0),
        Rule(
            "order_exists",
            "ref",
            "order_id",
            "quarantine",
            "orphan_reference",
            ref_table="silver.orders",
            ref_column="order_id",
        ),
    ),
    upstream_extra=("silver.orders",),
    derived_lineage=(
        ("line_amount", ("bronze.snowflake_order_items.QUANTITY", "bronze.snowflake_order_items.UNIT_PRICE")),
    ),
)

# In processing order: parents first.
SILVER_CURRENT = (FX_RATES, ACCOUNTS, CONTACTS, OPPORTUNITIES, CUSTOMERS, ORDERS, ORDER_ITEMS)
SILVER_TABLES = (*SILVER_CURRENT, ACCOUNTS_HISTORY)
