"""delta-spark engine: Delta Lake's own Spark integration, through Spark SQL and the DataFrame writer only.

No Python ``delta`` module: on EMR Serverless the application's ``spark.jars`` puts Delta's classes on the
JVM classpath but not its Python package on the interpreter's path (docs/adr/0001-delta-spark-through-sql.md).
So every operation is SQL (``MERGE INTO``, ``RESTORE``, ``OPTIMIZE``, ``VACUUM``, ``DESCRIBE DETAIL``) or the
DataFrame writer, and the few questions SQL cannot answer cheaply (is this a Delta table, its version, an app
transaction's version) ask Delta's JVM classes through py4j. The history is read from the log's commit files
(``commitInfo``), as delta-rs reads it, and normalised by the function both engines share.

Idempotency: appends and overwrites carry ``txnAppId``/``txnVersion`` writer options. MERGE takes its
app transaction from the session settings ``spark.databricks.delta.write.txnAppId``/``txnVersion``, which
are session-wide; jobs merge several tables side by side in threads, so each MERGE runs in its own child
session (a clone: same SparkContext, its own copy of the SQL settings) on a temp view of the source.
Every commit's ``userMetadata`` records the operation and its Txn (:func:`commit_metadata`).

New tables are pinned to protocol 1/2 (no table features) and classic checkpoints, so delta-rs reads and
writes them too.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from ..lake_fs import list_files
from ..spark import import_jvm_classes, overridden_keys
from .base import (
    CHECKPOINT_INTERVAL,
    MergeResult,
    TableEngine,
    TableNotFoundError,
    Txn,
    WriteResult,
    commit_metadata,
    history_entry,
    merge_keys_condition,
    numeric_metrics,
)

COMMIT_FILE = re.compile(r"\d{20}\.json")
"""A commit file of a table's ``_delta_log`` (not a checkpoint, checksum or compacted log file)."""

SESSION_DEFAULTS = {
    "spark.databricks.delta.properties.defaults.minReaderVersion": "1",
    "spark.databricks.delta.properties.defaults.minWriterVersion": "2",
    "spark.databricks.delta.properties.defaults.checkpointInterval": str(CHECKPOINT_INTERVAL),
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
    "spark.databricks.delta.properties.defaults.logRetentionDuration": "interval 30 days",
    "spark.databricks.delta.properties.defaults.deletedFileRetentionDuration": "interval 7 days",
    # a table we create without a schema change stays writable by delta-rs: no column mapping, no CDF
    "spark.databricks.delta.properties.defaults.columnMapping.mode": "none",
}
TXN_APP_ID = "spark.databricks.delta.write.txnAppId"
TXN_VERSION = "spark.databricks.delta.write.txnVersion"
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
SAFE_RETENTION_HOURS = 168


def _features(option: Any) -> Optional[List[str]]:
    """A protocol's table features (Scala ``Option[Set[String]]``) as a sorted list; None when the protocol
    (reader < 3, writer < 7) has none, as delta-rs reports it."""
    if not option.isDefined():
        return None
    names = [str(n) for n in option.get().mkString("\n").split("\n") if n]
    return sorted(names) or None


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


def _and(condition: Optional[str]) -> str:
    return f" AND ({condition})" if condition else ""


def _quote(uri: str) -> str:
    """``delta.`<uri>``` with backticks in the path escaped."""
    return "delta.`" + uri.replace("`", "``") + "`"


def _merge_statement(
    uri: str,
    view: str,
    keys: Sequence[str],
    update_condition: Optional[str],
    delete_condition: Optional[str],
    insert_condition: Optional[str],
) -> str:
    """``MERGE INTO`` the table at ``uri`` from temp view ``view``: delete, update, insert clauses."""
    clauses = [f"WHEN MATCHED AND ({delete_condition}) THEN DELETE"] if delete_condition else []
    clauses.append(f"WHEN MATCHED{_and(update_condition)} THEN UPDATE SET *")
    clauses.append(f"WHEN NOT MATCHED{_and(insert_condition)} THEN INSERT *")
    return f"MERGE INTO {_quote(uri)} AS t USING {view} AS s ON {merge_keys_condition(keys)} " + " ".join(clauses)


