"""The analyst notebooks (notebooks/*.ipynb, every one of them): committed without outputs, with lineage
metadata (``metadata.lakehouse.reads``) that names real tables and columns and is exactly what the notebook
reads; each executed with nbclient, in a kernel on this interpreter, on a lake the pipeline built in three
runs, without an error or a warning; and their figures checked against that lake: every notebook's DQ figures
(``lh.show_dq``) against the lake's ``dq_results`` and ``run_summary``, every export (``lh.export``) against what
it announced and its content against the lake (06: against the contracts)."""

from __future__ import annotations

import collections
import csv
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest
from deltalake import DeltaTable

from job_assets.context import LakeLocations, RunContext
from job_assets.contracts import LANDING_ENTITIES, OPS_TABLES, REGISTRY
from job_assets.jobs.pipeline import run_pipeline
from lakehouse.generator import generate
from lakehouse.local import notebook as lh

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = lh.notebooks(ROOT / lh.NOTEBOOKS_DIR)
IDS = [p.stem.split("_", 1)[0] for p in NOTEBOOKS]
BATCHES = ("b1", "b2", "b3")
CSV_COLUMNS = ["model", "order_month", "lead_source", "revenue_usd", "order_count", "distinct_customers"]


def _declared(nb) -> list[str]:
    meta = nb.metadata.get("lakehouse")
    assert isinstance(meta, dict) and isinstance(meta.get("reads"), list), "metadata.lakehouse.reads is missing"
    return meta["reads"]


def _cents(value) -> int:
    return int(Decimal(str(value)) * 100)


# --- the committed files (no Spark) ---------------------------------------------------------------------------


def test_the_analyst_notebooks_are_there():
    assert {"04", "05", "06", "07"} <= set(IDS), IDS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {i} has outputs: clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_declared_reads_name_real_tables_and_columns(path):
    reads = _declared(nbformat.read(path, as_version=4))
    assert all(isinstance(r, str) for r in reads) and len(set(reads)) == len(reads), reads
    for entry in reads:
        parts = entry.split(".")
        assert len(parts) in (2, 3), f"{entry!r}: expected layer.table or layer.table.column"
        table = ".".join(parts[:2])
        assert table in REGISTRY, f"{entry!r}: no contract for {table}"
        if len(parts) == 3:
            assert parts[2] in REGISTRY[table].column_names, f"{entry!r}: {table} has no column {parts[2]!r}"


# --- which lake (no Spark) ------------------------------------------------------------------------------------


def _local_lake(root: Path) -> Path:
    for layer in ("bronze", "silver"):
        (root / layer).mkdir(parents=True)
    return root


def test_local_lake_relative_to_the_checkout_and_the_published_slot(tmp_path):
    checkout = tmp_path / "repo"
    (checkout / "notebooks").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    lake = _local_lake(checkout / ".lake")
    opened = lh.open_lake({}, cwd=checkout / "notebooks")  # a notebook's working directory
    assert opened.local_root == lake and opened.gold_slot == "blue"
    assert opened.uri("silver.orders") == f"{lake}/silver/orders"
    assert opened.uri("gold.dq_results") == f"{lake}/gold/blue/dq_results"
    assert opened.output_dir == lake / "_exports"
    (lake / "_control").mkdir()
    (lake / "_control" / "slots.json").write_text(json.dumps({"active": "green"}))
    assert lh.open_lake({}, cwd=checkout).uri("gold.win_rates") == f"{lake}/gold/green/win_rates"
    assert lh.open_lake({lh.ENV_SLOT: "blue"}, cwd=checkout).gold_slot == "blue"
    out = lh.open_lake({lh.ENV_OUTPUT: "/tmp/x"}, cwd=checkout).output_dir
    assert out == Path("/tmp/x").resolve()


