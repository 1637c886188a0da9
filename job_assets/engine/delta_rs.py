"""delta-rs engine: Spark computes and writes Parquet; delta-rs commits exactly those files.

How a write happens:
1. Spark writes the rows as Parquet into a fresh folder inside the table (``w-<uuid>/part-*.parquet``);
   timestamps as TIMESTAMP_MICROS in UTC, so the files are valid Delta data files.
2. The driver lists the new files, reads their footers for the row counts, and commits them — with any
   remove actions — in ONE Delta transaction through delta-rs, carrying the app transaction (``Txn``).

Files no commit references are invisible to every reader and removed by VACUUM, which is what makes a
job killed between 1 and 2 harmless. MERGE is copy-on-write: the files holding matched keys are
rewritten with the merged rows, and their removal plus the new files are one commit.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from ..delta_read import arrow_table
from ..spark import import_jvm_classes
from .base import (
    CHECKPOINT_INTERVAL,
    MergeResult,
    TableEngine,
    TableNotFoundError,
    Txn,
    WriteResult,
    change_feed_schema,
    commit_metadata,
    history_entry,
    merge_keys_condition,
)

TABLE_CONFIGURATION = {
    "delta.checkpointInterval": str(CHECKPOINT_INTERVAL),
    "delta.logRetentionDuration": "interval 30 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
}


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _local_path(uri: str) -> str:
    return unquote(urlparse(uri).path) if uri.startswith("file://") else uri


def _norm(path: str) -> str:
    """One spelling per file: Spark says file:/x or s3a://b/k, delta-rs says /x or s3://b/k."""
    if path.startswith("file:"):
        return os.path.normpath(unquote(urlparse(path).path))
    if "://" not in path:
        return os.path.normpath(path)
    parsed = urlparse(path)
    scheme = "s3" if parsed.scheme in ("s3a", "s3n") else parsed.scheme
    return f"{scheme}://{parsed.netloc}{unquote(parsed.path)}"


def _arrow_type(t):
    """Spark type -> the Arrow type delta-rs maps to the same Delta type."""
    import pyarrow as pa
    from pyspark.sql import types as T

    simple = {
        T.StringType: pa.string(),
        T.LongType: pa.int64(),
        T.IntegerType: pa.int32(),
        T.DoubleType: pa.float64(),
        T.BooleanType: pa.bool_(),
        T.DateType: pa.date32(),
        T.TimestampType: pa.timestamp("us", tz="UTC"),
    }
    for cls, arrow in simple.items():
        if isinstance(t, cls):
            return arrow
    if isinstance(t, T.DecimalType):
        return pa.decimal128(t.precision, t.scale)
    raise TypeError(f"no Arrow mapping for {t}")


def _nullable(schema: StructType) -> StructType:
    """Delta schemas are kept nullable; not-null is a data-quality rule, checked before the write."""
    return StructType([StructField(f.name, f.dataType, True, f.metadata) for f in schema.fields])


@dataclass
class _MergedFiles:
    """A copy-on-write MERGE's written files, before their commit."""

    adds: List[Any]  # add actions of the files written
    rows: int  # rows in them
    removed: List[str]  # the touched files they replace (relative paths)
    inserted: int
    updated: int
    deleted: int


def _classified(
    touched: DataFrame,
    source: DataFrame,
    keys: List[str],
    update_condition: Optional[str],
    delete_condition: Optional[str],
) -> DataFrame:
    """The touched rows (``t``) joined with the source (``s``), each marked ``_lh_action`` D(elete),
    U(pdate) or K(eep); materialized (the caller releases it: :func:`job_assets.spark.release`)."""
    from ..spark import materialize

    src_marked = source.withColumn("_lh_src", F.lit(True))
    j = touched.alias("t").join(src_marked.alias("s"), F.expr(merge_keys_condition(keys)), "left")
    matched = F.col("s._lh_src").isNotNull()
    is_delete = matched & F.expr(delete_condition) if delete_condition else F.lit(False)
    is_update = matched & ~is_delete & (F.expr(update_condition) if update_condition else F.lit(True))
    j = j.withColumn("_lh_action", F.when(is_delete, "D").when(is_update, "U").otherwise("K"))
    return materialize(j)


