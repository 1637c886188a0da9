"""Pipeline benchmark: prints figures, asserts nothing.

For each size (100k and 1M records; 10M with BENCH_10M=1 or --sizes) and each table engine (delta-spark,
the default, and delta-rs): generate a landing set (once per size, copied for each engine), run the whole
pipeline (`lakehouse run --engine E`, a fresh process: JVM start-up included) and record wall time,
records/s and the peak memory of the whole process tree (Python driver, JVM, Python workers: summed PSS,
and RSS by role, see ``run_measured``); then deliver 1% new and changed records and time the incremental
re-run; then run a DuckDB implementation of the same gold computations on the same landing files.

    python benchmarks/pipeline.py [--sizes 100000,1000000] [--engines delta-spark,delta-rs] [--workdir .bench]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.host import host_probe  # noqa: E402
from lakehouse.generator import generate  # noqa: E402


def _tree(root: psutil.Process) -> dict[str, list[psutil.Process]]:
    """The run's processes by role: jvm, workers (PySpark's daemon and the workers it forks), driver.

    The JVM's other children are left out: they are Hadoop's short-lived `chmod`/`ls` launches, which
    until their exec run inside the JVM's own address space, so counting them would count the JVM twice.
    """
    roles: dict[str, list[psutil.Process]] = {"driver": [root], "jvm": [], "workers": []}
    for p in root.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "pyspark.daemon" in " ".join(p.cmdline()):
                roles["workers"].append(p)
            elif any(parent.name() == "java" for parent in p.parents()):
                continue
            else:
                roles["jvm" if p.name() == "java" else "driver"].append(p)
    return roles


def run_command(lake: Path, batch: str, conf: tuple[str, ...] | list[str] = (), engine: str | None = None) -> list[str]:
    """``lakehouse run`` on ``lake`` as batch ``batch`` in a fresh process of this interpreter, with ``--conf``
    items and, if given, ``--engine``."""
    cmd = [sys.executable, "-m", "lakehouse.cli", "run", "--lake-root", str(lake), "--batch-id", batch]
    cmd += ["--engine", engine] if engine else []
    return cmd + [arg for item in conf for arg in ("--conf", item)]


PSS_EVERY_S = 2.0
"""How often each process's PSS is read. Reading it walks the process's page tables: about 40 ms of CPU for a
JVM holding 2 GB, so reading the JVM's every 0.25 s took 9-10 CPU-s of a 1M run's 2 cores away from it (two
runs, 2026-12-07). RSS (``statm``, microseconds) is read every 0.25 s and carries the PSS in between."""


class _PssTracker:
    """One process's PSS, read every :data:`PSS_EVERY_S` and carried in between by its RSS change: a page the
    process gains or frees on its own counts whole in both, and one it shares with others counts less in PSS,
    so the carried figure errs high, never low, when shared pages are added."""

    def __init__(self) -> None:
        self.read_at = -PSS_EVERY_S
        self.pss = self.rss = 0

    def sample(self, p: psutil.Process, now: float) -> tuple[int, int]:
        """(rss, pss estimate) of ``p`` now."""
        rss = p.memory_info().rss
        if now - self.read_at >= PSS_EVERY_S:
            self.pss, self.rss, self.read_at = p.memory_full_info().pss, rss, now
        return rss, max(0, self.pss + rss - self.rss)


def run_measured(cmd: list[str]) -> tuple[float, dict[str, int]]:
    """(wall seconds, peak memory in bytes) of ``cmd``'s process tree, sampled every 0.25 s.

    ``pss`` is the peak of the tree's summed PSS (proportional set size: a page shared by n processes counts
    1/n in each, so forked Python workers and the JVM's shared libraries are not counted twice), each process's
    read every :data:`PSS_EVERY_S` and carried by its RSS in between (:class:`_PssTracker`); ``total`` the peak
    of the summed RSS; ``jvm``, ``driver`` and ``workers`` each role's own RSS peak.
    """
    # stderr to a file, read only on failure: a pipe nobody reads blocks the child once it holds 64 KB
    with tempfile.TemporaryFile() as err:
        took, peaks, code = _sample_tree(cmd, err)
        if code != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{err.read().decode(errors='replace')[-3000:]}")
    return took, peaks


def _sample_tree(cmd: list[str], err) -> tuple[float, dict[str, int], int]:
    """Run ``cmd`` with stderr to ``err`` and sample its tree until it exits: (wall s, peaks, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    peaks: dict[str, int] = {"total": 0, "pss": 0}
    ps = psutil.Process(proc.pid)
    trackers: dict[tuple[int, float], _PssTracker] = {}
    listed = 0.0
    while proc.poll() is None:
        now = time.perf_counter()
        if now - listed >= 1.0:  # the processes are long-lived: list them once a second
            try:
                tree = _tree(ps)
            except psutil.Error:
                break
            listed = now
        total = pss = 0
        for role, procs in tree.items():
            rss = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    tracker = trackers.setdefault((p.pid, p.create_time()), _PssTracker())
                    p_rss, p_pss = tracker.sample(p, now)
                    rss += p_rss
                    pss += p_pss
            peaks[role] = max(peaks.get(role, 0), rss)
            total += rss
        peaks["total"] = max(peaks["total"], total)
        peaks["pss"] = max(peaks["pss"], pss)
        time.sleep(0.25)
    proc.wait()
    return time.perf_counter() - t0, peaks, proc.returncode


def duckdb_gold_from_landing(lake: Path) -> tuple[float, dict]:
    """Type, deduplicate, convert and aggregate straight from the landing files in DuckDB."""
    import duckdb

    from tests.functional.lake_checks import gold_sql

    land = lake / "landing"

    def files(entity: str) -> list[str]:
        return [str(p) for p in sorted((land / entity).glob("dt=*/*")) if p.stat().st_size > 40]

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    _landing_views(con, files)
    _typed_tables(con)
    gold = gold_sql(con)
    return time.perf_counter() - t0, {k: v.num_rows for k, v in gold.items()}


def _landing_views(con, files) -> None:
    """The landing files of the four entities the gold tables need, as untyped DuckDB views."""
    csv = "header=true, all_varchar=true, union_by_name=true, ignore_errors=true, strict_mode=false"
    con.execute(f"CREATE VIEW fx_raw AS SELECT * FROM read_csv({files('reference/fx_rates')}, {csv})")
    con.execute(f"CREATE VIEW cust_raw AS SELECT * FROM read_csv({files('snowflake/customers')}, {csv})")
    con.execute(f"CREATE VIEW ord_raw AS SELECT * FROM read_csv({files('snowflake/orders')}, {csv})")
    con.execute(
        f"CREATE VIEW opp_raw AS SELECT * FROM read_json({files('crm/opportunities')}, format='newline_delimited', "
        "ignore_errors=true, union_by_name=true, columns={Id:'VARCHAR', AccountId:'VARCHAR', StageName:'VARCHAR', "
        "Amount:'VARCHAR', CurrencyIsoCode:'VARCHAR', CloseDate:'VARCHAR', LeadSource:'VARCHAR', "
        "LastModifiedDate:'VARCHAR', IsDeleted:'VARCHAR'})"
    )


def _typed_tables(con) -> None:
    """Typed, deduplicated, currency-converted tables, as silver holds them."""
    con.execute("""
        CREATE TABLE fx AS SELECT CURRENCY AS currency, TRY_CAST(VALID_FROM AS DATE) AS valid_from,
               TRY_CAST(RATE_TO_USD AS DECIMAL(18,8)) AS rate FROM fx_raw""")
    con.execute("""
        CREATE TABLE customers AS SELECT * FROM (
            SELECT TRY_CAST(CUSTOMER_ID AS BIGINT) AS customer_id, nullif(CRM_ACCOUNT_ID, '') AS crm_account_id,
                   SEGMENT AS segment, TRY_CAST(UPDATED_AT AS TIMESTAMP) AS updated_at
            FROM cust_raw WHERE SEGMENT IN ('SMB', 'MidMarket', 'Enterprise'))
        WHERE customer_id IS NOT NULL AND updated_at IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) = 1""")
    con.execute("""
        CREATE TABLE orders AS
        WITH t AS (
            SELECT TRY_CAST(ORDER_ID AS BIGINT) AS order_id, TRY_CAST(CUSTOMER_ID AS BIGINT) AS customer_id,
                   TRY_CAST(ORDER_TS AS TIMESTAMP) AS order_ts, STATUS AS status, CURRENCY AS currency,
                   TRY_CAST(TOTAL_AMOUNT AS DECIMAL(18,2)) AS total_amount,
                   TRY_CAST(UPDATED_AT AS TIMESTAMP) AS updated_at
            FROM ord_raw),
        v AS (
            SELECT *, CAST(order_ts AS DATE) AS order_date FROM t
            WHERE order_id IS NOT NULL AND customer_id IS NOT NULL AND order_ts IS NOT NULL AND updated_at IS NOT NULL
              AND total_amount >= 0 AND status IN ('completed', 'pending', 'cancelled', 'refunded')
              AND currency IN ('USD', 'EUR', 'GBP', 'JPY')
            QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1)
        SELECT v.*,
               round(v.total_amount * coalesce(f.rate, CASE WHEN v.currency = 'USD' THEN 1 END), 2) AS total_amount_usd
        FROM v ASOF LEFT JOIN fx f ON v.currency = f.currency AND v.order_date >= f.valid_from
        WHERE v.customer_id IN (SELECT customer_id FROM customers)""")
    con.execute("""
        CREATE TABLE opportunities AS
        WITH t AS (
            SELECT Id AS opportunity_id, AccountId AS account_id, StageName AS stage_name,
                   TRY_CAST(Amount AS DECIMAL(18,2)) AS amount, CurrencyIsoCode AS currency,
                   TRY_CAST(CloseDate AS DATE) AS close_date, LeadSource AS lead_source,
                   TRY_CAST(LastModifiedDate AS TIMESTAMPTZ) AS last_modified_at, IsDeleted = 'true' AS is_deleted
            FROM opp_raw WHERE Id IS NOT NULL),
        v AS (SELECT * FROM t WHERE close_date IS NOT NULL AND last_modified_at IS NOT NULL
              QUALIFY row_number() OVER (PARTITION BY opportunity_id ORDER BY last_modified_at DESC) = 1)
        SELECT v.*, round(v.amount * coalesce(f.rate, CASE WHEN v.currency = 'USD' THEN 1 END), 2) AS amount_usd
        FROM v ASOF LEFT JOIN fx f ON v.currency = f.currency AND v.close_date >= f.valid_from
        WHERE NOT coalesce(v.is_deleted, false)""")


def bench(size: int, engine: str, template: Path, workdir: Path, keep: bool) -> dict:
    lake = workdir / f"lake-{size}-{engine}"
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(template, lake)
    probe_before = host_probe()
    full_s, full_mem = run_measured(run_command(lake, "bench-full", engine=engine))
    probe_after = host_probe()
    generate(lake, max(1000, size // 100), seed=42, bad_ratio=0.01, increment=1)
    inc_s, inc_mem = run_measured(run_command(lake, "bench-incr", engine=engine))
    duck_s, duck_rows = duckdb_gold_from_landing(lake)
    if not keep:
        shutil.rmtree(lake, ignore_errors=True)
    return {
        "records": size,
        "engine": engine,
        "pipeline_s": round(full_s, 1),
        "records_per_s": round(size / full_s),
        "host_probe_s": [probe_before["min_s"], probe_after["min_s"]],  # benchmarks/host.py: before, after
        "peak_pss_gb": round(full_mem["pss"] / 1e9, 2),
        "peak_rss_gb": round(full_mem["total"] / 1e9, 2),
        "peak_rss_gb_by_role": {k: round(v / 1e9, 2) for k, v in sorted(full_mem.items()) if k not in ("total", "pss")},
        "rerun_1pct_s": round(inc_s, 1),
        "rerun_ratio": round(inc_s / full_s, 3),
        "rerun_peak_pss_gb": round(inc_mem["pss"] / 1e9, 2),
        "duckdb_gold_s": round(duck_s, 1),
        "spark_to_duckdb_ratio": round(full_s / duck_s, 1),
        "duckdb_gold_rows": duck_rows,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "100000,1000000" + (",10000000" if os.environ.get("BENCH_10M") else "")
    p.add_argument("--sizes", default=default)
    p.add_argument("--engines", default="delta-spark,delta-rs", help="the first is the default engine")
    p.add_argument("--workdir", default=str(ROOT / ".bench"))
    p.add_argument("--keep", action="store_true", help="keep the benchmark lakes")
    args = p.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    print(f"cores={os.cpu_count()} python={sys.version.split()[0]} load={os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        template = workdir / f"landing-{size}"
        shutil.rmtree(template, ignore_errors=True)
        t0 = time.perf_counter()
        generate(template, size, seed=42, bad_ratio=0.01)
        print(json.dumps({"records": size, "generate_s": round(time.perf_counter() - t0, 1)}), flush=True)
        for engine in engines:
            r = bench(size, engine, template, workdir, args.keep)
            results.append(r)
            print(json.dumps(r), flush=True)
        shutil.rmtree(template, ignore_errors=True)
    for engine in engines:
        base = next((r for r in results if r["records"] == 1_000_000 and r["engine"] == engine), None)
        big = next((r for r in results if r["records"] == 10_000_000 and r["engine"] == engine), None)
        if base and big:
            print(f"{engine}: 10M / 1M time ratio {big['pipeline_s'] / base['pipeline_s']:.2f}")
    default = next((r for r in results if r["records"] == 1_000_000 and r["engine"] == engines[0]), None)
    if default:
        print(
            f"default engine {engines[0]} at 1M: {default['pipeline_s']} s (target <= 60), "
            f"{default['peak_pss_gb']} GB summed PSS (target <= 6)"
        )
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"{'records':>10} {'engine':>11} {'pipeline s':>10} {'rec/s':>9} {'PSS GB':>7} {'RSS GB':>7} "
        f"{'1% rerun':>9} {'ratio':>6} {'duckdb s':>9}"
    )
    for r in results:
        print(
            f"{r['records']:>10,} {r['engine']:>11} {r['pipeline_s']:>10} {r['records_per_s']:>9,} "
            f"{r['peak_pss_gb']:>7} {r['peak_rss_gb']:>7} {r['rerun_1pct_s']:>9} {r['rerun_ratio']:>6} "
            f"{r['duckdb_gold_s']:>9}"
        )


if __name__ == "__main__":
    main()