class DeltaSparkEngine(TableEngine):
    """The delta-spark table engine: Delta Lake 3.3.2 through Spark SQL (ADR 0001), EMR's own engine and the
    local default; the session must carry Delta's jars and SQL extension (``job_assets.spark``).
    """

    name = "delta-spark"

    def __init__(self, spark: SparkSession) -> None:
        super().__init__(spark)
        explicit = overridden_keys(spark)  # ``lakehouse run --conf``: an experiment's setting wins
        for key, value in SESSION_DEFAULTS.items():
            if key not in explicit:
                spark.conf.set(key, value)
        import_jvm_classes(spark)  # jvm.DeltaLog, jvm.DeltaTable, jvm.Path, jvm.IOUtils, jvm.Option

    # -- helpers -------------------------------------------------------------------------------------
    def _child(self, settings: Dict[str, str]) -> SparkSession:
        """A clone of this session (same SparkContext, a copy of its SQL settings and temp views) plus
        ``settings``: session-wide Delta settings (a MERGE's Txn) then apply to one operation only, whatever
        other threads do meanwhile. (``cloneSession`` is Scala ``private[sql]``, public to py4j.)"""
        child = SparkSession(self.spark.sparkContext, self.spark._jsparkSession.cloneSession())
        for key, value in settings.items():
            child.conf.set(key, value)
        return child

    def _snapshot(self, uri: str):
        """Delta's latest snapshot of ``uri`` (JVM object), refreshed from the log."""
        jvm = self.spark._jvm
        log = jvm.DeltaLog.forTable(self.spark._jsparkSession, uri)
        return log.update(False, jvm.Option.empty(), jvm.Option.empty())

    def _require(self, uri: str) -> None:
        if not self.exists(uri):
            raise TableNotFoundError(f"no Delta table at {uri}")

    # -- reading -------------------------------------------------------------------------------------
    def exists(self, uri: str) -> bool:
        jvm = self.spark._jvm
        return bool(jvm.DeltaTable.isDeltaTable(self.spark._jsparkSession, uri))

    def version(self, uri: str) -> Optional[int]:
        # One refresh of the log: a path with no commit is Delta's initial snapshot, version -1 (asking
        # isDeltaTable first would list the log a second time; every write asks before and after).
        version = int(self._snapshot(uri).version())
        return None if version < 0 else version

    def read(self, uri: str, version: Optional[int] = None) -> DataFrame:
        self._require(uri)
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(uri)

    def table_id(self, uri: str) -> str:
        self._require(uri)
        return str(self._snapshot(uri).metadata().id())

    def changes(self, uri: str, start: int, end: int, columns: Sequence[str]) -> DataFrame:
        self._require(uri)
        reader = self.spark.read.format("delta").option("readChangeFeed", "true")
        feed = reader.option("startingVersion", start).option("endingVersion", end).load(uri)
        return feed.select(*columns, "_change_type")

    def transaction_version(self, uri: str, app_id: str) -> Optional[int]:
        found = self._snapshot(uri).transactions().get(app_id)
        return int(found.get()) if found.isDefined() else None

    def history(self, uri: str, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        # From the commit files themselves, as delta-rs reads them: DESCRIBE HISTORY would run a Spark job and
        # give each file's modification time, not the commit's own timestamp (on S3 the object's, by S3's clock)
        self._require(uri)
        commits = self._commit_files(uri)[: int(limit)] if limit else self._commit_files(uri)
        return [history_entry(version, self._read_commit_info(path), listed_ms) for version, path, listed_ms in commits]

    def protocol(self, uri: str) -> Dict[str, Any]:
        self._require(uri)
        p = self._snapshot(uri).protocol()  # DESCRIBE DETAIL has the versions but lists features as one set
        return {
            "min_reader_version": p.minReaderVersion(),
            "min_writer_version": p.minWriterVersion(),
            "reader_features": _features(p.readerFeatures()),
            "writer_features": _features(p.writerFeatures()),
        }

    # -- writing -------------------------------------------------------------------------------------
    def create_if_missing(self, uri: str, schema: StructType) -> bool:
        if self.exists(uri):
            return False
        self.refuse_non_delta_folder(uri)
        writer = self.spark.createDataFrame([], schema).write.format("delta").mode("append")
        writer.options(**self.creation_properties(uri)).option("userMetadata", commit_metadata(None, "CREATE")).save(
            uri
        )
        return True

    def _commit_files(self, uri: str) -> List[Tuple[int, Any, int]]:
        """(version, path, modification time in ms) of every commit file in the table's log, newest first."""
        jvm = self.spark._jvm
        log_dir = jvm.Path(f"{uri.rstrip('/')}/_delta_log")
        found = []
        for status in log_dir.getFileSystem(self.spark._jsc.hadoopConfiguration()).listStatus(log_dir):
            path = status.getPath()
            name = path.getName()
            if COMMIT_FILE.fullmatch(name):
                found.append((int(name[:20]), path, int(status.getModificationTime())))
        return sorted(found, key=lambda c: -c[0])

    def _commit_info(self, uri: str, version: int) -> Dict[str, Any]:
        """``commitInfo`` of commit ``version``, read from its log file (no Spark job, unlike DESCRIBE HISTORY)."""
        return self._read_commit_info(self.spark._jvm.Path(f"{uri.rstrip('/')}/_delta_log/{version:020d}.json"))

    def _read_commit_info(self, path: Any) -> Dict[str, Any]:
        """``commitInfo`` of the commit file at ``path`` (a Hadoop path); {} for a commit without one."""
        jvm = self.spark._jvm
        stream = path.getFileSystem(self.spark._jsc.hadoopConfiguration()).open(path)
        try:
            text = jvm.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()
        for line in text.splitlines():
            if '"commitInfo"' in line:
                return dict(json.loads(line)["commitInfo"])
        return {}

    def _write(
        self,
        uri: str,
        df: DataFrame,
        mode: str,
        txn: Optional[Txn],
        operation: str,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> WriteResult:
        """Delta's writer with the Txn as writer options: Delta itself skips a write whose Txn is committed,
        before it computes or writes anything, so no separate check is made."""
        before = self.version(uri)
        writer = df.write.format("delta").mode(mode).option("userMetadata", commit_metadata(txn, operation, metadata))
        if before is None:
            self.refuse_non_delta_folder(uri)
            writer = writer.options(**self.creation_properties(uri))  # "delta.*" options: the new table's properties
        if txn:
            writer = writer.option("txnAppId", txn.app_id).option("txnVersion", txn.version)
        writer.save(uri)
        after = self.version(uri)
        if after == before:
            reason = f"txn {txn.tag} committed" if txn is not None else "no commit"
            return WriteResult(False, after, skipped_reason=reason)
        metrics = numeric_metrics(self._commit_info(uri, after).get("operationMetrics"))
        return WriteResult(
            True,
            after,
            rows_added=metrics.get("numOutputRows", 0),
            rows_removed=metrics.get("numRemovedRows", 0) if mode == "overwrite" else 0,
            files_added=metrics.get("numFiles", 0),
            files_removed=metrics.get("numRemovedFiles", 0),
            metrics=metrics,
        )

    def append(self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None) -> WriteResult:
        if self.exists(uri) and df.isEmpty():
            return WriteResult(False, self.version(uri), skipped_reason="no rows: no commit")
        return self._write(uri, df, "append", txn, "APPEND")

    def append_rows(
        self, uri: str, rows: Sequence[Dict[str, Any]], schema: StructType, *, txn: Optional[Txn] = None
    ) -> WriteResult:
        """Operational records: with rows, straight to the writer (the emptiness check of :meth:`append`
        would run a Spark job to learn what ``rows`` already says)."""
        if not rows:
            return super().append_rows(uri, rows, schema, txn=txn)
        from pyspark.sql import Row

        names = schema.fieldNames()
        df = self.spark.createDataFrame([Row(*[r.get(n) for n in names]) for r in rows], schema)
        return self._write(uri, df, "append", txn, "APPEND")

    def overwrite(
        self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None, metadata: Optional[Mapping[str, Any]] = None
    ) -> WriteResult:
        removed = 0
        if self.exists(uri) and not self.committed(uri, txn):
            removed = self.read(uri).count() if self.version(uri) is not None else 0
        result = self._write(uri, df, "overwrite", txn, "OVERWRITE", metadata)
        if result.committed:
            result.rows_removed = removed
        return result

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
        if txn is not None and self.committed(uri, txn):
            return self.replayed_merge(uri, txn)
        if not source_keys_unique:
            source = self.check_unique_keys(uri, source, keys)
        if not self.exists(uri):
            return self._merge_into_new(uri, source, insert_condition, txn)
        before = self.version(uri)
        settings = {USER_METADATA: commit_metadata(txn, "MERGE")}
        if txn is not None:
            settings.update({TXN_APP_ID: txn.app_id, TXN_VERSION: str(txn.version)})
        view = f"lh_merge_{uuid.uuid4().hex}"
        statement = _merge_statement(uri, view, keys, update_condition, delete_condition, insert_condition)
        source.createOrReplaceTempView(view)  # before the clone, which copies it
        try:
            self._child(settings).sql(statement).collect()
        finally:
            self.spark.catalog.dropTempView(view)
        return self._merge_result(uri, before)

    def _merge_into_new(
        self, uri: str, source: DataFrame, insert_condition: Optional[str], txn: Optional[Txn]
    ) -> MergeResult:
        """No target: nothing matches, so only the insert clause applies (as in the delta-rs engine); one
        write creates the table, where creating it empty and merging into it costs two commits and the
        MERGE's jobs (materialize the source, scan for matches)."""
        inserts = source.alias("s").filter(insert_condition) if insert_condition else source
        written = self._write(uri, inserts, "append", txn, "MERGE")
        return MergeResult(
            written.committed,
            written.version,
            rows_added=written.rows_added,
            files_added=written.files_added,
            inserted=written.rows_added,
            skipped_reason=written.skipped_reason,
            metrics=written.metrics,
        )

    def _merge_result(self, uri: str, before: Optional[int]) -> MergeResult:
        """What the MERGE committed (its operation metrics), or that it made no commit."""
        after = self.version(uri)
        if after == before:
            return MergeResult(False, after, skipped_reason="merge changed nothing: no commit")
        metrics = numeric_metrics(self._commit_info(uri, after).get("operationMetrics"))
        inserted = metrics.get("numTargetRowsInserted", 0)
        updated = metrics.get("numTargetRowsUpdated", 0)
        deleted = metrics.get("numTargetRowsDeleted", 0)
        if inserted == updated == deleted == 0 and not metrics.get("numTargetFilesAdded", 0):
            # Delta commits a MERGE that matched nothing: a no-op commit carrying the Txn. It changed no
            # rows, so it stands (undoing it would lose the Txn), but it reports no work.
            return MergeResult(True, after, metrics=metrics)
        return MergeResult(
            True,
            after,
            rows_added=metrics.get("numTargetRowsInserted", 0) + metrics.get("numTargetRowsUpdated", 0),
            files_added=metrics.get("numTargetFilesAdded", 0),
            files_removed=metrics.get("numTargetFilesRemoved", 0),
            inserted=inserted,
            updated=updated,
            deleted=deleted,
            metrics=metrics,
        )

    def restore(self, uri: str, version: int) -> WriteResult:
        self._require(uri)
        row = self.spark.sql(f"RESTORE TABLE {_quote(uri)} TO VERSION AS OF {int(version)}").collect()
        return WriteResult(True, self.version(uri), metrics=numeric_metrics(row[0].asDict() if row else {}))

    def optimize(self, uri: str, zorder_by: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        self._require(uri)
        sql = f"OPTIMIZE {_quote(uri)}"
        if zorder_by:
            sql += " ZORDER BY (" + ", ".join(f"`{c}`" for c in zorder_by) + ")"
        row = self.spark.sql(sql).collect()[0].asDict(recursive=True)
        return dict(row.get("metrics") or {})

    def vacuum(self, uri: str, retention_hours: int = SAFE_RETENTION_HOURS, dry_run: bool = False) -> List[str]:
        """Files removed (or, with ``dry_run``, that would be): unreferenced files older than the retention,
        including files no commit ever referenced (a killed job's Parquet). Below Delta's 7-day safety
        retention the check is lifted for this one call only (the single-writer guard makes it safe)."""
        self._require(uri)
        session = self.spark
        if retention_hours < SAFE_RETENTION_HOURS:
            session = self._child({RETENTION_CHECK: "false"})
        statement = f"VACUUM {_quote(uri)} RETAIN {int(retention_hours)} HOURS"
        if dry_run:
            return [r[0] for r in session.sql(statement + " DRY RUN").collect()]
        # VACUUM reports no file names; a listing before and after (one LIST per 1,000 objects on S3) is far
        # cheaper than a second VACUUM pass in DRY RUN mode (Delta lists and joins the whole table each time)
        before = {f.uri for f in list_files(self.spark, uri)}
        session.sql(statement).collect()
        return sorted(before - {f.uri for f in list_files(self.spark, uri)})
