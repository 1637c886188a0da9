"""`lakehouse lineage`: the lake's lineage from the table contracts, as an HTML graph and as impact analysis.

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

**Impact** of ``<table>[.<column>]``: the columns reachable downstream through column lineage and row
filters (transitively), their tables (for a whole table also every table downstream through ``upstream``),
the notebooks that read any of them, and the dashboard panels that chart any of them.

- A notebook declares what it reads in its metadata: ``metadata["lakehouse"]["reads"]``, a list of
  ``layer.table`` or ``layer.table.column``. A ``table`` read depends on the item when the table is the
  item's own table or an affected one; a ``table.column`` read when that column is the item (or a column of
  the item table) or an affected column.
- A dashboard panel (``platform_model/dashboards.py``) "depends" on a table when one of its lines is a per-table
  series about that table: the line's metric has the catalog's ``Table`` dimension and the line either fixes
  it to the table or leaves it open (a ``SEARCH``) while the metric's publisher reports that table: the
  Spark jobs report every data table of the line's job (bronze tables, silver current tables, gold tables;
  ``DQScore`` only for tables with rules), the freshness monitor every silver and gold table with an SLO,
  the replica verifier every table. So it means "the panel shows a figure (records written, DQ score,
  freshness, replica lag) of an affected table" -- such a figure may move when the item changes. Panels
  whose series are per job or lake-wide (job durations, quarantine by reason, ``ReplicaConsistent``) never
  depend on a single table. The ``dr`` dashboard exists only in environments with replication.

**Graph.** ``lakehouse lineage graph`` writes one self-contained HTML page: inline SVG laid out in columns
(landing, bronze, silver in dependency order, gold), inline CSS and JS, the graph embedded as JSON; pan by
dragging, zoom with the wheel, click a table for its columns and its upstream/downstream, click a column for
its column lineage. No external reference of any kind. With a local lake that has lineage events
(``<lake>/_lineage/events.jsonl``), each table also shows its last run's rows written.
"""

from __future__ import annotations

import argparse
import html
import json
import os
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from job_assets import lineage as events_lib
from job_assets.contracts import BRONZE_TABLES, GOLD_TABLES, LANDING_ENTITIES, SILVER_TABLES
from job_assets.contracts import metrics as catalog
from job_assets.contracts.layout import ZONES
from job_assets.contracts.model import TableContract

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
DEFAULT_LAKE = os.environ.get("LAKEHOUSE_LAKE_ROOT", ".lake")
SILVER_JOB_TABLES = ("silver.fx_rates", "silver.accounts", "silver.contacts", "silver.opportunities")
SILVER_JOB_TABLES += ("silver.customers", "silver.orders", "silver.order_items")
"""Tables the silver job reports run figures for (``SILVER_CURRENT``; accounts_history is written with
accounts and has no figures of its own)."""


class LineageError(Exception):
    """Bad input (an unknown table or column, an unreadable notebook): one clear line."""


# --- the graph ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    description: str
    inputs: tuple[str, ...] = ()
    """``layer.table.column`` this column is computed from (contract ``lineage``); empty: table level only."""


@dataclass(frozen=True)
class TableInfo:
    name: str
    layer: str
    description: str
    columns: tuple[ColumnInfo, ...]
    upstream: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    """Columns of other tables that decide which rows this table keeps (``ref`` rules)."""

    def column(self, name: str) -> ColumnInfo:
        for c in self.columns:
            if c.name == name:
                return c
        raise LineageError(f"{self.name} has no column {name!r}; columns: {', '.join(c.name for c in self.columns)}")


@dataclass
class Graph:
    tables: dict[str, TableInfo]
    """In layer order, then contract order."""

    def downstream(self, table: str) -> list[str]:
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


# --- impact -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notebook:
    name: str
    reads: tuple[str, ...]


@dataclass(frozen=True)
class Panel:
    dashboard: str
    """Dashboard key: pipeline, emr, cost, dr (CloudWatch name ``<prefix>-<key>``)."""
    title: str
    tables: tuple[str, ...]
    """Tables the panel charts a per-table series of."""
    metrics: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.dashboard}: {self.title}"


@dataclass
class Impact:
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


