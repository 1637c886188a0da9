"""``lakehouse generate|run|status|history|report|profile``: the local lake's commands (status and history also
read a deployed environment's lake). The logic: :mod:`lakehouse.generator`, :mod:`lakehouse.local`."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from job_assets.flags import FlagError
from job_assets.flags import validate as validate_flags

from ..errors import UsageError
from ..local.profile import ProfileError
from ..local.profile import add_parser as add_profile_command
from .common import DEFAULT_LAKE, add_aws_account, console, lake_root, usage_errors

# lakehouse.generator.model.CHANGE_MODES, spelled out so the CLI starts without numpy (a unit test holds them equal)
GENERATOR_CHANGE_MODES = ("recent", "uniform")


def cmd_generate(args: argparse.Namespace) -> int:
    """``lakehouse generate``: write a deterministic landing set with planted bad records into the lake root."""
    from ..generator import generate_with_progress

    if args.records < 1000:
        raise UsageError(f"--records {args.records}: the generator needs at least 1000 records")
    if not 0 <= args.bad_ratio < 0.5:
        raise UsageError(f"--bad-ratio {args.bad_ratio}: must be in [0, 0.5)")
    root = lake_root(args.lake_root)
    t0 = time.perf_counter()
    try:
        manifest = generate_with_progress(
            root,
            args.records,
            args.seed,
            args.bad_ratio,
            clean=args.clean,
            increment=args.increment,
            changes=args.changes,
            shard_records=args.shard_records,
            console=console,
        )
    except (ValueError, FileExistsError, FileNotFoundError) as refused:  # checked before anything is written
        raise UsageError(f"lakehouse generate --lake-root {args.lake_root}: {refused}") from None
    took = time.perf_counter() - t0
    files = manifest.get("files", [])
    console.print(
        f"[bold green]generated[/] {args.records:,} records in {len(files)} files under {root / 'landing'} "
        f"in {took:.1f} s (seed {args.seed}, bad ratio {args.bad_ratio})"
    )
    bad = manifest.get("bad", {})
    if bad:
        console.print("planted bad records: " + ", ".join(f"{k}={v}" for k, v in sorted(bad.items())))
    console.print(f"manifest: {root / '_generator' / 'manifest.json'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``lakehouse run``: run the pipeline's layers on the local lake, with progress and a summary."""
    from ..local.runner import run_local

    root = lake_root(args.lake_root)
    if not (root / "landing").is_dir():
        raise UsageError(
            f"--lake-root {root}: no landing folder; expected {root}/landing/<source>/<entity>/dt=YYYY-MM-DD/<file> "
            f"(create one with `lakehouse generate --lake-root {args.lake_root}`)"
        )
    layers = [x.strip() for x in args.layers.split(",") if x.strip()]
    flags = {}
    for item in args.flag or []:
        if "=" not in item:
            raise UsageError(f"--flag {item!r}: expected key=value")
        k, v = item.split("=", 1)
        flags[k.strip()] = v.strip()
    try:
        flags = validate_flags(flags)
    except FlagError as exc:
        raise UsageError(f"--flag: {exc}") from exc
    spark_conf = _spark_conf(args.conf or [])
    from ..recovery.writer_guard import writer_lock

    with writer_lock(root, "lakehouse run"):  # one writer at a time: a table restore or repair waits its turn
        return run_local(
            root,
            layers=layers,
            batch_id=args.batch_id,
            engine=args.engine,
            env=args.env,
            flags=flags,
            console=console,
            spark_conf=spark_conf,
        )


def _spark_conf(items: list[str]) -> dict[str, str]:
    """``--conf spark.<key>=<value>`` items as a dict; one line naming the item that is not one."""
    conf = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().startswith("spark.") or not value.strip():
            raise UsageError(f"--conf {item!r}: expected spark.<key>=<value>")
        conf[key.strip()] = value.strip()
    return conf


def _lake(args: argparse.Namespace) -> Any:
    """The lake a read-only command looks at: ``--env`` (a deployed environment's S3 lake) or ``--lake-root``."""
    from ..local.status import aws_lake, local_lake

    if getattr(args, "env", None) in (None, "local"):
        return local_lake(lake_root(args.lake_root))
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from ..promotion import PromotionError

    try:
        return aws_lake(args.env, project=args.project, session=boto3.session.Session(region_name=args.region))
    except (PromotionError, BotoCoreError, ClientError) as exc:
        raise UsageError(f"--env {args.env}: {exc}" if not str(exc).startswith("--env") else str(exc)) from exc


