"""Regression guard (`make bench-check`): the 1M pipeline against the committed baseline, as ratios.

One run measures, on the same landing set (1M records, seed 42, 1 % bad) and in the same process tree
sampler as ``benchmarks/pipeline.py``: the whole pipeline on the default engine (``lakehouse run``, a
fresh process, JVM start-up included) and the DuckDB computation of the same gold tables straight from the
landing files (the median of three runs: at 1M it takes about 2 s, so one run's noise would dominate). What
is compared is **pipeline seconds / DuckDB seconds**: both run on this machine, in this run, so a slower or
busier machine slows both and the ratio stays. Peak memory (summed PSS) is compared directly: it does not
depend on the machine's speed.

    python benchmarks/bench_check.py [--records 1000000] [--tolerance 0.25] [--update]

Exit 0 when every figure is within tolerance of ``benchmarks/baseline.json``, 1 naming the figures past
it, 2 when the baseline is missing or unreadable. ``--update`` writes the measured figures as the new
baseline (commit it with the change that justified it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE = ROOT / "benchmarks" / "baseline.json"
# the figures guarded (a rise past the tolerance is a regression), and what each is
GUARDED = {
    "spark_to_duckdb_ratio": "pipeline seconds / DuckDB seconds on the same landing set",
    "peak_pss_gb": "peak summed PSS of the pipeline's process tree, GB",
}


def compare(baseline: dict, measured: dict, tolerance: float) -> list[str]:
    """The guarded figures of ``measured`` more than ``tolerance`` (a fraction) above ``baseline``'s.

    >>> failures = compare({"spark_to_duckdb_ratio": 40.0, "peak_pss_gb": 4.0},
    ...                    {"spark_to_duckdb_ratio": 52.0, "peak_pss_gb": 4.1}, 0.25)
    >>> [f.split(":")[0] for f in failures]
    ['spark_to_duckdb_ratio 52.0 > 50.0 (baseline 40.0 + 25 %)']
    """
    failures = []
    for key, what in GUARDED.items():
        if key not in baseline or key not in measured:
            failures.append(f"{key}: missing from the {'baseline' if key not in baseline else 'measurement'}")
            continue
        limit = baseline[key] * (1 + tolerance)
        if measured[key] > limit:
            failures.append(
                f"{key} {measured[key]} > {limit:.1f} (baseline {baseline[key]} + {tolerance * 100:.0f} %): {what}"
            )
    return failures


def measure(records: int, workdir: Path) -> dict:
    """Generate ``records``, run the pipeline on the default engine and DuckDB three times; the figures."""
    from benchmarks.pipeline import duckdb_gold_from_landing, run_command, run_measured
    from lakehouse.generator import generate

    lake = workdir / f"lake-{records}"
    shutil.rmtree(lake, ignore_errors=True)
    generate(lake, records, seed=42, bad_ratio=0.01)
    pipeline_s, memory = run_measured(run_command(lake, "bench-check"))
    pipeline_s = round(pipeline_s, 1)
    duck_s = round(statistics.median(duckdb_gold_from_landing(lake)[0] for _ in range(3)), 2)
    return {
        "records": records,
        "engine": "default (auto)",
        "pipeline_s": pipeline_s,
        "duckdb_gold_s": duck_s,
        "spark_to_duckdb_ratio": round(pipeline_s / duck_s, 1),
        "peak_pss_gb": round(memory["pss"] / 1e9, 2),
        "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "machine": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--tolerance", type=float, default=0.25, help="allowed rise over the baseline (0.25 = 25 %%)")
    p.add_argument("--update", action="store_true", help="write the measured figures as the new baseline")
    p.add_argument("--baseline", type=Path, default=BASELINE)
    args = p.parse_args(argv)
    baseline = None
    if not args.update:
        try:
            baseline = json.loads(args.baseline.read_text())
        except (OSError, ValueError) as e:
            print(f"bench-check: baseline {args.baseline} unreadable ({e}): run with --update first", file=sys.stderr)
            return 2
        if baseline.get("records") != args.records:
            print(f"bench-check: baseline {args.baseline} is for {baseline.get('records')} records, not {args.records}")
            return 2
    with tempfile.TemporaryDirectory(prefix="lakehouse-bench-check-") as tmp:
        measured = measure(args.records, Path(tmp))
    print(json.dumps(measured), flush=True)
    if args.update:
        args.baseline.write_text(json.dumps(measured, indent=2) + "\n")
        print(f"bench-check: baseline written to {args.baseline}")
        return 0
    failures = compare(baseline, measured, args.tolerance)
    for line in failures:
        print(f"bench-check: REGRESSION {line}")
    if not failures:
        ratio, peak = measured["spark_to_duckdb_ratio"], measured["peak_pss_gb"]
        print(
            f"bench-check: ok, ratio {ratio} (baseline {baseline['spark_to_duckdb_ratio']}), peak {peak} GB "
            f"(baseline {baseline['peak_pss_gb']}), tolerance {args.tolerance * 100:.0f} %"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