def _series_tables(metric: Any, dims: dict[str, str]) -> set[str]:
    """Tables a metric has a per-table series for, given the dimension values a panel line fixes."""
    if catalog.TABLE in dims:
        return {dims[catalog.TABLE]}
    data = {c.name: c for c in (*BRONZE_TABLES, *SILVER_TABLES, *GOLD_TABLES)}
    if metric.publisher == catalog.JOBS:
        by_job = {
            "bronze": [c.name for c in BRONZE_TABLES],
            "silver": list(SILVER_JOB_TABLES),
            "gold": [c.name for c in GOLD_TABLES],
            "maintenance": list(data),
        }
        jobs = [dims[catalog.JOB]] if catalog.JOB in dims else list(by_job)
        names = {n for j in jobs for n in by_job.get(j, [])}
        if metric.key == "dq_score":
            names = {n for n in names if data[n].rules}
        return names
    if metric.key == "freshness_minutes":
        return {c.name for c in (*SILVER_TABLES, *GOLD_TABLES) if c.freshness_slo_minutes is not None}
    return set(data)  # the replica verifier (and anything else per table): every table


def dashboard_panels() -> list[Panel]:
    """Every panel of every dashboard (replication on, so the DR board too) with the tables it charts."""
    from platform_model import aws_names
    from platform_model.dashboards import Targets, dashboards

    targets = Targets(
        env="dev",
        project=aws_names.DEFAULT_PROJECT,
        account="000000000000",
        region="us-east-1",
        dr_region="us-west-2",
        replication=True,
        budget_usd=1.0,
    )
    out = []
    for board in dashboards(targets):
        for panel in board.panels:
            tables: set[str] = set()
            metrics = []
            for line in panel.lines:
                spec = catalog.metric(line.metric)
                if catalog.TABLE not in spec.dimensions:
                    continue
                tables |= _series_tables(spec, dict(line.dims))
                metrics.append(spec.name)
            out.append(Panel(board.key, panel.title, tuple(sorted(tables)), tuple(dict.fromkeys(metrics))))
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
    consumers, filtered = graph.consumers(), graph.filtered()
    start = [f"{table}.{column}"] if column else [f"{table}.{c.name}" for c in graph.tables[table].columns]
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
    tables = {graph.split(ref)[0] for ref in reached}
    if column is None:  # a whole table: everything downstream by table-level lineage too
        todo = [table]
        while todo:
            for d in graph.downstream(todo.pop()):
                if d not in tables:
                    tables.add(d)
                    todo.append(d)
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
        hits = []
        for read in nb.reads:
            if read in graph.tables:
                if read in affected_tables:
                    hits.append(read)
            elif read in affected_columns:
                hits.append(read)
        if hits:
            result.notebooks.append((nb.name, hits))
    for p in panels:
        hits = [t for t in p.tables if t in affected_tables]
        if hits:
            result.panels.append((p.label, sorted(hits, key=order.__getitem__)))
    return result


# --- last runs from the lake's lineage events ---------------------------------------------------------------------


def last_runs(lake_root: Path | str | None) -> dict[str, dict[str, Any]]:
    """table -> its last COMPLETE event's figures (``job``, ``eventTime``, ``rowCount``), from the local lake's
    ``_lineage/events.jsonl``; empty when there is none."""
    if lake_root is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for event in events_lib.read_events(os.path.join(str(lake_root), events_lib.LINEAGE_DIR)):
        if event.get("eventType") != "COMPLETE":
            continue
        for d in event.get("outputs", []):
            stats = d.get("outputFacets", {}).get("outputStatistics")
            table = d.get("facets", {}).get("lakehouse_table", {}).get("table")
            if table and stats is not None:
                out[table] = {
                    "job": event.get("job", {}).get("name", ""),
                    "eventTime": event.get("eventTime", ""),
                    "rowCount": stats.get("rowCount"),
                }
    return out


# --- layout and HTML ----------------------------------------------------------------------------------------------

NODE_W, NODE_H, COL_W, ROW_H, TOP = 210, 30, 270, 46, 60


