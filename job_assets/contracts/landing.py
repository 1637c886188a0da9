"""The landing contract: what upstream extracts deliver (documented in docs/LANDING_CONTRACT.md)."""

from __future__ import annotations

from .model import LandingEntity, LandingField

F = LandingField

STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")
OPEN_STAGES = STAGES[:4]
CURRENCIES = ("USD", "EUR", "GBP", "JPY")
LEAD_SOURCES = ("Web", "Partner", "Event", "Outbound", "Referral")
SEGMENTS = ("SMB", "MidMarket", "Enterprise")
ORDER_STATUSES = ("completed", "pending", "cancelled", "refunded")

ACCOUNTS = LandingEntity(
    source="crm",
    entity="accounts",
    format="jsonl",
    key=("Id",),
    version_field="LastModifiedDate",
    description="Salesforce Account records (JSON Lines).",
    fields=(
        F("Id", "string", True, "Salesforce 18-char account id"),
        F("Name", "string", True, "Account name (a sole trader's is a person's name)", pii="name"),
        F("Industry", "string", False, "Industry picklist value"),
        F("BillingCountry", "string", False, "ISO-3166 alpha-2 country code"),
        F("AnnualRevenue", "decimal(18,2)", False, "Annual revenue in USD, >= 0"),
        F("CreatedDate", "timestamp", False, "ISO-8601 with offset or Z"),
        F("LastModifiedDate", "timestamp", True, "ISO-8601 with offset or Z; newest wins"),
        F("IsDeleted", "boolean", False, "true removes the account from current state"),
    ),
)

CONTACTS = LandingEntity(
    source="crm",
    entity="contacts",
    format="jsonl",
    key=("Id",),
    version_field="LastModifiedDate",
    description="Salesforce Contact records (JSON Lines).",
    fields=(
        F("Id", "string", True, "Salesforce contact id", pii="identifier"),
        F("AccountId", "string", False, "Parent account Id"),
        F("Email", "string", False, "Contact e-mail", pii="email"),
        F("FirstName", "string", False, "", pii="name"),
        F("LastName", "string", False, "", pii="name"),
        F("Title", "string", False, "Job title"),
        F("CreatedDate", "timestamp", False, "ISO-8601 with offset or Z"),
        F("LastModifiedDate", "timestamp", True, "ISO-8601 with offset or Z; newest wins"),
        F("IsDeleted", "boolean", False, ""),
    ),
)

OPPORTUNITIES = LandingEntity(
    source="crm",
    entity="opportunities",
    format="jsonl",
    key=("Id",),
    version_field="LastModifiedDate",
    description="Salesforce Opportunity records (JSON Lines).",
    fields=(
        F("Id", "string", True, "Salesforce opportunity id"),
        F("AccountId", "string", True, "Parent account Id (must exist)"),
        F("Name", "string", False, ""),
        F("StageName", "string", True, "One of " + ", ".join(STAGES)),
        F("Amount", "decimal(18,2)", False, ">= 0, in CurrencyIsoCode"),
        F("CurrencyIsoCode", "string", True, "One of " + ", ".join(CURRENCIES)),
        F("CloseDate", "date", True, "YYYY-MM-DD"),
        F("LeadSource", "string", False, "One of " + ", ".join(LEAD_SOURCES) + ", or null"),
        F("CampaignId", "string", False, ""),
        F("CreatedDate", "timestamp", False, ""),
        F("LastModifiedDate", "timestamp", True, "newest wins"),
        F("IsDeleted", "boolean", False, ""),
    ),
)

CUSTOMERS = LandingEntity(
    source="snowflake",
    entity="customers",
    format="csv",
    key=("CUSTOMER_ID",),
    version_field="UPDATED_AT",
    description="Snowflake CUSTOMERS extract (CSV, header, RFC 4180).",
    fields=(
        F("CUSTOMER_ID", "bigint", True, "Integer customer id", pii="identifier"),
        F("CRM_ACCOUNT_ID", "string", False, "An accounts Id, or empty"),
        F("EMAIL", "string", False, "", pii="email"),
        F("COUNTRY", "string", False, "ISO-3166 alpha-2"),
        F("SEGMENT", "string", True, "One of " + ", ".join(SEGMENTS)),
        F("CREATED_AT", "timestamp", False, "YYYY-MM-DD HH:MM:SS[.fff], UTC"),
        F("UPDATED_AT", "timestamp", True, "newest wins"),
    ),
)

ORDERS = LandingEntity(
    source="snowflake",
    entity="orders",
    format="csv",
    key=("ORDER_ID",),
    version_field="UPDATED_AT",
    description="Snowflake ORDERS extract.",
    fields=(
        F("ORDER_ID", "bigint", True, "Integer order id"),
        F("CUSTOMER_ID", "bigint", True, "A customers CUSTOMER_ID (must exist)", pii="identifier"),
        F("ORDER_TS", "timestamp", True, "Order time, UTC"),
        F("STATUS", "string", True, "One of " + ", ".join(ORDER_STATUSES)),
        F("CURRENCY", "string", True, "One of " + ", ".join(CURRENCIES)),
        F("TOTAL_AMOUNT", "decimal(18,2)", True, ">= 0, in CURRENCY"),
        F("UPDATED_AT", "timestamp", True, "newest wins"),
    ),
)

ORDER_ITEMS = LandingEntity(
    source="snowflake",
    entity="order_items",
    format="csv",
    key=("ORDER_ID", "LINE_NO"),
    version_field="UPDATED_AT",
    description="Snowflake ORDER_ITEMS extract.",
    fields=(
        F("ORDER_ID", "bigint", True, "An orders ORDER_ID (must exist)"),
        F("LINE_NO", "int", True, "Line number within the order"),
        F("SKU", "string", True, ""),
        F("QUANTITY", "int", True, "> 0"),
        F("UNIT_PRICE", "decimal(18,2)", True, ">= 0, in the order's currency"),
        F("UPDATED_AT", "timestamp", True, "newest wins"),
    ),
)

FX_RATES = LandingEntity(
    source="reference",
    entity="fx_rates",
    format="csv",
    key=("CURRENCY", "VALID_FROM"),
    version_field="VALID_FROM",
    description="Reference FX rates: 1 unit of CURRENCY = RATE_TO_USD US dollars from VALID_FROM on.",
    fields=(
        F("CURRENCY", "string", True, "One of " + ", ".join(CURRENCIES)),
        F("RATE_TO_USD", "decimal(18,8)", True, "> 0"),
        F("VALID_FROM", "date", True, "YYYY-MM-DD"),
    ),
)

# Processing order matters: parents before children so references resolve within one batch.
LANDING_ENTITIES = (FX_RATES, ACCOUNTS, CONTACTS, OPPORTUNITIES, CUSTOMERS, ORDERS, ORDER_ITEMS)
LANDING_BY_NAME = {e.name: e for e in LANDING_ENTITIES}
KNOWN_EXTENSIONS = {"jsonl": (".jsonl", ".json", ".jsonl.gz", ".json.gz"), "csv": (".csv", ".csv.gz")}
