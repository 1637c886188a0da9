"""Gold by month against gold rebuilt whole, on the same re-delivery: prints gold's wall time, CPU seconds and the
months recomputed per variant, and whether the two variants' tables are equal.

Generates a set (seed 42, 1 % bad), runs the whole pipeline on it, delivers 1 % new and changed records
(``--delivery`` sets another size; recency-skewed, the generator's default) and runs bronze and silver on
them. Then, round by round, it copies that lake once per variant and runs ``lakehouse run --layers gold
--flag gold_by_month=<variant>`` in a fresh process (JVM start-up included), the variants interleaved so a
change in the machine's load hits each alike.
The figure to compare on a shared machine is CPU seconds (docs/BENCHMARKS.md, "Gold by month"); nothing is
asserted, except that both variants publish the same tables.

    python benchmarks/gold_by_month.py --records 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import run_command, run_measured  # noqa: E402
from benchmarks.stress import TreeUsage  # noqa: E402
from lakehouse.generator import generate  # noqa: E402

VARIANTS = ("always", "never")
MONTHLY = ("revenue_attribution", "customer_ltv_cohorts")
SEED, BAD_RATIO = 42, 0.01


def _run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process tree) of ``cmd``; raises when it fails."""
    with TreeUsage() as tree:
        wall, _ = run_measured(cmd)
    return wall, tree.total


def prepare(workdir: Path, records: int, delivery: int) -> Path:
    """A lake whose silver holds a re-delivery of ``delivery`` records gold has not been built from."""
    lake = workdir / f"lake-{records}"
    shutil.rmtree(lake, ignore_errors=True)
    generate(lake, records, seed=SEED, bad_ratio=BAD_RATIO)
    wall, cpu = _run(run_command(lake, "full"))
    print(json.dumps({"records": records, "full_run_s": round(wall, 1), "full_cpu_s": round(cpu, 1)}), flush=True)
    generate(lake, delivery, seed=SEED, bad_ratio=BAD_RATIO, increment=1)
    _run([*run_command(lake, "redelivery"), "--layers", "bronze,silver"])
    return lake


def last_build(lake: Path, table: str) -> dict:
    """The build provenance of the newest commit of gold table ``table`` (blue slot)."""
    log = lake / "gold" / "blue" / table / "_delta_log"
    newest = max(log.glob("*.json"))
    for line in newest.read_text().splitlines():
        if '"commitInfo"' in line:
            return json.loads(json.loads(line)["commitInfo"].get("userMetadata") or "{}").get("build", {})
    return {}


def gold_rows(lake: Path) -> dict[str, list]:
    """Every gold table's rows, sorted (delta-rs: no Spark)."""
    from deltalake import DeltaTable

    out = {}
    for folder in sorted((lake / "gold" / "blue").iterdir()):
        if (folder / "_delta_log").is_dir() and not folder.name.endswith(("profiles", "run_summary", "dq_results")):
            rows = DeltaTable(str(folder)).to_pyarrow_table().to_pylist()
            out[folder.name] = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delivery", type=int, help="records of the re-delivery (default: 1 %% of --records)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench" / "gold-by-month")
    args = parser.parse_args(argv)
    delivery = args.delivery or max(1000, args.records // 100)
    base = prepare(args.workdir, args.records, delivery)
    figures: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    tables: dict[str, dict] = {}
    for round_no in range(args.rounds):
        for variant in VARIANTS if round_no % 2 == 0 else tuple(reversed(VARIANTS)):
            lake = args.workdir / f"run-{variant}"
            shutil.rmtree(lake, ignore_errors=True)
            shutil.copytree(base, lake)
            wall, cpu = _run([*run_command(lake, "gold"), "--layers", "gold", "--flag", f"gold_by_month={variant}"])
            figures[variant].append((wall, cpu))
            builds = {t: last_build(lake, t) for t in MONTHLY}
            months = {t: (b.get("mode"), b.get("months")) for t, b in builds.items()}
            print(
                json.dumps(
                    {
                        "round": round_no,
                        "variant": variant,
                        "gold_s": round(wall, 1),
                        "cpu_s": round(cpu, 1),
                        "builds": months,
                    }
                ),
                flush=True,
            )
            tables[variant] = gold_rows(lake)
    summary = {
        v: {
            "gold_s_median": round(statistics.median(w for w, _ in f), 1),
            "cpu_s_median": round(statistics.median(c for _, c in f), 1),
        }
        for v, f in figures.items()
    }
    summary["tables_equal"] = tables["always"] == tables["never"]
    print(json.dumps({"records": args.records, "delivery": delivery, "summary": summary}))
    return 0 if summary["tables_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