def test_s3_lake_by_root_or_per_layer_uri(tmp_path):
    with pytest.raises(lh.NotebookError, match="LAKEHOUSE_GOLD_SLOT"):  # the published slot is in SSM: no guess
        lh.open_lake({lh.ENV_URI: "s3://lake-bucket/prefix/"}, cwd=tmp_path)
    one = lh.open_lake(
        {lh.ENV_URI: "s3://lake-bucket/prefix/", lh.ENV_ROOT: "/ignored", lh.ENV_SLOT: "blue"}, cwd=tmp_path
    )
    assert one.uri("bronze.quarantine") == "s3://lake-bucket/prefix/bronze/quarantine"
    assert one.uri("gold.revenue_attribution") == "s3://lake-bucket/prefix/gold/blue/revenue_attribution"
    assert one.local_root is None and one.output_dir == (tmp_path / "build" / "notebooks" / "exports").resolve()
    green = lh.open_lake({lh.ENV_URI: "s3://lake-bucket", lh.ENV_SLOT: "green"}, cwd=tmp_path)
    assert green.uri("gold.win_rates") == "s3://lake-bucket/gold/green/win_rates"
    layers = {
        "LAKEHOUSE_BRONZE_URI": "s3://dev-bronze",
        "LAKEHOUSE_SILVER_URI": "s3://dev-silver/",
        "LAKEHOUSE_GOLD_URI": "s3://dev-gold/green",
    }
    per_layer = lh.open_lake(layers, cwd=tmp_path)
    assert per_layer.uri("silver.orders") == "s3://dev-silver/orders"
    assert per_layer.uri("gold.customer_segments") == "s3://dev-gold/green/customer_segments"
    assert per_layer.gold_slot == "green" and "exports" in str(per_layer.output_dir)


def test_bad_settings_are_one_clear_error(tmp_path):
    with pytest.raises(lh.NotebookError, match=r"no lake at .*make run"):
        lh.open_lake({lh.ENV_ROOT: str(tmp_path / "none")}, cwd=tmp_path)
    with pytest.raises(lh.NotebookError, match="LAKEHOUSE_GOLD_SLOT"):
        lh.open_lake({lh.ENV_SLOT: "red"}, cwd=tmp_path)
    lake = lh.open_lake({lh.ENV_ROOT: str(_local_lake(tmp_path / "lake"))}, cwd=tmp_path)
    with pytest.raises(lh.NotebookError, match="unknown table"):
        lake.uri("silver.nope")
    with pytest.raises(lh.NotebookError, match="not in its contract"):
        lake.read("silver.orders", ["order_id", "nope"])
    with pytest.raises(lh.NotebookError, match="has the pipeline run"):
        lake.read("silver.orders", ["order_id"])
    assert list(lake.read("silver.orders", ["order_id"], missing_ok=True).columns) == ["order_id"]
    assert lh.attribution_model({}) == "last_touch"
    assert lh.attribution_model({lh.ENV_ATTRIBUTION: "first_touch"}) == "first_touch"
    with pytest.raises(lh.NotebookError, match="LAKEHOUSE_ATTRIBUTION_MODEL"):
        lh.attribution_model({lh.ENV_ATTRIBUTION: "linear"})


def test_export_writes_csv_or_parquet_to_the_lakes_export_folder(tmp_path, capsys):
    import pandas as pd

    lake = lh.open_lake({lh.ENV_ROOT: str(_local_lake(tmp_path / "lake")), lh.ENV_OUTPUT: str(tmp_path / "out")})
    frame = pd.DataFrame({"table": ["silver.orders", "gold.win_rates"], "rows": [3, 1]})
    assert lh.export(frame, "t.csv", lake) == tmp_path / "out" / "t.csv"
    assert pd.read_csv(tmp_path / "out" / "t.csv").equals(frame)
    assert pd.read_parquet(lh.export(frame, "t.parquet", lake)).equals(frame)
    assert "export t.parquet" in capsys.readouterr().out  # the result the notebook test reads
    with pytest.raises(lh.NotebookError, match=r"'t.xlsx': name a .csv or .parquet file"):
        lh.export(frame, "t.xlsx", lake)


