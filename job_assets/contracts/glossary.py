"""Business glossary: the definition of every gold metric, as data.

This is the single source of ``docs/data_catalog/GLOSSARY.md`` (``lakehouse catalog`` renders it; a unit test
fails when the committed file is stale). Every definition is what ``job_assets/transforms/gold.py`` computes and
what the end-to-end test recomputes independently in DuckDB (``tests/functional/lake_checks.py``): change the
three together.

Texts are Markdown, written for the generated file ``docs/data_catalog/GLOSSARY.md``: relative links start from
``docs/data_catalog/``. Every gold column is either defined by a :class:`BusinessMetric` (``columns``) or listed in
:data:`NON_METRIC_COLUMNS` with what it is (``coverage_problems`` checks it, so a new gold column without a
definition fails the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from .gold import GOLD_TABLES, KEY_METRICS
from .landing import OPEN_STAGES, STAGES
from .layout import LAYERS
from .model import TableContract

SOURCE_FILE = "job_assets/contracts/glossary.py"


def anchor(title: str) -> str:
    """The anchor GitHub gives a Markdown heading (ASCII titles): ``USD conversion`` -> ``usd-conversion``."""
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


@dataclass(frozen=True)
class Convention:
    """A rule every gold metric follows (revenue, USD conversion, months, money)."""

    title: str
    text: str

    @property
    def key(self) -> str:
        return anchor(self.title)


@dataclass(frozen=True)
class BusinessMetric:
    """One business definition.

    ``columns`` are the columns it defines, as ``layer.table.column`` (none for a concept such as the as-of
    date); ``conventions`` are keys of :data:`CONVENTIONS` it relies on.
    """

    name: str
    definition: str
    columns: Tuple[str, ...] = ()
    conventions: Tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleTable:
    """A small lookup table that belongs to a definition (e.g. the RFM segment rules)."""

    header: Tuple[str, ...]
    rows: Tuple[Tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    """The definitions of one subject area: its tables, metrics, and notes after the metric table."""

    title: str
    tables: Tuple[str, ...]
    summary: str
    metrics: Tuple[BusinessMetric, ...]
    rule_tables: Tuple[RuleTable, ...] = ()
    notes: Tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return anchor(self.title)


def _cols(table: str, *names: str) -> Tuple[str, ...]:
    return tuple(f"{table}.{n}" for n in names)


INTRO = (
    "Every definition here is what `job_assets/transforms/gold.py` computes, and what the end-to-end test "
    "recomputes independently in DuckDB (`tests/functional/lake_checks.py`). Change them together, starting "
    f"with `{SOURCE_FILE}`."
)

CONVENTIONS: Tuple[Convention, ...] = (
    Convention(
        "Revenue",
        "Revenue is `silver.orders.total_amount_usd` of orders with `status = 'completed'`; pending, cancelled "
        "and refunded orders never count as revenue.",
    ),
    Convention(
        "USD conversion",
        "USD conversion happens in silver: `total_amount * rate_to_usd`, rounded to cents, with the rate of the "
        "order's currency whose `VALID_FROM` is the latest on or before the order date (UTC). An opportunity's "
        "`amount_usd` uses its close date the same way. USD is 1 when no USD rate is listed.",
    ),
    Convention("Months", "Months are calendar months in UTC, represented by their first day (`2024-03-01`)."),
    Convention("Money columns", "Money columns are `decimal(18,2)`."),
)
CONVENTION_KEYS = tuple(c.key for c in CONVENTIONS)

_RA = "gold.revenue_attribution"
_CS = "gold.customer_segments"
_LTV = "gold.customer_ltv_cohorts"
_SP = "gold.sales_pipeline"
_WR = "gold.win_rates"
_MONEY = ("revenue", "money-columns")

SECTIONS: Tuple[Section, ...] = (
    Section(
        title="Revenue attribution",
        tables=(_RA,),
        summary="one row per order month and lead source",
        metrics=(
            BusinessMetric(
                "attributed lead source",
                "the `LeadSource` of the **most recent Closed Won opportunity** of the customer's CRM account "
                "(`customers.CRM_ACCOUNT_ID`) whose `CloseDate` is on or before the order date. Ties on close date "
                "go to the later `LastModifiedDate`, then the larger opportunity Id. No such opportunity (or no "
                "linked account) → `Unattributed`; an opportunity with no lead source → `Unknown`.",
                _cols(_RA, "lead_source"),
            ),
            BusinessMetric(
                "revenue_usd",
                "sum of revenue of the month's completed orders attributed to the lead source",
                _cols(_RA, "revenue_usd"),
                (*_MONEY, "months"),
            ),
            BusinessMetric("order_count", "number of those orders", _cols(_RA, "order_count"), ("revenue",)),
            BusinessMetric(
                "distinct_customers",
                "number of distinct customers placing them",
                _cols(_RA, "distinct_customers"),
                ("revenue",),
            ),
        ),
        notes=(
            "The job flag `attribution_model=first_touch` attributes to the **earliest** such Closed Won "
            "opportunity instead; `last_touch` is the default. Per environment it is set in `cdk.json` "
            "(`environments.<env>.job_flags.attribution_model`) and reaches every job as `--flag`; locally "
            "`lakehouse run --flag attribution_model=first_touch`. See [PIPELINE.md](../PIPELINE.md#job-flags).",
        ),
    ),
    Section(
        title="Customer segmentation",
        tables=(_CS,),
        summary="one row per customer with a completed order",
        metrics=(
            BusinessMetric(
                "as-of date",
                "the latest `order_date` of any order in silver (not today: re-running on old data gives the same "
                "answer)",
            ),
            BusinessMetric(
                "recency_days",
                "days from the customer's last completed order to the as-of date",
                _cols(_CS, "recency_days"),
                ("revenue",),
            ),
            BusinessMetric("frequency", "number of completed orders", _cols(_CS, "frequency"), ("revenue",)),
            BusinessMetric("monetary_usd", "revenue of completed orders", _cols(_CS, "monetary_usd"), _MONEY),
            BusinessMetric(
                "r_score, f_score, m_score",
                "quintiles 1 to 5 (`ntile(5)`): r orders customers by recency_days descending (most recent → 5), f by "
                "frequency ascending, m by monetary_usd ascending; ties broken by customer id so the scores are "
                "deterministic",
                _cols(_CS, "r_score", "f_score", "m_score"),
            ),
            BusinessMetric("rfm_segment", "the first matching row below", _cols(_CS, "rfm_segment")),
        ),
        rule_tables=(
            RuleTable(
                ("segment", "rule"),
                (
                    ("Champions", "R ≥ 4 and F ≥ 4 and M ≥ 4"),
                    ("Loyal", "R ≥ 3 and F ≥ 4"),
                    ("New", "R ≥ 4 and F ≤ 2"),
                    ("At Risk", "R ≤ 2 and F ≥ 3"),
                    ("Hibernating", "R ≤ 2 and F ≤ 2"),
                    ("Potential", "everything else"),
                ),
            ),
        ),
    ),
    Section(
        title="LTV cohorts",
        tables=(_LTV,),
        summary="one row per cohort month and months since the first order",
        metrics=(
            BusinessMetric(
                "cohort_month",
                "month of the customer's first completed order",
                _cols(_LTV, "cohort_month"),
                ("revenue", "months"),
            ),
            BusinessMetric(
                "months_since_first",
                "calendar months between the cohort month and the order month (0 = cohort month)",
                _cols(_LTV, "months_since_first"),
                ("months",),
            ),
            BusinessMetric("cohort_size", "customers in the cohort", _cols(_LTV, "cohort_size")),
            BusinessMetric(
                "active_customers",
                "cohort customers with a completed order in that month",
                _cols(_LTV, "active_customers"),
                ("revenue",),
            ),
            BusinessMetric("revenue_usd", "the cohort's revenue in that month", _cols(_LTV, "revenue_usd"), _MONEY),
            BusinessMetric(
                "cumulative_revenue_usd",
                "the cohort's revenue from its first month up to and including that month",
                _cols(_LTV, "cumulative_revenue_usd"),
                _MONEY,
            ),
            BusinessMetric(
                "cumulative_revenue_per_customer",
                "cumulative_revenue_usd ÷ cohort_size, rounded to cents — the cohort's average lifetime value so far",
                _cols(_LTV, "cumulative_revenue_per_customer"),
                _MONEY,
            ),
        ),
        notes=("Only months with at least one completed order of the cohort have a row.",),
    ),
    Section(
        title="Sales pipeline",
        tables=(_SP, _WR),
        summary="one row per close month and stage; one row per lead source",
        metrics=(
            BusinessMetric(
                "open stage",
                ", ".join(OPEN_STAGES)
                + " (not "
                + " / ".join(s for s in STAGES if s not in OPEN_STAGES)
                + "); `is_open` is true for them",
                _cols(_SP, "is_open"),
            ),
            BusinessMetric(
                "opportunity_count",
                "current (not deleted) opportunities with that close month and stage",
                _cols(_SP, "opportunity_count"),
                ("months",),
            ),
            BusinessMetric("open_count", "those in an open stage", _cols(_SP, "open_count")),
            BusinessMetric(
                "open_amount_usd",
                "sum of `amount_usd` of the open ones (0 when none)",
                _cols(_SP, "open_amount_usd"),
                ("usd-conversion", "money-columns"),
            ),
            BusinessMetric(
                "amount_usd",
                "sum of `amount_usd` of all of them",
                _cols(_SP, "amount_usd"),
                ("usd-conversion", "money-columns"),
            ),
            BusinessMetric(
                "won_count, lost_count",
                "current (not deleted) opportunities of the lead source in stage Closed Won, resp. Closed Lost "
                "(lead source `Unknown` when null)",
                _cols(_WR, "won_count", "lost_count"),
            ),
            BusinessMetric(
                "win rate",
                "Closed Won ÷ (Closed Won + Closed Lost) per lead source (`Unknown` when null); null with no closed "
                "opportunity",
                _cols(_WR, "win_rate"),
            ),
        ),
    ),
    Section(
        title="Data quality",
        tables=tuple(f"{layer}.run_summary" for layer in LAYERS),
        summary="per table and run, in every layer's run summary",
        metrics=(
            BusinessMetric(
                "DQ score",
                "passed ÷ checked over every rule evaluation of a table (or job) in a run; 1.0 = every check passed",
                tuple(f"{layer}.run_summary.dq_score" for layer in LAYERS),
            ),
            BusinessMetric(
                "quarantined",
                "records refused by a `quarantine` rule, with `_error` from the closed set in "
                "`job_assets/contracts/model.py`",
                tuple(f"{layer}.run_summary.rows_quarantined" for layer in LAYERS),
            ),
            BusinessMetric(
                "superseded",
                "valid records that lost to a newer (or equal) version of the same key, within the batch or already "
                "in the table",
                tuple(f"{layer}.run_summary.rows_superseded" for layer in LAYERS),
            ),
            BusinessMetric(
                "released",
                "orphans held in quarantine whose parent arrived in a later batch",
                tuple(f"{layer}.run_summary.rows_released" for layer in LAYERS),
            ),
        ),
    ),
)

NON_METRIC_COLUMNS: Dict[str, str] = {
    f"{_RA}.order_month": "dimension: the month of the order's `order_date`",
    f"{_CS}.customer_id": "key: `silver.customers.customer_id`",
    f"{_CS}.segment": "dimension: the customer's commercial segment, `silver.customers.segment`",
    f"{_SP}.close_month": "dimension: the month of the opportunity's `close_date`",
    f"{_SP}.stage_name": "dimension: the opportunity's sales stage",
    f"{_WR}.lead_source": "dimension: the opportunity's lead source, `Unknown` when null",
}
"""Gold columns that are keys or dimensions rather than metrics, with what they are."""


def defined_columns() -> Dict[str, BusinessMetric]:
    """``layer.table.column`` -> the metric that defines it."""
    return {col: m for s in SECTIONS for m in s.metrics for col in m.columns}


def section_of(table: str) -> Section:
    """The glossary section of a table; ``KeyError`` when it has none."""
    for s in SECTIONS:
        if table in s.tables:
            return s
    raise KeyError(f"no glossary section covers {table!r}")


def coverage_problems(
    gold_tables: Sequence[TableContract] = GOLD_TABLES, tables: Sequence[TableContract] = ()
) -> List[str]:
    """Why the glossary is incomplete or inconsistent, one line each; empty when it is sound.

    Every gold column is defined by a metric or listed in NON_METRIC_COLUMNS (not both); every referenced
    column and table exists (``tables``: the other contracts to resolve against, default the ops tables); every
    convention key exists; every key promotion metric's column is defined.
    """
    from .ops import OPS_TABLES

    known = {t.name: t for t in (tables or OPS_TABLES)}
    known.update({t.name: t for t in gold_tables})
    defined = defined_columns()
    problems = _section_problems(known)
    problems += _non_metric_problems(known, defined)
    problems += _undefined_gold_columns(gold_tables, defined)
    for k in KEY_METRICS.values():
        if f"{k.table}.{k.column}" not in defined:
            problems.append(f"key metric {k.name!r}: {k.table}.{k.column} has no glossary definition")
    return problems


def _section_problems(known: Dict[str, TableContract]) -> List[str]:
    """Unknown tables and conventions, columns defined twice or outside their section's tables."""
    problems = []
    seen: set = set()
    for s in SECTIONS:
        problems += [f"section {s.title!r}: unknown table {t}" for t in s.tables if t not in known]
        for m in s.metrics:
            problems += [
                f"metric {m.name!r}: unknown convention {key!r}" for key in m.conventions if key not in CONVENTION_KEYS
            ]
            for col in m.columns:
                if col in seen:
                    problems.append(f"{col}: defined twice")
                seen.add(col)
                problems += _metric_column_problems(m, col, s, known)
    return problems


