"""Landing generator throughput: seconds and records/s for 100k and 1M records (writes to a temp dir).

Usage: ``python benchmarks/generator.py [--sizes 100000 1000000] [--seed 7] [--bad-ratio 0.01]``.
The target is <= 30 s for 1M records on a 2-core machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lakehouse.generator import generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--bad-ratio", type=float, default=0.01)
    args = ap.parse_args(argv)
    print(f"{'records':>10} {'seconds':>8} {'records/s':>11} {'files':>6} {'MB':>8}")
    for n in args.sizes:
        root = Path(tempfile.mkdtemp(prefix="lakehouse-gen-bench-"))
        try:
            t0 = time.perf_counter()
            manifest = generate(root, n, seed=args.seed, bad_ratio=args.bad_ratio, clean=True)
            secs = time.perf_counter() - t0
            mb = sum(f["bytes"] for f in manifest["files"]) / 1e6
            print(f"{n:>10,} {secs:>8.2f} {n / secs:>11,.0f} {len(manifest['files']):>6} {mb:>8.1f}")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
