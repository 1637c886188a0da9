"""The HTML lineage viewer of ``lakehouse lineage graph``: layout, inline SVG, CSS and JS, one self-contained page.

**Graph.** ``lakehouse lineage graph`` writes one self-contained HTML page: inline SVG laid out in columns
(landing, bronze, silver in dependency order, gold), inline CSS and JS, the graph embedded as JSON; pan by
dragging, zoom with the wheel, click a table for its columns and its upstream/downstream, click a column for
its column lineage. No external reference of any kind. With a local lake that has lineage events
(``<lake>/_lineage/events.jsonl``), each table also shows its last run's rows written.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from job_assets.contracts.layout import ZONES

from .graph import Graph, build_graph
from .runs import last_runs

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
    """The self-contained HTML lineage viewer of a graph document (no CDN: its script and style inline)."""
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
    """Write the lineage viewer of the contracts (with the last runs of ``lake_root`` when given) to ``output``."""
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
