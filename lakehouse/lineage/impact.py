"""Impact analysis of ``lakehouse lineage impact``: everything downstream of a table or a column.

**Impact** of ``<table>[.<column>]``: the columns reachable downstream through column lineage and row
filters (transitively), their tables (for a whole table also every table downstream through ``upstream``),
the notebooks that read any of them, and the dashboard panels that chart any of them.

- A notebook declares what it reads in its metadata: ``metadata["lakehouse"]["reads"]``, a list of
  ``layer.table`` or ``layer.table.column``. A ``table`` read depends on the item when the table is the
  item's own table or an affected one; a ``table.column`` read when that column is the item (or a column of
  the item table) or an affected column.
- A dashboard panel depends on a table when it charts a per-table series of that table (see
  :mod:`lakehouse.lineage.panels`).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .graph import Graph, LineageError, build_graph
from .panels import Panel, dashboard_panels

REPO = Path(__file__).resolve().parent.parent.parent
NOTEBOOKS = REPO / "notebooks"


# --- impact -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notebook:
    """An analyst notebook and the tables its code reads."""

    name: str
    reads: tuple[str, ...]


@dataclass
class Impact:
    """What changing a table or column touches downstream: tables, columns (and how), notebooks, dashboard
    panels.
    """

    item: str
    table: str
    column: str | None
    tables: list[str] = field(default_factory=list)
    """Downstream tables (not the item's own), in layer order."""
    columns: list[tuple[str, str, str]] = field(default_factory=list)
    """(column, the column it is reached from, 'lineage' | 'rows'), in layer order."""
    notebooks: list[tuple[str, list[str]]] = field(default_factory=list)
    """(notebook, the reads that depend on the item)."""
    panels: list[tuple[str, list[str]]] = field(default_factory=list)
    """(dashboard: panel title, the affected tables it charts)."""

    def as_dict(self) -> dict[str, Any]:
        """The impact as plain data (``lakehouse lineage impact --json``)."""
        return {
            "item": self.item,
            "tables": self.tables,
            "columns": [{"column": c, "via": v, "how": h} for c, v, h in self.columns],
            "notebooks": [{"notebook": n, "reads": r} for n, r in self.notebooks],
            "dashboard_panels": [{"panel": p, "tables": t} for p, t in self.panels],
        }


def read_notebooks(folder: Path = NOTEBOOKS) -> list[Notebook]:
    """Every ``*.ipynb`` of ``folder`` with its declared ``metadata.lakehouse.reads`` (none: empty)."""
    out = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise LineageError(f"{path}: not a notebook ({error})") from error
        reads = (doc.get("metadata", {}).get("lakehouse", {}) or {}).get("reads", []) or []
        if not isinstance(reads, list) or not all(isinstance(r, str) for r in reads):
            raise LineageError(f"{path}: metadata.lakehouse.reads must be a list of layer.table[.column]")
        out.append(Notebook(path.name, tuple(reads)))
    return out


def _order(graph: Graph) -> dict[str, int]:
    return {name: i for i, name in enumerate(graph.tables)}


def impact(
    item: str,
    graph: Graph | None = None,
    notebooks: Sequence[Notebook] | None = None,
    panels: Sequence[Panel] | None = None,
) -> Impact:
    """Everything downstream of ``layer.table`` or ``layer.table.column`` (see the module docstring)."""
    graph = graph or build_graph()
    notebooks = read_notebooks() if notebooks is None else notebooks
    panels = dashboard_panels() if panels is None else panels
    table, column = graph.split(item)
    start = [f"{table}.{column}"] if column else [f"{table}.{c.name}" for c in graph.tables[table].columns]
    reached = _reached_columns(graph, start)
    tables = {graph.split(ref)[0] for ref in reached}
    if column is None:  # a whole table: everything downstream by table-level lineage too
        tables |= _downstream_tables(graph, table)
    tables.discard(table)
    order = _order(graph)
    result = Impact(item, table, column)
    result.tables = sorted(tables, key=order.__getitem__)

    def column_key(ref: str) -> tuple[int, int]:
        t, c = graph.split(ref)
        names = [x.name for x in graph.tables[t].columns]
        return order[t], names.index(c or "")

    result.columns = [(ref, *reached[ref]) for ref in sorted(reached, key=column_key)]
    affected_tables = tables | {table}
    affected_columns = set(reached) | set(start)
    for nb in notebooks:
        hits = [r for r in nb.reads if r in (affected_tables if r in graph.tables else affected_columns)]
        if hits:
            result.notebooks.append((nb.name, hits))
    for p in panels:
        hits = [t for t in p.tables if t in affected_tables]
        if hits:
            result.panels.append((p.label, sorted(hits, key=order.__getitem__)))
    return result


def _reached_columns(graph: Graph, start: list[str]) -> dict[str, tuple[str, str]]:
    """Breadth-first over column lineage and row filters: each reached column -> (the column it came
    from, ``"lineage"`` or ``"rows"``)."""
    consumers, filtered = graph.consumers(), graph.filtered()
    reached: dict[str, tuple[str, str]] = {}
    queue = deque(start)
    while queue:
        ref = queue.popleft()
        nexts = [(c, "lineage") for c in consumers.get(ref, [])]
        for t in filtered.get(ref, []):
            nexts += [(f"{t}.{c.name}", "rows") for c in graph.tables[t].columns]
        for target, how in nexts:
            if target not in reached and target not in start:
                reached[target] = (ref, how)
                queue.append(target)
    return reached


def _downstream_tables(graph: Graph, table: str) -> set[str]:
    """Every table downstream of ``table`` by table-level lineage."""
    tables: set[str] = set()
    todo = [table]
    while todo:
        for d in graph.downstream(todo.pop()):
            if d not in tables:
                tables.add(d)
                todo.append(d)
    return tables
