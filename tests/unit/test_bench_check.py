"""`make bench-check`'s comparison (benchmarks/bench_check.py): the guarded figures against the baseline.

The measurement itself is a benchmark (a 1M pipeline run), never run by the tests; what is tested is the
decision it feeds and the refusals that come before any measurement."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

from benchmarks import bench_check

BASE = {"records": 1_000_000, "spark_to_duckdb_ratio": 40.0, "peak_pss_gb": 4.0}


def test_within_tolerance_passes_and_each_figure_past_it_is_named() -> None:
    assert bench_check.compare(BASE, {"spark_to_duckdb_ratio": 49.9, "peak_pss_gb": 5.0}, 0.25) == []
    assert bench_check.compare(BASE, {"spark_to_duckdb_ratio": 30.0, "peak_pss_gb": 2.0}, 0.25) == []
    failures = bench_check.compare(BASE, {"spark_to_duckdb_ratio": 50.1, "peak_pss_gb": 5.2}, 0.25)
    assert [f.split(" ")[0] for f in failures] == ["spark_to_duckdb_ratio", "peak_pss_gb"]
    assert "50.1 > 50.0 (baseline 40.0 + 25 %)" in failures[0]
    assert bench_check.compare(BASE, {"spark_to_duckdb_ratio": 44.0, "peak_pss_gb": 4.1}, 0.05) == [
        "spark_to_duckdb_ratio 44.0 > 42.0 (baseline 40.0 + 5 %): " + bench_check.GUARDED["spark_to_duckdb_ratio"]
    ]


def test_a_figure_missing_on_either_side_fails() -> None:
    assert bench_check.compare({"spark_to_duckdb_ratio": 40.0}, BASE, 0.25) == [
        "peak_pss_gb: missing from the baseline"
    ]
    assert bench_check.compare(BASE, {"peak_pss_gb": 4.0}, 0.25) == [
        "spark_to_duckdb_ratio: missing from the measurement"
    ]


def test_the_docstring_example_holds() -> None:
    assert doctest.testmod(bench_check).failed == 0


def test_a_missing_or_mismatched_baseline_is_refused_before_measuring(tmp_path: Path, capsys, monkeypatch) -> None:
    def no_measuring(*_):
        raise AssertionError("measured despite an unusable baseline")

    monkeypatch.setattr(bench_check, "measure", no_measuring)
    missing = tmp_path / "nope.json"
    assert bench_check.main(["--baseline", str(missing)]) == 2
    assert f"baseline {missing} unreadable" in capsys.readouterr().err
    other = tmp_path / "baseline.json"
    other.write_text(json.dumps({**BASE, "records": 100_000}))
    assert bench_check.main(["--baseline", str(other)]) == 2
    assert "is for 100000 records, not 1000000" in capsys.readouterr().out


def test_the_committed_baseline_is_a_1m_measurement() -> None:
    baseline = json.loads(bench_check.BASELINE.read_text())
    assert baseline["records"] == 1_000_000
    assert set(bench_check.GUARDED) <= set(baseline)
    assert baseline["spark_to_duckdb_ratio"] == round(baseline["pipeline_s"] / baseline["duckdb_gold_s"], 1)
