"""The ``lakehouse lineage graph|impact`` command: argument parsing, the two commands and the impact report."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .graph import LineageError
from .impact import NOTEBOOKS, Impact, impact, read_notebooks
from .viewer import write_graph

DEFAULT_LAKE = os.environ.get("LAKEHOUSE_LAKE_ROOT", ".lake")


# --- CLI ----------------------------------------------------------------------------------------------------------


def _usage(error: Exception) -> Exception:
    from ..errors import UsageError

    return UsageError(str(error))


def cmd_graph(args: argparse.Namespace, console: Any) -> int:
    """``lakehouse lineage graph``: write the interactive lineage viewer (default ``<lake-root>/lineage.html``)."""
    root = Path(args.lake_root).expanduser().resolve()
    output = Path(args.output).expanduser().resolve() if args.output else root / "lineage.html"
    try:
        path = write_graph(output, root if root.is_dir() else None)
    except LineageError as error:
        raise _usage(error) from error
    console.print(f"lineage graph: {path}")
    return 0


def impact_lines(result: Impact) -> Iterable[str]:
    """An :class:`Impact` as the text lines ``lakehouse lineage impact`` prints."""
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
    """``lakehouse lineage impact ITEM``: what changing a table or column touches downstream (``--json``)."""
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