def _metric_column_problems(
    m: BusinessMetric, col: str, section: Section, known: Dict[str, TableContract]
) -> List[str]:
    """A metric's column must belong to one of its section's tables, and that table must have it."""
    table, _, name = col.rpartition(".")
    if table not in section.tables:
        return [f"metric {m.name!r}: {col} is not a column of the section's tables"]
    if table in known and name not in known[table].column_names:
        return [f"metric {m.name!r}: {table} has no column {name!r}"]
    return []


def _non_metric_problems(known: Dict[str, TableContract], defined: Dict[str, BusinessMetric]) -> List[str]:
    """NON_METRIC_COLUMNS must name existing columns that no metric defines."""
    problems = []
    for col in NON_METRIC_COLUMNS:
        table, _, name = col.rpartition(".")
        if table not in known or name not in known[table].column_names:
            problems.append(f"NON_METRIC_COLUMNS: no column {col}")
        if col in defined:
            problems.append(f"{col}: both defined as a metric and listed as non-metric")
    return problems


def _undefined_gold_columns(gold_tables: Sequence[TableContract], defined: Dict[str, BusinessMetric]) -> List[str]:
    """Gold columns neither defined by a metric nor listed as non-metric."""
    return [
        f"{t.name}.{c}: no glossary definition; add a BusinessMetric to {SOURCE_FILE} "
        "(or list it in NON_METRIC_COLUMNS when it is a key or dimension)"
        for t in gold_tables
        for c in t.column_names
        if f"{t.name}.{c}" not in defined and f"{t.name}.{c}" not in NON_METRIC_COLUMNS
    ]
