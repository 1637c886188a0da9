"""`lakehouse lineage`: the lake's lineage from the table contracts, as an HTML graph and as impact analysis.

:mod:`.graph` holds the lineage graph built from the contracts (tables, columns, column lineage, row filters,
``LineageError``, the consistency check); :mod:`.panels` the dashboard panels and the tables each charts a
per-table series of; :mod:`.impact` the impact analysis (notebooks' declared reads, everything downstream of a
table or a column); :mod:`.runs` each table's last run from a local lake's lineage events; :mod:`.viewer` the
self-contained HTML viewer (layout, inline SVG, CSS, JS and the embedded graph JSON); :mod:`.cli` the
``lakehouse lineage graph|impact`` command (arguments, the two commands, the impact report). This package
re-exports the names other code imports from ``lakehouse.lineage``.
"""

from __future__ import annotations

from .cli import DEFAULT_LAKE, add_parser, cmd_graph, cmd_impact, impact_lines
from .graph import ColumnInfo, Graph, LineageError, TableInfo, build_graph, validate
from .impact import NOTEBOOKS, REPO, Impact, Notebook, impact, read_notebooks
from .panels import SILVER_JOB_TABLES, Panel, dashboard_panels
from .runs import last_runs
from .viewer import embedded_document, graph_document, render_html, render_svg, write_graph

__all__ = [
    "DEFAULT_LAKE",
    "NOTEBOOKS",
    "REPO",
    "SILVER_JOB_TABLES",
    "ColumnInfo",
    "Graph",
    "Impact",
    "LineageError",
    "Notebook",
    "Panel",
    "TableInfo",
    "add_parser",
    "build_graph",
    "cmd_graph",
    "cmd_impact",
    "dashboard_panels",
    "embedded_document",
    "graph_document",
    "impact",
    "impact_lines",
    "last_runs",
    "read_notebooks",
    "render_html",
    "render_svg",
    "validate",
    "write_graph",
]
