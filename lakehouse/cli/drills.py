"""``lakehouse drill SCENARIO|all``: recovery drills on throw-away local lakes. The logic: :mod:`lakehouse.drills`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .common import console, lake_root

MARKER = ".drills"
"""A drills folder says so: a drill never breaks a folder that is not one (a real lake, say)."""


def drills_root(value: str) -> Path:
    """``--root``, created with its marker; refused when it exists, is not empty and is not a drills folder."""
    root = lake_root(value)
    if root.exists() and any(root.iterdir()) and not (root / MARKER).is_file():
        raise UsageError(
            f"--root {root}: not a drills folder (no {MARKER} file) and not empty; a drill breaks the lakes it "
            "works on, so it only works in a folder of its own"
        )
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("lakehouse recovery drills: lakes broken on purpose\n", encoding="utf-8")
    return root


def cmd_drill(args: argparse.Namespace) -> int:
    """``lakehouse drill SCENARIO|all``: run recovery drills on throw-away lakes and print measured RTO and loss."""
    from ..drills import SCENARIOS, run_drill
    from ..drills.runner import prepare, results_table

    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    if names[0] not in SCENARIOS:
        raise UsageError(f"drill {args.scenario!r}: no such scenario; choose from all, {', '.join(SCENARIOS)}")
    run_dir = drills_root(args.root) / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    pristine = run_dir / "pristine"
    prepare(pristine, args.records, args.engine, args.cli)
    results = []
    for name in names:
        lake = run_dir / name
        shutil.copytree(pristine, lake)
        results.append(run_drill(name, lake, cli=args.cli, engine=args.engine, prepared=True, console=console))
    console.print(results_table(results))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2, sort_keys=True))
    console.print(f"lakes and results: {run_dir} (each lake's _control/drills.jsonl)")
    return 0 if all(r.recovered for r in results) else 1


def add_parsers(sub: Any, cli: Callable[[list[str]], int]) -> None:
    """Register ``drill`` on the ``lakehouse`` parser; ``cli`` is the command line the drills type into."""
    from ..drills import SCENARIOS

    d = sub.add_parser(
        "drill",
        help="break a throw-away local lake on purpose, recover it with the runbook's commands, measure RTO/RPO",
    )
    d.add_argument("scenario", help=f"all, or one of: {', '.join(SCENARIOS)}")
    d.add_argument("--root", default=".drills", help="a folder for the drills' lakes (default: %(default)s)")
    d.add_argument(
        "--records", type=int, default=2_000, help="landing records of the drill lake (default: %(default)s)"
    )
    d.add_argument(
        "--engine",
        default=os.environ.get("LAKEHOUSE_ENGINE", "auto"),
        choices=("auto", "delta-rs", "delta-spark"),
        help="the table engine (default: auto, delta-spark where its jars load)",
    )
    d.add_argument("--json", action="store_true", help="also print the results as JSON")
    d.set_defaults(func=cmd_drill, cli=cli)