def _columns_of(graph: Graph) -> dict[str, int]:
    """Layout column of each table: layers left to right; inside a layer, after the tables it depends on."""
    col: dict[str, int] = {}
    base = 0
    for layer in ZONES:
        names = [t.name for t in graph.tables.values() if t.layer == layer]
        depth: dict[str, int] = {}
        while len(depth) < len(names):
            for n in names:
                if n in depth:
                    continue
                same = [u for u in graph.tables[n].upstream if u in names]
                if all(u in depth for u in same):
                    depth[n] = 1 + max((depth[u] for u in same), default=-1)
        for n in names:
            col[n] = base + depth[n]
        base += 1 + max(depth.values(), default=0)
    return col


def graph_document(graph: Graph | None = None, runs: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The graph as embedded in the HTML page: tables with layout, columns, up/downstream; table edges."""
    graph = graph or build_graph()
    runs = runs or {}
    cols = _columns_of(graph)
    consumers = graph.consumers()
    rows: dict[int, int] = {}
    tables = []
    for t in graph.tables.values():
        c = cols[t.name]
        row = rows.get(c, 0)
        rows[c] = row + 1
        tables.append(
            {
                "name": t.name,
                "layer": t.layer,
                "description": t.description,
                "x": c * COL_W,
                "y": TOP + row * ROW_H,
                "upstream": list(t.upstream),
                "downstream": graph.downstream(t.name),
                "filters": list(t.filters),
                "columns": [
                    {
                        "name": col.name,
                        "type": col.type,
                        "description": col.description,
                        "inputs": list(col.inputs),
                        "usedBy": consumers.get(f"{t.name}.{col.name}", []),
                    }
                    for col in t.columns
                ],
                "lastRun": runs.get(t.name),
            }
        )
    edges = [{"from": u, "to": t.name} for t in graph.tables.values() for u in t.upstream]
    return {"layers": list(ZONES), "tables": tables, "edges": edges}


def render_svg(doc: dict[str, Any]) -> str:
    """The graph as inline SVG (no namespace declaration needed inside HTML)."""
    by_name = {t["name"]: t for t in doc["tables"]}
    width = max(t["x"] for t in doc["tables"]) + NODE_W + 40
    height = max(t["y"] for t in doc["tables"]) + NODE_H + 40
    parts = [
        f'<svg id="graph" viewBox="-20 0 {width} {height}" preserveAspectRatio="xMidYMid meet" role="img" '
        f'aria-label="Lineage graph: {len(doc["tables"])} tables">',
        '<g id="viewport">',
    ]
    seen_layers = set()
    for t in doc["tables"]:
        if t["layer"] not in seen_layers:
            seen_layers.add(t["layer"])
            parts.append(f'<text class="layer-title" x="{t["x"]}" y="30">{html.escape(t["layer"].upper())}</text>')
    for e in doc["edges"]:
        a, b = by_name[e["from"]], by_name[e["to"]]
        x1, y1 = a["x"] + NODE_W, a["y"] + NODE_H / 2
        x2, y2 = b["x"], b["y"] + NODE_H / 2
        mx = (x1 + x2) / 2
        parts.append(
            f'<path class="edge" data-from="{html.escape(e["from"])}" data-to="{html.escape(e["to"])}" '
            f'd="M{x1},{y1} C{mx},{y1} {mx},{y2} {x2},{y2}"/>'
        )
    for t in doc["tables"]:
        label = t["name"].split(".", 1)[1]
        parts.append(
            f'<g class="node layer-{t["layer"]}" data-table="{html.escape(t["name"])}" '
            f'transform="translate({t["x"]},{t["y"]})"><title>{html.escape(t["name"])}</title>'
            f'<rect width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="10" y="{NODE_H / 2 + 5}">{html.escape(label)}</text></g>'
        )
    parts.append("</g></svg>")
    return "".join(parts)


STYLE = """
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;color:#1d232a;display:flex;height:100vh}
#main{flex:1;display:flex;flex-direction:column;min-width:0}#bar{padding:8px 12px;border-bottom:1px solid #ddd;
display:flex;gap:8px;align-items:center}#bar h1{font-size:16px;margin:0 12px 0 0}#bar .hint{color:#667;font-size:12px}
#graph{flex:1;width:100%;cursor:grab;background:#fafbfc;user-select:none}#graph.dragging{cursor:grabbing}
.layer-title{font-weight:700;fill:#667;font-size:13px;letter-spacing:.08em}
.edge{fill:none;stroke:#b8c0c8;stroke-width:1.4}.edge.up{stroke:#2f6fd0;stroke-width:2.4}
.edge.down{stroke:#d0642f;stroke-width:2.4}.dim .edge:not(.up):not(.down){opacity:.25}
.node{cursor:pointer}.node rect{stroke:#5b6670;stroke-width:1;fill:#fff}.node text{font-size:12.5px;fill:#1d232a}
.layer-landing rect{fill:#eef1f4}.layer-bronze rect{fill:#f4e3d4}.layer-silver rect{fill:#e6eaee}
.layer-gold rect{fill:#f8ecc2}.node.selected rect{stroke:#111;stroke-width:3}
.node.up rect{stroke:#2f6fd0;stroke-width:2.4}
.node.down rect{stroke:#d0642f;stroke-width:2.4}.dim .node:not(.selected):not(.up):not(.down){opacity:.35}
#side{width:430px;border-left:1px solid #ddd;overflow:auto;padding:12px 14px}#side h2{font-size:16px;margin:4px 0}
#side h3{font-size:13px;margin:14px 0 4px;text-transform:uppercase;color:#556;letter-spacing:.05em}
#side table{border-collapse:collapse;width:100%;font-size:12.5px}#side td,#side th{border-bottom:1px solid #eee;
padding:3px 4px;text-align:left;vertical-align:top}#side tr.col{cursor:pointer}#side tr.col:hover{background:#f2f5f8}
#side tr.col.on{background:#fff3d6}button{font:inherit;cursor:pointer}.link{border:0;background:none;color:#2f6fd0;
padding:0;text-decoration:underline}.muted{color:#778}.pill{display:inline-block;padding:0 6px;border-radius:8px;
background:#eef;font-size:11px;margin-left:6px}code{font-size:12px}
"""

SCRIPT = r"""
(function(){
const data = JSON.parse(document.getElementById('lineage-data').textContent);
const byName = {}; data.tables.forEach(t => byName[t.name] = t);
const svg = document.getElementById('graph');
const home = svg.getAttribute('viewBox').split(' ').map(Number);
let vb = home.slice();
function setVB(){ svg.setAttribute('viewBox', vb.join(' ')); }
function toSvg(e){ const p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY;
  return p.matrixTransform(svg.getScreenCTM().inverse()); }
function zoom(k, at){ const c = at || {x: vb[0] + vb[2] / 2, y: vb[1] + vb[3] / 2};
  vb = [c.x - (c.x - vb[0]) * k, c.y - (c.y - vb[1]) * k, vb[2] * k, vb[3] * k]; setVB(); }
svg.addEventListener('wheel', e => { e.preventDefault(); zoom(e.deltaY < 0 ? 0.85 : 1 / 0.85, toSvg(e)); },
  {passive: false});
let drag = null, moved = false;
svg.addEventListener('mousedown', e => { drag = toSvg(e); moved = false; svg.classList.add('dragging'); });
window.addEventListener('mousemove', e => { if (!drag) return; const p = toSvg(e);
  const dx = p.x - drag.x, dy = p.y - drag.y; if (Math.abs(dx) + Math.abs(dy) > 2) moved = true;
  vb[0] -= dx; vb[1] -= dy; setVB(); });
window.addEventListener('mouseup', () => { drag = null; svg.classList.remove('dragging'); });
document.getElementById('zoom-in').onclick = () => zoom(0.8);
document.getElementById('zoom-out').onclick = () => zoom(1.25);
document.getElementById('reset').onclick = () => { vb = home.slice(); setVB(); };
function closure(start, next){ const seen = new Set(); const todo = [start];
  while (todo.length){ const n = todo.pop();
    (next(n) || []).forEach(m => { if (!seen.has(m)) { seen.add(m); todo.push(m); } }); }
  return seen; }
const colIndex = {}; data.tables.forEach(t => t.columns.forEach(c => colIndex[t.name + '.' + c.name] = c));
function mark(up, down, selected){
  svg.classList.toggle('dim', !!selected);
  svg.querySelectorAll('.node').forEach(n => { const name = n.dataset.table;
    n.classList.toggle('selected', name === selected); n.classList.toggle('up', up.has(name));
    n.classList.toggle('down', down.has(name)); });
  svg.querySelectorAll('.edge').forEach(p => { const a = p.dataset.from, b = p.dataset.to;
    p.classList.toggle('up', (up.has(a) || a === selected) && (up.has(b) || b === selected) && up.has(a));
    p.classList.toggle('down', (down.has(b)) && (down.has(a) || a === selected)); });
}
const side = document.getElementById('side');
function esc(s){ return String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
function links(names){ return names.length ? names.map(n => '<button class="link" data-go="' + esc(n) + '">' + esc(n) +
  '</button>').join(', ') : '<span class="muted">none</span>'; }
function tableOf(ref){ const i = ref.lastIndexOf('.'); return ref.slice(0, i); }
function select(name){
  const t = byName[name]; if (!t) return;
  const up = closure(name, n => byName[n] ? byName[n].upstream : []);
  const down = closure(name, n => byName[n] ? byName[n].downstream : []);
  mark(up, down, name);
  let h = '<h2>' + esc(t.name) + '<span class="pill">' + esc(t.layer) + '</span></h2><p>' + esc(t.description) + '</p>';
  if (t.lastRun) h += '<p class="muted">last run: ' + esc(t.lastRun.job) + ' at ' + esc(t.lastRun.eventTime) +
    ', ' + esc(t.lastRun.rowCount) + ' rows written</p>';
  h += '<h3>Upstream</h3>' + links(t.upstream) + '<h3>Downstream</h3>' + links(t.downstream);
  if (t.filters.length) h += '<h3>Rows kept by reference to</h3>' + t.filters.map(esc).join(', ');
  h += '<h3>Columns</h3><table><tr><th>column</th><th>type</th><th>from</th></tr>';
  t.columns.forEach(c => { h += '<tr class="col" data-col="' + esc(t.name + '.' + c.name) + '"><td><code>' +
    esc(c.name) +
    '</code><div class="muted">' + esc(c.description) + '</div></td><td>' + esc(c.type) + '</td><td>' +
    (c.inputs.length ? c.inputs.map(esc).join('<br>') : '<span class="muted">table level</span>') + '</td></tr>'; });
  h += '</table><div id="col-detail"></div>';
  side.innerHTML = h;
}
function selectColumn(ref){
  const up = closure(ref, r => colIndex[r] ? colIndex[r].inputs : []);
  const down = closure(ref, r => colIndex[r] ? colIndex[r].usedBy : []);
  const ut = new Set([...up].map(tableOf)), dt = new Set([...down].map(tableOf));
  mark(ut, dt, tableOf(ref));
  side.querySelectorAll('tr.col').forEach(r => r.classList.toggle('on', r.dataset.col === ref));
  document.getElementById('col-detail').innerHTML = '<h3>Column lineage of ' + esc(ref) + '</h3><p><b>from</b> ' +
    ([...up].map(esc).join(', ') || '<span class="muted">nothing (table level)</span>') + '</p><p><b>used by</b> ' +
    ([...down].map(esc).join(', ') || '<span class="muted">nothing</span>') + '</p>';
}
svg.addEventListener('click', e => { if (moved) return; const n = e.target.closest('.node');
  if (n) select(n.dataset.table); else { mark(new Set(), new Set(), null); } });
side.addEventListener('click', e => { const b = e.target.closest('[data-go]'); if (b) { select(b.dataset.go); return; }
  const r = e.target.closest('tr.col'); if (r) selectColumn(r.dataset.col); });
})();
"""


def _embed_json(doc: dict[str, Any]) -> str:
    """JSON safe inside ``<script>``: every ``<``, ``>`` and ``&`` escaped as ``\\u00XX``."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(doc: dict[str, Any]) -> str:
    n_tables = len(doc["tables"])
    n_columns = sum(len(t["columns"]) for t in doc["tables"])
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Lakehouse lineage</title><style>{STYLE}</style></head><body>"
        '<div id="main"><div id="bar"><h1>Lakehouse lineage</h1>'
        '<button id="zoom-in" title="zoom in">+</button><button id="zoom-out" title="zoom out">&minus;</button>'
        '<button id="reset">reset view</button>'
        f'<span class="hint">{n_tables} tables, {n_columns} columns · drag to pan, wheel to zoom, click a table '
        "or a column</span></div>"
        + render_svg(doc)
        + '</div><div id="side"><h2>Select a table</h2><p class="muted">Lineage from the table contracts: '
        "landing &rarr; bronze &rarr; silver &rarr; gold.</p></div>"
        f'<script type="application/json" id="lineage-data">{_embed_json(doc)}</script>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def write_graph(output: Path, lake_root: Path | None = None) -> Path:
    doc = graph_document(build_graph(), last_runs(lake_root))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html(doc), encoding="utf-8")
    return output


def embedded_document(text: str) -> dict[str, Any]:
    """The graph JSON embedded in a rendered page (for checks)."""
    start = text.index('<script type="application/json" id="lineage-data">')
    start = text.index(">", start) + 1
    end = text.index("</script>", start)
    return json.loads(text[start:end])


# --- CLI ----------------------------------------------------------------------------------------------------------


def _usage(error: Exception) -> Exception:
    from .errors import UsageError

    return UsageError(str(error))


def cmd_graph(args: argparse.Namespace, console: Any) -> int:
    root = Path(args.lake_root).expanduser().resolve()
    output = Path(args.output).expanduser().resolve() if args.output else root / "lineage.html"
    try:
        path = write_graph(output, root if root.is_dir() else None)
    except LineageError as error:
        raise _usage(error) from error
    console.print(f"lineage graph: {path}")
    return 0


def impact_lines(result: Impact) -> Iterable[str]:
    what = "column" if result.column else "table"
    yield f"impact of changing {what} {result.item}"
    yield f"downstream tables ({len(result.tables)}):"
    yield from (f"  {t}" for t in result.tables)
    yield f"downstream columns ({len(result.columns)}):"
    yield from (f"  {c}  <- {v}" + (" (rows kept by a ref rule)" if h == "rows" else "") for c, v, h in result.columns)
    yield f"notebooks ({len(result.notebooks)}):"
    yield from (f"  {n}  reads {', '.join(r)}" for n, r in result.notebooks)
    yield f"dashboard panels ({len(result.panels)}):"
    yield from (f"  {p}  charts {', '.join(t)}" for p, t in result.panels)


def cmd_impact(args: argparse.Namespace, console: Any) -> int:
    try:
        result = impact(args.item, notebooks=read_notebooks(Path(args.notebooks)))
    except LineageError as error:
        raise _usage(error) from error
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        for line in impact_lines(result):
            console.print(line, markup=False, highlight=False)
    return 0


def add_parser(sub: Any, run: Any) -> None:
    """Register ``lakehouse lineage graph|impact``; ``run(fn)`` adapts ``fn(args, console) -> int`` to ``func``."""
    p = sub.add_parser("lineage", help="table and column lineage from the contracts: HTML graph, impact analysis")
    lsub = p.add_subparsers(dest="lineage_command", required=True, metavar="{graph,impact}")
    g = lsub.add_parser("graph", help="write a self-contained interactive HTML lineage viewer (no CDN)")
    g.add_argument("--lake-root", default=DEFAULT_LAKE, help="adds each table's last run from its lineage events")
    g.add_argument("--output", default=None, help="where to write it (default: <lake-root>/lineage.html)")
    g.set_defaults(func=run(cmd_graph))
    i = lsub.add_parser("impact", help="every downstream table, column, notebook and dashboard panel of an item")
    i.add_argument("item", help="layer.table or layer.table.column, e.g. silver.orders.order_date")
    i.add_argument("--notebooks", default=str(NOTEBOOKS), help="folder of notebooks declaring what they read")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=run(cmd_impact))


__all__ = [
    "Graph",
    "Impact",
    "LineageError",
    "add_parser",
    "build_graph",
    "dashboard_panels",
    "graph_document",
    "impact",
    "impact_lines",
    "last_runs",
    "read_notebooks",
    "render_html",
    "render_svg",
    "write_graph",
]
