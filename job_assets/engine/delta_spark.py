"""delta-spark engine: Delta Lake's own Spark APIs (EMR Serverless ships the jars).

Idempotency uses Delta's app transactions: ``txnAppId``/``txnVersion`` writer options for appends and
overwrites, and the ``spark.databricks.delta.write.txnAppId``/``txnVersion`` session settings for MERGE.
New tables are pinned to protocol 1/2 (no table features) and Delta's default classic checkpoints, so
the delta-rs engine reads and writes them too.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from .base import (
    CHECKPOINT_INTERVAL,
    MergeResult,
    TableEngine,
    TableNotFoundError,
    Txn,
    WriteResult,
    merge_keys_condition,
)

SESSION_DEFAULTS = {
    "spark.databricks.delta.properties.defaults.minReaderVersion": "1",
    "spark.databricks.delta.properties.defaults.minWriterVersion": "2",
    "spark.databricks.delta.properties.defaults.checkpointInterval": str(CHECKPOINT_INTERVAL),
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
}


def jvm_class_loadable(spark: SparkSession, name: str) -> bool:
    """True when the driver JVM can load class ``name`` (py4j is the only way to ask it)."""
    jvm = spark._jvm
    try:
        jvm.java.lang.Class.forName(name, True, jvm.Thread.currentThread().getContextClassLoader())
        return True
    except Exception as exc:
        if "ClassNotFoundException" in str(exc) or "NoClassDefFoundError" in str(exc):
            return False
        raise  # anything else (a dead gateway, a py4j error) is not an answer: say so


def delta_classes_loadable(spark: SparkSession) -> bool:
    """True when Delta's JVM classes are on the driver's classpath (EMR, or jars passed with spark.jars)."""
    return jvm_class_loadable(spark, "io.delta.tables.DeltaTable")


class DeltaSparkEngine(TableEngine):
    name = "delta-spark"

    def __init__(self, spark: SparkSession) -> None:
        super().__init__(spark)
        from delta.tables import DeltaTable  # the delta-spark Python API (needs the JVM classes)

        self._DeltaTable = DeltaTable
        for key, value in SESSION_DEFAULTS.items():
            spark.conf.set(key, value)

    def _table(self, uri: str):
        if not self.exists(uri):
            raise TableNotFoundError(f"no Delta table at {uri}")
        return self._DeltaTable.forPath(self.spark, uri)

    def exists(self, uri: str) -> bool:
        return bool(self._DeltaTable.isDeltaTable(self.spark, uri))

    def version(self, uri: str) -> Optional[int]:
        if not self.exists(uri):
            return None
        return int(self._table(uri).history(1).select("version").collect()[0][0])

    def read(self, uri: str, version: Optional[int] = None) -> DataFrame:
        if not self.exists(uri):
            raise TableNotFoundError(f"no Delta table at {uri}")
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(uri)

    def transaction_version(self, uri: str, app_id: str) -> Optional[int]:
        jvm = self.spark._jvm
        log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(self.spark._jsparkSession, uri)
        txns = log.update(False, jvm.scala.Option.empty(), jvm.scala.Option.empty()).transactions()
        found = txns.get(app_id)
        return int(found.get()) if found.isDefined() else None

    def history(self, uri: str, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        df = self._table(uri).history(limit) if limit else self._table(uri).history()
        out = []
        for r in df.collect():
            d = r.asDict(recursive=True)
            out.append(
                {
                    "version": d["version"],
                    "timestamp": int(d["timestamp"].timestamp() * 1000),
                    "operation": d["operation"],
                    "operationParameters": d.get("operationParameters") or {},
                    "operationMetrics": d.get("operationMetrics") or {},
                    "userMetadata": d.get("userMetadata"),
                }
            )
        return out

    def protocol(self, uri: str) -> Dict[str, Any]:
        d = self._table(uri).detail().collect()[0].asDict()
        return {
            "min_reader_version": d["minReaderVersion"],
            "min_writer_version": d["minWriterVersion"],
            "reader_features": d.get("readerFeatures") or None,
            "writer_features": d.get("writerFeatures") or None,
        }

    def create_if_missing(self, uri: str, schema: StructType) -> bool:
        if self.exists(uri):
            return False
        self.spark.createDataFrame([], schema).write.format("delta").mode("append").save(uri)
        return True

    def _write(self, uri: str, df: DataFrame, mode: str, txn: Optional[Txn]) -> WriteResult:
        if self.committed(uri, txn):
            return WriteResult(False, self.version(uri), skipped_reason=f"txn {txn.app_id}@{txn.version} committed")
        before = self.version(uri)
        writer = df.write.format("delta").mode(mode)
        if txn:
            writer = writer.option("txnAppId", txn.app_id).option("txnVersion", txn.version)
        writer.save(uri)
        after = self.version(uri)
        metrics = self.history(uri, 1)[0]["operationMetrics"] if after != before else {}
        return WriteResult(
            after != before,
            after,
            rows_added=int(metrics.get("numOutputRows", 0)),
            files_added=int(metrics.get("numFiles", 0)),
            metrics=metrics,
        )

    def append(self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None) -> WriteResult:
        if self.exists(uri) and df.isEmpty():
            return WriteResult(False, self.version(uri), skipped_reason="no rows: no commit")
        return self._write(uri, df, "append", txn)

    def overwrite(self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None) -> WriteResult:
        return self._write(uri, df, "overwrite", txn)

    @contextmanager
    def _session_txn(self, txn: Optional[Txn]) -> Iterator[None]:
        if txn is None:
            yield
            return
        self.spark.conf.set("spark.databricks.delta.write.txnAppId", txn.app_id)
        self.spark.conf.set("spark.databricks.delta.write.txnVersion", str(txn.version))
        try:
            yield
        finally:
            self.spark.conf.unset("spark.databricks.delta.write.txnAppId")
            self.spark.conf.unset("spark.databricks.delta.write.txnVersion")

    def merge(
        self,
        uri: str,
        source: DataFrame,
        keys: Sequence[str],
        *,
        update_condition: Optional[str] = None,
        delete_condition: Optional[str] = None,
        insert_condition: Optional[str] = None,
        txn: Optional[Txn] = None,
        source_keys_unique: bool = False,
    ) -> MergeResult:
        if self.committed(uri, txn):
            return MergeResult(False, self.version(uri), skipped_reason=f"txn {txn.app_id}@{txn.version} committed")
        if not self.exists(uri):
            self.create_if_missing(uri, source.schema)
        before = self.version(uri)
        builder = self._table(uri).alias("t").merge(source.alias("s"), merge_keys_condition(keys))
        if delete_condition:
            builder = builder.whenMatchedDelete(condition=delete_condition)
        builder = builder.whenMatchedUpdateAll(condition=update_condition)
        builder = builder.whenNotMatchedInsertAll(condition=insert_condition)
        with self._session_txn(txn):
            builder.execute()
        after = self.version(uri)
        m = self.history(uri, 1)[0]["operationMetrics"] if after != before else {}
        return MergeResult(
            after != before,
            after,
            inserted=int(m.get("numTargetRowsInserted", 0)),
            updated=int(m.get("numTargetRowsUpdated", 0)),
            deleted=int(m.get("numTargetRowsDeleted", 0)),
            metrics=m,
        )

    def restore(self, uri: str, version: int) -> WriteResult:
        self._table(uri).restoreToVersion(version)
        return WriteResult(True, self.version(uri))

    def optimize(self, uri: str, zorder_by: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        opt = self._table(uri).optimize()
        df = opt.executeZOrderBy(*zorder_by) if zorder_by else opt.executeCompaction()
        return df.collect()[0].asDict(recursive=True)

    def vacuum(self, uri: str, retention_hours: int = 168, dry_run: bool = False) -> List[str]:
        if dry_run:
            rows = self.spark.sql(f"VACUUM delta.`{uri}` RETAIN {retention_hours} HOURS DRY RUN").collect()
            return [r[0] for r in rows]
        self._table(uri).vacuum(retention_hours / 1.0)
        return []
