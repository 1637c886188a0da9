"""Read gold from a notebook: delta-rs into pandas, no Spark, and the DQ figures of what you read.

The analyst notebooks (``notebooks/``) read the lake through ``lakehouse.local.notebook``: ``open_lake()``
finds the lake from the environment (``LAKEHOUSE_LAKE_ROOT`` for a local lake, ``LAKEHOUSE_LAKE_URI`` or one
URI per layer for S3; gold is the published slot), ``lake.read(table, columns)`` reads those columns with
delta-rs and checks them against the table's contract, ``lh.dq_figures`` gives the data-quality figures of
the tables read (``lh.show_dq`` displays them in a notebook) and ``lh.export`` writes a result under the
export folder.

This example builds a tiny lake in a temporary folder (one gold table and its DQ results, written with
delta-rs), then reads it exactly as a notebook cell would.

Run: ``.venv/bin/python docs/examples/read_gold_from_a_notebook.py``
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from job_assets.contracts import contract
from job_assets.dq import RuleStat, results_rows
from lakehouse.local import notebook as lh

ATTRIBUTION = pa.schema(
    [
        ("order_month", pa.date32()),
        ("lead_source", pa.string()),
        ("revenue_usd", pa.decimal128(18, 2)),
        ("order_count", pa.int64()),
        ("distinct_customers", pa.int64()),
    ]
)


def tiny_lake(root: Path) -> None:
    """gold.revenue_attribution (three rows) and gold.dq_results (its two rules, all passed) in ``root``."""
    (root / "silver").mkdir(parents=True)  # a local lake has its layer folders
    rows = [
        (dt.date(2026, 10, 1), "Webinar", Decimal("1200.00"), 4, 3),
        (dt.date(2026, 11, 1), "Webinar", Decimal("800.50"), 2, 2),
        (dt.date(2026, 11, 1), "Unattributed", Decimal("99.99"), 1, 1),
    ]
    table = pa.Table.from_pylist([dict(zip(ATTRIBUTION.names, r, strict=True)) for r in rows], schema=ATTRIBUTION)
    write_deltalake(str(root / "gold" / "blue" / "revenue_attribution"), table)
    rules = contract("gold.revenue_attribution").rules
    checks = results_rows([RuleStat("gold.revenue_attribution", r, len(rows), 0) for r in rules], "b1", "gold", _now())
    write_deltalake(str(root / "gold" / "blue" / "dq_results"), pa.Table.from_pylist(checks))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


with tempfile.TemporaryDirectory() as folder:
    tiny_lake(Path(folder) / "lake")

    # --- what a notebook cell does ---------------------------------------------------------------------------
    lake = lh.open_lake({"LAKEHOUSE_LAKE_ROOT": f"{folder}/lake"})  # a notebook: lh.open_lake() (environment)
    gold = lake.read("gold.revenue_attribution", ["order_month", "lead_source", "revenue_usd"])
    by_source = gold.groupby("lead_source")["revenue_usd"].sum().sort_values(ascending=False)
    print(lake.describe())
    print(by_source.to_string())
    dq = lh.dq_figures(lake, ["gold.revenue_attribution"])
    print(dq[["table_name", "batch_id", "rules", "checked", "failed"]].to_string(index=False))

    assert round(by_source.sum(), 2) == 2100.49 and list(by_source.index) == ["Webinar", "Unattributed"]
    assert dq.loc[0, ["rules", "checked", "failed"]].tolist() == [2, 6, 0]
    try:
        lake.read("gold.revenue_attribution", ["revenue_eur"])
    except lh.NotebookError as error:  # a column the contract does not declare: one clear error
        print(f"refused: {error}")
    else:
        raise AssertionError("an unknown column should be refused")
print("OK: gold read with delta-rs, with the DQ figures of the table read")
