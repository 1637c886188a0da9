"""The one read-only path to Delta tables outside the jobs: the operator CLI, the report, the notebooks and
the promotion gates read every table through :class:`DeltaReader` (issue 16; docs/adr/0004).

delta-rs underneath, no Spark and no JVM: reading a table for ``lakehouse status`` or a notebook must not
start Spark. Nothing here writes. The jobs write and read through their table engine
(:mod:`job_assets.engine`); the Lambdas keep their own light log reader (``lambdas/ops_common/delta_log.py``),
which is tested against tables written by both engines. This module imports no pyspark, so importing it does
not import Spark's Python package either; ``deltalake`` and ``pyarrow`` are imported when a table is read
(on EMR, where they are absent, nothing calls this module).

    reader = DeltaReader()                       # local lake; DeltaReader(storage_options) for s3://
    table = reader.open("lake/gold/blue/revenue_attribution")   # None when there is no Delta table
    rows = reader.rows(table, ["channel", "revenue_usd"])       # list of dicts, via Arrow
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence


def open_table(uri: str, storage_options: Optional[Dict[str, str]] = None) -> Any:
    """The delta-rs ``DeltaTable`` at ``uri`` (latest version), or None when there is none (no log, or an
    empty folder): one listing of the log, where ``is_deltatable`` and then ``DeltaTable`` would make two."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(uri, storage_options=storage_options)
    except TableNotFoundError:
        return None


def arrow_table(table: Any, columns: Optional[Sequence[str]] = None) -> Any:
    """A delta-rs ``DeltaTable`` (its loaded version) as a ``pyarrow.Table`` of ``columns`` (None: all).

    Read by delta-rs's own engine (DataFusion, in Rust), not by ``DeltaTable.to_pyarrow_table()``: that one
    scans through a pyarrow dataset over a Python file system, and on S3 its scanner threads outlive the read;
    a process that then exits aborts ("terminate called without an active exception", SIGABRT, 7 exits in 10
    against moto's S3; apache/arrow#34314). Arrow's view types (DataFusion's strings) come back as the plain
    types ``to_pyarrow_table`` gave, so callers see the same schema either way.
    """
    import pyarrow as pa
    from deltalake import QueryBuilder

    wanted = list(columns) if columns is not None else [f.name for f in table.schema().fields]
    select = ", ".join('"' + c.replace('"', '""') + '"' for c in wanted) or "*"
    data = pa.table(QueryBuilder().register("t", table).execute(f"SELECT {select} FROM t").read_all())
    plain = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}
    fields = [pa.field(f.name, plain.get(f.type, f.type), f.nullable, f.metadata) for f in data.schema]
    return data.cast(pa.schema(fields)) if fields != list(data.schema) else data


@dataclass(frozen=True)
class DeltaReader:
    """Read-only access to the Delta tables of one lake (a local folder, or S3 with ``storage_options``).

    Each method takes a table URI or a table :meth:`open` returned (reuse it to read one version
    consistently and to list the log once).
    """

    storage_options: Optional[Dict[str, str]] = None

    def open(self, uri: str) -> Any:
        """The table at ``uri`` at its latest version, or None when there is no Delta table there."""
        return open_table(uri, self.storage_options)

    def _table(self, table: Any) -> Any:
        return self.open(table) if isinstance(table, str) else table

    def exists(self, uri: str) -> bool:
        """True when ``uri`` holds a Delta table."""
        return self.open(uri) is not None

    def arrow(self, table: Any, columns: Optional[Sequence[str]] = None) -> Any:
        """The table's rows as a ``pyarrow.Table`` (``columns``: None for all); a URI that holds no Delta
        table is a ``ValueError`` naming it."""
        opened = self._table(table)
        if opened is None:
            raise ValueError(f"no Delta table at {table}")
        return arrow_table(opened, columns)

    def rows(self, table: Any, columns: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
        """The table's rows as dicts; ``[]`` when a URI holds no Delta table."""
        opened = self._table(table)
        return [] if opened is None else arrow_table(opened, columns).to_pylist()

    def history(self, table: Any, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """The commit history, newest first (delta-rs's ``commitInfo`` dicts); ``[]`` when there is no table."""
        opened = self._table(table)
        return [] if opened is None else list(opened.history(limit))

    def row_count(self, table: Any) -> int:
        """Rows of the live files, from the log's per-file statistics (no data file is read)."""
        import pyarrow as pa

        actions = pa.table(self._table(table).get_add_actions(flatten=True))
        return int(sum(n or 0 for n in actions.column("num_records").to_pylist())) if actions.num_rows else 0
