"""``lakehouse package|promote|rollback|promotions|slots``: the promotion commands (docs/PROMOTION.md).

The control planes, gates, auditors and the write-audit-publish workflow are :mod:`lakehouse.promotion`; here:
the arguments, which environment's control plane a command talks to, and what it prints."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from platform_model import aws_names

from ..errors import UsageError
from ..promotion import (
    AwsAuditor,
    AwsControl,
    Gate,
    LocalAuditor,
    LocalControl,
    PromotionError,
    Record,
    SlotState,
    local_actor,
    package,
    promote,
    proven,
    recover,
    rollback,
)
from .common import DEFAULT_LAKE, Command, Handler, console

REPO = Path(__file__).resolve().parents[2]
VERSION = re.compile(r"^[0-9a-f]{16}$")
"""A job-assets version: the first 16 hex digits of the archive's SHA-256 (cdk/packaging.py)."""


def _checked_version(version: str) -> str:
    if not VERSION.match(version):
        raise PromotionError(f"--version {version!r}: not a job-assets version (16 lowercase hex digits)")
    return version


def _thresholds(env: str) -> Any:
    from ..checkout import CheckoutError, load_cdk_config

    try:
        _, config = load_cdk_config(REPO)
    except CheckoutError as error:
        raise PromotionError(str(error)) from None
    if env == "local":
        return config.local_promotion
    if env not in config.environments:
        raise PromotionError(
            f"--env {env}: unknown environment; expected local or one of {', '.join(config.environments)}"
        )
    return config.environments[env].promotion


def _session(args: argparse.Namespace, profile: str | None = None) -> Any:
    import boto3

    return boto3.session.Session(region_name=args.region, profile_name=profile)


def _aws_actor(session: Any) -> str:
    try:
        return str(session.client("sts").get_caller_identity()["Arn"])
    except Exception:
        return local_actor()


def control_for(args: argparse.Namespace, env: str, profile: str | None = None) -> tuple[Any, Any, str]:
    """(control plane, auditor, actor) of one environment."""
    if env == "local":
        root = Path(args.lake_root).expanduser().resolve()
        if not (root / "landing").is_dir():
            raise PromotionError(f"--lake-root {root}: not a lake (no landing folder)")
        return LocalControl(root), LocalAuditor(root), local_actor()
    session = _session(args, profile)
    control = AwsControl(env, project=args.project, session=session)
    return control, AwsAuditor(control), _aws_actor(session)


def _gates_table(gates: list[Gate] | list[dict[str, Any]]) -> Table:
    table = Table(title="Gates: audited version (shadow slot) vs published gold")
    for col in ("gate", "result", "published", "candidate", "change %", "limit %", "detail"):
        table.add_column(col, justify="right" if col in ("published", "candidate", "change %", "limit %") else "left")
    for g in gates:
        g = g if isinstance(g, dict) else asdict(g)

        def num(v: Any) -> str:
            return "-" if v is None else f"{v:,.2f}"

        table.add_row(
            g["name"],
            "[green]pass[/]" if g["passed"] else "[bold red]FAIL[/]",
            num(g["published"]),
            num(g["candidate"]),
            num(g["change_pct"]),
            num(g["limit_pct"]),
            g["detail"],
        )
    return table


def cmd_package(args: argparse.Namespace, console: Console) -> int:
    """``lakehouse package``: package ``job_assets`` as a version (content hash) into the local version store."""
    root = Path(args.lake_root).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    source = Path(args.source).resolve() if args.source else None
    try:
        version, directory = package(root, source)
    except FileNotFoundError as error:
        raise PromotionError(f"--source: {error}") from None
    console.print(f"version [bold]{version}[/] packaged at {directory}")
    console.print(f"promote it with: lakehouse promote --env local --version {version} --lake-root {args.lake_root}")
    return 0


def _proven_in_source(args: argparse.Namespace, console: Console) -> str:
    """With ``--from``: the version to promote (default: the source's active one), proven there by its gates."""
    if "local" in (args.from_env, args.to_env):
        raise PromotionError("stage promotion is between deployed environments (dev, staging, prod), not local")
    source, _, _ = control_for(args, args.from_env, args.from_profile)
    version = args.version
    if version is None:
        state = source.read()
        version = state.version(state.active, source.deployed_version())
    record = proven(source.history(), version)
    if record is None:
        raise PromotionError(
            f"--version {version}: never passed its gates and got published in {args.from_env} "
            f"(or {args.from_env} rolled back away from it since); "
            f"promote it there first (lakehouse promotions --env {args.from_env} lists what did)"
        )
    console.print(f"version [bold]{version}[/] passed its gates in {args.from_env} ({record.id}, {record.ended_at})")
    return version  # type: ignore[no-any-return]


