"""The table engine interface: every Delta read and write in the jobs goes through it.

Two engines implement it: ``delta-spark`` (Delta Lake's own Spark integration, through Spark SQL and the
DataFrame writer; EMR's engine and the local default once ``make install`` fetched the jars) and
``delta-rs`` (Spark computes and writes Parquet, delta-rs commits). Both keep tables at protocol reader 1 /
writer 2 with classic checkpoints, so a table written by one is read and written by the other; one
contract suite (tests/functional/test_engine_contract.py) runs on both.

Idempotency: every write may carry a :class:`Txn` (Delta "app transaction": ``txnAppId``/``txnVersion``).
A write whose app id already has a version >= the given one is skipped and makes no commit, so
replaying a batch changes nothing. Every commit that carries a Txn also records it in the commit's
``userMetadata`` (``{"txn": "<app id>@<version>", ...}``), which is how either engine finds, on a replay,
the commit that did the work and reports that commit's counts (:meth:`TableEngine.merge`).
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType

PROTOCOL = {"min_reader_version": 1, "min_writer_version": 2}
OWN_LEFTOVERS = ("_", ".", "part-", "w-")
"""Names a killed write of ours may leave in a table folder before its first commit."""
CHECKPOINT_INTERVAL = 10


class TableNotFoundError(LookupError):
    """Raised when a table location holds no Delta table (the message names the location)."""


class NotADeltaTableError(ValueError):
    """A table location holds files that are not a Delta table's (the message names the location)."""


class DuplicateKeyError(ValueError):
    """A MERGE source holds several rows for one key (the message names the table and the key)."""


@dataclass(frozen=True)
class Txn:
    """A Delta application transaction: (app id, version). Replays at <= version are skipped."""

    app_id: str
    version: int = 1

    @property
    def tag(self) -> str:
        """``<app id>@<version>``: how commits record the Txn in ``userMetadata``."""
        return f"{self.app_id}@{self.version}"


HISTORY_KEYS = ("version", "timestamp", "operation", "operationParameters", "operationMetrics", "userMetadata")
"""Every :meth:`TableEngine.history` entry has exactly these keys, whichever engine wrote the commit:
``version`` (int), ``timestamp`` (int, ms since the epoch: the commit's own ``commitInfo.timestamp``, not its
file's modification time), ``operation`` (str, as the writing engine names
it), ``operationParameters`` (dict str -> str), ``operationMetrics`` (dict str -> int, numbers only) and
``userMetadata`` (dict: this project's commit metadata, ``{}`` when the commit has none)."""


def commit_metadata(
    txn: Optional[Txn], operation: str, extra: Optional[Mapping[str, Any]] = None, **counts: int
) -> str:
    """The ``userMetadata`` of one of our commits: the operation, its Txn, counts the engine knows up front, and
    the caller's ``extra`` keys (JSON values, e.g. a gold table's build provenance)."""
    doc: Dict[str, Any] = {**dict(extra or {}), "operation": operation, **{k: int(v) for k, v in counts.items()}}
    if txn is not None:
        doc["txn"] = txn.tag
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def parse_user_metadata(value: Any) -> Dict[str, Any]:
    """``userMetadata`` as written by :func:`commit_metadata`; anything else (a person's note) -> {}."""
    if isinstance(value, dict):
        return dict(value)
    if not isinstance(value, str) or not value.startswith("{"):
        return {}
    try:
        doc = json.loads(value)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def numeric_metrics(metrics: Any) -> Dict[str, int]:
    """``operationMetrics`` with numeric values only, as ints (Spark reports strings, delta-rs numbers)."""
    out: Dict[str, int] = {}
    for key, value in dict(metrics or {}).items():
        try:
            out[str(key)] = int(value)
        except (TypeError, ValueError):
            try:
                out[str(key)] = int(float(value))
            except (TypeError, ValueError):
                continue
    return out


