"""SparkSession settings every job relies on, locally and on EMR."""

from __future__ import annotations

import os
import sys
from typing import Dict, Optional

from pyspark.sql import SparkSession

# Required by the delta-rs commit path and by parsing: identical on EMR (runtime configuration).
SESSION_CONF: Dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.sources.partitionOverwriteMode": "static",
}

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
    # C1 only: a local run is one short-lived JVM, and C2 compiles of Spark's and the generated code
    # cost more CPU than they win back within it (1M-record pipeline: ~84 s of JIT threads on 2 cores;
    # 69-74 s end to end with C1 only vs 77-78 s with tiered C2). EMR keeps the JVM default.
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=ERROR -XX:+UseParallelGC -XX:TieredStopAtLevel=1",
    "spark.sql.autoBroadcastJoinThreshold": str(64 * 1024 * 1024),
}


def configure(spark: SparkSession) -> SparkSession:
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    return spark


def local_session(
    app_name: str = "lakehouse", cores: Optional[int] = None, shuffle_partitions: Optional[int] = None
) -> SparkSession:
    """A local SparkSession tuned for a laptop/CI: few shuffle partitions, no UI, quiet logs.

    Shuffle partitions default to the core count: locally every extra partition is another task and
    another file per write, not more parallelism (1M-record pipeline on 2 cores: 61 s with 2, 65-68 s
    with 4; docs/BENCHMARKS.md).
    """
    # Python workers must be this interpreter (the one with job_assets installed), not whatever is on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    cores = cores or os.cpu_count() or 2
    shuffle_partitions = shuffle_partitions or cores
    master = f"local[{cores}]"
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**LOCAL_CONF, **SESSION_CONF}.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    builder = builder.config("spark.default.parallelism", str(max(2, shuffle_partitions)))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return configure(spark)


def materialize(df):
    """Compute ``df`` once and cut its lineage, so later actions don't re-plan a deep query.

    Local (and fixed executors): ``localCheckpoint`` keeps the blocks on the executors. With dynamic
    allocation (EMR Serverless) executors may go away with those blocks, so a reliable checkpoint to
    the checkpoint directory is used when one is set.
    """
    sc = df.sparkSession.sparkContext
    dynamic = sc.getConf().get("spark.dynamicAllocation.enabled", "false").lower() == "true"
    if dynamic and sc._jsc.sc().getCheckpointDir().isDefined():
        return df.checkpoint(eager=True)
    return df.localCheckpoint(eager=True)
