"""``lakehouse cost estimate``: the monthly AWS cost of an environment at N records a day. The logic:
:mod:`lakehouse.cost` (docs/guides/COST_OPTIMIZATION.md)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import console


def cmd_cost_estimate(args: argparse.Namespace) -> int:
    """Estimate and print: a table by component, ``--json``, or ``--compare`` (1M, 10M, 100M a day)."""
    from ..cost.command import run_estimate

    return run_estimate(
        env=args.env,
        records_per_day=args.records_per_day,
        history_days=args.history_days,
        athena_queries_per_day=args.athena_queries_per_day,
        compare=args.compare,
        as_json=args.json,
        console=console,
    )


def add_parsers(sub: Any) -> None:
    """Register ``cost estimate`` on the ``lakehouse`` parser."""
    cost = sub.add_parser("cost", help="what an environment costs a month (docs/guides/COST_OPTIMIZATION.md)")
    csub = cost.add_subparsers(dest="cost_command", required=True, metavar="{estimate}")
    e = csub.add_parser("estimate", help="monthly cost by component at N landing records a day")
    e.add_argument("--env", required=True, help="an environment of cdk.json: dev, staging, prod")
    e.add_argument("--records-per-day", help="landing records a day (a whole number > 0)")
    e.add_argument("--compare", action="store_true", help="1M, 10M and 100M records a day side by side (Markdown)")
    e.add_argument("--history-days", help="days of data the tables hold (default: measured.json's assumption, 365)")
    e.add_argument("--athena-queries-per-day", help="analyst queries on gold a day (default: 100)")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    e.set_defaults(func=cmd_cost_estimate)
