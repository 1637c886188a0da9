"""Load test (issue 19): 1M and 10M records end to end, 100M opt-in; prints figures and the accounting verdict.

For each size: generate a landing set (seed 42, 1 % bad; sets over 10M records are streamed by the generator in
shards of ``--shard-records``, so it never holds the set in memory), run ``lakehouse run`` on the default engine in a
fresh process and measure it (wall time, CPU seconds and disk bytes written by the whole process tree, peak
summed PSS), then read back:

- **latency per layer**: each job's ``duration_s`` from its ``<layer>.run_summary`` total row;
- **accounting**: every bronze and silver run-summary row balances (``rows_in + rows_released = rows_out +
  rows_quarantined + rows_superseded``), landing records = bronze rows + bronze quarantine, silver row counts
  and the quarantines' error counts equal the generator's manifest, and gold equals the DuckDB computation over
  silver. Tables are counted and compared without loading them into memory (pyarrow datasets scanned by
  DuckDB), so the checks hold at 100M on this machine too;
- the **DuckDB reference**: the same gold tables computed by DuckDB straight from the landing files, in the same
  run (``benchmarks/pipeline.py``), and the pipeline's time as a multiple of it;
- with ``--rerun``, a 1 % re-delivery (recency-skewed, the generator's default) and its re-run: time and CPU
  against the full run, and per silver table the share of its bytes the re-run rewrote (files removed) and
  wrote (new files and deletion vectors);
- ``--conf spark.KEY=VALUE`` (repeatable) hands a setting to every run's Spark session, e.g.
  ``spark.databricks.delta.properties.defaults.enableDeletionVectors=true`` to measure deletion vectors;
- **cost per million records** from the cost model (``lakehouse cost estimate``, prod, at the size as records
  a day) with this run's CPU seconds and wall time per million in place of the committed figures.

Exits 1 if any accounting check failed. The figures go to docs/BENCHMARKS.md ("Load test").

    python benchmarks/load.py [--sizes 1000000,10000000] [--shard-records 2000000] [--workdir .bench/load] [--keep]
    LOAD_100M=1 make bench-load        # adds 100M (8 GB of landing files, 19 GB of tables, 57 GB of Spark scratch)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import stress_checks as C  # noqa: E402
from benchmarks.host import host_probe  # noqa: E402
from benchmarks.pipeline import duckdb_gold_from_landing, run_command, run_measured  # noqa: E402
from benchmarks.stress import TreeUsage  # noqa: E402
from job_assets.contracts import GOLD_TABLES  # noqa: E402
from job_assets.contracts import landing as L  # noqa: E402
from lakehouse.generator import generate  # noqa: E402
from tests.functional.lake_checks import gold_sql, has_deletion_vectors, table, table_path  # noqa: E402

LAYERS = ("bronze", "silver", "gold")
STREAM_ABOVE = 10_000_000
"""Sets larger than this are streamed by the generator in shards (``--shard-records``); 1M and 10M are drawn
whole, so they can take the 1 % re-delivery of ``--rerun``."""
SEED, BAD_RATIO = 42, 0.01


def dataset(root: Path, name: str):
    """``layer.table`` as :func:`table_dataset`."""
    return table_dataset(Path(table_path(root, name)))


def table_dataset(path: Path):
    """The Delta table at ``path`` as a pyarrow dataset of its current files (scanned lazily, never loaded whole).

    A table with deletion vectors (``--conf ...enableDeletionVectors=true``) has no such dataset: delta-rs's
    pyarrow path refuses it. It is read through delta-rs's DataFusion engine, which applies them, into memory
    (an experiment's size, not 100M)."""
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    from job_assets.delta_read import arrow_table

    table = DeltaTable(str(path))
    if has_deletion_vectors(table):
        return ds.dataset(arrow_table(table))
    return table.to_pyarrow_dataset()


def count(root: Path, name: str) -> int:
    """Rows of ``layer.table`` (from the Parquet footers of its current files)."""
    return dataset(root, name).count_rows()


def accounting(root: Path, manifest: dict) -> list[str]:
    """Every accounting check of a finished lake, scaled: what is wrong (empty: it holds)."""
    bad = C.summary_accounting(root)
    bronze = sum(count(root, e.bronze_table) for e in L.LANDING_ENTITIES)
    quarantined = count(root, "bronze.quarantine")
    if bronze + quarantined != manifest["records_written"]:
        bad.append(f"landing {manifest['records_written']} != bronze {bronze} + bronze quarantine {quarantined}")
    for name, n in manifest["expected_silver_rows"].items():
        if (got := count(root, name)) != n:
            bad.append(f"{name}: {got} rows, manifest expects {n}")
    history = count(root, "silver.accounts_history")
    if history != manifest["expected_accounts_history_rows"]:
        bad.append(f"silver.accounts_history: {history} rows, expects {manifest['expected_accounts_history_rows']}")
    found = quarantine_errors(root)
    for code, n in manifest["expected_errors"].items():
        if code not in ("unexpected_column", "empty_file") and found.get(code, 0) != n:
            bad.append(f"quarantine {code}: {found.get(code, 0)}, manifest expects {n}")
    return bad + gold_check(root)


def quarantine_errors(root: Path) -> dict[str, int]:
    """Quarantine rows per ``_error`` in bronze and silver, released orphans left out (two columns read)."""
    import duckdb

    counts: dict[str, int] = {}
    for layer in ("bronze", "silver"):
        q = dataset(root, f"{layer}.quarantine")  # noqa: F841  (DuckDB reads the Python variable)
        for code, n in duckdb.sql("SELECT _error, count(*) FROM q WHERE _status <> 'released' GROUP BY 1").fetchall():
            counts[code] = counts.get(code, 0) + n
    return counts


def _normalised(con, relation: str, columns: list[str]) -> str:
    """A SELECT of ``columns`` of ``relation`` as the end-to-end test compares them (lake_checks._norm): decimals
    to cents, doubles to 6 places."""
    rel = con.sql(f"SELECT * FROM {relation} LIMIT 0")
    types = dict(zip(rel.columns, (str(t).upper() for t in rel.types), strict=True))
    out = []
    for c in columns:
        t = types[c]
        if t.startswith("DECIMAL"):
            out.append(f"round(CAST({c} AS DOUBLE), 2) AS {c}")
        elif t in ("DOUBLE", "FLOAT"):
            out.append(f"round({c}, 6) AS {c}")
        else:
            out.append(c)
    return f"SELECT {', '.join(out)} FROM {relation}"


def gold_check(root: Path) -> list[str]:
    """Gold equals the independent DuckDB computation over silver (tests/functional/lake_checks.gold_sql), as
    multisets compared in DuckDB (EXCEPT ALL both ways) over datasets, so nothing is loaded into Python."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    for name in ("orders", "customers", "opportunities"):
        con.register(name, dataset(root, f"silver.{name}"))
    expected = gold_sql(con)
    bad = []
    for c in GOLD_TABLES:
        cols = list(c.column_names)
        con.register("got", dataset(root, c.name))
        con.register("want", expected[c.name])
        got, want = _normalised(con, "got", cols), _normalised(con, "want", cols)
        n_got, n_want = con.sql("SELECT count(*) FROM got").fetchall()[0][0], expected[c.name].num_rows
        extra = con.sql(f"SELECT count(*) FROM ({got} EXCEPT ALL {want})").fetchall()[0][0]
        missing = con.sql(f"SELECT count(*) FROM ({want} EXCEPT ALL {got})").fetchall()[0][0]
        if n_got != n_want or extra or missing:
            bad.append(f"{c.name}: {n_got} rows against DuckDB's {n_want}; {extra} not in DuckDB's, {missing} missing")
        con.unregister("got")
        con.unregister("want")
    return bad


def layer_seconds(root: Path, batch: str) -> dict[str, float]:
    """Each job's duration in batch ``batch``: its run summary's total row."""
    out = {}
    for layer in LAYERS:
        for r in table(root, f"{layer}.run_summary").to_pylist():
            if r["batch_id"] == batch and r["table_name"] == "*":
                out[layer] = round(r["duration_s"], 1)
    return out


def lake_bytes(root: Path) -> int:
    """Bytes on disk of everything the run wrote under the lake (every folder but landing and _generator)."""
    total = 0
    for child in root.iterdir():
        if child.name in ("landing", "_generator") or not child.is_dir():
            continue
        total += sum(p.stat().st_size for p in child.rglob("*") if p.is_file())
    return total


def cost_per_million(records: int, cpu_s: float, wall_s: float) -> dict[str, float]:
    """The cost model's prod estimate at ``records`` a day with this run's CPU seconds and wall time per million
    records in place of the committed ones (the model bills CPU seconds over the share of the cores that were
    busy: CPU over wall time x cores, so both come from the run)."""
    from lakehouse.cost.components import estimate
    from lakehouse.cost.data import Measured
    from lakehouse.cost.settings import load_settings

    measured = Measured.load()
    raw = json.loads(json.dumps(measured.raw))
    raw["compute"]["cpu_seconds_per_million"]["value"] = round(cpu_s / (records / 1e6), 1)
    raw["compute"]["wall_seconds"].update(value=round(wall_s / (records / 1e6), 2), cores=os.cpu_count() or 2)
    e = estimate(load_settings("prod"), records_per_day=records, measured=Measured(raw))
    emr = next(c.usd for c in e.components if c.name.startswith("EMR"))
    return {
        "usd_per_million_records": round(e.per_million_records, 4),
        "emr_usd_per_million_records": round(emr / (e.records_per_month / 1e6), 4),
        "usd_per_month": round(e.total, 2),
    }


SILVER_DATA = (*(f"silver.{e.entity}" for e in L.LANDING_ENTITIES), "silver.accounts_history")


def silver_state(root: Path) -> dict[str, tuple[int, int]]:
    """Each silver data table's (version, bytes of its current files)."""
    from deltalake import DeltaTable

    out = {}
    for name in SILVER_DATA:
        dt = DeltaTable(table_path(root, name))
        out[name] = (dt.version(), sum(dt.get_add_actions(flatten=True).column("size_bytes").to_pylist()))
    return out


def table_churn(table_dir: Path, version: int) -> tuple[int, int]:
    """(bytes rewritten, bytes written) by the commits of the Delta table at ``table_dir`` after ``version``.

    Rewritten: the files they removed (copy-on-write: a changed row rewrites its whole file); a file removed and
    added back in the same commit with a deletion vector is not rewritten. Written: the data files they added
    and the deletion vectors' bytes."""
    removed = written = 0
    for f in sorted((table_dir / "_delta_log").glob("*.json")):
        if int(f.stem) <= version:
            continue
        actions = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        added = {a["add"]["path"]: a["add"] for a in actions if "add" in a}
        gone = {a["remove"]["path"]: a["remove"] for a in actions if "remove" in a}
        removed += sum(r.get("size", 0) or 0 for path, r in gone.items() if path not in added)
        for path, add in added.items():
            dv = add.get("deletionVector") or {}
            written += (0 if path in gone else add.get("size", 0) or 0) + (dv.get("sizeInBytes", 0) or 0)
    return removed, written


def churn(root: Path, before: dict[str, tuple[int, int]]) -> dict[str, dict[str, float]]:
    """Per silver table (and ``"all"``), :func:`table_churn` since ``before`` as shares of the table's bytes
    then: ``rewritten`` and ``written``."""
    out, sums = {}, [0, 0, 0]
    for name, (version, size) in before.items():
        removed, written = table_churn(Path(table_path(root, name)), version)
        out[name] = {"rewritten": _share(removed, size), "written": _share(written, size)}
        sums = [sums[0] + removed, sums[1] + written, sums[2] + size]
    out["all"] = {"rewritten": _share(sums[0], sums[2]), "written": _share(sums[1], sums[2])}
    return out


def _share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def rerun(lake: Path, size: int, full: dict, conf: tuple[str, ...] = ()) -> dict:
    """Deliver 1 % new and changed records (recency-skewed, the generator's default) and re-run, measured."""
    before = silver_state(lake)
    manifest = generate(lake, max(1000, size // 100), seed=SEED, bad_ratio=BAD_RATIO, increment=1)
    batch = f"load-{size}-rerun"
    cmd = run_command(lake, batch, conf)
    with TreeUsage() as tree:
        wall, peaks = run_measured(cmd)
    return {
        "rerun_s": round(wall, 1),
        "rerun_ratio": round(wall / full["pipeline_s"], 3),
        "rerun_cpu_s": round(tree.total, 1),
        "rerun_cpu_ratio": round(tree.total / full["cpu_s"], 3),
        "rerun_layer_s": layer_seconds(lake, batch),
        "rerun_peak_pss_gb": round(peaks["pss"] / 1e9, 2),
        "silver_churn": churn(lake, before),
        "rerun_failures": accounting(lake, manifest),
    }


def load_run(
    size: int,
    workdir: Path,
    shard_records: int,
    keep: bool,
    with_rerun: bool = False,
    with_duckdb: bool = True,
    conf: tuple[str, ...] = (),
) -> dict:
    """Generate ``size`` records, run the pipeline on them measured (``conf``: ``lakehouse run --conf`` items),
    check the accounting, price it."""
    lake = workdir / f"lake-{size}"
    shutil.rmtree(lake, ignore_errors=True)
    t0 = time.perf_counter()
    streamed = shard_records if size > STREAM_ABOVE else None
    manifest = generate(lake, size, seed=SEED, bad_ratio=BAD_RATIO, shard_records=streamed)
    gen_s = time.perf_counter() - t0
    landing = sum(f["bytes"] for f in manifest["files"])
    print(json.dumps({"records": size, "generate_s": round(gen_s, 1), "landing_gb": round(landing / 1e9, 2)}))
    batch = f"load-{size}"
    cmd = run_command(lake, batch, conf)
    load_avg = os.getloadavg()[0]
    probe_before = host_probe()
    with TreeUsage() as tree:
        wall, peaks = run_measured(cmd)
    probe_after = host_probe()
    t1 = time.perf_counter()
    bad = accounting(lake, manifest)
    result = {
        "records": size,
        "spark_conf": list(conf),
        "landing_files": len(manifest["files"]),
        "landing_gb": round(landing / 1e9, 2),
        "shards": manifest["deliveries"][0].get("shards", 1),
        "generate_s": round(gen_s, 1),
        "pipeline_s": round(wall, 1),
        "records_per_s": round(size / wall),
        "layer_s": layer_seconds(lake, batch),
        "cpu_s": round(tree.total, 1),
        "cpu_s_per_million": round(tree.total / (size / 1e6), 1),
        "peak_pss_gb": round(peaks["pss"] / 1e9, 2),
        "disk_written_gb": round(tree.written / 1e9, 2),
        "lake_tables_gb": round(lake_bytes(lake) / 1e9, 2),
        "load_avg_at_start": round(load_avg, 1),
        "host_probe_s": [probe_before["min_s"], probe_after["min_s"]],  # benchmarks/host.py: before, after
        "check_s": round(time.perf_counter() - t1, 1),
        **cost_per_million(size, tree.total, wall),
        "accounting": "PASS" if not bad else "FAIL",
        "failures": bad,
    }
    if with_duckdb:
        duck_s, _ = duckdb_gold_from_landing(lake)
        result.update(duckdb_gold_s=round(duck_s, 2), pipeline_to_duckdb=round(wall / duck_s, 1))
    if with_rerun and result["shards"] == 1:  # a streamed base takes no increment
        result.update(rerun(lake, size, result, conf))
        result["accounting"] = "PASS" if not bad and not result["rerun_failures"] else "FAIL"
    if not keep:
        shutil.rmtree(lake, ignore_errors=True)
    return result


def main() -> int:
    """Run each size in turn and print the table; 1 if any accounting check failed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "1000000,10000000" + (",100000000" if os.environ.get("LOAD_100M") else "")
    p.add_argument("--sizes", default=default, help="comma-separated record counts")
    p.add_argument("--shard-records", type=int, default=2_000_000, help="shard size of sets over 10M records")
    p.add_argument("--workdir", default=str(ROOT / ".bench" / "load"))
    p.add_argument("--keep", action="store_true", help="keep the lakes")
    p.add_argument(
        "--no-duckdb",
        action="store_true",
        help="skip the DuckDB reference (the same gold tables straight from the landing files)",
    )
    p.add_argument(
        "--rerun",
        action="store_true",
        help="then deliver 1 %% new and changed records and re-run (sets that were not streamed in shards)",
    )
    p.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="spark.KEY=VALUE",
        help="a setting of every run's local Spark session (lakehouse run --conf); repeatable",
    )
    args = p.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"cores={os.cpu_count()} python={sys.version.split()[0]} load={os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        r = load_run(size, workdir, args.shard_records, args.keep, args.rerun, not args.no_duckdb, tuple(args.conf))
        results.append(r)
        print(json.dumps(r), flush=True)
        with (workdir / "results.jsonl").open("a") as out:
            out.write(json.dumps(r) + "\n")
    print(f"{'records':>12} {'wall s':>8} {'rec/s':>8} {'CPU s':>8} {'PSS GB':>7} {'disk GB':>8} {'$/M':>7}  result")
    for r in results:
        print(
            f"{r['records']:>12,} {r['pipeline_s']:>8} {r['records_per_s']:>8,} {r['cpu_s']:>8} {r['peak_pss_gb']:>7} "
            f"{r['disk_written_gb']:>8} {r['usd_per_million_records']:>7}  {r['accounting']} {r['layer_s']}"
        )
    return 1 if any(r["failures"] or r.get("rerun_failures") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
