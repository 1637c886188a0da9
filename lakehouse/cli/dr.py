"""``lakehouse dr status|failover|failback``: the DR standby of an environment (runbooks/dr-failover.md,
runbooks/dr-failback.md). The logic: :mod:`lakehouse.dr`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console

from platform_model import aws_names

from .common import console, usage_errors


def _confirm(args: argparse.Namespace) -> Any:
    from ..dr import DrError

    def confirm(question: str) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise DrError(f"--env {args.env}: not at a terminal: pass --yes to answer the question; nothing changed")
        return console.input(f"{question} [y/N] ").strip().lower() in ("y", "yes")

    return confirm


def _setup(args: argparse.Namespace) -> Any:
    from ..dr import DrSetup

    return DrSetup.load(args.env, project=args.project)


def _errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    from ..dr import DrError

    return (DrError, BotoCoreError, ClientError)


def cmd_status(args: argparse.Namespace, out: Console) -> int:
    """``lakehouse dr status``: replica lag and consistency per table of the DR standby."""
    from ..dr import status

    return status(_setup(args), console=out, as_json=args.json)


def cmd_failover(args: argparse.Namespace, out: Console) -> int:
    """``lakehouse dr failover``: make the DR standby the active site (recovery point recorded); asks first."""
    from ..dr import failover

    return failover(_setup(args), force=args.force, confirm=_confirm(args), console=out)


def cmd_failback(args: argparse.Namespace, out: Console) -> int:
    """``lakehouse dr failback``: return to the primary region after a failover; asks first."""
    from ..dr import failback

    return failback(_setup(args), confirm=_confirm(args), console=out, drop_abandoned=args.drop_abandoned)


def _handler(fn: Any) -> Any:
    """``fn`` with DR refusals and AWS errors as one line, exit 2 (the error classes load on first use)."""

    def call(args: argparse.Namespace) -> int:
        return int(usage_errors(*_errors())(fn)(args))

    return call


def add_parsers(sub: Any) -> None:
    """Register ``dr status|failover|failback`` on the ``lakehouse`` parser."""
    group = sub.add_parser("dr", help="DR standby: replica status, failover to the DR region, failback")
    commands = group.add_subparsers(dest="dr_command", required=True)
    for name, fn, text in (
        (
            "status",
            cmd_status,
            "replication lag, replica consistency and last commit per table; exit 1 if inconsistent",
        ),
        ("failover", cmd_failover, "record the recovery point, point the environment at the DR region, start it"),
        ("failback", cmd_failback, "copy back what the DR region wrote, check the primary caught up, point back"),
    ):
        c = commands.add_parser(name, help=text, description=text)
        c.add_argument("--env", required=True, help="environment with dr.standby on: staging, prod")
        c.add_argument("--project", default=aws_names.DEFAULT_PROJECT, help="project prefix of the physical names")
        if name == "status":
            c.add_argument("--json", action="store_true", help="the comparison as JSON")
        else:
            c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        if name == "failover":
            c.add_argument("--force", action="store_true", help="fail over even though the replica is inconsistent")
        if name == "failback":
            c.add_argument(
                "--drop-abandoned",
                action="store_true",
                help="set aside (never delete) the primary's commits the DR region never had, e.g. after --force",
            )
        c.set_defaults(func=_handler(fn))
