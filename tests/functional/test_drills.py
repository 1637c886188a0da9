"""`lakehouse drill`: every scenario runs end to end on a copy of a real local lake, through the runbook's
commands as an operator types them, and the lake it leaves holds every protected row it held before the
failure. The timings are measured and recorded (docs/RECOVERY_DRILLS.md quotes them), never asserted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lakehouse.cli import main
from lakehouse.drills import SCENARIOS, run_drill
from lakehouse.drills.runner import RESULTS_FILE

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lake(two_batch_lake, tmp_path) -> Path:
    root = tmp_path / "lake"
    shutil.copytree(two_batch_lake, root)
    return root


SLOW_SCENARIOS = {"lost-silver"}
"""In `make test-slow` only (the default suite stays under 15 minutes): rebuilding a lost silver layer takes a
worker 70 s; the default suite still rebuilds from bronze in the runbook harness (every table replayed and
compared), on gold in tests/functional/test_rebuild.py, on delta-rs and on the S3 lake."""


@pytest.mark.parametrize(
    "scenario",
    [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_SCENARIOS else name for name in SCENARIOS],
)
def test_each_scenario_recovers_without_losing_a_row(scenario, lake) -> None:
    result = run_drill(scenario, lake, cli=main, prepared=True)
    assert result.recovered, result.line()
    assert result.rows_before > 0
    if SCENARIOS[scenario].may_lose:  # a region lost with replication behind: its lag is the data lost
        assert result.rows_lost > 0 and set(result.tables_short) == set(SCENARIOS[scenario].may_lose)
    else:
        assert result.rows_lost == 0
    commands = [s["command"] for s in result.steps]
    runbook = (ROOT / "runbooks" / result.runbook).read_text(encoding="utf-8")
    for command in commands:  # every step is a command the scenario's runbook tells the operator to run
        verb = " ".join(command.split()[:3]) if command.split()[1] in ("table", "landing") else command.split()[1]
        assert verb in runbook, f"{command!r}: not in runbooks/{result.runbook}"
    expected = [step.expect for step in SCENARIOS[scenario].steps(lake, {"version": 0, "whole": b""})]
    for step, expect in zip(result.steps, expected, strict=True):  # each as the runbook expects (a crash too)
        assert step["exit"] in (expect if isinstance(expect, tuple) else (expect,)), step
    if SCENARIOS[scenario].allows_new_rows:  # the delivery that came with the poison file, then the file itself
        assert result.rows_new > 0
    recorded = [json.loads(x) for x in (lake / "_control" / RESULTS_FILE).read_text().splitlines()]
    assert recorded[-1]["scenario"] == scenario and recorded[-1]["rto_seconds"] == result.rto_seconds


def test_a_drill_never_breaks_a_folder_that_is_not_a_drills_folder(tmp_path, capsys) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "data.txt").write_text("a real lake, say")
    assert main(["drill", "bad-write", "--root", str(tmp_path / "lake")]) == 2
    assert "not a drills folder" in capsys.readouterr().err
    assert main(["drill", "no-such", "--root", str(tmp_path / "drills")]) == 2
    assert "no such scenario" in capsys.readouterr().err


def test_the_drills_doc_shows_every_scenario_beside_its_objective() -> None:
    doc = (ROOT / "docs" / "RECOVERY_DRILLS.md").read_text(encoding="utf-8")
    for name, scenario in SCENARIOS.items():
        assert f"`{name}`" in doc and scenario.runbook in doc
    assert "BACKUP_AND_RESTORE.md" in doc and "RTO" in doc and "RPO" in doc
