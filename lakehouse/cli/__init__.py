"""The ``lakehouse`` command line: argument wiring only, one module per command group.

:mod:`.local` wires the local lake's commands (generate, run, status, history, report, profile), :mod:`.ops`
the deployed environments' (dlq, alarms, pipeline, metric, env diff), :mod:`.promotions` promotion's
(package, promote, rollback, promotions, slots), :mod:`.docs` the document generators' (dashboards export,
catalog, lineage), :mod:`.tables` table recovery's (table check, restore, repair; rebuild), :mod:`.landing`
landing recovery's (landing pending, skip, retry, rejected, sync; recover-deleted), :mod:`.incidents` the
incident commands' (logs, traces, emr, intake, events, replication), :mod:`.guardrails` the deployed
environments' guardrails (kms, budget, capacity, credentials, backup), :mod:`.dr` the DR standby's (dr status,
failover, failback), :mod:`.drills` the recovery drills (drill), :mod:`.security` the access review (access
review); :mod:`.common` holds what they share (the
consoles, the default lake, turning a command's errors into :class:`~lakehouse.errors.UsageError`). The
commands' logic lives in the other subpackages of ``lakehouse``. This package composes the groups into one
parser and runs :func:`main`, the console script ``lakehouse`` (also ``python -m lakehouse.cli``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from ..errors import UsageError
from . import cost as cost_cli
from . import docs, dr, drills, guardrails, incidents, landing, local, ops, promotions, security, tables
from .common import err


def build_parser() -> argparse.ArgumentParser:
    """The ``lakehouse`` parser: every group's commands, in the order ``lakehouse --help`` has always listed."""
    p = argparse.ArgumentParser(prog="lakehouse", description="Operate the lakehouse: generate, run, inspect.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    local.add_parsers(sub)  # generate, run, status, history, report
    ops.add_parsers(sub)  # dlq, alarms, pipeline, metric, env
    docs.add_dashboards_parser(sub)  # dashboards
    promotions.add_parsers(sub)  # package, promote, rollback, promotions, slots
    docs.add_contract_parsers(sub)  # catalog, lineage
    local.add_profile_parser(sub)  # profile
    tables.add_parsers(sub)  # table check|restore|repair
    tables.add_rebuild_parser(sub)  # rebuild --from bronze
    landing.add_parsers(sub)  # landing (pending, skip, retry, rejected, sync), recover-deleted
    incidents.add_parsers(sub)  # logs, traces, emr, intake, events, replication
    guardrails.add_parsers(sub)  # kms, budget, capacity, credentials, backup
    dr.add_parsers(sub)  # dr status|failover|failback
    security.add_parsers(sub)  # access review
    cost_cli.add_parsers(sub)  # cost estimate
    drills.add_parsers(sub, cli=main)  # drill (its scenarios type commands into this same command line)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command: exit 2 on bad input (one line), 1 when local Spark's jars are missing, 130 on Ctrl-C."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        return 2
    except Exception as exc:
        from job_assets.spark import JarsMissingError

        if not isinstance(exc, JarsMissingError):
            raise
        from rich.markup import escape

        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)  # the set-up, not the input
        return 1
    except KeyboardInterrupt:
        err.print("[bold red]interrupted[/]")
        return 130