def _promotion_request(args: argparse.Namespace, console: Console) -> tuple[str, str, str]:
    """(target environment, version, source environment or "") of ``lakehouse promote``, its arguments checked."""
    if bool(args.env) == bool(args.from_env or args.to_env):
        raise PromotionError("give either --env E --version V, or --from A --to B [--version V]")
    if (args.from_env and not args.to_env) or (args.to_env and not args.from_env):
        raise PromotionError("stage promotion needs both --from and --to")
    if args.from_env:
        version, source_env = _proven_in_source(args, console), args.from_env
    elif args.version is None:
        raise PromotionError("--version is required with --env (lakehouse package prints it locally)")
    else:
        version, source_env = args.version, ""
    return args.env or args.to_env, _checked_version(version), source_env


def _confirmation(
    args: argparse.Namespace, console: Console, thresholds: Any, target_env: str
) -> Callable[[Record, list[Gate]], bool]:
    """Show the gates; ask before publishing where the environment's promotion settings say so (unless --yes)."""

    def confirm(record: Record, gates: list[Gate]) -> bool:
        console.print(_gates_table(gates))
        if args.yes or not thresholds.confirm:
            return True
        answer = console.input(
            f"publish version {record.version} to [bold]{target_env}[/] "
            f"(slot {record.from_slot} -> {record.to_slot})? [y/N] "
        )
        return answer.strip().lower() in ("y", "yes")

    return confirm


def _outcome(outcome: Any, control: Any, version: str, target_env: str, console: Console) -> int:
    """Print a promotion's outcome: 0 published, 1 refused, failed or declined."""
    record = outcome.record
    if record.result != "published":
        if record.result == "refused":
            console.print(_gates_table(outcome.gates))
        console.print(f"[bold red]{record.result}:[/] {record.message}")
        console.print(
            f"published gold and the active slot ({outcome.state.active}) are unchanged; "
            f"the audit's output: {record.to_slot} slot ({control.gold_uri(record.to_slot)})"
        )
        return 1
    console.print(f"[bold green]published[/] version {version} on {target_env}: {record.message} ({record.id})")
    return 0


def cmd_promote(args: argparse.Namespace, console: Console) -> int:
    """``lakehouse promote``: write-audit-publish a job version into an environment's inactive gold slot."""
    target_env, version, source_env = _promotion_request(args, console)
    thresholds = _thresholds(target_env)
    if thresholds.requires_passed_in and source_env != thresholds.requires_passed_in:
        raise PromotionError(
            f"--env {target_env}: versions reach it from {thresholds.requires_passed_in} only: "
            f"lakehouse promote --from {thresholds.requires_passed_in} --to {target_env}"
        )
    control, auditor, actor = control_for(args, target_env)
    confirm = _confirmation(args, console, thresholds, target_env)
    console.print(
        f"promoting version [bold]{version}[/] to [bold]{target_env}[/]: written to the inactive slot, its gold "
        "audited in gold/audit (neither slot's gold is touched until it passes) ..."
    )
    outcome = promote(
        control, auditor, version, thresholds=thresholds, actor=actor, source_env=source_env, confirm=confirm
    )
    return _outcome(outcome, control, version, target_env, console)


def cmd_rollback(args: argparse.Namespace, console: Console) -> int:
    """``lakehouse rollback``: flip back to the previously published slot and its gold."""
    control, _, actor = control_for(args, args.env)
    outcome = rollback(control, actor=actor)
    r = outcome.record
    console.print(f"[bold green]rolled back[/] {args.env}: {r.message}; now running version {r.version} ({r.id})")
    return 0


def cmd_promotions(args: argparse.Namespace, console: Console) -> int:
    """``lakehouse promotions``: the promotion history (or ``--recover`` an interrupted promotion)."""
    control, _, actor = control_for(args, args.env)
    if args.recover:
        record = recover(control, args.recover, actor=actor)
        console.print(f"recovered {record.id}: {record.message}")
        return 0
    records = sorted(control.history(), key=lambda r: r.started_at, reverse=True)[: args.limit]
    if args.json:
        print(json.dumps([asdict(r) for r in records], indent=2))
        return 0
    table = Table(title=f"Promotions and rollbacks of {args.env} (newest first)")
    for col in ("id", "action", "result", "version", "slots", "by", "started", "ended", "gates / message"):
        table.add_column(col)
    for r in records:
        failed = [g["name"] for g in r.gates if not g["passed"]]
        gates = f"{len(r.gates) - len(failed)}/{len(r.gates)} passed" if r.gates else ""
        detail = "; ".join(x for x in (gates, r.message) if x)
        source = f" from {r.source_env}" if r.source_env else ""
        table.add_row(
            r.id,
            r.action + source,
            r.result,
            r.version,
            f"{r.from_slot} -> {r.to_slot}",
            r.actor,
            r.started_at,
            r.ended_at,
            detail,
        )
    console.print(table)
    if not records:
        console.print(f"no promotion or rollback recorded for {args.env} yet")
    return 0


