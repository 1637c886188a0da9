"""The lineage graph of ``lakehouse lineage``: tables and columns from the table contracts, checked for consistency.

**Source.** The contracts (``job_assets/contracts``) are the single source:

- table level: each contract's ``upstream`` (landing entities -> bronze -> silver -> gold);
- column level: each contract's ``lineage`` (output column <- ``layer.table.column`` inputs). Bronze columns
  come from the landing field of the same name, silver columns from the bronze field named by ``source``
  (plus the derived columns the silver contracts list, e.g. ``silver.orders.total_amount_usd``), gold
  columns from the silver columns their contract documents. Columns without an entry have table-level
  lineage only: the ingestion metadata (``_ingest_ts``, ``_batch_id``, ``_record_hash``, ...), silver's
  ``_source_file``/``_batch_id``/``_record_hash``, ``silver.accounts_history.is_current`` and gold counters
  such as ``gold.sales_pipeline.opportunity_count`` (the contract does not name an input for them);
- row filters: a ``ref`` rule (``silver.orders.customer_id`` must exist in ``silver.customers.customer_id``)
  decides which rows a table keeps, so every column of the table depends on the referenced column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from job_assets.contracts import BRONZE_TABLES, GOLD_TABLES, LANDING_ENTITIES, SILVER_TABLES
from job_assets.contracts.model import TableContract


class LineageError(Exception):
    """Bad input (an unknown table or column, an unreadable notebook): one clear line."""


# --- the graph ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnInfo:
    """A column in the lineage graph: name, type, description and the columns it is computed from."""

    name: str
    type: str
    description: str
    inputs: tuple[str, ...] = ()
    """``layer.table.column`` this column is computed from (contract ``lineage``); empty: table level only."""


@dataclass(frozen=True)
class TableInfo:
    """A table in the lineage graph: layer, description, columns, upstream tables and row filters."""

    name: str
    layer: str
    description: str
    columns: tuple[ColumnInfo, ...]
    upstream: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    """Columns of other tables that decide which rows this table keeps (``ref`` rules)."""

    def column(self, name: str) -> ColumnInfo:
        """The column ``name``.

        Raises:
            LineageError: the table has no such column (the message lists its columns).
        """
        for c in self.columns:
            if c.name == name:
                return c
        raise LineageError(f"{self.name} has no column {name!r}; columns: {', '.join(c.name for c in self.columns)}")


@dataclass
class Graph:
    """The lake's lineage from the table contracts: every table by name."""

    tables: dict[str, TableInfo]
    """In layer order, then contract order."""

    def downstream(self, table: str) -> list[str]:
        """The tables that name ``table`` upstream."""
        return [t.name for t in self.tables.values() if table in t.upstream]

    def consumers(self) -> dict[str, list[str]]:
        """column ref -> the column refs computed from it."""
        out: dict[str, list[str]] = {}
        for t in self.tables.values():
            for c in t.columns:
                for ref in c.inputs:
                    out.setdefault(ref, []).append(f"{t.name}.{c.name}")
        return out

    def filtered(self) -> dict[str, list[str]]:
        """column ref -> the tables whose rows it filters."""
        out: dict[str, list[str]] = {}
        for t in self.tables.values():
            for ref in t.filters:
                out.setdefault(ref, []).append(t.name)
        return out

    def split(self, item: str) -> tuple[str, str | None]:
        """``silver.orders`` -> (table, None); ``silver.orders.order_date`` -> (table, column)."""
        if item in self.tables:
            return item, None
        table, _, column = item.rpartition(".")
        if table in self.tables:
            self.tables[table].column(column)
            return table, column
        known = ", ".join(self.tables)
        raise LineageError(f"unknown table or column {item!r}; tables are: {known}")

    def column_upstream(self, ref: str) -> dict[str, list[str]]:
        """Every column ``ref`` is computed from, transitively: column -> its direct inputs (a DAG)."""
        out: dict[str, list[str]] = {}
        todo = [ref]
        while todo:
            current = todo.pop()
            if current in out:
                continue
            table, column = self.split(current)
            inputs = list(self.tables[table].column(column).inputs) if column else []
            out[current] = inputs
            todo.extend(inputs)
        return out


def _landing_table(entity: Any) -> TableInfo:
    return TableInfo(
        name=f"landing.{entity.source}.{entity.entity}",
        layer="landing",
        description=entity.description,
        columns=tuple(ColumnInfo(f.name, f.type, f.description) for f in entity.fields),
    )


def _contract_table(c: TableContract) -> TableInfo:
    lineage = dict(c.lineage)
    filters = tuple(
        f"{r.ref_table}.{r.ref_column}" for r in c.rules if r.kind == "ref" and r.ref_table and r.ref_column
    )
    return TableInfo(
        name=c.name,
        layer=c.layer,
        description=c.description,
        columns=tuple(
            ColumnInfo(col.name, col.type, col.description, tuple(lineage.get(col.name, ()))) for col in c.columns
        ),
        upstream=tuple(c.upstream),
        filters=tuple(dict.fromkeys(filters)),
    )


def build_graph() -> Graph:
    """Landing entities and the bronze, silver and gold data tables (operational tables are not lineage)."""
    tables = [_landing_table(e) for e in LANDING_ENTITIES]
    tables += [_contract_table(c) for c in (*BRONZE_TABLES, *SILVER_TABLES, *GOLD_TABLES)]
    graph = Graph({t.name: t for t in tables})
    problems = validate(graph)
    if problems:
        raise LineageError("the contracts' lineage is inconsistent: " + "; ".join(problems))
    return graph


def validate(graph: Graph) -> list[str]:
    """Every input column exists, and its table is one of the output table's ``upstream``."""
    problems = []
    for t in graph.tables.values():
        for u in t.upstream:
            if u not in graph.tables:
                problems.append(f"{t.name}: upstream {u} is not a known table")
        for ref in [i for c in t.columns for i in c.inputs] + list(t.filters):
            table, _, column = ref.rpartition(".")
            if table not in graph.tables or column not in {c.name for c in graph.tables[table].columns}:
                problems.append(f"{t.name}: {ref} is not a known column")
            elif table not in t.upstream:
                problems.append(f"{t.name}: {ref} comes from {table}, which is not in its upstream")
    return problems
