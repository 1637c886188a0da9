"""Stress scenarios (issue 19): prints figures and each scenario's PASS/FAIL; exits 1 if any failed.

Each scenario builds a landing set with the real generator, post-processes its files
(benchmarks/stress_builders.py) and runs the real pipeline (`lakehouse run`, a fresh process per run),
measuring wall time, CPU seconds of the whole process tree and peak summed PSS. Its criterion is about
correctness (benchmarks/stress_checks.py: run-summary and bronze accounting, silver and the quarantines
against the generator's manifest, gold against DuckDB) and resources (peak PSS under 6 GB, and what the
scenario adds):

- big-file:     one entity (order_items) delivered as a single file of 2 GB;
- small-files:  1M records in 50,000 files;
- skew:         30 % of the orders on one customer; CPU and PSS within 2x / 1.5x the unskewed run;
- burst:        10x the usual (1 %) delivery lands while a run is in progress: the running batch takes each
                burst file whole or not at all, the next run takes the rest, nothing is lost;
- drift:        an unknown field in every record of every entity, CSV columns reversed: flagged
                ``unexpected_column``, kept in ``_extra``, silver unchanged;
- late-parents: 10 % of the customers with orders withheld for 30 batches: their orders and items are held,
                and released when the customers arrive.

    python benchmarks/stress.py [--quick | --scale F] [--only burst,drift] [--workdir .bench/stress] [--keep]
                                [--conf spark.driver.memory=4g ...]

``--conf`` is passed to every ``lakehouse run`` of the chosen scenarios (as ``lakehouse run --conf``) and recorded
with each result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import stress_builders as B  # noqa: E402
from benchmarks import stress_checks as C  # noqa: E402
from benchmarks.pipeline import run_command, run_measured  # noqa: E402
from job_assets.context import LakeLocations  # noqa: E402
from job_assets.contracts import landing as L  # noqa: E402
from lakehouse.generator import generate  # noqa: E402

FULL = {
    "big-file": {"bytes": 2_000_000_000},
    "small-files": {"records": 1_000_000, "files": 50_000},
    "skew": {"records": 1_000_000},
    "burst": {"records": 1_000_000},
    "drift": {"records": 1_000_000},
    "late-parents": {"records": 100_000, "batches": 30},
}
QUICK = {
    "big-file": {"bytes": 100_000_000},  # over bronze's LARGE_FILE_BYTES: the streamed path
    "small-files": {"records": 40_000, "files": 2_000},
    "skew": {"records": 50_000},
    "burst": {"records": 50_000},
    "drift": {"records": 50_000},
    "late-parents": {"records": 20_000, "batches": 3},
}
RUN_CONF: list[str] = []
"""``--conf`` items for every run (set once by :func:`main`)."""
ITEM_BYTES = 53  # bytes per order_items CSV record (measured on a generated set)
ITEM_SHARE = 0.51  # order_items' share of a generated set's records


@dataclass
class Measure:
    """One or more pipeline runs: wall seconds, CPU seconds of the process trees, peak summed PSS."""

    wall: float = 0.0
    cpu: float = 0.0
    pss: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: Measure) -> None:
        """Sum the times, keep the highest peak, gather the errors."""
        self.wall += other.wall
        self.cpu += other.cpu
        self.pss = max(self.pss, other.pss)
        self.errors += other.errors


class TreeUsage:
    """CPU seconds (user + system) of this process's descendants while running: psutil samples per process,
    and the kernel's RUSAGE_CHILDREN (exact for the descendants that were waited for); the larger. Also the
    bytes they had the kernel write to disk (``written``: tables, shuffle files, spills, logs; sampled)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, float], float] = {}
        self.io: dict[tuple[int, float], int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self.stop.is_set():
            for p in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    self.seen[(p.pid, p.create_time())] = t.user + t.system
                    self.io[(p.pid, p.create_time())] = p.io_counters().write_bytes
            self.stop.wait(0.5)

    def __enter__(self) -> TreeUsage:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.r0 = r.ru_utime + r.ru_stime
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.total = max(sum(self.seen.values()), r.ru_utime + r.ru_stime - self.r0)
        self.written = sum(self.io.values())


def run(root: Path, batch: str) -> Measure:
    """`lakehouse run` on ``root`` as batch ``batch``, measured; a failed run is an error, not an exit."""
    cmd = run_command(root, batch, conf=RUN_CONF)
    t0 = time.perf_counter()
    with TreeUsage() as cpu:
        try:
            wall, peaks = run_measured(cmd)
            m = Measure(wall, 0.0, peaks["pss"])
        except SystemExit as exc:
            m = Measure(time.perf_counter() - t0, 0.0, 0, [f"run {batch} crashed: {exc}"])
    m.cpu = cpu.total
    print(json.dumps({"run": batch, "wall_s": round(m.wall, 1), "cpu_s": round(m.cpu, 1), "pss_gb": m.pss / 1e9}))
    return m


def _fresh(workdir: Path, name: str, records: int) -> tuple[Path, dict]:
    root = workdir / name
    shutil.rmtree(root, ignore_errors=True)
    # a set over 10M records (the full 2 GB big file: ~74M) is streamed by the generator, shard by shard
    shards = 2_000_000 if records > 10_000_000 else None
    return root, generate(root, records, seed=42, bad_ratio=0.01, shard_records=shards)


def _finish(root: Path, m: Measure, manifest: dict, skip: tuple[str, ...] | None = None) -> list[str]:
    """A run's errors, or (it ran) the lake checks and the memory bound."""
    if m.errors:
        return m.errors
    return [*C.lake_checks(root, manifest, B.count_records(root / "landing"), skip), *C.memory_check(m.pss)]


def big_file(workdir: Path, size: dict) -> tuple[str, Measure, list[str], str]:
    """order_items as one file of ``size['bytes']``."""
    records = int(size["bytes"] / ITEM_BYTES / ITEM_SHARE)
    root, manifest = _fresh(workdir, "big-file", records)
    path, n = B.concat_entity(root / "landing", L.ORDER_ITEMS.name)
    mb = path.stat().st_size / 1e6
    m = run(root, "stress-big")
    return (
        f"{mb:,.0f} MB file ({n:,} records; {records:,} in all)",
        m,
        _finish_scaled(root, m, manifest),
        "accounting + PSS",
    )


def _finish_scaled(root: Path, m: Measure, manifest: dict) -> list[str]:
    """:func:`_finish` with the load test's checks, which read no table whole (``benchmarks/load.py``): the full
    big file's set (~74M records) would not fit in memory as Arrow tables. Only for a scenario that keeps every
    record the generator wrote (the manifest's ``records_written`` is the landing count)."""
    from benchmarks.load import accounting  # here: load.py imports this module

    return m.errors or [*accounting(root, manifest), *C.memory_check(m.pss)]


def small_files(workdir: Path, size: dict) -> tuple[str, Measure, list[str], str]:
    """The set split into ``size['files']`` files."""
    root, manifest = _fresh(workdir, "small-files", size["records"])
    n = B.split_files(root / "landing", size["files"])
    m = run(root, "stress-small")
    files = [str(p.relative_to(root / "landing")) for p in B.landing_files(root / "landing")]
    bad = _finish(root, m, manifest) + ([] if m.errors else C.logged_once(root, files)[:5])
    return f"{size['records']:,} records in {n:,} files", m, bad, "accounting + every file logged once + PSS"


def skew(workdir: Path, size: dict) -> tuple[str, Measure, list[str], str]:
    """30 % of the orders on one customer, against the same set unskewed."""
    plain, manifest = _fresh(workdir, "skew-plain", size["records"])
    hot_root = workdir / "skew-hot"
    shutil.rmtree(hot_root, ignore_errors=True)
    shutil.copytree(plain, hot_root)
    hot, share = B.skew_orders(hot_root / "landing")
    base = run(plain, "stress-plain")
    m = run(hot_root, "stress-skew")
    bad = _finish(hot_root, m, manifest) + base.errors
    if not bad:
        cpu_x, pss_x = m.cpu / base.cpu, m.pss / base.pss
        print(json.dumps({"skew_vs_plain": {"cpu_x": round(cpu_x, 2), "pss_x": round(pss_x, 2)}}))
        bad += [f"CPU {cpu_x:.2f}x the unskewed run (> 2x)"] if cpu_x > 2 else []
        bad += [f"PSS {pss_x:.2f}x the unskewed run (> 1.5x)"] if pss_x > 1.5 else []
    desc = f"{size['records']:,} records, {share:.0%} of orders on customer {hot}"
    return desc, m, bad, "accounting + PSS; CPU <= 2x, PSS <= 1.5x unskewed"


def _land(staging: Path, root: Path, files: list[Path], started: Callable[[], bool]) -> None:
    """Move ``files`` from ``staging``'s landing into ``root``'s (renames: each appears whole) once ``started``."""
    while not started():
        time.sleep(0.2)
    for i, f in enumerate(files):
        target = root / "landing" / f
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / "landing" / f, target)
        if i % max(1, len(files) // 10) == 0:
            time.sleep(0.3)


def burst(workdir: Path, size: dict) -> tuple[str, Measure, list[str], str]:
    """10x the usual 1 % delivery lands while a run is in progress."""
    root, _ = _fresh(workdir, "burst", size["records"])
    staging = workdir / "burst-staging"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(root, staging)
    before = {p.relative_to(staging / "landing") for p in B.landing_files(staging / "landing")}
    manifest = generate(staging, size["records"] // 10, seed=42, bad_ratio=0.01, increment=1)
    new = sorted({p.relative_to(staging / "landing") for p in B.landing_files(staging / "landing")} - before)
    log = Path(LakeLocations.for_root(str(root)).table_uri("bronze.ingestion_log")) / "_delta_log"
    mover = threading.Thread(target=_land, args=(staging, root, new, log.is_dir))
    mover.start()
    m = run(root, "stress-running")
    mover.join()
    shutil.copy(staging / "_generator" / "manifest.json", root / "_generator" / "manifest.json")
    bad, taken = list(m.errors), 0
    if not bad:
        rows = [r for r in C.ingestion_log(root) if str(Path(r["source_file"])) in {str(f) for f in new}]
        taken = sum(1 for r in rows if r["status"] in ("ingested", "empty"))
        half = {r["source_file"] for r in rows if r["status"] == "claimed"} - {
            r["source_file"] for r in rows if r["status"] != "claimed"
        }
        bad += [f"{len(half)} burst files claimed but not ingested by the running batch"] if half else []
    m2 = run(root, "stress-after-burst")
    m.add(m2)
    bad += _finish(root, m, manifest) + ([] if m.errors else C.logged_once(root, [str(f) for f in new])[:5])
    desc = f"{size['records']:,} records, then {size['records'] // 10:,} in {len(new)} files during the run"
    print(json.dumps({"burst_files": len(new), "taken_by_running_batch": taken}))
    return desc, m, bad, "running batch takes none or whole files; next run the rest; accounting + PSS"


def drift(workdir: Path, size: dict) -> tuple[str, Measure, list[str], str]:
    """An unknown field in every record of every entity; CSV columns reversed."""
    root, manifest = _fresh(workdir, "drift", size["records"])
    drifted = B.add_drift(root / "landing")
    m = run(root, "stress-drift")
    bad = _finish(root, m, manifest, skip=("unexpected_column", "empty_file"))
    if not m.errors:
        in_bronze = C.drifted_in_bronze(root, B.DRIFT_CSV) + C.drifted_in_bronze(root, B.DRIFT_JSON)
        flagged = C.unexpected_columns(root)
        print(json.dumps({"drifted": dict(drifted), "in_bronze_extra": dict(in_bronze), "unexpected_column": flagged}))
        bad += [
            f"{e}: {in_bronze[e]} bronze rows keep the field in _extra, {n} drifted"
            for e, n in drifted.items()
            if in_bronze[e] != n
        ]
        total = sum(drifted.values())
        bad += [f"unexpected_column counted {flagged}, {total} records drifted"] if flagged != total else []
    desc = f"{size['records']:,} records, every entity drifted"
    return desc, m, bad, "silver as without drift; every drifted record in _extra and flagged; accounting + PSS"


def _increment(root: Path, k: int, records: int, late: set[str], pool: list) -> None:
    """Deliver increment ``k``, keeping the withheld customers out of it."""
    landing = root / "landing"
    before = set(B.landing_files(landing))
    generate(root, records, seed=42, bad_ratio=0.01, increment=k)
    B.withhold_customers(landing, late, pool, sorted(set(B.landing_files(landing)) - before))


def late_parents(workdir: Path, size: dict) -> tuple[str, Measure, list[str], str]:
    """10 % of the customers with orders withheld for ``size['batches']`` batches, then delivered."""
    root, _ = _fresh(workdir, "late-parents", size["records"])
    landing, pool = root / "landing", []
    late = B.pick_late_parents(landing, 0.10)
    B.withhold_customers(landing, late, pool, B.landing_files(landing))
    m = Measure()
    for b in range(1, size["batches"] + 1):
        if b > 1:
            _increment(root, b - 1, max(1000, size["records"] // 100), late, pool)
        m.add(run(root, f"stress-late-{b:02d}"))
        if m.errors:
            return f"{len(late)} customers late", m, m.errors, "held orphans released"
    manifest = json.loads((root / "_generator" / "manifest.json").read_text())
    orphans = manifest["expected_errors"]["orphan_reference"]
    held_before = C.held(root)
    dts = sorted(p.parent.name for p in B.landing_files(landing))
    B.deliver_pool(landing, pool, dts[-1].removeprefix("dt="))
    m.add(run(root, "stress-late-parents"))
    bad = _finish(root, m, manifest)
    if not m.errors:
        held_after = C.held(root)
        print(
            json.dumps(
                {
                    "late_customers": len(late),
                    "held_before": held_before,
                    "held_after": held_after,
                    "generator_orphans": orphans,
                }
            )
        )
        bad += (
            [f"only {held_before} held before the parents (generator's own orphans: {orphans})"]
            if (held_before <= orphans)
            else []
        )
        bad += (
            [f"{held_after - orphans} orphans still held after their parents arrived"] if held_after != orphans else []
        )
    desc = f"{size['records']:,} records, {len(late)} customers ({len(pool)} rows) {size['batches']} batches late"
    return desc, m, bad, "children held, all released when parents arrive; accounting + PSS"


SCENARIOS: dict[str, Callable[[Path, dict], tuple[str, Measure, list[str], str]]] = {
    "big-file": big_file,
    "small-files": small_files,
    "skew": skew,
    "burst": burst,
    "drift": drift,
    "late-parents": late_parents,
}


def sizes(quick: bool, scale: float) -> dict[str, dict]:
    """Each scenario's sizes: the quick profile, or the full (issue) size times ``scale``."""
    if quick:
        return QUICK
    out = {}
    for name, size in FULL.items():
        out[name] = {k: max(1, round(v * scale)) for k, v in size.items()}
    return out


def main() -> int:
    """Run the chosen scenarios one after the other; 1 if any failed its criterion."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the small profile (minutes on 2 cores)")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the full (issue) size")
    p.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    p.add_argument("--workdir", default=str(ROOT / ".bench" / "stress"))
    p.add_argument("--keep", action="store_true", help="keep the scenario lakes")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="as `lakehouse run --conf`")
    args = p.parse_args()
    RUN_CONF[:] = args.conf
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := [n for n in names if n not in SCENARIOS]:
        p.error(f"--only: unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    plan = sizes(args.quick, args.scale)
    results = []
    for name in names:
        load = os.getloadavg()[0]
        desc, m, bad, criterion = SCENARIOS[name](workdir, plan[name])
        r = {
            "scenario": name,
            "profile": "quick" if args.quick else f"scale {args.scale:g}",
            "size": desc,
            "wall_s": round(m.wall, 1),
            "cpu_s": round(m.cpu, 1),
            "peak_pss_gb": round(m.pss / 1e9, 2),
            "load_avg": round(load, 1),
            "conf": args.conf,
            "criterion": criterion,
            "result": "FAIL" if bad else "PASS",
            "failures": bad,
        }
        results.append(r)
        print(json.dumps(r), flush=True)
        if not args.keep:
            for d in workdir.glob(f"{name.split('-')[0]}*"):  # its lakes: big-file, burst-staging, skew-hot...
                shutil.rmtree(d, ignore_errors=True)
    with (workdir / "results.jsonl").open("a") as out:
        out.writelines(json.dumps(r) + "\n" for r in results)
    print(f"{'scenario':<13} {'wall s':>7} {'CPU s':>7} {'PSS GB':>7} result  size")
    for r in results:
        print(
            f"{r['scenario']:<13} {r['wall_s']:>7} {r['cpu_s']:>7} {r['peak_pss_gb']:>7} {r['result']:<7} {r['size']}"
        )
    return 1 if any(r["result"] == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