# --- executed on a lake -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lake(tmp_path_factory, spark, rs_engine) -> Path:
    """Three pipeline runs: a base delivery and two increments (new keys, updates, bad records each)."""
    root = tmp_path_factory.mktemp("notebook-lake")
    for increment, batch in enumerate(BATCHES):
        generate(root, 2_000 if increment == 0 else 1_000, seed=23, bad_ratio=0.02, increment=increment)
        run_pipeline(RunContext(spark, rs_engine, LakeLocations.for_root(str(root)), batch))
    return root


@pytest.fixture(scope="module")
def executed(lake, tmp_path_factory):
    """Run a notebook once on the lake (cached): its executed copy and the reads it logged."""
    runs: dict[str, tuple] = {}
    logs = tmp_path_factory.mktemp("notebook-reads")

    def run(path: Path):
        if path.name not in runs:
            log = logs / f"{path.stem}.jsonl"
            env = lh.kernel_env(os.environ, LAKEHOUSE_LAKE_ROOT=str(lake), LAKEHOUSE_NB_READ_LOG=str(log))
            # a cell that hangs fails after 120 s; how long a notebook takes is no test's business (benchmarks time)
            nb = lh.execute(path, env, timeout=120)  # CellExecutionError on the first failing cell
            logged = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            runs[path.name] = (nb, logged)
        return runs[path.name]

    return run


def _by_prefix(prefix: str) -> Path:
    return next(p for p in NOTEBOOKS if p.name.startswith(prefix))


@pytest.mark.spark
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_on_the_pipelines_lake(path, executed):
    nb, logged = executed(path)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
            text = out.get("text", "") if out.get("name") == "stderr" else ""
            assert "Warning" not in text, f"cell {i} warns:\n{text}"
    if logged:  # the notebook reads through lakehouse.local.notebook: its declared reads are exactly what it read
        assert {r["python"] for r in logged} == {sys.executable}, "the kernel is not this interpreter"
        read = {f"{r['table']}.{c}" for r in logged for c in r["columns"]}
        tables = {r["table"] for r in logged}
        declared = set(_declared(nb))
        undeclared = {c for c in read if c not in declared and c.rsplit(".", 1)[0] not in declared}
        unread = {d for d in declared if d not in read and d not in tables}
        assert not undeclared, f"read but not in metadata.lakehouse.reads: {sorted(undeclared)}"
        assert not unread, f"in metadata.lakehouse.reads but never read: {sorted(unread)}"


def _rows(lake: Path, table: str) -> list[dict]:
    return DeltaTable(LakeLocations.for_root(str(lake)).table_uri(table)).to_pyarrow_table().to_pylist()


@pytest.mark.spark
def test_04_exports_both_models_and_last_touch_equals_gold(lake, executed):
    nb, *_ = executed(_by_prefix("04_"))
    export = lh.results_of(nb)["attribution_export"]
    path = lake / "_exports" / "revenue_attribution_by_model.csv"
    assert Path(export["path"]) == path and export["published_model"] == "last_touch"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == export["rows"] and {r["model"] for r in rows} == {"last_touch", "first_touch"}
    gold = {
        (r["order_month"].isoformat(), r["lead_source"]): (
            _cents(r["revenue_usd"]),
            r["order_count"],
            r["distinct_customers"],
        )
        for r in _rows(lake, "gold.revenue_attribution")
    }
    last = {
        (r["order_month"], r["lead_source"]): (
            _cents(r["revenue_usd"]),
            int(r["order_count"]),
            int(r["distinct_customers"]),
        )
        for r in rows
        if r["model"] == "last_touch"
    }
    assert last == gold
    total = sum(v[0] for v in gold.values())
    assert sum(_cents(r["revenue_usd"]) for r in rows if r["model"] == "first_touch") == total
    assert {m: _cents(v) for m, v in export["revenue_usd"].items()} == {"last_touch": total, "first_touch": total}


@pytest.mark.spark
def test_05_segments_and_cohorts_equal_gold(lake, executed):
    nb, *_ = executed(_by_prefix("05_"))
    results = lh.results_of(nb)
    segments = _rows(lake, "gold.customer_segments")
    assert results["rfm_segment_counts"] == dict(collections.Counter(r["rfm_segment"] for r in segments))
    cohorts = _rows(lake, "gold.customer_ltv_cohorts")
    assert results["cohorts"] == {
        "cohorts": len({r["cohort_month"] for r in cohorts}),
        "customers": len(segments),
    }
    assert _cents(results["lifetime_value"]["revenue_usd"]) == sum(_cents(r["monetary_usd"]) for r in segments)


