"""``lakehouse kms|budget|capacity|credentials|backup|findings``: the guardrails of a deployed environment (keys,
spend, EMR capacity, credentials, backups), each answering a runbook. The logic: :mod:`lakehouse.ops`
(``kms``, ``budget``, ``capacity``, ``credentials``, ``backup``; shared: ``guard``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..errors import UsageError
from .common import add_deployed, console

Handler = Callable[[argparse.Namespace], int]


def _guarded(fn: Callable[[argparse.Namespace, Any], int]) -> Handler:
    """``fn(args, target)`` on the deployed environment; its ``GuardError`` becomes one line, exit 2."""

    def call(args: argparse.Namespace) -> int:
        from ..ops.guard import Deployed, GuardError

        try:
            return fn(args, Deployed(args.env, project=args.project, region=args.region))
        except GuardError as exc:
            raise UsageError(str(exc)) from exc

    return call


def _confirm(args: argparse.Namespace, what: str) -> Any:
    from ..ops.guard import confirmer

    return confirmer(args.yes, console, what)


@_guarded
def cmd_kms(args: argparse.Namespace, target: Any) -> int:
    """``lakehouse kms``: the environment's KMS keys, and enabling a key, cancelling its deletion or rotation."""
    from ..ops import kms

    if args.kms_command == "status":
        return kms.status(target, dr_region=args.dr_region, console=console)
    change = {"enable": kms.enable, "cancel-deletion": kms.cancel_deletion, "enable-rotation": kms.enable_rotation}[
        args.kms_command
    ]
    confirm = _confirm(args, f"kms {args.kms_command} {args.key}")
    return change(target, args.key, dr_region=args.dr_region, confirm=confirm, console=console)


@_guarded
def cmd_budget(args: argparse.Namespace, target: Any) -> int:
    """``lakehouse budget``: the environment's spend against its budget."""
    from ..ops import budget

    return budget.status(target, console=console)


@_guarded
def cmd_capacity(args: argparse.Namespace, target: Any) -> int:
    """``lakehouse capacity``: the EMR application's capacity, or raise its maximum CPU and memory."""
    from ..ops import capacity

    if args.max_cpu is None and args.max_memory is None:
        capacity.status(target, console=console)
        return 0
    return capacity.raise_capacity(
        target,
        cpu=args.max_cpu,
        memory=args.max_memory,
        stop=args.stop,
        confirm=_confirm(args, "capacity"),
        console=console,
    )


@_guarded
def cmd_credentials(args: argparse.Namespace, target: Any) -> int:
    """``lakehouse credentials``: the age of the environment's credentials and secrets."""
    from ..ops import credentials

    return credentials.status(target, max_age_days=args.max_age_days, dr_region=args.dr_region, console=console)


@_guarded
def cmd_backup(args: argparse.Namespace, target: Any) -> int:
    """``lakehouse backup``: the environment's AWS Backup jobs since a time."""
    from ..ops import backup

    return backup.status(target, since=args.since, console=console)


@_guarded
def cmd_findings(args: argparse.Namespace, target: Any) -> int:
    """``lakehouse findings list|macie-job``: security findings, and the Macie classification job."""
    from ..ops import findings

    if args.findings_command == "list":
        return findings.list_findings(target, severity=args.severity, since=args.since, console=console)
    return findings.macie_job(target, create=args.create, confirm=_confirm(args, "findings macie-job"), console=console)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _deployed(c: argparse.ArgumentParser, func: Handler, *, dr: bool = False) -> None:
    add_deployed(c)
    if dr:
        c.add_argument("--dr-region", default=None, help="the DR region (cdk.json dr_region): include the replica keys")
    c.set_defaults(func=func)


def _add_kms(sub: Any) -> None:
    k = sub.add_parser("kms", help="AWS: the environment's KMS keys: state, rotation, dependents; recover one")
    ksub = k.add_subparsers(
        dest="kms_command", required=True, metavar="{status,enable,cancel-deletion,enable-rotation}"
    )
    _deployed(
        ksub.add_parser("status", help="each key's state, rotation, deletion date, what it encrypts"), cmd_kms, dr=True
    )
    for name, text in (
        ("enable", "enable a disabled key of the environment"),
        ("cancel-deletion", "cancel a key's scheduled deletion (it stays Disabled: enable it next)"),
        ("enable-rotation", "turn a key's automatic yearly rotation back on"),
    ):
        c = ksub.add_parser(name, help=text)
        c.add_argument(
            "key", metavar="KEY", help="gold, artifacts, ops, alerts, replica-gold, ...; or the key's alias, id or ARN"
        )
        c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        _deployed(c, cmd_kms, dr=True)


def _add_budget_capacity(sub: Any) -> None:
    b = sub.add_parser("budget", help="AWS: the monthly budget: limit, actual, forecast, cost per job")
    bsub = b.add_subparsers(dest="budget_command", required=True, metavar="{status}")
    _deployed(bsub.add_parser("status", help="the budget against this month's spend; exit 1 when over it"), cmd_budget)
    c = sub.add_parser("capacity", help="AWS: the EMR Serverless application's maximum capacity and use; raise it")
    c.add_argument("--max-cpu", type=_positive, default=None, metavar="N", help="raise the maximum to N vCPU")
    c.add_argument("--max-memory", type=_positive, default=None, metavar="GB", help="raise the maximum memory (GB)")
    c.add_argument("--stop", action="store_true", help="stop the application first (refused while a job runs)")
    c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _deployed(c, cmd_capacity)


def _add_credentials_backup(sub: Any) -> None:
    cr = sub.add_parser("credentials", help="AWS: key rotation, access key ages, alert subscriptions")
    crsub = cr.add_subparsers(dest="credentials_command", required=True, metavar="{status}")
    st = crsub.add_parser("status", help="what can be rotated and how old it is; exit 1 when something is due")
    st.add_argument("--max-age-days", type=_positive, default=90, help="rotate access keys older than this")
    _deployed(st, cmd_credentials, dr=True)
    bk = sub.add_parser("backup", help="AWS: the environment's AWS Backup jobs (backup, copy, restore testing)")
    bksub = bk.add_subparsers(dest="backup_command", required=True, metavar="{status}")
    bs = bksub.add_parser("status", help="recent jobs and their state; exit 1 when one failed")
    bs.add_argument("--since", default="7d", help="jobs created since: an age (24h, 7d) or ISO-8601; default 7d")
    _deployed(bs, cmd_backup)


def _add_findings(sub: Any) -> None:
    f = sub.add_parser("findings", help="AWS: Security Hub / GuardDuty / Macie findings; the Macie classification job")
    fsub = f.add_subparsers(dest="findings_command", required=True, metavar="{list,macie-job}")
    ls = fsub.add_parser("list", help="active findings at a severity or above; exit 1 when there is one")
    ls.add_argument("--severity", default="HIGH", help="lowest severity listed: CRITICAL, HIGH (default), MEDIUM, ...")
    ls.add_argument("--since", default="30d", help="findings updated since: an age (24h, 7d) or ISO-8601; default 30d")
    _deployed(ls, cmd_findings)
    mj = fsub.add_parser("macie-job", help="print the Macie classification job over silver and gold; --create it")
    mj.add_argument("--create", action="store_true", help="create the job in Macie (asked first)")
    mj.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _deployed(mj, cmd_findings)


def add_parsers(sub: Any) -> None:
    """Register ``kms``, ``budget``, ``capacity``, ``credentials``, ``backup`` and ``findings`` on the parser."""
    _add_kms(sub)
    _add_budget_capacity(sub)
    _add_credentials_backup(sub)
    _add_findings(sub)
