"""Personal data is known by the contracts: every column that holds it, by name or by derivation, is marked."""

from __future__ import annotations

import re

import pytest

from job_assets.contracts import ALL_TABLES, LANDING_BY_NAME, REGISTRY, contract
from job_assets.contracts.model import PII_CATEGORIES, Column, LandingField

# Column names that say they hold personal data, whatever their table.
PERSONAL_NAME = re.compile(
    r"(?i)(^|_)(e_?mail|phone|mobile|first_?name|last_?name|full_?name|address|street|postcode|zip|birth)"
)


def _is_pii(reference: str) -> bool:
    """Whether ``layer.table.column`` (or ``landing.source.entity.Field``) is a personal column."""
    layer, rest = reference.split(".", 1)
    if layer == "landing":
        source, entity, field = rest.split(".")
        return any(f.pii for f in LANDING_BY_NAME[f"{source}/{entity}"].fields if f.name == field)
    table, column = rest.rsplit(".", 1)
    return contract(f"{layer}.{table}").column(column).pii is not None


def test_columns_named_like_personal_data_are_marked() -> None:
    for t in ALL_TABLES:
        for c in t.columns:
            if PERSONAL_NAME.search(c.name):
                assert c.pii, f"{t.name}.{c.name} looks personal but has no pii category"
    for entity in LANDING_BY_NAME.values():
        for f in entity.fields:
            if PERSONAL_NAME.search(f.name):
                assert f.pii, f"landing {entity.name}.{f.name} looks personal but has no pii category"


def test_a_column_derived_from_personal_data_is_marked_or_cleared_with_a_reason() -> None:
    for t in ALL_TABLES:
        lineage = dict(t.lineage)
        for c in t.columns:
            personal_inputs = [i for i in lineage.get(c.name, ()) if _is_pii(i)]
            if personal_inputs:
                assert c.pii or c.pii_cleared, f"{t.name}.{c.name} derives from {personal_inputs} but is unmarked"
            if c.pii_cleared:
                assert personal_inputs, f"{t.name}.{c.name} is cleared but derives from no personal column"


def test_bronze_and_silver_carry_the_landing_category() -> None:
    for t in ALL_TABLES:
        for c in t.columns:
            if t.landing and c.source:
                field = next(f for f in t.landing.fields if f.name == c.source)
                assert c.pii == field.pii, f"{t.name}.{c.name}: {c.pii} but landing {field.name} is {field.pii}"


@pytest.mark.parametrize(
    ("column", "category"),
    [
        ("silver.contacts.email", "email"),
        ("silver.contacts.first_name", "name"),
        ("silver.contacts.last_name", "name"),
        ("silver.contacts.contact_id", "identifier"),
        ("silver.accounts.name", "name"),
        ("silver.customers.email", "email"),
        ("silver.customers.customer_id", "identifier"),
        ("silver.orders.customer_id", "identifier"),
        ("gold.customer_segments.customer_id", "identifier"),
        ("bronze.crm_contacts.Email", "email"),
        ("silver.quarantine._payload", "record"),
    ],
)
def test_the_known_personal_columns(column: str, category: str) -> None:
    table, name = column.rsplit(".", 1)
    assert REGISTRY[table].column(name).pii == category


def test_non_personal_columns_stay_unmarked() -> None:
    assert contract("gold.revenue_attribution").pii_columns == ()
    assert contract("silver.opportunities").pii_columns == ()  # the opportunity name is a deal's, not a person's
    assert [c.name for c in contract("gold.customer_segments").pii_columns] == ["customer_id"]


def test_a_category_outside_the_closed_set_or_both_marks_are_refused() -> None:
    with pytest.raises(ValueError, match="pii 'ssn' not in"):
        Column("x", "string", pii="ssn")
    with pytest.raises(ValueError, match="either personal"):
        Column("x", "string", pii="email", pii_cleared="aggregate")
    with pytest.raises(ValueError, match="pii 'phone number' not in"):
        LandingField("X", "string", pii="phone number")
    assert "phone" in PII_CATEGORIES