def cmd_slots(args: argparse.Namespace, console: Console) -> int:
    """``lakehouse slots show|sync``: the two slots and what each runs; ``sync`` re-points the readers."""
    control, _, _ = control_for(args, args.env)
    state: SlotState = control.read()
    deployed = control.deployed_version()
    if args.slots_command == "sync":
        moved = control.publish_readers(state.active)
        console.print(
            f"readers point at slot {state.active}" + (f": re-pointed {', '.join(moved)}" if moved else " already")
        )
        return 0
    table = Table(title=f"Slots of {args.env}")
    for col in ("slot", "state", "version", "gold"):
        table.add_column(col)
    for slot in aws_names.SLOTS:
        label = (
            "active (published)"
            if slot == state.active
            else ("rollback target" if slot == state.rollback else "inactive")
        )
        pinned = state.slots.get(slot) or (f"{deployed} (deployed)" if slot == state.active else "(empty)")
        table.add_row(slot, label, pinned, control.gold_uri(slot))
    console.print(table)
    console.print(f"last change: {state.change or 'none'} {state.updated_at} {state.updated_by}".rstrip())
    elsewhere = control.readers_elsewhere(state.active)
    if elsewhere:
        console.print(
            f"[bold yellow]readers do not read the active slot {state.active}:[/] {'; '.join(elsewhere)}; "
            f"point them back with `lakehouse slots sync --env {args.env}`"
        )
        return 1
    return 0


def _command(fn: Command) -> Handler:
    """Adapt a promotion command: its refusals and AWS errors become one clear line and exit 2."""

    def call(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return int(fn(args, console))
        except PromotionError as exc:
            raise UsageError(str(exc)) from exc
        except (BotoCoreError, ClientError) as exc:
            raise UsageError(f"--env {getattr(args, 'env', None) or getattr(args, 'to_env', '')}: AWS: {exc}") from exc

    return call


def _target(c: argparse.ArgumentParser, *, required: bool = True) -> None:
    c.add_argument("--env", required=required, help="local (the lake at --lake-root), dev, staging or prod")
    c.add_argument("--lake-root", default=DEFAULT_LAKE, help="with --env local: the local lake")
    c.add_argument("--project", default=aws_names.DEFAULT_PROJECT, help="AWS: project prefix of the names")
    c.add_argument("--region", default=None, help="AWS: region (default: the AWS configuration's)")


def _add_package_and_promote(sub: Any) -> None:
    pk = sub.add_parser("package", help="package job_assets as a version in the local lake's version store")
    pk.add_argument("--lake-root", default=DEFAULT_LAKE)
    pk.add_argument("--source", default=None, help="a job_assets package folder (default: this checkout's)")
    pk.set_defaults(func=_command(cmd_package))

    pr = sub.add_parser("promote", help="write-audit-publish a job-assets version into an environment's inactive slot")
    _target(pr, required=False)
    pr.add_argument(
        "--version", default=None, help="job-assets version (content hash); with --from: default its active one"
    )
    pr.add_argument("--from", dest="from_env", default=None, help="stage promotion: the environment it passed in")
    pr.add_argument("--to", dest="to_env", default=None, help="stage promotion: the environment to promote to")
    pr.add_argument("--from-profile", default=None, help="AWS profile for --from when it lives in another account")
    pr.add_argument("--yes", action="store_true", help="publish without asking (environments with promotion.confirm)")
    pr.set_defaults(func=_command(cmd_promote))


def _add_rollback_and_promotions(sub: Any) -> None:
    rb = sub.add_parser("rollback", help="flip back to the previously published slot and its gold")
    _target(rb)
    rb.set_defaults(func=_command(cmd_rollback))

    ps = sub.add_parser("promotions", help="the environment's promotions and rollbacks: who, when, version, gates")
    _target(ps)
    ps.add_argument("--limit", type=int, default=20)
    ps.add_argument("--json", action="store_true")
    ps.add_argument(
        "--recover",
        metavar="ID",
        default=None,
        help="finish an interrupted promotion (its process died): restore the slots document, release its lock",
    )
    ps.set_defaults(func=_command(cmd_promotions))


def _add_slots(sub: Any) -> None:
    sl = sub.add_parser("slots", help="the environment's blue and green slots; sync the readers' catalog")
    slsub = sl.add_subparsers(dest="slots_command", required=True, metavar="{show,sync}")
    for name, text in (
        ("show", "which slot is published, which version each runs"),
        ("sync", "AWS: point the gold Glue tables at the active slot (after a deploy)"),
    ):
        c = slsub.add_parser(name, help=text)
        _target(c)
        c.set_defaults(func=_command(cmd_slots))


def add_parsers(sub: Any) -> None:
    """Register ``package``, ``promote``, ``rollback``, ``promotions`` and ``slots`` on the ``lakehouse`` parser."""
    _add_package_and_promote(sub)
    _add_rollback_and_promotions(sub)
    _add_slots(sub)
