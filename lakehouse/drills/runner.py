"""Run a drill: prepare a lake, snapshot what the scenario protects, inject, recover, measure, record.

RTO is the wall-clock time from the failure being injected to the end of the step that completes the
recovery (diagnosis commands included: an operator runs them too). RPO is measured in data, not minutes:
the rows of the protected tables the recovered lake no longer holds (0 means nothing was lost).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..errors import UsageError
from ..generator import generate
from ..recovery.writer_guard import CONTROL_DIR
from .measure import Loss, loss, snapshot
from .scenarios import CRASHES, SCENARIOS, Scenario, Step

RESULTS_FILE = "drills.jsonl"
"""``<lake>/_control/drills.jsonl``: one JSON line per drill run."""


@dataclass(frozen=True)
class DrillResult:
    """One drill's measured outcome."""

    scenario: str
    failure: str
    runbook: str
    at: str
    engine: str
    rto_seconds: float
    rows_before: int
    rows_lost: int
    rows_new: int
    recovered: bool
    steps: list[dict[str, Any]]
    tables_short: list[str]
    """The protected tables missing rows they held before the failure."""

    def line(self) -> str:
        """The drill's result as one line: recovered or not, RTO, rows lost."""
        verdict = "recovered" if self.recovered else "NOT recovered"
        return (
            f"{self.scenario}: {verdict} in {self.rto_seconds:.1f} s; {self.rows_lost:,} of {self.rows_before:,} "
            f"protected rows lost" + (f"; {self.rows_new:,} new rows ingested" if self.rows_new else "")
        )


Cli = Callable[[list[str]], int]
"""The ``lakehouse`` command line, in-process (:func:`lakehouse.cli.main`): given by the caller, so that this
package, which the CLI wires, does not import the CLI back."""


def prepare(root: Path, records: int, engine: str, cli: Cli) -> None:
    """A lake that has run the pipeline once on a generated delivery (not timed)."""
    generate(root, records, seed=17, bad_ratio=0.02)
    if cli(["run", "--lake-root", str(root), "--engine", engine]) != 0:
        raise UsageError(f"--lake-root {root}: the drill's first pipeline run failed; see the output above")


def _run_step(step: Step, cli: Cli) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        code: int | str = cli(step.argv)
    except Exception as error:  # a step expected to crash (bronze on a poison file) raises
        if step.expect != CRASHES:
            raise
        code = CRASHES
        detail = (str(error).strip().splitlines() or [type(error).__name__])[-1][:200]
    else:
        detail = ""
    took = time.perf_counter() - started
    allowed = step.expect if isinstance(step.expect, tuple) else (step.expect,)
    if code not in allowed:
        raise UsageError(f"drill step `lakehouse {' '.join(step.argv)}` exited {code}, expected {step.expect}")
    return {"command": "lakehouse " + " ".join(step.argv), "exit": code, "seconds": round(took, 2), "detail": detail}


def _engine_factory(name: str) -> Callable[[], Any]:
    from ..recovery.engines import engine_factory

    return engine_factory(name)


def run_drill(
    name: str,
    root: Path,
    *,
    cli: Cli,
    records: int = 2_000,
    engine: str = "auto",
    prepared: bool = False,
    console: Console | None = None,
) -> DrillResult:
    """Run scenario ``name`` on the local lake ``root`` (prepared first unless ``prepared``); the result is
    appended to ``<root>/_control/drills.jsonl``."""
    scenario = _scenario(name)
    if not prepared:
        prepare(root, records, engine, cli)
    before = snapshot(root, scenario.protects)
    with scenario.around() if scenario.around else nullcontext():
        context = scenario.inject(root, _engine_factory(engine))
        started = time.perf_counter()  # the failure is in place: the clock runs from here
        rto, steps = _recover(scenario, root, context, started, cli)
        where = scenario.recovered(root, context) if scenario.recovered else root
    measured = loss(before, snapshot(where, scenario.protects))
    result = DrillResult(
        scenario=scenario.name,
        failure=scenario.failure,
        runbook=scenario.runbook,
        at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        engine=engine,
        rto_seconds=round(rto, 1),
        rows_before=measured.rows_before,
        rows_lost=measured.rows_lost,
        rows_new=measured.rows_extra,
        recovered=_recovered(scenario, measured),
        steps=steps,
        tables_short=list(measured.tables_short),
    )
    _record(root, result)
    if console is not None:
        console.print(result.line())
    return result


def _recovered(scenario: Scenario, measured: Loss) -> bool:
    """Nothing lost but what the scenario loses by design, and nothing new unless it brings new data."""
    allowed = set(scenario.may_lose)
    unexpected_new = set(measured.tables_extra) - allowed
    return set(measured.tables_short) <= allowed and (scenario.allows_new_rows or not unexpected_new)


def _scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise UsageError(f"drill {name!r}: no such scenario; choose from {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def _recover(
    scenario: Scenario, root: Path, context: dict[str, Any], started: float, cli: Cli
) -> tuple[float, list[dict]]:
    steps, rto = [], None
    for step in scenario.steps(root, context):
        if step.before is not None:
            step.before()
        steps.append(_run_step(step, cli))
        if step.ends_recovery:
            rto = time.perf_counter() - started
    return (rto if rto is not None else time.perf_counter() - started), steps


def _record(root: Path, result: DrillResult) -> Path:
    path = root / CONTROL_DIR / RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(result), sort_keys=True) + "\n")
    return path


def results_table(results: list[DrillResult]) -> Table:
    """The drills' figures, as docs/RECOVERY_DRILLS.md shows them."""
    out = Table(title="Recovery drills")
    for col in ("scenario", "runbook", "RTO s", "rows lost", "new rows", "result"):
        out.add_column(col, justify="right" if col in ("RTO s", "rows lost", "new rows") else "left")
    for r in results:
        verdict = "recovered" if r.recovered else "NOT recovered"
        out.add_row(r.scenario, r.runbook, f"{r.rto_seconds:.1f}", f"{r.rows_lost:,}", f"{r.rows_new:,}", verdict)
    return out
