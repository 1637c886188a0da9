"""A/B of Spark settings on the same landing set: prints wall time, CPU seconds and peak PSS per variant.

Generates one landing set (seed 42, 1 % bad), then runs ``lakehouse run`` on a fresh copy of it once per
variant and round (a fresh process each: JVM start-up included), the variants interleaved round by round so a
change in the machine's load hits each alike. A variant is ``name:spark.key=value[,spark.key=value...]``
passed as ``lakehouse run --conf``; ``baseline`` (no override) is always run. Each run also reports the bytes the
process tree had the kernel write to disk (tables, shuffle files, spills, checkpoints). CPU seconds of the process tree
are the figure to compare on a shared machine (docs/BENCHMARKS.md); nothing is asserted.

    python benchmarks/settings_ab.py --records 1000000 --rounds 2 \\
        --variant "no-broadcast:spark.sql.autoBroadcastJoinThreshold=-1" \\
        --variant "spark-default-10mb:spark.sql.autoBroadcastJoinThreshold=10485760"
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import run_command, run_measured  # noqa: E402
from benchmarks.stress import TreeUsage  # noqa: E402
from lakehouse.generator import generate  # noqa: E402


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``name:spark.a=1,spark.b=2`` -> (name, ["spark.a=1", "spark.b=2"])."""
    name, sep, confs = text.partition(":")
    items = [c.strip() for c in confs.split(",") if c.strip()]
    if not sep or not name or not items or not all(c.startswith("spark.") and "=" in c for c in items):
        raise SystemExit(f"--variant {text!r}: expected name:spark.key=value[,spark.key=value...]")
    return name, items


def measure(template: Path, work: Path, name: str, confs: list[str]) -> dict:
    """One run of the pipeline on a fresh copy of ``template`` with ``confs``: wall, CPU-s, peak PSS."""
    lake = work / f"lake-{name}"
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(template, lake)
    load = os.getloadavg()[0]
    with TreeUsage() as tree:
        wall, peaks = run_measured(run_command(lake, f"ab-{name}", confs))
    shutil.rmtree(lake, ignore_errors=True)
    return {
        "variant": name,
        "wall_s": round(wall, 1),
        "cpu_s": round(tree.total, 1),
        "pss_gb": round(peaks["pss"] / 1e9, 2),
        "disk_written_gb": round(tree.written / 1e9, 2),
        "load": round(load, 1),
    }


def main() -> int:
    """Run every variant ``--rounds`` times, interleaved, and print each run and the medians."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--variant", action="append", default=[], help="name:spark.key=value[,...] (repeatable)")
    p.add_argument("--workdir", default=str(ROOT / ".bench" / "ab"))
    args = p.parse_args()
    variants = [("baseline", [])] + [parse_variant(v) for v in args.variant]
    work = Path(args.workdir)
    template = work / "landing"
    shutil.rmtree(template, ignore_errors=True)
    generate(template, args.records, seed=42, bad_ratio=0.01)
    runs = []
    for _ in range(args.rounds):
        for name, confs in variants:
            r = measure(template, work, name, confs)
            runs.append(r)
            print(json.dumps(r), flush=True)
    print(f"{'variant':<22} {'wall s':>8} {'CPU s':>8} {'PSS GB':>7} {'disk GB':>8}   (medians of {args.rounds})")
    for name, _ in variants:
        mine = [r for r in runs if r["variant"] == name]
        print(
            f"{name:<22} {statistics.median(r['wall_s'] for r in mine):>8.1f} "
            f"{statistics.median(r['cpu_s'] for r in mine):>8.1f} {statistics.median(r['pss_gb'] for r in mine):>7.2f} "
            f"{statistics.median(r['disk_written_gb'] for r in mine):>8.2f}"
        )
    shutil.rmtree(template, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
