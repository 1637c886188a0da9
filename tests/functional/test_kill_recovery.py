"""A job killed at any point leaves every table readable; the next run ends exactly where a clean run would.

Each trial starts `lakehouse run` in its own process group, SIGKILLs the whole group (Python driver and
its JVM) at a random point — after a random number of Delta commits plus a random delay, so kills land
between commits and in the middle of Parquet writes — checks every table still reads, re-runs the
pipeline to completion (with the same batch id or a new one), and compares each table's row count and
order-independent checksum with a clean, uninterrupted run. 25 trials, in `make test-slow` (each costs
about 75 s on delta-spark): 0-4 on the default engine (delta-spark), then delta-spark and delta-rs in turn.
The default suite keeps the mechanism they rely on: a re-run of a committed batch commits nothing
(tests/functional/test_pipeline_e2e.py).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from job_assets.context import LakeLocations, RunContext
from job_assets.contracts import ALL_TABLES
from job_assets.jobs.pipeline import run_pipeline
from lakehouse.generator import generate

from .lake_checks import checksum

pytestmark = pytest.mark.spark
DATA_TABLES = [
    t.name for t in ALL_TABLES if not t.name.endswith(("run_summary", "dq_results", "ingestion_log", "profiles"))
]


def _commits(root: Path) -> int:
    return sum(1 for _ in root.glob("*/*/_delta_log/*.json"))


def _snapshot(spark, engine, root: Path) -> dict:
    loc = LakeLocations.for_root(str(root))
    return {t: checksum(spark, engine, loc.table_uri(t)) for t in DATA_TABLES if engine.exists(loc.table_uri(t))}


@pytest.fixture(scope="module")
def clean(tmp_path_factory, spark, default_engine):
    base = tmp_path_factory.mktemp("kill")
    template = base / "template"
    generate(template, 3_000, seed=3, bad_ratio=0.03)
    root = base / "clean"
    shutil.copytree(template / "landing", root / "landing")
    run_pipeline(RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "clean"))
    return {
        "template": template,
        "reference": _snapshot(spark, default_engine, root),
        "commits": _commits(root),
        "base": base,
    }


def _trial(n: int, clean: dict, spark, engine) -> None:
    """Kill a `lakehouse run --engine <engine>` at a random point, re-run on ``engine``, compare with clean."""
    rnd = random.Random(1000 + n)
    root = clean["base"] / f"trial{n}"
    shutil.copytree(clean["template"] / "landing", root / "landing")
    target = rnd.randint(1, clean["commits"] - 1)
    jitter = rnd.uniform(0.0, 1.5)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lakehouse.cli",
            "run",
            "--lake-root",
            str(root),
            "--batch-id",
            "killed",
            "--engine",
            engine.name,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the JVM with it
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )
    killed_at = None
    deadline = time.time() + 600
    while proc.poll() is None and time.time() < deadline:
        if _commits(root) >= target:
            time.sleep(jitter)
            killed_at = _commits(root)
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert killed_at is not None, f"trial {n}: the run finished before reaching commit {target}"

    loc = LakeLocations.for_root(str(root))
    for t in DATA_TABLES:  # every table that exists reads at its last committed version
        if engine.exists(loc.table_uri(t)):
            engine.read(loc.table_uri(t)).count()

    batch = rnd.choice(["killed", "rerun"])  # the same batch id, or a new one: both must converge
    results = run_pipeline(RunContext(spark, engine, loc, batch))
    assert all(r.status in ("succeeded", "skipped") for r in results)
    got = _snapshot(spark, engine, root)
    assert got == clean["reference"], f"trial {n} (killed after {killed_at} commits, rerun as {batch!r})"


@pytest.mark.slow  # 15-56 s a trial (2026-12-08), after the clean reference run: `make test-slow`
@pytest.mark.parametrize("n", range(25))
def test_kill_at_random_point_then_rerun_matches_clean_run(n, clean, spark, default_engine, rs_engine):
    """Trials 0-4 on delta-spark (EMR's engine); from trial 5 on, delta-spark and delta-rs in turn."""
    _trial(n, clean, spark, default_engine if n < 5 or n % 2 else rs_engine)


def test_bronze_killed_between_the_log_and_the_summary_is_resumed(tmp_path, spark, default_engine, monkeypatch, caplog):
    """Bronze's last two steps are the ingestion log's final commit and the run summary that silver waits for.
    Killed between them, the batch is ingested but unfinished: the next run, under any batch id, resumes it
    (every write skipped by its app transaction, nothing ingested twice) and writes its summary, so silver
    picks it up; no file is claimed again."""
    from job_assets.jobs import bronze, silver

    generate(tmp_path, 1_000, seed=5, bad_ratio=0.05)
    loc = LakeLocations.for_root(str(tmp_path))

    def killed(*_args):
        raise RuntimeError("killed after the ingestion log's final commit")

    with monkeypatch.context() as patched:
        patched.setattr(bronze, "write_ops", killed)
        with pytest.raises(RuntimeError, match="killed after"):
            bronze.run(RunContext(spark, default_engine, loc, "first"))
    logged = default_engine.read_rows(loc.table_uri("bronze.ingestion_log"), ("status", "records", "quarantined"))
    done = [r for r in logged if r["status"] != "claimed"]
    assert done and all(r["status"] in bronze.FINAL for r in done)
    rows_before = {
        t: default_engine.read(loc.table_uri(t)).count() for t in ("bronze.crm_accounts", "bronze.quarantine")
    }
    assert silver.pending_batches(RunContext(spark, default_engine, loc, "next")) == []  # what was stranded

    with caplog.at_level("INFO", logger="lakehouse.jobs.bronze"):
        resumed = bronze.run(RunContext(spark, default_engine, loc, "next"))
    assert resumed.batch_id == "first" and "resuming interrupted batch first" in caplog.text
    assert not any(t.committed for t in resumed.tables)  # every data write was already there
    assert {t: default_engine.read(loc.table_uri(t)).count() for t in rows_before} == rows_before
    assert sum(t.rows_in for t in resumed.tables) == sum(r["records"] or 0 for r in done)
    assert silver.pending_batches(RunContext(spark, default_engine, loc, "next")) == ["first"]
    again = bronze.run(RunContext(spark, default_engine, loc, "next"))
    assert again.status == "skipped" and again.message == "no new landing files"
