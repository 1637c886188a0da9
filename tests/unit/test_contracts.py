"""The contracts are the single source of truth: check they are internally consistent."""

from __future__ import annotations

import pytest

from job_assets.contracts import (
    ALL_TABLES,
    BRONZE_TABLES,
    ERROR_CODES,
    LANDING_ENTITIES,
    REGISTRY,
    SILVER_CURRENT,
    contract,
)
from job_assets.contracts.model import Rule
from job_assets.contracts.spark_schema import schema_of


def test_every_table_has_owner_description_grain_and_schema():
    for t in ALL_TABLES:
        assert t.owner and t.description and t.grain, t.name
        assert len(schema_of(t).fields) == len(t.columns)
        assert len(set(t.column_names)) == len(t.column_names), f"{t.name}: duplicate column"
        assert set(t.keys) <= set(t.column_names), f"{t.name}: keys not in columns"


def test_rules_reference_existing_columns_and_tables():
    for t in ALL_TABLES:
        for r in t.rules:
            if r.column:
                assert r.column in t.column_names, f"{t.name}.{r.name} -> {r.column}"
            if r.kind == "ref":
                parent = contract(r.ref_table)
                assert r.ref_column in parent.column_names
                assert r.ref_table in t.upstream, f"{t.name}: {r.ref_table} missing from upstream"


def test_silver_sources_every_landing_field_and_derives_rules_from_it():
    for c in SILVER_CURRENT:
        sources = {col.source for col in c.columns if col.source}
        assert sources == set(c.landing.field_names), c.name
        not_null = {r.column for r in c.rules if r.kind == "not_null" and r.severity == "quarantine"}
        required = {col.name for col in c.columns if col.source in {f.name for f in c.landing.fields if f.required}}
        assert required <= not_null, f"{c.name}: required fields without a not_null rule"
        casts = {r.column for r in c.rules if r.kind == "cast"}
        assert casts == {col.name for col in c.columns if col.source and col.type != "string"}


def test_bronze_table_per_landing_entity_with_metadata():
    assert {b.landing.name for b in BRONZE_TABLES} == {e.name for e in LANDING_ENTITIES}
    for b in BRONZE_TABLES:
        assert {"_ingest_ts", "_source_file", "_batch_id", "_record_hash", "_extra"} <= set(b.column_names)
        assert all(col.type == "string" for col in b.columns if col.source)


def test_lineage_points_at_real_columns():
    for t in ALL_TABLES:
        for out_col, inputs in t.lineage:
            assert out_col in t.column_names, f"{t.name}: lineage for unknown column {out_col}"
            for ref in inputs:
                layer, table, col = ref.split(".", 2)
                if layer == "landing":
                    continue
                parent = contract(f"{layer}.{table}")
                assert col in parent.column_names, f"{t.name}.{out_col} <- {ref}"


def test_error_codes_are_a_closed_set():
    with pytest.raises(ValueError, match="closed set"):
        Rule("x", "not_null", "a", "quarantine", "something_new")
    with pytest.raises(ValueError, match="severity"):
        Rule("x", "not_null", "a", "block", "missing_required")
    used = {r.error for t in ALL_TABLES for r in t.rules}
    assert used <= set(ERROR_CODES)


def test_unknown_table_names_the_known_ones():
    with pytest.raises(KeyError, match=r"silver\.orders"):
        contract("silver.order")
    assert "gold.revenue_attribution" in REGISTRY


def test_silver_dependencies_follow_the_contracts_and_refuse_cycles():
    import dataclasses

    from job_assets.jobs.silver import dependencies

    deps = dependencies(list(SILVER_CURRENT))
    assert deps["silver.order_items"] == {"silver.orders"}
    assert deps["silver.orders"] == {"silver.customers", "silver.fx_rates"}
    assert deps["silver.contacts"] == {"silver.accounts"}  # accounts_history is produced by accounts
    assert deps["silver.fx_rates"] == set()
    customers = contract("silver.customers")
    looped = dataclasses.replace(customers, upstream=(*customers.upstream, "silver.orders"))
    with pytest.raises(ValueError, match=r"cyclic silver dependencies among .*silver\.customers"):
        dependencies([looped if c.name == customers.name else c for c in SILVER_CURRENT])


def test_statistics_columns_are_columns_each_table_is_matched_or_selected_by() -> None:
    """``delta.dataSkippingStatsColumns`` of every table: its own columns, never empty; bronze and the
    quarantines by what their readers select (the batch, the table and status), the rest by key and version."""
    from job_assets.context import table_properties

    for c in ALL_TABLES:
        assert c.stats_columns, c.name
        assert set(c.stats_columns) <= set(c.column_names), c.name
        feed = {"delta.enableChangeDataFeed": "true", "delta.minWriterVersion": "4"} if c.change_feed else {}
        assert table_properties(c) == {"delta.dataSkippingStatsColumns": ",".join(c.stats_columns), **feed}
    assert contract("bronze.crm_accounts").stats_columns == ("_batch_id", "_ingest_ts")
    assert contract("silver.quarantine").stats_columns == ("_table", "_status", "_batch_id")
    assert contract("silver.orders").stats_columns == ("order_id", "updated_at")
    assert contract("gold.revenue_attribution").stats_columns == ("order_month", "lead_source")


def test_statistics_never_hold_direct_personal_data() -> None:
    """The Delta log's min/max statistics (readable by whoever reads ``_delta_log/``) hold no personal column
    but the surrogate identifiers that are keys (docs/security/PII.md)."""
    for c in ALL_TABLES:
        personal = {col.name: col.pii for col in c.columns if col.pii}
        in_stats = {name: personal[name] for name in c.stats_columns if name in personal}
        assert set(in_stats.values()) <= {"identifier"} and set(in_stats) <= set(c.keys), (c.name, in_stats)


def test_the_change_feed_is_on_where_gold_reads_changes_and_nowhere_else() -> None:
    """Gold's monthly tables follow silver's changes (job_assets/jobs/gold_build.py): exactly the silver tables
    they read keep a change data feed (protocol 1/4, docs/adr/0011-change-data-feed.md)."""
    from job_assets.jobs.gold_build import CHANGE_COLUMNS, MONTHLY

    followed = {u for name in MONTHLY for u in contract(name).upstream}
    assert followed == set(CHANGE_COLUMNS) == {c.name for c in ALL_TABLES if c.change_feed}
    for name, columns in CHANGE_COLUMNS.items():
        assert set(columns) <= set(contract(name).column_names), name