@pytest.mark.spark
def test_07_lists_every_run_and_the_worst_rules(lake, executed):
    nb, *_ = executed(_by_prefix("07_"))
    results = lh.results_of(nb)
    assert [r["batch_id"] for r in results["runs"]] == list(BATCHES)
    for run in results["runs"]:
        assert run["jobs"] == {"bronze": "succeeded", "silver": "succeeded", "gold": "succeeded"}, run
    failed: collections.Counter = collections.Counter()
    for layer in ("bronze", "silver", "gold"):
        for r in _rows(lake, f"{layer}.dq_results"):
            failed[(r["table_name"], r["rule"])] += r["failed"]
    worst = results["worst_rules"]
    assert worst and worst[0]["failed"] == max(failed.values())
    assert all(failed[(w["table"], w["rule"])] == w["failed"] for w in worst)
    quarantined = collections.Counter(
        r["_error"] for layer in ("bronze", "silver") for r in _rows(lake, f"{layer}.quarantine")
    )
    assert results["quarantine_by_reason"] == dict(quarantined)


# --- every notebook: DQ figures and exports ---------------------------------------------------------------------

OPS = {t.name for t in OPS_TABLES}


def _expected_dq(lake: Path, table: str) -> dict:
    """The lake's figures for ``table`` in the last run that checked it, read straight from the Delta tables."""
    layer = table.split(".", 1)[0]
    checks = [r for r in _rows(lake, f"{layer}.dq_results") if r["table_name"] == table]
    if not checks:
        return {"batch_id": None, "rules": None, "checked": None, "failed": None, "dq_score": None}
    last = max(r["evaluated_ts"] for r in checks)
    latest = [r for r in checks if r["evaluated_ts"] == last]
    batch = latest[0]["batch_id"]
    summary = [r for r in _rows(lake, f"{layer}.run_summary") if (r["table_name"], r["batch_id"]) == (table, batch)]
    return {
        "batch_id": batch,
        "rules": len(latest),
        "checked": sum(r["checked"] for r in latest),
        "failed": sum(r["failed"] for r in latest),
        "failing_rules": sum(1 for r in latest if r["failed"]),
        "dq_score": summary[-1]["dq_score"],
        "rows_quarantined": summary[-1]["rows_quarantined"],
    }


@pytest.mark.spark
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_notebook_shows_the_dq_figures_of_what_it_reads(path, lake, executed):
    nb, *_ = executed(path)
    shown = lh.results_of(nb).get(lh.DQ_RESULT)
    assert shown, f"{path.name} shows no DQ figures (lh.show_dq)"
    data_tables = {".".join(r.split(".")[:2]) for r in _declared(nb)} - OPS
    assert data_tables <= set(shown), f"read without DQ figures: {sorted(data_tables - set(shown))}"
    checked = [t for t, figures in shown.items() if figures["rules"]]
    assert checked, "no table with DQ figures"
    for table, figures in shown.items():
        expected = _expected_dq(lake, table)
        assert {k: figures.get(k) for k in expected} == expected, table
    silver = [t for t in checked if t.startswith("silver.")]
    assert not silver or any(shown[t]["failed"] for t in silver), "the generator's bad records fail no silver rule?"


@pytest.mark.spark
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_notebook_exports_its_results(path, lake, executed):
    nb, *_ = executed(path)
    exports = {k: v for k, v in lh.results_of(nb).items() if k.startswith(lh.EXPORT_RESULT)}
    if path.name.startswith("04_"):  # 04 names its own result (test_04_... checks the content)
        exports[lh.EXPORT_RESULT + "revenue_attribution_by_model.csv"] = lh.results_of(nb)["attribution_export"]
    assert exports, f"{path.name} exports nothing (lh.export)"
    for name, export in exports.items():
        file = Path(export["path"])
        assert file == lake / "_exports" / name.removeprefix(lh.EXPORT_RESULT), file
        with file.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == export["columns"] and len(list(reader)) == export["rows"] > 0, name


