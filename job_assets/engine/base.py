"""The table engine interface: every Delta read and write in the jobs goes through it.

Two engines implement it: ``delta-spark`` (Delta's own Spark APIs; used where the Delta classes load in
the JVM, as on EMR) and ``delta-rs`` (Spark computes and writes Parquet, delta-rs commits; the local
default, since delta-spark's jars cannot be fetched here). Both keep tables at protocol reader 1 /
writer 2 with classic checkpoints, so a table written by one is read and written by the other.

Idempotency: every write may carry a :class:`Txn` (Delta "app transaction": ``txnAppId``/``txnVersion``).
A write whose app id already has a version >= the given one is skipped and makes no commit, so
replaying a batch changes nothing.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

PROTOCOL = {"min_reader_version": 1, "min_writer_version": 2}
CHECKPOINT_INTERVAL = 10


class TableNotFoundError(LookupError):
    """Raised when a table location holds no Delta table."""


@dataclass(frozen=True)
class Txn:
    """A Delta application transaction: (app id, version). Replays at <= version are skipped."""

    app_id: str
    version: int = 1


@dataclass
class WriteResult:
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
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


class TableEngine(abc.ABC):
    """One interface for Delta tables, whatever writes them."""

    name = "abstract"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    # -- reading -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def exists(self, uri: str) -> bool: ...

    @abc.abstractmethod
    def version(self, uri: str) -> Optional[int]:
        """Latest version, or None when there is no table."""

    @abc.abstractmethod
    def read(self, uri: str, version: Optional[int] = None) -> DataFrame:
        """The table (at ``version``) as a DataFrame; raises TableNotFoundError."""

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
        if not self.exists(uri):
            return self.spark.createDataFrame([], schema)
        return self.read(uri)

    @abc.abstractmethod
    def transaction_version(self, uri: str, app_id: str) -> Optional[int]:
        """The last committed version of an app transaction, or None."""

    def committed(self, uri: str, txn: Optional[Txn]) -> bool:
        if txn is None or not self.exists(uri):
            return False
        v = self.transaction_version(uri, txn.app_id)
        return v is not None and v >= txn.version

    @abc.abstractmethod
    def history(self, uri: str, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """Commits newest first: version, timestamp (ms), operation, parameters, metrics."""

    @abc.abstractmethod
    def protocol(self, uri: str) -> Dict[str, Any]: ...

    # -- writing -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def append(self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None) -> WriteResult: ...

    def append_rows(
        self, uri: str, rows: Sequence[Dict[str, Any]], schema: StructType, *, txn: Optional[Txn] = None
    ) -> WriteResult:
        """Append a few Python rows (operational records). Engines may skip Spark for this."""
        from pyspark.sql import Row

        names = schema.fieldNames()
        df = self.spark.createDataFrame([Row(*[r.get(n) for n in names]) for r in rows], schema)
        return self.append(uri, df, txn=txn)

    @abc.abstractmethod
    def overwrite(self, uri: str, df: DataFrame, *, txn: Optional[Txn] = None) -> WriteResult: ...

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
        """

    @abc.abstractmethod
    def restore(self, uri: str, version: int) -> WriteResult: ...

    @abc.abstractmethod
    def optimize(self, uri: str, zorder_by: Optional[Sequence[str]] = None) -> Dict[str, Any]: ...

    @abc.abstractmethod
    def vacuum(self, uri: str, retention_hours: int = 168, dry_run: bool = False) -> List[str]: ...


def merge_keys_condition(keys: Sequence[str]) -> str:
    return " AND ".join(f"s.`{k}` = t.`{k}`" for k in keys)