def history_entry(version: int, info: Mapping[str, Any], listed_ms: Optional[int] = None) -> Dict[str, Any]:
    """One commit as :meth:`TableEngine.history` gives it (:data:`HISTORY_KEYS`), from its ``commitInfo``
    (``info``), whichever engine wrote it; every engine normalises through this one function.

    ``timestamp`` is the commit's own; ``listed_ms`` (its log file's modification time) only stands in for a
    commit without one. Commits of this project from before ``userMetadata`` carried their metadata as
    top-level ``lakehouse.*`` keys of ``commitInfo``; they read the same.
    """
    meta = parse_user_metadata(info.get("userMetadata"))
    if not meta and "lakehouse.operation" in info:
        meta = {k: info[k] for k in ("inserted", "updated", "deleted", "rows") if k in info}
        meta["operation"] = info["lakehouse.operation"]
        if "lakehouse.txn" in info:
            meta["txn"] = info["lakehouse.txn"]
    own = info.get("timestamp")
    parameters = info.get("operationParameters") or {}
    return {
        "version": int(version),
        "timestamp": int(own) if isinstance(own, int) else int(listed_ms or 0),
        "operation": str(info.get("operation") or ""),
        "operationParameters": {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parameters.items()},
        "operationMetrics": numeric_metrics(info.get("operationMetrics")),
        "userMetadata": meta,
    }


def change_feed_schema(schema: StructType, columns: Sequence[str]) -> StructType:
    """What :meth:`TableEngine.changes` returns for a table of ``schema``: ``columns`` and ``_change_type``."""
    fields = {f.name: f for f in schema.fields}
    return StructType([*(fields[c] for c in columns), StructField("_change_type", StringType())])


MERGE_COUNT_METRICS = {
    # numOutputRows: a MERGE into no table is one write (every engine); its commit counts the inserted rows there
    "inserted": ("numTargetRowsInserted", "num_target_rows_inserted", "numOutputRows"),
    "updated": ("numTargetRowsUpdated", "num_target_rows_updated"),
    "deleted": ("numTargetRowsDeleted", "num_target_rows_deleted"),
}


def merge_counts(entry: Dict[str, Any]) -> Dict[str, int]:
    """inserted / updated / deleted of a MERGE commit (a normalised history entry), whichever engine wrote it:
    our metadata when it has them (delta-rs), else Delta's merge metrics (delta-spark)."""
    meta, metrics = entry.get("userMetadata") or {}, entry.get("operationMetrics") or {}
    out = {}
    for name, keys in MERGE_COUNT_METRICS.items():
        if name in meta:
            out[name] = int(meta[name])
        else:
            out[name] = next((int(metrics[k]) for k in keys if k in metrics), 0)
    return out


@dataclass
class WriteResult:
    """What a write did: whether it committed (or was skipped as a replayed batch, and why), the version it
    made, rows and files added and removed, and the engine's operation metrics.
    """

    committed: bool
    version: Optional[int]
    rows_added: int = 0
    rows_removed: int = 0
    files_added: int = 0
    files_removed: int = 0
    skipped_reason: Optional[str] = None
    metrics: Dict[str, Any] = field(default_factory=dict)