class DeltaRsEngine(TableEngine):
    """The delta-rs table engine: Spark computes and writes Parquet, delta-rs commits exactly those files with an
    app transaction (ADR 0004); also the light reader of the CLI, the notebooks and the promotion gates.

    ``storage_options`` are delta-rs' object-store options (an S3 endpoint, credentials) for ``s3://`` tables.
    """

    name = "delta-rs"

    def __init__(self, spark: SparkSession, storage_options: Optional[Dict[str, str]] = None) -> None:
        super().__init__(spark)
        import deltalake  # imported here: EMR does not ship it, and only this engine needs it

        self._dl = deltalake
        self.storage_options = storage_options
        import_jvm_classes(spark)  # jvm.Path (refuse_non_delta_folder), whoever built the session

    # -- helpers -------------------------------------------------------------------------------------
    def _table(self, uri: str, version: Optional[int] = None):
        try:
            return self._dl.DeltaTable(uri, version=version, storage_options=self.storage_options)
        except Exception as exc:  # TableNotFoundError from deltalake, or a missing folder
            if "no files in log segment" in str(exc).lower() or "not a delta table" in str(exc).lower():
                raise TableNotFoundError(f"no Delta table at {uri}") from exc
            if not self.exists(uri):
                raise TableNotFoundError(f"no Delta table at {uri}") from exc
            raise

    def _fs(self, uri: str):
        import pyarrow.fs as pafs

        if _is_local(uri):
            return pafs.LocalFileSystem(), _local_path(uri)
        return pafs.FileSystem.from_uri(uri)

    def _write_files(self, uri: str, df: DataFrame) -> Tuple[List[Any], int]:
        """Let Spark write ``df`` as Parquet into a fresh folder of the table; return add actions."""
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq

        if not self.exists(uri):
            self.refuse_non_delta_folder(uri)

        folder = f"w-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:12]}"
        target = f"{uri.rstrip('/')}/{folder}"
        df.write.mode("errorifexists").parquet(target)
        fs, base = self._fs(uri)
        base = base.rstrip("/")
        infos = fs.get_file_info(pafs.FileSelector(f"{base}/{folder}", recursive=False))
        adds, rows = [], 0
        for info in sorted(infos, key=lambda i: i.path):
            fname = os.path.basename(info.path)
            if fname.startswith(("_", ".")):
                if fname.endswith(".crc") and _is_local(uri):
                    fs.delete_file(info.path)  # Hadoop's local checksum files: never data, never committed
                continue
            if not fname.endswith(".parquet"):
                continue
            with fs.open_input_file(info.path) as fh:
                num = pq.ParquetFile(fh).metadata.num_rows
            if num == 0:
                fs.delete_file(info.path)  # Spark writes an empty file for an empty partition: skip it
                continue
            rows += num
            adds.append(
                self._dl.transaction.AddAction(
                    f"{folder}/{fname}",
                    info.size,
                    {},
                    int(info.mtime.timestamp() * 1000) if info.mtime else int(time.time() * 1000),
                    True,
                    json.dumps({"numRecords": num}),
                )
            )
        return adds, rows

    def _commit_properties(
        self,
        txn: Optional[Txn],
        operation: str,
        counts: Optional[Dict[str, int]] = None,
        extra: Optional[Mapping[str, Any]] = None,
    ):
        """The commit's app transaction and ``userMetadata`` (:func:`commit_metadata`), as delta-spark writes it."""
        txm = self._dl.transaction
        return txm.CommitProperties(
            custom_metadata={"userMetadata": commit_metadata(txn, operation, extra, **(counts or {}))},
            app_transactions=[txm.Transaction(txn.app_id, txn.version)] if txn else None,
        )

    def _commit(
        self,
        uri: str,
        actions: List[Any],
        schema: StructType,
        mode: str,
        txn: Optional[Txn],
        operation: str,
        metrics: Optional[Dict[str, Any]] = None,
        extra: Optional[Mapping[str, Any]] = None,
    ) -> int:
        txm = self._dl.transaction
        props = self._commit_properties(txn, operation, metrics, extra)
        delta_schema = self._dl.Schema.from_json(_nullable(schema).json())
        hooks = self._dl.PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)
        if not self.exists(uri):
            txm.create_table_with_add_actions(
                uri,
                delta_schema,
                actions,
                mode="error",
                configuration={**TABLE_CONFIGURATION, **self.creation_properties(uri)},
                storage_options=self.storage_options,
                commit_properties=props,
                post_commithook_properties=hooks,
            )
        else:
            self._table(uri).create_write_transaction(
                actions, mode, delta_schema, commit_properties=props, post_commithook_properties=hooks
            )
        return self._table(uri).version()

    # -- reading -------------------------------------------------------------------------------------
    def exists(self, uri: str) -> bool:
        return self._dl.DeltaTable.is_deltatable(uri, storage_options=self.storage_options)

    def version(self, uri: str) -> Optional[int]:
        return self._table(uri).version() if self.exists(uri) else None

    def spark_schema(self, uri: str, version: Optional[int] = None) -> StructType:
        return StructType.fromJson(json.loads(self._table(uri, version).schema().to_json()))

    def read(self, uri: str, version: Optional[int] = None) -> DataFrame:
        dt = self._table(uri, version)
        schema = StructType.fromJson(json.loads(dt.schema().to_json()))
        files = dt.file_uris()
        if not files:
            return self.spark.createDataFrame([], schema)
        return self.spark.read.schema(schema).parquet(*files)

    def read_rows(self, uri: str, columns: Sequence[str]) -> List[Dict[str, Any]]:
        """Straight from the Parquet files through delta-rs and Arrow: no Spark job."""
        if not self.exists(uri):
            return []
        import pyarrow as pa

        table = arrow_table(self._table(uri), columns)
        utc = [i for i, f in enumerate(table.schema) if pa.types.is_timestamp(f.type) and f.type.tz is not None]
        for i in utc:  # Spark (session time zone UTC) returns naive UTC datetimes: so does this
            f = table.schema.field(i)
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp(f.type.unit)))
        return table.to_pylist()

    def table_id(self, uri: str) -> str:
        return str(self._table(uri).metadata().id)

    def changes(self, uri: str, start: int, end: int, columns: Sequence[str]) -> DataFrame:
        import pyarrow as pa

        wanted = [*columns, "_change_type"]
        feed = self._table(uri).load_cdf(starting_version=start, ending_version=end, columns=wanted)
        rows = pa.table(feed.read_all()).select(wanted).to_pylist()
        schema = _nullable(change_feed_schema(self.spark_schema(uri), columns))
        return self.spark.createDataFrame([tuple(r[c] for c in wanted) for r in rows], schema)

    def transaction_version(self, uri: str, app_id: str) -> Optional[int]:
        return self._table(uri).transaction_version(app_id)

    def history(self, uri: str, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        # delta-rs gives each commit's commitInfo with its version added
        return [history_entry(int(raw["version"]), raw) for raw in self._table(uri).history(limit)]

    def protocol(self, uri: str) -> Dict[str, Any]:
        p = self._table(uri).protocol()
        return {
            "min_reader_version": p.min_reader_version,
            "min_writer_version": p.min_writer_version,
            "reader_features": p.reader_features,
            "writer_features": p.writer_features,
        }

    # -- writing -------------------------------------------------------------------------------------
    def create_if_missing(self, uri: str, schema: StructType) -> bool:
        if self.exists(uri):
            return False
        self.refuse_non_delta_folder(uri)
        self._commit(uri, [], schema, "append", None, "CREATE")
        return True

    def _skip(self, uri: str, txn: Optional[Txn]) -> Optional[WriteResult]:
        if self.committed(uri, txn):
            return WriteResult(False, self.version(uri), skipped_reason=f"txn {txn.app_id}@{txn.version} committed")
        return None

    def append(self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None) -> WriteResult:
        skipped = self._skip(uri, txn)
        if skipped:
            return skipped
        adds, rows = self._write_files(uri, df)
        if not adds and self.exists(uri):
            return WriteResult(False, self.version(uri), skipped_reason="no rows: no commit")
        version = self._commit(uri, adds, df.schema, "append", txn, "APPEND", {"rows": rows})
        return WriteResult(True, version, rows_added=rows, files_added=len(adds))

    def append_rows(
        self, uri: str, rows: Sequence[Dict[str, Any]], schema: StructType, *, txn: Optional[Txn] = None
    ) -> WriteResult:
        """Small operational writes straight through delta-rs: no Spark job for a handful of rows."""
        skipped = self._skip(uri, txn)
        if skipped:
            return skipped
        exists = self.exists(uri)
        if not exists:
            self.refuse_non_delta_folder(uri)
        if not rows and exists:
            return WriteResult(False, self.version(uri), skipped_reason="no rows: no commit")
        if not rows:  # as delta-spark: an empty append creates the table
            version = self._commit(uri, [], schema, "append", txn, "APPEND", {"rows": 0})
            return WriteResult(True, version, rows_added=0, files_added=0)
        import pyarrow as pa

        arrow_schema = pa.schema([pa.field(f.name, _arrow_type(f.dataType), True) for f in schema.fields])
        data = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema.fields} for r in rows], schema=arrow_schema)
        props = self._commit_properties(txn, "APPEND", {"rows": len(rows)})
        self._dl.write_deltalake(
            uri,
            data,
            mode="append",
            configuration=None if exists else {**TABLE_CONFIGURATION, **self.creation_properties(uri)},
            storage_options=self.storage_options,
            commit_properties=props,
            post_commithook_properties=self._dl.PostCommitHookProperties(
                create_checkpoint=True, cleanup_expired_logs=False
            ),
        )
        return WriteResult(True, self.version(uri), rows_added=len(rows), files_added=1)

    def overwrite(
        self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None, metadata: Optional[Mapping[str, Any]] = None
    ) -> WriteResult:
        skipped = self._skip(uri, txn)
        if skipped:
            return skipped
        removed_rows, removed_files = 0, 0
        if self.exists(uri):
            import pyarrow as pa

            actions = pa.table(self._table(uri).get_add_actions(flatten=True))
            removed_files = actions.num_rows
            removed_rows = sum(n or 0 for n in actions.column("num_records").to_pylist()) if removed_files else 0
        adds, rows = self._write_files(uri, df)
        version = self._commit(uri, adds, df.schema, "overwrite", txn, "OVERWRITE", {"rows": rows}, metadata)
        return WriteResult(
            True,
            version,
            rows_added=rows,
            rows_removed=removed_rows,
            files_added=len(adds),
            files_removed=removed_files,
        )

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
        keys = list(keys)
        if not source_keys_unique:  # callers that vouch for unique keys also own the source's evaluation
            source = self.check_unique_keys(uri, source, keys)
        if not self.exists(uri):
            # no target: nothing matches, so only the insert clause applies
            inserts = source.alias("s").filter(insert_condition) if insert_condition else source
            adds, rows = self._write_files(uri, inserts)
            version = self._commit(uri, adds, source.schema, "append", txn, "MERGE", {"inserted": rows})
            return MergeResult(True, version, rows_added=rows, files_added=len(adds), inserted=rows)

        dt = self._table(uri)
        target_schema = StructType.fromJson(json.loads(dt.schema().to_json()))
        source = source.select(*[f.name for f in target_schema.fields])
        touched, touched_rel = self._touched(uri, dt, target_schema, source, keys)
        from ..spark import release

        j = _classified(touched, source, keys, update_condition, delete_condition)
        try:
            inserts = source.alias("s").join(touched.select(*keys).alias("t"), on=keys, how="left_anti")
            if insert_condition:
                inserts = inserts.alias("s").filter(insert_condition)
            merged = self._write_merged(uri, j, inserts, target_schema, touched_rel)
            if merged is None:
                return MergeResult(False, dt.version(), skipped_reason="merge changed nothing: no commit")
        finally:
            release(j)
        return self._commit_merge(uri, dt, target_schema, txn, merged)

    def _touched(
        self, uri: str, dt: Any, target_schema: StructType, source: DataFrame, keys: List[str]
    ) -> Tuple[DataFrame, List[str]]:
        """The target's rows in the files that hold a source key, and those files (relative to the table)."""
        rels = self._active_paths(dt)
        files = [f"{uri.rstrip('/')}/{r}" for r in rels]
        rel_by_path = {_norm(f): r for f, r in zip(files, rels)}
        target = (
            self.spark.read.schema(target_schema).parquet(*files).withColumn("_lh_file", F.input_file_name())
            if files
            else self.spark.createDataFrame([], target_schema).withColumn("_lh_file", F.lit(None).cast("string"))
        )
        touched_files = [
            r[0]
            for r in target.join(source.select(*keys), on=keys, how="left_semi").select("_lh_file").distinct().collect()
        ]
        touched_rel = sorted({self._rel_for(rel_by_path, f) for f in touched_files})
        if touched_files:
            touched = self.spark.read.schema(target_schema).parquet(*touched_files)
        else:
            touched = self.spark.createDataFrame([], target_schema)
        return touched, touched_rel

    def _write_merged(
        self, uri: str, j: DataFrame, inserts: DataFrame, target_schema: StructType, touched_rel: List[str]
    ) -> Optional[_MergedFiles]:
        """Write the touched files' rows as merged, plus the inserts; None (files discarded) when nothing changed."""
        cols = [f.name for f in target_schema.fields]
        counts = {r["_lh_action"]: r["n"] for r in j.groupBy("_lh_action").agg(F.count("*").alias("n")).collect()}
        kept_n, updated, deleted = counts.get("K", 0), counts.get("U", 0), counts.get("D", 0)
        kept = j.filter("_lh_action = 'K'").select(*[F.col(f"t.`{c}`") for c in cols])
        upd = j.filter("_lh_action = 'U'").select(*[F.col(f"s.`{c}`") for c in cols])
        new_rows = kept.unionByName(upd).unionByName(inserts.select(*cols))
        if updated == 0 and deleted == 0:
            new_rows = inserts.select(*cols)  # only inserts: touched files stay as they are
            touched_rel = []
        adds, rows = self._write_files(uri, new_rows)
        inserted = rows - (0 if not touched_rel else kept_n + updated)
        if updated == 0 and deleted == 0 and inserted == 0:
            self._discard(uri, adds)
            return None
        return _MergedFiles(adds, rows, touched_rel, inserted, updated, deleted)

    def _commit_merge(
        self, uri: str, dt: Any, target_schema: StructType, txn: Optional[Txn], merged: _MergedFiles
    ) -> MergeResult:
        """One commit: the merged files added, the touched files (of snapshot ``dt``) removed."""
        txm = self._dl.transaction
        now = int(time.time() * 1000)
        # with their size and partition values ("extended file metadata"): what a change-data-feed reader
        # needs to read a removed file's rows as deleted ones (delta-spark refuses a remove without them)
        sizes = self._file_sizes(dt) if merged.removed else {}  # the snapshot the merge read: no second log read
        removes = [txm.RemoveAction(p, True, now, sizes[p], {}) for p in merged.removed]
        counts = {"inserted": merged.inserted, "updated": merged.updated, "deleted": merged.deleted}
        version = self._commit(uri, merged.adds + removes, target_schema, "append", txn, "MERGE", counts)
        return MergeResult(
            True,
            version,
            rows_added=merged.rows,
            files_added=len(merged.adds),
            files_removed=len(removes),
            inserted=merged.inserted,
            updated=merged.updated,
            deleted=merged.deleted,
        )

    def _discard(self, uri: str, adds: List[Any]) -> None:
        """Delete files written for a commit that will not happen (they are unreferenced either way)."""
        fs, base = self._fs(uri)
        for a in adds:
            fs.delete_file(f"{base.rstrip('/')}/{a.path}")

    @staticmethod
    def _file_sizes(dt) -> Dict[str, int]:
        """Each active file's size in bytes, by its path relative to the table."""
        import pyarrow as pa

        actions = pa.table(dt.get_add_actions(flatten=True))
        return dict(zip(actions.column("path").to_pylist(), actions.column("size_bytes").to_pylist()))

    @classmethod
    def _active_paths(cls, dt) -> List[str]:
        return list(cls._file_sizes(dt))

    @staticmethod
    def _rel_for(rel_by_path: Dict[str, str], spark_file: str) -> str:
        try:
            return rel_by_path[_norm(spark_file)]
        except KeyError:
            raise RuntimeError(f"merge: Spark read a file the snapshot does not list: {spark_file}") from None

    def restore(self, uri: str, version: int) -> WriteResult:
        metrics = self._table(uri).restore(version)
        return WriteResult(True, self.version(uri), metrics=dict(metrics))

    def optimize(self, uri: str, zorder_by: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        dt = self._table(uri)
        hooks = self._dl.PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)
        if zorder_by:
            return dict(dt.optimize.z_order(list(zorder_by), post_commithook_properties=hooks))
        return dict(dt.optimize.compact(post_commithook_properties=hooks))

    def vacuum(self, uri: str, retention_hours: int = 168, dry_run: bool = False) -> List[str]:
        return list(
            self._table(uri).vacuum(
                retention_hours=retention_hours,
                dry_run=dry_run,
                enforce_retention_duration=retention_hours >= 168,
                # full: also delete files no commit ever referenced (a killed job's Parquet), once older
                # than the retention; in-flight writes are younger, and one writer per table is enforced
                full=True,
            )
        )
