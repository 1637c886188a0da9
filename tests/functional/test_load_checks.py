"""The load test's accounting (benchmarks/load.py), which must hold at 100M records without loading a table into
memory: on a real two-batch lake it agrees with the end-to-end checks (everything holds), and it names what is
wrong when a silver row is lost or a gold figure is changed. The lake is the session's (conftest.two_batch_lake),
copied; the tampering is done with delta-rs, no Spark.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

from benchmarks import load
from benchmarks import stress_checks as C

from .lake_checks import table, table_path

pytestmark = pytest.mark.spark


@pytest.fixture
def lake(two_batch_lake, tmp_path) -> tuple[Path, dict]:
    root = tmp_path / "lake"
    shutil.copytree(two_batch_lake, root)
    return root, json.loads((root / "_generator" / "manifest.json").read_text())


def test_the_scaled_checks_hold_where_the_in_memory_ones_do(lake):
    root, manifest = lake
    assert load.accounting(root, manifest) == []
    assert C.lake_checks(root, manifest, manifest["records_written"]) == []
    assert dict(load.quarantine_errors(root)) == dict(C.quarantine_errors(root))
    batches = {r["batch_id"] for r in table(root, "silver.run_summary").to_pylist()}
    assert any(set(load.layer_seconds(root, b)) == {"bronze", "silver", "gold"} for b in batches)
    assert load.lake_bytes(root) > 0


def test_a_lost_silver_row_and_a_changed_gold_figure_are_named(lake):
    root, manifest = lake
    orders = table(root, "silver.orders")
    write_deltalake(table_path(root, "silver.orders"), orders.slice(1), mode="overwrite")
    wins = table(root, "gold.win_rates")
    changed = wins.set_column(
        wins.schema.get_field_index("won_count"),
        wins.schema.field("won_count"),
        pc.add(wins.column("won_count"), pa.scalar(1, wins.schema.field("won_count").type)),
    )
    write_deltalake(table_path(root, "gold.win_rates"), changed, mode="overwrite")
    bad = load.accounting(root, manifest)
    n = manifest["expected_silver_rows"]["silver.orders"]
    assert f"silver.orders: {n - 1} rows, manifest expects {n}" in bad
    assert any(b.startswith("gold.win_rates: ") and "not in DuckDB's" in b for b in bad), bad
    assert not any(b.startswith("gold.sales_pipeline") for b in bad)
