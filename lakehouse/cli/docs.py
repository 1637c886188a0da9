"""``lakehouse dashboards|catalog|lineage``: the document generators' commands. The logic:
:mod:`lakehouse.docs`, :mod:`lakehouse.lineage`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..docs.catalog import add_parser as add_catalog_command
from ..errors import UsageError
from ..lineage import add_parser as add_lineage_command
from .common import console, err, usage_errors


def cmd_dashboards(args: argparse.Namespace) -> int:
    """``lakehouse dashboards export [--check]``: write (or check) the dashboards and docs/METRICS.md."""
    from ..docs import generated
    from ..docs.dashboards import OWNED, ExportError, export_files

    root = Path(args.repo).resolve()
    try:
        files = export_files(root)
    except ExportError as exc:
        raise UsageError(str(exc)) from exc
    return generated.sync(
        root,
        files,
        OWNED,
        check=args.check,
        what="dashboards and docs/METRICS.md",
        source="the metric catalog",
        command="lakehouse dashboards export",
        console=console,
        err=err,
    )


def add_dashboards_parser(sub: Any) -> None:
    """Register ``dashboards export`` on the ``lakehouse`` parser."""
    b = sub.add_parser("dashboards", help="CloudWatch and Grafana dashboards from the metric catalog")
    bsub = b.add_subparsers(dest="dashboards_command", required=True, metavar="{export}")
    e = bsub.add_parser("export", help="write dashboards/cloudwatch, dashboards/grafana and docs/METRICS.md")
    e.add_argument("--repo", default=".", help="the repository checkout (with cdk.json); default: here")
    e.add_argument("--check", action="store_true", help="write nothing; exit 1 when a generated file is stale")
    e.set_defaults(func=cmd_dashboards)


def add_contract_parsers(sub: Any) -> None:
    """Register ``catalog`` and ``lineage``, generated from the table contracts (they raise bad input themselves)."""
    add_catalog_command(sub, usage_errors())
    add_lineage_command(sub, usage_errors())
