"""`lakehouse report` rendering: sections, one chart mark per figure, self-contained, clear errors (no Spark)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from lakehouse.cli import main as cli_main
from lakehouse.local.report import Freshness, ReportData, ReportError, Run, load, outline, render

T0 = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)


def run(job: str, batch: str, minutes: int, *, out: int, dq: float | None, status: str = "succeeded") -> Run:
    return Run(
        job=job,
        batch_id=batch,
        status=status,
        ended=T0 + dt.timedelta(minutes=minutes),
        duration_s=10.0 + minutes,
        rows_in=out + 5,
        rows_out=out,
        rows_quarantined=5,
        dq_score=dq,
        engine="delta-rs",
    )


def sample(**changes) -> ReportData:
    runs = [
        run("bronze", "b20261122T030000000000Z", 1, out=1000, dq=0.999),
        run("silver", "b20261122T030000000000Z", 2, out=900, dq=0.97),
        run("gold", "b20261122T030000000000Z", 3, out=50, dq=1.0),
        run("bronze", "b20261123T030000000000Z", 1441, out=20, dq=1.0),
        run("silver", "b20261123T030000000000Z", 1442, out=0, dq=None, status="skipped"),
        run("maintenance", "b20261124T050000000000Z", 2900, out=0, dq=None),
    ]
    data = ReportData(
        lake_root="/lakes/<demo> & co",
        generated=T0 + dt.timedelta(days=3),
        runs=runs,
        quarantine={("bronze", "unparseable_record", "quarantined"): 4, ("silver", "orphan_reference", "held"): 7},
        freshness=[
            Freshness("silver.orders", T0, 180.0, 1560),
            Freshness("gold.revenue_attribution", T0, 4000.0, 1560),
        ],
    )
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def test_every_section_and_one_mark_per_figure() -> None:
    page = outline(render(sample()))
    assert page.sections == [
        "Last runs",
        "Records per layer",
        "Quarantine by reason",
        "DQ score across runs",
        "Job durations",
        "Freshness",
    ]
    # two layer batches charted (the maintenance-only batch is not); the skipped silver run has no bar
    assert page.marks["records-per-layer"] == 4
    assert page.marks["job-durations"] == 4
    assert page.marks["dq-score-trend"] == 4  # bronze x2, silver x1 (skipped has none), gold x1
    assert page.marks["quarantine-by-reason"] == 2
    assert page.marks["freshness"] == 2


def test_the_page_is_self_contained_and_escapes_what_it_shows() -> None:
    text = render(sample())
    page = outline(text)
    assert page.external == [] and page.scripts == 0
    assert not re.search(r"url\(|@import|<link", text)
    assert "/lakes/&lt;demo&gt; &amp; co" in text and "<demo>" not in text


def test_figures_are_in_the_tooltips_and_breaches_are_named() -> None:
    text = render(sample())
    assert "<title>b20261122T030000000000Z silver: 900 records</title>" in text
    assert "silver: orphan_reference (held): 7 records" in text
    assert "1 of 2 tables are past their freshness SLO: gold.revenue_attribution (4,000 &gt; 1560 min)" in text
    assert 'id="runs"' in text and text.count("<tr>") == 1 + 6  # header + every run (newest first)


def test_empty_quarantine_and_no_freshness_say_so() -> None:
    text = render(sample(quarantine={}, freshness=[]))
    assert 'id="quarantine-by-reason">No record is in quarantine.' in text
    assert "No silver or gold table with a freshness SLO exists yet." in text


def test_not_a_lake_and_a_lake_without_runs_are_clear_errors(tmp_path: Path, capsys) -> None:
    with pytest.raises(ReportError, match="is not a lake"):
        load(tmp_path)
    (tmp_path / "landing").mkdir()
    with pytest.raises(ReportError, match=r"no runs in .* yet: run `lakehouse run"):
        load(tmp_path)
    assert cli_main(["report", "--lake-root", str(tmp_path)]) == 2
    assert "no runs in" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()
