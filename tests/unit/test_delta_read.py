"""The one read-only path of the CLI, the report, the notebooks and the promotion gates
(job_assets.delta_read): a table, or None for a folder that holds none (one log listing); rows, history and
row counts without Spark; and nothing else of theirs reaches for delta-rs directly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from job_assets.delta_read import DeltaReader, arrow_table, open_table

ROOT = Path(__file__).resolve().parents[2]


def test_a_table_opens_and_reads(tmp_path):
    uri = str(tmp_path / "t")
    write_deltalake(uri, pa.table({"id": [1, 2], "name": ["a", "b"]}))
    table = open_table(uri)
    assert table is not None and table.version() == 0
    assert arrow_table(table, ["name"]).to_pylist() == [{"name": "a"}, {"name": "b"}]


def test_no_table_is_none(tmp_path):
    assert open_table(str(tmp_path / "missing")) is None
    (tmp_path / "empty").mkdir()
    assert open_table(str(tmp_path / "empty")) is None


def test_reader_rows_history_and_counts(tmp_path):
    uri = str(tmp_path / "t")
    write_deltalake(uri, pa.table({"id": [1, 2], "name": ["a", "b"]}))
    write_deltalake(uri, pa.table({"id": [3], "name": ["c"]}), mode="append")
    reader = DeltaReader()
    assert reader.exists(uri) and not reader.exists(str(tmp_path / "missing"))
    assert sorted(r["id"] for r in reader.rows(uri, ["id"])) == [1, 2, 3]
    table = reader.open(uri)
    assert reader.row_count(table) == 3
    assert [h["version"] for h in reader.history(uri)] == [1, 0]
    assert [h["version"] for h in reader.history(table, 1)] == [1]
    assert reader.rows(str(tmp_path / "missing")) == [] and reader.history(str(tmp_path / "missing")) == []
    with pytest.raises(ValueError, match=r"no Delta table at .*missing"):
        reader.arrow(str(tmp_path / "missing"))


def test_reading_a_table_does_not_import_spark():
    """`lakehouse status` and a notebook read without Spark: the reader module leaves pyspark unimported."""
    code = "import sys, job_assets.delta_read as r; print(json.dumps(sorted(m for m in sys.modules if 'pyspark' in m)))"
    out = subprocess.run(
        [sys.executable, "-c", f"import json; {code}"], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(out.stdout) == []


def test_notebooks_read_through_the_helpers_only():
    """import-linter holds lakehouse/ to the reader ([tool.importlinter]); notebooks are not Python modules, so
    their code cells are checked here: no delta-rs, no Spark, no engine."""
    offenders = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            source = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
            for banned in ("deltalake", "pyspark", "job_assets.engine"):
                if banned in source:
                    offenders.append(f"{path.name}: {banned}")
    assert offenders == []


def test_delta_rs_without_deltalake_is_an_engine_unavailable_error(monkeypatch):
    """On EMR (no deltalake) `--engine delta-rs` is one clear error, not a bare ImportError."""
    import builtins

    from job_assets.engine import EngineUnavailableError, make_engine

    real_import = builtins.__import__

    def no_deltalake(name, *args, **kwargs):
        if name == "deltalake" or name.startswith("deltalake."):
            raise ImportError("No module named 'deltalake'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_deltalake)
    with pytest.raises(EngineUnavailableError, match="delta-rs: the 'deltalake' package is not installed"):
        make_engine(object(), "delta-rs")  # the engine fails before it touches the session
