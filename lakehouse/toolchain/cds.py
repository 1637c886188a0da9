"""The JVM's class-data archive for local Spark sessions (``make install``: ``python -m lakehouse.toolchain.cds``).

A local session's JVM loads and verifies some 15,000 classes of the JDK, Spark and Delta Lake before its first
query, on every start: every ``lakehouse run``, every CLI command that opens a session, every test worker. A
dynamic class-data archive (JDK 13 and later: ``-XX:ArchiveClassesAtExit``) keeps them parsed and verified in
one file the JVM maps at start. This module dumps it once per install: it starts a session with the option, runs
the work a pipeline run starts with (rows from Python, a Delta write, a MERGE, a read, an aggregation, a
checkpoint), and stops; the JVM writes the archive as it exits. :func:`job_assets.spark.local_session` then
starts every session with it (:func:`job_assets.spark.class_data_options`).

The archive is named after what it is valid for (:func:`job_assets.spark.class_data_key`: the JVM, pyspark's
jars, ``.jars/``): a second run finds it and does nothing; a new JDK or jar set dumps a new one and removes the
old. It only speeds up a start: when it cannot be dumped, ``make install`` says so in one line and goes on,
and sessions start without it, as they always could.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from job_assets.spark import CDS_DIR, class_data_archive, default_jars_dir

WORKLOAD = """
import shutil, sys, tempfile
from pyspark import SparkContext
from job_assets.spark import local_conf, local_session
from delta.tables import DeltaTable
base = local_conf(2, None)["spark.driver.extraJavaOptions"]
spark = local_session("class-data-dump", extra_conf={"spark.driver.extraJavaOptions": base + " " + sys.argv[1]})
root = tempfile.mkdtemp()
rows = spark.createDataFrame([(i, f"k{i % 7}", float(i)) for i in range(2000)], "id long, k string, v double")
rows.write.format("delta").save(root)
DeltaTable.forPath(spark, root).alias("t").merge(rows.alias("s"), "t.id = s.id").whenMatchedUpdateAll() \\
    .whenNotMatchedInsertAll().execute()
read = spark.read.format("delta").load(root)
read.groupBy("k").agg({"v": "sum"}).orderBy("k").collect()
read.localCheckpoint(eager=True).join(read, "id").count()
spark.stop()
shutil.rmtree(root)
# the JVM writes the archive as it exits, after this process would: end it (the gateway exits on EOF of its
# stdin) and wait for it (spark-submit execs the JVM, so this is the JVM's own process)
jvm = SparkContext._gateway.proc
jvm.stdin.close()
sys.exit(jvm.wait(timeout=300))
"""


def dump(archive: Path, timeout_s: int = 600) -> None:
    """Dump the archive at ``archive`` (written to a temporary name, then renamed: never half-written)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archive.parent) as work:
        partial = Path(work) / archive.name
        done = subprocess.run(
            [sys.executable, "-c", WORKLOAD, f"-XX:ArchiveClassesAtExit={partial}"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0 or not partial.is_file():
            tail = (done.stderr or "").strip().splitlines()[-1:] or ["no archive written"]
            raise RuntimeError(f"exit {done.returncode}: {tail[0][:300]}")
        os.replace(partial, archive)


def ensure(jars_dir: Path | None = None) -> str:
    """The archive for this install, dumped when missing; older archives removed. One line saying what happened."""
    archive = class_data_archive(jars_dir)
    if archive is None:
        return "class-data archive: no java found; sessions start without one"
    if archive.is_file():
        return f"class-data archive: {archive} (up to date)"
    dump(archive)
    for old in archive.parent.glob("spark-*.jsa"):
        if old != archive:
            old.unlink()
    return f"class-data archive: {archive} ({archive.stat().st_size / 1e6:.0f} MB)"


def main(argv: list[str] | None = None) -> int:
    """``python -m lakehouse.toolchain.cds [--jars-dir DIR]``: make sure the archive exists; always 0 (a speed-up)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--jars-dir", type=Path, default=None, help=f"default: {default_jars_dir()} (archives in {CDS_DIR}/)"
    )
    args = p.parse_args(argv)
    try:
        print(ensure(args.jars_dir))
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
        # a speed-up only: say why and go on; sessions start without it
        print(f"class-data archive: not dumped ({error}); local sessions start without it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