@dataclass
class MergeResult(WriteResult):
    """A MERGE's :class:`WriteResult` with the rows it inserted, updated and deleted."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0


class TableEngine(abc.ABC):
    """One interface for Delta tables, whatever writes them."""

    name = "abstract"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._declared: Dict[str, Dict[str, str]] = {}

    def declare(self, uri: str, properties: Mapping[str, str]) -> None:
        """The table properties ``uri`` is created with, should a write of this engine create it (its
        contract's, :func:`job_assets.context.table_properties`). A table that exists keeps its own."""
        self._declared[uri.rstrip("/")] = dict(properties)

    def creation_properties(self, uri: str) -> Dict[str, str]:
        """What :meth:`declare` said for ``uri``; ``{}`` for a table nobody declared."""
        return dict(self._declared.get(uri.rstrip("/"), {}))

    # -- reading -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def exists(self, uri: str) -> bool:
        """Whether a Delta table exists at ``uri``."""

    @abc.abstractmethod
    def version(self, uri: str) -> Optional[int]:
        """Latest version, or None when there is no table."""

    @abc.abstractmethod
    def read(self, uri: str, version: Optional[int] = None) -> DataFrame:
        """The table (at ``version``) as a DataFrame; raises TableNotFoundError."""

    def spark_schema(self, uri: str, version: Optional[int] = None) -> StructType:
        """The table's schema (at ``version``) as Spark types; raises TableNotFoundError."""
        return self.read(uri, version).schema

    def read_rows(self, uri: str, columns: Sequence[str]) -> List[Dict[str, Any]]:
        """``columns`` of every row of a SMALL table (ingestion log, run summaries) as Python dicts.

        Timestamps come back as naive UTC datetimes, whatever the engine. [] when there is no table.
        Engines may read without Spark: jobs consult these tables before every run, and a Spark job
        for a few thousand rows costs more than the rows.
        """
        if not self.exists(uri):
            return []
        return [r.asDict() for r in self.read(uri).select(*columns).collect()]

    def read_or_empty(self, uri: str, schema: StructType) -> DataFrame:
        """The table at ``uri``, or an empty DataFrame of ``schema`` when there is none yet."""
        if not self.exists(uri):
            return self.spark.createDataFrame([], schema)
        return self.read(uri)

    @abc.abstractmethod
    def table_id(self, uri: str) -> str:
        """The table's identity (Delta's ``metaData.id``): a table dropped and created again at ``uri`` has
        another, so versions recorded against the old one are not read against the new one."""

    @abc.abstractmethod
    def changes(self, uri: str, start: int, end: int, columns: Sequence[str]) -> DataFrame:
        """The rows commits ``start`` to ``end`` (inclusive) changed, from Delta's change data feed: ``columns``
        plus ``_change_type`` (``insert``, ``delete``, ``update_preimage``, ``update_postimage``).

        A commit that wrote no change files (an append, or another writer's copy-on-write rewrite) reads as its
        removed files' rows deleted and its added files' rows inserted: a superset of what changed, never less.
        Raises when the range has no change data (the feed was off, or VACUUM removed the files).
        """

    @abc.abstractmethod
    def transaction_version(self, uri: str, app_id: str) -> Optional[int]:
        """The last committed version of an app transaction, or None."""

    def committed(self, uri: str, txn: Optional[Txn]) -> bool:
        """Whether ``txn`` (app id and batch version) is already committed to the table at ``uri``: a replay
        of that batch must then commit nothing.
        """
        if txn is None or not self.exists(uri):
            return False
        v = self.transaction_version(uri, txn.app_id)
        return v is not None and v >= txn.version

    @abc.abstractmethod
    def history(self, uri: str, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """Commits newest first (at most ``limit``), each a dict of :data:`HISTORY_KEYS`, normalised the same
        way by every engine whichever engine wrote the commit; raises TableNotFoundError."""

    def txn_commit(self, uri: str, txn: Txn) -> Optional[Dict[str, Any]]:
        """The history entry of the commit that carried ``txn`` (None when the log no longer has it)."""
        for entry in self.history(uri):
            if entry["userMetadata"].get("txn") == txn.tag:
                return entry
        return None

    def replayed_merge(self, uri: str, txn: Txn) -> MergeResult:
        """What :meth:`merge` returns for a Txn already committed: no commit, and the counts of the commit
        that did the work (so a resumed batch accounts exactly as the interrupted one would have)."""
        done = self.txn_commit(uri, txn)
        counts = merge_counts(done) if done else {"inserted": 0, "updated": 0, "deleted": 0}
        return MergeResult(
            False,
            self.version(uri),
            skipped_reason=f"txn {txn.tag} committed" + ("" if done else " (its commit is no longer in the log)"),
            **counts,
        )

    def refuse_non_delta_folder(self, uri: str) -> None:
        """Before creating a table at ``uri``: refuse a location that holds someone else's files.

        What a killed first write of ours leaves (Spark's ``part-*`` files, delta-rs's ``w-*`` folders, an
        empty ``_delta_log/``) is fine: the write starts again and VACUUM removes the leftovers. Anything
        else means ``uri`` is not where a table of ours belongs, and writing there would mix the two.
        """
        # jvm.Path, imported into every session (job_assets.spark.configure): one lookup, where
        # jvm.org.apache.hadoop.fs.Path is a failed class load over every jar per package segment
        path = self.spark._jvm.Path(uri if "://" in uri else f"file://{uri}")
        fs = path.getFileSystem(self.spark._jsc.hadoopConfiguration())
        if not fs.exists(path):
            return
        if not fs.getFileStatus(path).isDirectory():
            raise NotADeltaTableError(f"{uri} is a file, not a Delta table folder")
        foreign = sorted(
            status.getPath().getName()
            for status in fs.listStatus(path)
            if not status.getPath().getName().startswith(OWN_LEFTOVERS)
        )
        if foreign:
            raise NotADeltaTableError(
                f"{uri} is not a Delta table (no _delta_log/) but holds {', '.join(foreign[:3])}"
                + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
                + ": nothing was written; point the job at an empty location or move those files away"
            )

    def check_unique_keys(self, uri: str, source: DataFrame, keys: Sequence[str]) -> DataFrame:
        """``source`` computed once, after checking it has one row per key (DuplicateKeyError otherwise)."""
        from ..spark import materialize

        source = materialize(source)
        dup = source.groupBy(*keys).count().filter("count > 1").limit(1).collect()
        if dup:
            found = {k: v for k, v in dup[0].asDict().items() if k != "count"}
            raise DuplicateKeyError(f"merge into {uri}: source has several rows for key {found}")
        return source

    @abc.abstractmethod
    def protocol(self, uri: str) -> Dict[str, Any]:
        """The table's Delta protocol: ``min_reader_version``, ``min_writer_version``, reader and writer features."""

    # -- writing -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def append(self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None) -> WriteResult:
        """Append ``df`` to the table at ``uri`` (creating it), once per ``txn``: a replayed batch commits nothing
        and says why in :attr:`WriteResult.skipped_reason`.
        """

    def append_rows(
        self, uri: str, rows: Sequence[Dict[str, Any]], schema: StructType, *, txn: Optional[Txn] = None
    ) -> WriteResult:
        """Append a few Python rows (operational records). Engines may skip Spark for this."""
        from pyspark.sql import Row

        names = schema.fieldNames()
        df = self.spark.createDataFrame([Row(*[r.get(n) for n in names]) for r in rows], schema)
        return self.append(uri, df, txn=txn)

    @abc.abstractmethod
    def overwrite(
        self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None, metadata: Optional[Mapping[str, Any]] = None
    ) -> WriteResult:
        """Replace the table's rows at ``uri`` by ``df`` in one commit, once per ``txn``; ``metadata`` (JSON
        values) joins the commit's ``userMetadata``."""

    @abc.abstractmethod
    def create_if_missing(self, uri: str, schema: StructType) -> bool:
        """Create an empty table; returns True when it created one."""

    @abc.abstractmethod
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
        """Upsert ``source`` (unique on ``keys``) into the table, Delta MERGE semantics.

        Conditions are Spark SQL over aliases ``s`` (source) and ``t`` (target), applied as:
        WHEN MATCHED AND delete_condition THEN DELETE; WHEN MATCHED AND update_condition THEN UPDATE *;
        WHEN NOT MATCHED AND insert_condition THEN INSERT *. A None condition means TRUE for update and
        insert and "never" for delete. Rows matching no clause are left as they are.

        The source is checked for duplicate keys (DuplicateKeyError) unless ``source_keys_unique`` vouches
        for it. Into no table (a first load) nothing can match: every engine writes the rows the insert
        clause admits in the one commit that creates the table. A merge that changes no rows reports zero
        counts; delta-rs then makes no commit, while Delta's own MERGE commits its rewrite of the files the
        ON condition matched (``committed`` True).
        With ``txn`` already committed the merge makes no commit and returns :meth:`replayed_merge`:
        ``committed`` False with the earlier commit's counts.
        """

    @abc.abstractmethod
    def restore(self, uri: str, version: int) -> WriteResult:
        """Restore the table at ``uri`` to ``version`` (a new commit; the history stays)."""

    @abc.abstractmethod
    def optimize(self, uri: str, zorder_by: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        """Compact the table's small files (Z-ordered by ``zorder_by`` when given); returns the engine's metrics."""

    @abc.abstractmethod
    def vacuum(self, uri: str, retention_hours: int = 168, dry_run: bool = False) -> List[str]:
        """Delete files no longer referenced and older than ``retention_hours``; returns the files deleted (or that
        would be, with ``dry_run``).
        """


def merge_keys_condition(keys: Sequence[str]) -> str:
    """The MERGE join condition of ``keys``: source ``s`` and target ``t`` equal on every key.

    Examples:
        >>> merge_keys_condition(["account_id", "valid_from"])
        's.`account_id` = t.`account_id` AND s.`valid_from` = t.`valid_from`'
    """
    return " AND ".join(f"s.`{k}` = t.`{k}`" for k in keys)
