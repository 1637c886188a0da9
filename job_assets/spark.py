"""SparkSession settings every job relies on, locally and on EMR."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from pyspark.sql import SparkSession

# Required by the delta-rs commit path and by parsing: identical on EMR (runtime configuration).
SESSION_CONF: Dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.sources.partitionOverwriteMode": "static",
}

# Delta Lake in every session, as emr-7.12.0's application sets it (cdk EmrSparkApplication's spark-defaults;
# a test keeps the two equal). Locally the jars come from ``make install`` (``.jars/``, :func:`local_jars`).
DELTA_CONF: Dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
JARS_DIR_ENV = "LAKEHOUSE_JARS_DIR"
JARS_MANIFEST = "manifest.json"


class JarsMissingError(RuntimeError):
    """Local Spark's Delta and S3A jars are not installed (``make install`` fetches them)."""


def default_jars_dir() -> Path:
    """``$LAKEHOUSE_JARS_DIR``, else ``.jars/`` of the checkout this package was imported from."""
    configured = os.environ.get(JARS_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / ".jars"


def local_jars(directory: Optional[Path] = None) -> List[str]:
    """The verified jars ``make install`` placed in ``directory`` (default :func:`default_jars_dir`), in
    classpath order; raises :class:`JarsMissingError` with one line saying what to do."""
    directory = directory or default_jars_dir()
    manifest = directory / JARS_MANIFEST
    try:
        with open(manifest, encoding="utf-8") as fh:
            files = [str(directory / entry["file"]) for entry in json.load(fh)["jars"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise JarsMissingError(
            f"Delta Lake and S3A jars are not installed ({manifest}: {getattr(error, 'strerror', None) or error}); "
            f"run `make install` (or set {JARS_DIR_ENV} to a folder it filled)"
        ) from None
    absent = [f for f in files if not os.path.isfile(f)]
    if absent:
        raise JarsMissingError(f"jar {absent[0]} is missing; run `make install` to fetch and verify it again")
    return files


CDS_DIR = "cds"
"""Folder under the jars folder that holds the JVM's class-data archive (:func:`class_data_archive`)."""


def java_binary() -> Optional[str]:
    """The ``java`` spark-submit starts: ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else the one on ``PATH``
    (bin/spark-class); None when there is none on ``PATH``."""
    home = os.environ.get("JAVA_HOME")
    return os.path.join(home, "bin", "java") if home else shutil.which("java")


def class_data_key(jars_dir: Optional[Path] = None) -> Optional[str]:
    """What a class-data archive is valid for: the JVM (its binary and ``libjvm``, by path, size and time), the
    classpath spark-submit gives it (pyspark's jars, by folder, name and size) and the session's own jars
    (``.jars/``'s manifest); None when there is no JVM to key on. A change to any of them names another archive,
    so a stale one is never used."""
    found = java_binary()
    if not found or not os.path.exists(found):
        return None
    java = Path(found).resolve()
    parts = []
    for f in [java, *sorted(java.parent.parent.glob("lib/server/libjvm.so"))]:
        st = f.stat()
        parts.append(f"{f}:{st.st_size}:{st.st_mtime_ns}")
    import pyspark

    spark_jars = Path(pyspark.__file__).resolve().parent / "jars"
    parts += [str(spark_jars), *(f"{j.name}:{j.stat().st_size}" for j in sorted(spark_jars.glob("*.jar")))]
    manifest = (jars_dir or default_jars_dir()) / JARS_MANIFEST
    with contextlib.suppress(OSError):
        parts.append(manifest.read_text(encoding="utf-8"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def class_data_archive(jars_dir: Optional[Path] = None) -> Optional[Path]:
    """Where the class-data archive of this JVM and classpath lives (``.jars/cds/spark-<key>.jsa``; it may not exist
    yet: ``make install`` dumps it, ``lakehouse.toolchain.cds``), or None without a JVM."""
    key = class_data_key(jars_dir)
    return (jars_dir or default_jars_dir()) / CDS_DIR / f"spark-{key}.jsa" if key else None


JVM_OPTION_VARIABLES = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")
"""Environment variables the JVM spark-submit starts reads its options from (``JDK_JAVA_OPTIONS``: the ``java``
launcher's own)."""
JVM_AGENT_OPTIONS = ("-javaagent", "-agentlib", "-agentpath", "StartFlightRecording")
"""Options that start the JVM with an agent or Flight Recorder, which may watch class loading (a class file load
hook): with one, JDK 17 crashes (SIGSEGV in ``check_shared_class_file_load_hook``) as soon as it loads a class from
a dynamic class-data archive (seen with a ``-javaagent`` that registers a transformer and with
``-XX:StartFlightRecording``; docs/TROUBLESHOOTING.md)."""


def jvm_agent_variable(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The first of :data:`JVM_OPTION_VARIABLES` in ``environ`` (default ``os.environ``) that starts the JVM with an
    agent or Flight Recorder (:data:`JVM_AGENT_OPTIONS`), or None."""
    environ = os.environ if environ is None else environ
    for variable in JVM_OPTION_VARIABLES:
        if any(option in environ.get(variable, "") for option in JVM_AGENT_OPTIONS):
            return variable
    return None


def class_data_options(jars_dir: Optional[Path] = None) -> str:
    """The JVM options that map this install's class-data archive, or "" when there is none.

    The archive holds Spark's, Delta's and the JDK's classes as a session loads them, already parsed and verified:
    a local session started in 3.3-3.6 s against 5.2-6.1 s and its first Delta write and read took 7.3-8.3 s
    against 10.2-10.9 s (three pairs on 2026-12-07, a slow evening; docs/guides/PERFORMANCE_TUNING.md).
    ``-Xshare:auto``: an archive the JVM cannot use is skipped, never an error. Also "" while the environment
    starts the JVM with an agent or Flight Recorder (:func:`jvm_agent_variable`): the JVM would crash with it."""
    if jvm_agent_variable():
        return ""
    archive = class_data_archive(jars_dir)
    if archive is None or not archive.is_file():
        return ""
    return f"-XX:SharedArchiveFile={archive} -Xshare:auto"


LOCAL_CONF: Dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.driver.memory": "4g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.hadoop.parquet.enable.summary-metadata": "false",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=ERROR -XX:+UseParallelGC",
    "spark.sql.autoBroadcastJoinThreshold": str(64 * 1024 * 1024),
}

# A local run is one JVM that lives as long as the run. For a small lake, C2's compiles of Spark's and
# the generated code cost more CPU than they win back (1M records on 2 cores: ~84 s of JIT threads;
# 69-74 s end to end with C1 only against 77-78 s tiered), and every shuffle partition beyond the core
# count is one more task and one more file per write (61 s with 2 partitions, 65-68 s with 4). A big
# lake runs long enough for C2 and needs the smaller partitions (10M records: 353 s tiered with 4
# partitions, 428 s C1-only with 2). The boundary sits between the two measured sizes (72 MB and
# 797 MB of landing files); docs/BENCHMARKS.md.
SMALL_LAKE_BYTES = 256 * 1024 * 1024
# Beyond that, a partition per 256 MB of landing data: two per core leaves each shuffle partition of a 100M
# set (8 GB of landing files) holding ~12M order items, sorted and merged in a 4 GB heap. A lake over
# LARGE_LAKE_BYTES also gets an 8 GB heap: the 100M load test (7.82 GB of landing files) was measured with it.
# The boundary sits between that set and the largest one measured with 4 GB: the big-file stress scenario's
# 74M records (~5.8 GB of landing files) peaked at 5.21 GB of summed PSS with 4 GB and 9.65 GB with 8 GB,
# faster with 4 GB (docs/BENCHMARKS.md, "Stress scenarios"). 1M and 10M are unchanged.
BYTES_PER_SHUFFLE_PARTITION = 256 * 1024 * 1024
LARGE_LAKE_BYTES = 6_500_000_000
# C1 only shrinks the JVM's default code cache to 48 MB, which a long session (the test suite's) fills
# with generated classes until the JVM fails ("Out of space in CodeCache"): keep the tiered default size.
C1_ONLY = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"


def landing_bytes(lake_root: str) -> int:
    """Bytes of every file under ``<lake_root>/landing`` (a local folder): the size of a local run's work."""
    total = 0
    for folder, _, names in os.walk(os.path.join(lake_root, "landing")):
        for name in names:
            with contextlib.suppress(OSError):  # gone since the listing: not part of the work
                total += os.path.getsize(os.path.join(folder, name))
    return total


JVM_CLASSES = (
    # PySpark's own, looked up by simple name through py4j's wildcard imports on every DataFrame call
    "org.apache.spark.api.python.PythonUtils",
    "org.apache.spark.api.python.PythonRDD",
    "org.apache.spark.api.python.SerDeUtil",
    "org.apache.spark.sql.SparkSession",
    "org.apache.spark.sql.SparkSession$",
    "org.apache.spark.sql.functions",
    "org.apache.spark.sql.api.python.PythonSQLUtils",
    # the jobs' own (job_assets.engine.delta_spark, job_assets.lake_fs)
    "io.delta.tables.DeltaTable",
    "org.apache.spark.sql.delta.DeltaLog",
    "org.apache.hadoop.fs.Path",
    "org.apache.commons.io.IOUtils",
    "scala.Option",
)
"""Classes the driver names through py4j, imported by their full name into the session's JVM view.

py4j resolves a simple name (``jvm.functions``) by trying each wildcard import in turn and a dotted one
(``jvm.org.apache...``) one package segment at a time; every miss is a failed class load that searches all
~250 jars on the classpath. Imported, a name is one lookup: ``F.col`` 379 -> 146 us, ``jvm.DeltaLog`` 0.79 ->
0.04 ms (2026-12-06). A 2,000-record pipeline run makes about 7,200 such lookups."""


def import_jvm_classes(spark: SparkSession) -> None:
    """Import :data:`JVM_CLASSES` into ``spark``'s JVM view (idempotent; a class absent from the classpath is
    harmless until named)."""
    from py4j.java_gateway import java_import

    for name in JVM_CLASSES:
        java_import(spark._jvm, name)


def utc_process() -> None:
    """Put this process in UTC. Every time the jobs write is a naive UTC datetime, and PySpark converts a
    naive datetime as local time (``time.mktime``) where Arrow and delta-rs take it as UTC: on a host in
    another zone the two engines would store different instants. Called before the JVM starts
    (:func:`local_session`), so the JVM and its Python workers inherit it, and on every session
    (:func:`configure`)."""
    if os.environ.get("TZ") != "UTC":
        os.environ["TZ"] = "UTC"
        time.tzset()


def configure(spark: SparkSession) -> SparkSession:
    """The session settings every job needs (UTC, Parquet timestamps, parser policy), on ``spark``, and the JVM
    classes the driver names imported; the process in UTC (:func:`utc_process`)."""
    utc_process()
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    import_jvm_classes(spark)
    return spark


def local_conf(
    cores: int, workload_bytes: Optional[int], shuffle_partitions: Optional[int] = None, long_lived: bool = False
) -> Dict[str, str]:
    """LOCAL_CONF for ``cores`` and a run over ``workload_bytes`` of landing data (None: unknown, small).

    ``long_lived``: the JVM serves many runs (a test session): tiered JIT whatever the size, since C2's
    compiles pay back over the session (2,000-record pipeline, third run in one JVM: 34 s tiered, 47 s C1).
    """
    small = workload_bytes is None or workload_bytes <= SMALL_LAKE_BYTES
    by_size = 0 if small else math.ceil(workload_bytes / BYTES_PER_SHUFFLE_PARTITION)
    partitions = shuffle_partitions or (cores if small else max(2 * cores, by_size))
    conf = dict(LOCAL_CONF)
    if workload_bytes is not None and workload_bytes > LARGE_LAKE_BYTES:
        conf["spark.driver.memory"] = "8g"
    if small and not long_lived:
        conf["spark.driver.extraJavaOptions"] += f" {C1_ONLY}"
    conf["spark.sql.shuffle.partitions"] = str(partitions)
    conf["spark.default.parallelism"] = str(max(2, partitions))
    # Delta's own jobs size themselves for clusters: 50 partitions to rebuild a table's state from its log
    # and 10,000 listing tasks for VACUUM and RESTORE. On one machine each is a few ms of scheduling per
    # task for a handful of files (RESTORE of a 3-commit table: 19 s -> 6 s; an app-transaction lookup
    # 3.6 s -> 0.8 s). EMR keeps Delta's defaults.
    conf["spark.databricks.delta.snapshotPartitions"] = str(max(2, partitions))
    # Delta keeps every table it touched (its log, snapshot and cached state plans) in a cache of 10,000
    # entries for 60 minutes. A cluster job touches a few dozen tables and ends; a long local JVM (the test
    # session creates hundreds of lakes) filled its 4 GB heap with them and spent most of its time in
    # full GCs. A run touches ~35 tables: keep 64, evicted ones are re-read from their logs.
    conf["spark.databricks.delta.delta.log.cacheSize"] = "64"
    conf["spark.databricks.delta.delta.log.cacheRetentionMinutes"] = "10"
    conf["spark.sql.sources.parallelPartitionDiscovery.parallelism"] = str(max(2, partitions))
    return conf


OVERRIDDEN_KEYS = "spark.lakehouse.overriddenKeys"
"""Session setting that lists the keys ``extra_conf`` set (comma-separated): a tuning experiment's explicit
setting wins over the defaults the table engine pins on the session (such as the Delta table properties)."""


def overridden_keys(spark: SparkSession) -> frozenset:
    """The keys of ``spark``'s settings that ``local_session(extra_conf=...)`` set explicitly."""
    listed = spark.conf.get(OVERRIDDEN_KEYS, "") or ""
    return frozenset(k for k in listed.split(",") if k)


def local_session(
    app_name: str = "lakehouse",
    cores: Optional[int] = None,
    shuffle_partitions: Optional[int] = None,
    workload_bytes: Optional[int] = None,
    long_lived: bool = False,
    extra_conf: Optional[Dict[str, str]] = None,
) -> SparkSession:
    """A local SparkSession tuned for a laptop/CI: few shuffle partitions, no UI, quiet logs, and Delta Lake
    configured as on EMR (the jars ``make install`` verified, Delta's SQL extension and catalog).
    ``extra_conf`` (``lakehouse run --conf``, for tuning experiments) is applied last, over all of that.

    ``workload_bytes`` (the landing data a run covers, see :func:`landing_bytes`) picks the JIT and the
    default shuffle partitions: up to SMALL_LAKE_BYTES (or unknown) C1 only and one partition per core,
    above it tiered compilation and two per core; ``long_lived`` keeps tiered compilation (:func:`local_conf`).
    """
    # Python workers must be this interpreter (the one with job_assets installed), not whatever is on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    utc_process()
    cores = cores or os.cpu_count() or 2
    jars = local_jars()
    builder = SparkSession.builder.master(f"local[{cores}]").appName(app_name).config("spark.jars", ",".join(jars))
    conf = local_conf(cores, workload_bytes, shuffle_partitions, long_lived)
    cds = class_data_options()
    if cds:
        conf["spark.driver.extraJavaOptions"] += f" {cds}"
    for key, value in {**conf, **DELTA_CONF, **SESSION_CONF, **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    if extra_conf:  # the table engine pins its own defaults, except these (job_assets/engine/delta_spark.py)
        builder = builder.config(OVERRIDDEN_KEYS, ",".join(sorted(extra_conf)))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return configure(spark)


_MATERIALIZED: List[Tuple[str, int]] = []
"""(application id, RDD id) of every frame :func:`materialize` computed and :func:`release_materialized` has not
released yet. Ids, not the RDDs: a reference from here would keep an RDD the job dropped from Spark's cleaner."""
_MATERIALIZED_LOCK = threading.Lock()


def _checkpoint_rdd_id(df) -> Optional[int]:
    """The id of the RDD behind a materialized frame (its plan is one ``LogicalRDD``), or None."""
    plan = df._jdf.queryExecution().analyzed()
    return int(plan.rdd().id()) if plan.getClass().getSimpleName() == "LogicalRDD" else None


def materialize(df):
    """Compute ``df`` once and cut its lineage, so later actions don't re-plan a deep query.

    Local (and fixed executors): ``localCheckpoint`` keeps the blocks on the executors. With dynamic
    allocation (EMR Serverless) executors may go away with those blocks, so a reliable checkpoint to
    the checkpoint directory is used when one is set. The blocks stay until :func:`release_materialized`
    (the pipeline driver calls it after each job) or :func:`release`.
    """
    sc = df.sparkSession.sparkContext
    # one lookup: getConf() copies every setting through py4j (17 ms against 0.1 ms; a 1M run materializes ~60 times)
    dynamic = df.sparkSession.conf.get("spark.dynamicAllocation.enabled", "false").lower() == "true"
    if dynamic and sc._jsc.sc().getCheckpointDir().isDefined():
        return df.checkpoint(eager=True)
    out = df.localCheckpoint(eager=True)
    rdd_id = _checkpoint_rdd_id(out)
    if rdd_id is not None:
        with _MATERIALIZED_LOCK:
            _MATERIALIZED.append((sc.applicationId, rdd_id))
    return out


def _drop_blocks(sc, rdd_ids: List[int]) -> None:
    """Remove the blocks of RDDs ``rdd_ids`` from every block manager, waiting until they are gone."""
    for rdd_id in rdd_ids:
        sc._jsc.sc().unpersistRDD(rdd_id, True)


def release(df) -> None:
    """Drop the blocks of one frame :func:`materialize` computed; the frame cannot be used again.

    (``DataFrame.unpersist`` does not: a checkpointed frame is not in Spark's cache.)"""
    rdd_id = _checkpoint_rdd_id(df)
    if rdd_id is None:
        return
    sc = df.sparkSession.sparkContext
    with _MATERIALIZED_LOCK, contextlib.suppress(ValueError):
        _MATERIALIZED.remove((sc.applicationId, rdd_id))
    _drop_blocks(sc, [rdd_id])


def release_materialized(spark: Optional[SparkSession]) -> int:
    """Drop the blocks of every frame :func:`materialize` computed in ``spark``'s application since the last
    call; returns how many (0 for no session: a job run without Spark made none). Those frames cannot be used
    again: call it when a job is over.

    Without it a job's blocks stay in the driver's heap until Spark's cleaner notices their frames are gone,
    which for a long-lived block takes a full collection, so a long-lived JVM (the test session, a notebook)
    carries earlier runs' blocks. One pipeline at a time per process, as the single-writer guard has it: a
    second one running beside this would lose its frames. A 1M run was not faster for it: silver's frames live
    until its last commit, so its peak is its own (docs/guides/PERFORMANCE_TUNING.md, "Memory")."""
    if spark is None:
        return 0
    sc = spark.sparkContext
    app = sc.applicationId
    with _MATERIALIZED_LOCK:
        mine = [rdd for owner, rdd in _MATERIALIZED if owner == app]
        _MATERIALIZED.clear()  # another application's ids are stale: its context has stopped
    _drop_blocks(sc, mine)
    return len(mine)