def cmd_status(args: argparse.Namespace) -> int:
    """``lakehouse status``: every table's version, rows, files and last commit, of a local or deployed lake."""
    from ..local.status import print_status

    return print_status(_lake(args), console)


def cmd_history(args: argparse.Namespace) -> int:
    """``lakehouse history TABLE``: a table's Delta commits."""
    from ..local.status import print_history

    return print_history(_lake(args), args.table, args.limit, console)


def cmd_report(args: argparse.Namespace) -> int:
    """``lakehouse report``: write the self-contained HTML report of the local lake and print its path."""
    from ..local.report import ReportError, write_report

    root = lake_root(args.lake_root)
    try:
        path = write_report(root, Path(args.output).resolve() if args.output else None)
    except ReportError as exc:
        raise UsageError(str(exc)) from exc
    console.print(f"report: {path}")
    return 0


def _add_generate(sub: Any) -> None:
    g = sub.add_parser("generate", help="write a deterministic landing set with planted bad records")
    g.add_argument("--records", type=int, required=True, help="total landing records across all entities")
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--bad-ratio", type=float, default=0.01, help="share of records planted bad (0..0.5)")
    g.add_argument("--lake-root", default=DEFAULT_LAKE)
    g.add_argument("--clean", action="store_true", help="delete existing landing files and manifest first")
    g.add_argument("--increment", type=int, default=0, help="write follow-up delivery K (new and changed records)")
    g.add_argument(
        "--changes",
        choices=GENERATOR_CHANGE_MODES,
        default="recent",
        help="which existing keys updates and deletes touch: recent (most to the last weeks' keys) or uniform",
    )
    g.add_argument(
        "--shard-records",
        type=int,
        default=None,
        metavar="N",
        help="stream a base delivery of more than N records as shards of at most N (memory holds one shard; "
        "for load tests of 100M records; such a base takes no increments)",
    )
    g.set_defaults(func=cmd_generate)


def _add_run(sub: Any) -> None:
    r = sub.add_parser("run", help="run the pipeline (bronze -> silver -> gold) on the local lake")
    r.add_argument("--lake-root", default=DEFAULT_LAKE)
    r.add_argument("--layers", default="bronze,silver,gold", help="comma-separated subset of bronze,silver,gold")
    r.add_argument("--batch-id", default=None, help="batch id (default: a new time-based id)")
    r.add_argument(
        "--engine",
        default=os.environ.get("LAKEHOUSE_ENGINE", "auto"),
        choices=("auto", "delta-rs", "delta-spark"),
    )
    r.add_argument("--env", default="local")
    r.add_argument("--flag", action="append", help="feature flag key=value (repeatable)")
    r.add_argument(
        "--conf",
        action="append",
        metavar="SPARK_KEY=VALUE",
        help="override a setting of the local Spark session, e.g. spark.sql.autoBroadcastJoinThreshold=-1 "
        "(repeatable; for tuning experiments, docs/guides/PERFORMANCE_TUNING.md)",
    )
    r.set_defaults(func=cmd_run)


def _add_status_and_history(sub: Any) -> None:
    s = sub.add_parser("status", help="tables, versions, row counts and the last runs (local lake or --env)")
    h = sub.add_parser("history", help="a table's Delta commits (local lake or --env)")
    h.add_argument("table", help="layer.table, e.g. silver.orders")
    h.add_argument("--limit", type=int, default=20)
    for c in (s, h):
        where = c.add_mutually_exclusive_group()
        where.add_argument("--lake-root", default=DEFAULT_LAKE, help="a local lake (default: %(default)s)")
        where.add_argument("--env", default=None, help="a deployed environment: its S3 lake, gold of the active slot")
        add_aws_account(c)
    s.set_defaults(func=cmd_status)
    h.set_defaults(func=cmd_history)


def _add_report(sub: Any) -> None:
    rep = sub.add_parser("report", help="write a self-contained HTML report of the local lake (charts, no CDN)")
    rep.add_argument("--lake-root", default=DEFAULT_LAKE)
    rep.add_argument("--output", default=None, help="where to write it (default: <lake-root>/report.html)")
    rep.set_defaults(func=cmd_report)


def add_parsers(sub: Any) -> None:
    """Register ``generate``, ``run``, ``status``, ``history`` and ``report`` on the ``lakehouse`` parser."""
    _add_generate(sub)
    _add_run(sub)
    _add_status_and_history(sub)
    _add_report(sub)


def add_profile_parser(sub: Any) -> None:
    """Register ``profile`` (:mod:`lakehouse.local.profile`): its refusals are bad input."""
    add_profile_command(sub, usage_errors(ProfileError), DEFAULT_LAKE)
