"""``lakehouse table check|restore|repair``: table-level recovery on the local lake or a deployed
environment's S3 lake (``--env``). The logic: :mod:`lakehouse.recovery`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ..errors import UsageError
from ..recovery import NoTableError, RecoveryError, WriterRunningError
from .common import DEFAULT_LAKE, add_aws_account, console, lake_root, usage_errors

if TYPE_CHECKING:
    from ..recovery.target import Target

REFUSALS = (RecoveryError, NoTableError, WriterRunningError)


def _lake(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The lake (``--env`` or ``--lake-root``) and what :func:`lakehouse.recovery.resolve` needs besides."""
    from ..local.status import aws_lake, local_lake

    if getattr(args, "env", None) in (None, "local"):
        root = lake_root(args.lake_root)
        return local_lake(root), {"root": root}
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from ..promotion import PromotionError

    session = boto3.session.Session(region_name=args.region)
    try:
        lake = aws_lake(args.env, project=args.project, session=session)
    except (PromotionError, BotoCoreError, ClientError) as exc:
        raise UsageError(f"--env {args.env}: {exc}" if not str(exc).startswith("--env") else str(exc)) from exc
    return lake, {"env": args.env, "project": args.project, "session": session}


def _target(args: argparse.Namespace, name: str) -> Target:
    from ..recovery.target import resolve

    lake, where = _lake(args)
    return resolve(lake, name, **where)


def _targets(args: argparse.Namespace, out: Console) -> list[Target]:
    """The named table, or (no name) every table the lake holds; [] (said so) when it holds none."""
    from job_assets.contracts import ALL_TABLES

    from ..recovery.log import LOG
    from ..recovery.target import resolve

    if args.table:
        return [_target(args, args.table)]
    lake, where = _lake(args)
    present = [t for t in (resolve(lake, c.name, **where) for c in ALL_TABLES) if t.store.list(LOG)]
    if not present:
        out.print(f"no tables in {lake.title} yet: {lake.hint}")
    return present


def cmd_check(args: argparse.Namespace, out: Console) -> int:
    """Check one table, or every table the lake holds: 1 when any has findings."""
    from ..recovery import report_check

    return max((report_check(t.store, t.name, out) for t in _targets(args, out)), default=0)


def _confirm(args: argparse.Namespace, verb: str = "restore") -> Any:
    def confirm(question: str) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise RecoveryError(f"not at a terminal: pass --yes to {verb} without the question; nothing changed")
        return console.input(f"{question} [y/N] ").strip().lower() in ("y", "yes")

    return confirm


def cmd_restore(args: argparse.Namespace, out: Console) -> int:
    """``lakehouse table restore``: restore a table to an earlier version or timestamp; asks first."""
    from ..recovery.engines import engine_factory
    from ..recovery.restore import open_history, plan_restore, restore_table

    target = _target(args, args.table)
    plan = plan_restore(target.name, open_history(target), args.version, args.timestamp)
    return restore_table(
        target,
        plan,
        reason=args.reason,
        confirm=_confirm(args),
        engine_factory=engine_factory(args.engine),
        console=out,
    )


def cmd_repair(args: argparse.Namespace, out: Console) -> int:
    """``lakehouse table repair``: repair the named tables' logs and checkpoints; the highest exit code wins."""
    from ..recovery.engines import engine_factory
    from ..recovery.repair import repair_table

    engine = engine_factory(args.engine)
    return max((repair_table(t, engine, out) for t in _targets(args, out)), default=0)


def cmd_rebuild(args: argparse.Namespace, out: Console) -> int:
    """``lakehouse rebuild --from bronze``: rebuild silver and gold from bronze, then swap them in; asks first."""
    from ..recovery.engines import engine_factory
    from ..recovery.rebuild import Rebuild, parse_request, run_rebuild

    request = parse_request(args.source, args.layers, args.replace_different)
    lake, where = _lake(args)
    rebuild = Rebuild(lake.locations, engine_factory(args.engine), request, **where)
    return run_rebuild(rebuild, confirm=_confirm(args, "write the rebuild"), console=out)


def _add_where(c: argparse.ArgumentParser) -> None:
    where = c.add_mutually_exclusive_group()
    where.add_argument("--lake-root", default=DEFAULT_LAKE, help="a local lake (default: %(default)s)")
    where.add_argument("--env", default=None, help="a deployed environment: its S3 lake, gold of the active slot")
    add_aws_account(c)


def _add_engine(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--engine",
        default=os.environ.get("LAKEHOUSE_ENGINE", "auto"),
        choices=("auto", "delta-rs", "delta-spark"),
        help="the table engine that writes (default: auto, delta-spark where its jars load)",
    )


def add_parsers(sub: Any) -> None:
    """Register ``table check|restore|repair`` on the ``lakehouse`` parser."""
    group = sub.add_parser("table", help="check, restore or repair one Delta table (local lake or --env)")
    commands = group.add_subparsers(dest="table_command", required=True)
    adapt = usage_errors(*REFUSALS)
    check = commands.add_parser("check", help="every file of the latest version there and readable, the log whole")
    check.add_argument("table", nargs="?", help="layer.table, e.g. silver.orders (default: every table)")
    restore = commands.add_parser("restore", help="Delta RESTORE to an earlier version, recorded")
    restore.add_argument("table", help="layer.table, e.g. silver.orders")
    to = restore.add_mutually_exclusive_group(required=True)
    to.add_argument("--version", type=int, help="the version whose state to restore")
    to.add_argument("--timestamp", help="restore the newest version at or before this UTC time (ISO 8601)")
    restore.add_argument("--reason", default="not given", help="why: recorded with the restore")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    repair = commands.add_parser("repair", help="rebuild a damaged checkpoint, bring back lost files (S3 versions)")
    repair.add_argument("table", nargs="?", help="layer.table, e.g. silver.orders (default: every table)")
    for c, fn in ((check, cmd_check), (restore, cmd_restore), (repair, cmd_repair)):
        _add_where(c)
        c.set_defaults(func=adapt(fn))
    _add_engine(restore)
    _add_engine(repair)


def add_rebuild_parser(sub: Any) -> None:
    """Register ``rebuild --from bronze [--layers silver,gold]`` on the ``lakehouse`` parser."""
    c = sub.add_parser(
        "rebuild",
        help="build silver and gold again from bronze, compare them with the live tables, install lost ones",
    )
    c.add_argument("--from", dest="source", required=True, help="the layer to rebuild from: bronze")
    c.add_argument("--layers", default="silver,gold", help="layers to rebuild (default: %(default)s)")
    c.add_argument(
        "--replace-different",
        action="store_true",
        help="overwrite live tables that differ from the rebuild (one commit each; table restore undoes it)",
    )
    c.add_argument("--yes", action="store_true", help="do not ask before writing to the live lake")
    _add_where(c)
    _add_engine(c)
    c.set_defaults(func=usage_errors(*REFUSALS)(cmd_rebuild))
