"""``lakehouse landing skip|retry|rejected`` and ``lakehouse recover-deleted``: recovering the lake's inputs. The
logic: :mod:`lakehouse.landing` (``rejected``: :mod:`lakehouse.ops.rejected`)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError
from .common import DEFAULT_LAKE, add_aws_account, add_deployed, console, lake_root


def cmd_recover_deleted(args: argparse.Namespace) -> int:
    """``lakehouse recover-deleted``: remove the delete markers an accidental deletion left under a prefix
    (a dry run unless ``--apply``).
    """
    import boto3
    from botocore.exceptions import BotoCoreError

    from ..landing.deleted import RecoverError, recover_deleted

    try:
        session = boto3.session.Session(region_name=args.region)
        return recover_deleted(
            args.env,
            args.bucket,
            args.prefix,
            args.since,
            project=args.project,
            session=session,
            apply=args.apply,
            console=console,
        )
    except RecoverError as exc:
        raise UsageError(str(exc)) from exc
    except BotoCoreError as exc:  # an unknown AWS_PROFILE, a broken config file
        raise UsageError(f"--env {args.env}: AWS configuration: {exc}") from exc


def cmd_landing_sync(args: argparse.Namespace) -> int:
    """``lakehouse landing sync``: copy one landing day of a deployed environment to the local lake."""
    import boto3
    from botocore.exceptions import BotoCoreError

    from ..landing.deleted import RecoverError
    from ..landing.sync import sync_day

    try:
        session = boto3.session.Session(region_name=args.region)
        return sync_day(
            args.env,
            args.day,
            args.source,
            args.entity,
            lake_root(args.lake_root),
            project=args.project,
            session=session,
            console=console,
        )
    except RecoverError as exc:
        raise UsageError(str(exc)) from exc
    except BotoCoreError as exc:  # an unknown AWS_PROFILE, a broken config file
        raise UsageError(f"--env {args.env}: AWS configuration: {exc}") from exc


def _landing_lake(args: argparse.Namespace) -> Any:
    """The local lake (``--lake-root``) or the deployed environment's S3 lake (``--env``)."""
    from ..landing.skip import LandingLake

    if getattr(args, "env", None) is None:
        return LandingLake.local(lake_root(args.lake_root))
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from ..local.status import aws_lake
    from ..promotion import PromotionError

    session = boto3.session.Session(region_name=args.region)
    try:
        lake = aws_lake(args.env, project=args.project, session=session)
    except (PromotionError, BotoCoreError, ClientError) as exc:
        raise UsageError(f"--env {args.env}: {exc}" if not str(exc).startswith("--env") else str(exc)) from exc
    return LandingLake(
        lake.locations,
        f"--env {args.env}",
        env=args.env,
        project=args.project,
        session=session,
        storage_options=lake.storage_options,
    )


def cmd_landing(args: argparse.Namespace) -> int:
    """``lakehouse landing pending|skip|retry``: list, set aside or bring back a landing file that crashes bronze."""
    from ..landing.skip import SkipError, pending, retry, skip

    try:
        lake = _landing_lake(args)
        if args.landing_command == "pending":
            return pending(lake, console=console)
        if args.landing_command == "skip":
            return skip(lake, args.file, args.reason, engine=args.engine, console=console)
        return retry(lake, args.file, engine=args.engine, console=console)
    except SkipError as exc:  # a refused writer (WriterRunningError) is a UsageError already
        raise UsageError(str(exc)) from exc


def cmd_rejected(args: argparse.Namespace) -> int:
    """``lakehouse landing rejected``: the landing objects the intake refused, of a deployed environment."""
    from ..ops.guard import Deployed, GuardError
    from ..ops.rejected import rejected

    try:
        target = Deployed(args.env, project=args.project, region=args.region)
        return rejected(target, since=args.since, console=console)
    except GuardError as exc:
        raise UsageError(str(exc)) from exc


def _add_where(c: argparse.ArgumentParser) -> None:
    where = c.add_mutually_exclusive_group()
    where.add_argument("--lake-root", default=DEFAULT_LAKE, help="a local lake (default: %(default)s)")
    where.add_argument("--env", default=None, help="a deployed environment: its S3 lake's ingestion log")
    add_aws_account(c)


def _add_landing(sub: Any) -> None:
    la = sub.add_parser(
        "landing",
        help="landing files that crash bronze: find, skip, bring back (local or --env); AWS: rejected objects, sync",
    )
    lsub = la.add_subparsers(dest="landing_command", required=True, metavar="{pending,skip,retry,rejected,sync}")
    rj = lsub.add_parser("rejected", help="AWS: the objects the landing intake rejected, with their reasons")
    rj.add_argument("--since", default="24h", help="rejected since: an age (24h, 7d) or ISO-8601; default 24h")
    add_deployed(rj)
    rj.set_defaults(func=cmd_rejected)
    pe = lsub.add_parser("pending", help="files claimed by a batch that never finished, and skipped files")
    _add_where(pe)
    pe.set_defaults(func=cmd_landing)
    sk = lsub.add_parser("skip", help="record a landing file as skipped (never deleted): bronze leaves it alone")
    sk.add_argument("--reason", required=True, help="why, kept in the ingestion log (e.g. a ticket and the error)")
    rt = lsub.add_parser("retry", help="make a skipped landing file eligible again: the next run ingests it")
    for c in (sk, rt):
        c.add_argument("file", help="the file's path relative to landing, <source>/<entity>/dt=YYYY-MM-DD/<file>")
        _add_where(c)
        c.add_argument("--engine", default="auto", choices=("auto", "delta-rs", "delta-spark"))
        c.set_defaults(func=cmd_landing)
    sy = lsub.add_parser("sync", help="AWS: download one day of an environment's landing files to the local lake")
    sy.add_argument("--day", required=True, help="the landing day, YYYY-MM-DD (the dt= partition)")
    sy.add_argument("--source", required=True, help="the source system, e.g. crm")
    sy.add_argument("--entity", required=True, help="the entity, e.g. accounts")
    sy.add_argument("--lake-root", default=DEFAULT_LAKE)
    add_deployed(sy)
    sy.set_defaults(func=cmd_landing_sync)


def _add_recover_deleted(sub: Any) -> None:
    rd = sub.add_parser(
        "recover-deleted", help="AWS: remove the delete markers an accidental deletion left (dry run by default)"
    )
    rd.add_argument(
        "--bucket", required=True, metavar="LAYER", help="the layer's bucket: landing, bronze, silver, gold"
    )
    rd.add_argument("--prefix", required=True, help="key prefix under the layer's root, e.g. crm/accounts/")
    rd.add_argument(
        "--since", required=True, help="deletions at or after: ISO-8601 (2026-12-06T07:30:00Z) or an age (6h)"
    )
    rd.add_argument("--apply", action="store_true", help="remove the delete markers (default: only show them)")
    add_deployed(rd)
    rd.set_defaults(func=cmd_recover_deleted)


def add_parsers(sub: Any) -> None:
    """Register ``landing`` (pending, skip, retry, rejected) and ``recover-deleted`` on the ``lakehouse`` parser."""
    _add_landing(sub)
    _add_recover_deleted(sub)