def _export(lake: Path, name: str) -> list[dict]:
    with (lake / "_exports" / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.spark
def test_05_exports_equal_gold(lake, executed):
    executed(_by_prefix("05_"))
    segments = _rows(lake, "gold.customer_segments")
    profile = {r["rfm_segment"]: r for r in _export(lake, "rfm_segment_profile.csv")}
    counts = collections.Counter(r["rfm_segment"] for r in segments)
    assert {s: int(r["customers"]) for s, r in profile.items() if int(r["customers"])} == dict(counts)
    revenue: collections.Counter = collections.Counter()
    for r in segments:
        revenue[r["rfm_segment"]] += _cents(r["monetary_usd"])
    assert {s: round(float(r["revenue_usd"]) * 100) for s, r in profile.items() if s in counts} == dict(revenue)
    gold = {
        (r["cohort_month"].isoformat(), r["months_since_first"]): (r["cohort_size"], r["active_customers"])
        for r in _rows(lake, "gold.customer_ltv_cohorts")
    }
    exported = _export(lake, "cohort_retention.csv")
    assert {
        (r["cohort_month"], int(r["months_since_first"])): (int(r["cohort_size"]), int(r["active_customers"]))
        for r in exported
    } == gold
    assert all(abs(float(r["retention"]) - int(r["active_customers"]) / int(r["cohort_size"])) < 1e-9 for r in exported)


def _contract_lineage() -> tuple[set, set]:
    """(table, upstream) and (column, input) pairs, straight from the data tables' contracts."""
    contracts = [c for c in REGISTRY.values() if c.name not in OPS]
    tables = {(c.name, up) for c in contracts for up in c.upstream}
    columns = {(f"{c.name}.{col}", ref) for c in contracts for col, refs in c.lineage for ref in refs}
    return tables, columns


@pytest.mark.spark
def test_06_lineage_figures_and_exports_equal_the_contracts(lake, executed):
    nb, *_ = executed(_by_prefix("06_"))
    tables, columns = _contract_lineage()
    assert {(r["table"], r["upstream"]) for r in _export(lake, "table_lineage.csv")} == tables
    assert {(r["column"], r["input"]) for r in _export(lake, "column_lineage.csv")} == columns
    figures = lh.results_of(nb)["lineage"]
    data = [c for c in REGISTRY.values() if c.name not in OPS]
    assert figures["tables"] == len(data) + len(LANDING_ENTITIES)
    assert figures["columns"] == sum(len(c.columns) for c in data) + sum(len(e.fields) for e in LANDING_ENTITIES)
    assert (figures["table_edges"], figures["column_edges"]) == (len(tables), len(columns))
    inputs: dict[str, set] = collections.defaultdict(set)
    for column, ref in columns:
        inputs[column].add(ref)
    todo, leaves, seen = ["gold.revenue_attribution.lead_source"], set(), set()
    while todo:
        ref = todo.pop()
        if ref not in seen:
            seen.add(ref)
            if inputs[ref]:
                todo.extend(inputs[ref])
            else:
                leaves.add(ref)
    assert set(figures["lead_source_from"]) == leaves and all(r.startswith("landing.") for r in leaves)


@pytest.mark.spark
def test_07_exports_every_run_and_every_rule(lake, executed):
    executed(_by_prefix("07_"))
    assert [r["batch_id"] for r in _export(lake, "runs.csv")] == list(BATCHES)
    totals: dict[tuple, list[int]] = collections.defaultdict(lambda: [0, 0])
    for layer in ("bronze", "silver", "gold"):
        for r in _rows(lake, f"{layer}.dq_results"):
            totals[(r["table_name"], r["rule"])][0] += r["checked"]
            totals[(r["table_name"], r["rule"])][1] += r["failed"]
    exported = {
        (r["table_name"], r["rule"]): [int(r["checked"]), int(r["failed"])] for r in _export(lake, "rule_failures.csv")
    }
    assert exported == dict(totals)
