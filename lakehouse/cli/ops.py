"""``lakehouse dlq|alarms|pipeline|metric|env``: the deployed environments' commands (``pipeline``: runs, start,
describe, history, redrive). The logic: :mod:`lakehouse.ops`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .common import add_deployed, console


def cmd_dlq(args: argparse.Namespace) -> int:
    """``lakehouse dlq status|redrive``: the landing intake's dead-letter queue, and moving its messages back."""
    from ..ops.dlq import DlqError, redrive, status

    try:
        if args.dlq_command == "status":
            return status(args.env, project=args.project, region=args.region, console=console)
        return redrive(
            args.env, project=args.project, region=args.region, rate=args.rate, yes=args.yes, console=console
        )
    except DlqError as exc:
        raise UsageError(str(exc)) from exc


def cmd_operate(args: argparse.Namespace) -> int:
    """``lakehouse alarms|pipeline|metric``: alarms in ALARM, pipeline executions, a catalog metric's series."""
    from ..ops import operate

    common = {"project": args.project, "region": args.region, "console": console}
    try:
        if args.command == "alarms":
            return operate.alarms(args.env, every=args.all, **common)
        if args.command == "metric":
            dims = operate.parse_dimensions(args.dim or [])
            return operate.metric(args.env, args.key, dims=dims, hours=args.hours, **common)
        if args.pipeline_command == "runs":
            return operate.pipeline_runs(args.env, machine=args.machine, limit=args.limit, **common)
        if args.pipeline_command in ("describe", "history", "redrive"):
            return _execution_command(args)
        return operate.start_pipeline(args.env, machine=args.machine, **common)
    except operate.OperateError as exc:
        raise UsageError(str(exc)) from exc


def _execution_command(args: argparse.Namespace) -> int:
    from ..ops import executions

    ref = executions.ExecutionRef(
        env=args.env,
        execution=args.execution,
        latest_failed=args.latest_failed,
        machine=args.machine,
        project=args.project,
        region=args.region,
    )
    if args.pipeline_command == "describe":
        return executions.describe(ref, console=console)
    if args.pipeline_command == "history":
        return executions.history(ref, limit=args.limit, console=console)
    return executions.redrive(ref, yes=args.yes, console=console)


def cmd_env_diff(args: argparse.Namespace) -> int:
    """``lakehouse env diff A B``: how two environments' settings and synthesized stacks differ."""
    from ..ops.envdiff import EnvDiffError, diff_environments, load, render, synthesize

    root = Path(args.repo).resolve()
    try:
        context, config = load(root)
        for name in (args.a, args.b):
            if name not in config.environments:
                raise EnvDiffError(f"unknown environment {name!r}; cdk.json has: {', '.join(config.environments)}")
        templates = synthesize(context, config, (args.a, args.b))
        diff = diff_environments(context["lakehouse"], config.environments, templates, args.a, args.b)
    except EnvDiffError as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps(diff.as_dict(), indent=2, sort_keys=True, default=str))
    else:
        render(diff, console)
    return 0


def _add_dlq(sub: Any) -> None:
    d = sub.add_parser("dlq", help="the landing intake's dead-letter queue on AWS: status, redrive")
    dsub = d.add_subparsers(dest="dlq_command", required=True, metavar="{status,redrive}")
    for name, text in (
        ("status", "intake queue and DLQ depths, message move tasks"),
        ("redrive", "move the DLQ's messages back to the intake queue"),
    ):
        c = dsub.add_parser(name, help=text)
        add_deployed(c)
        if name == "redrive":
            c.add_argument("--rate", type=int, default=None, help="max messages per second (1..500; default: SQS)")
            c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        c.set_defaults(func=cmd_dlq)


def _deployed(c: argparse.ArgumentParser) -> None:
    add_deployed(c)
    c.set_defaults(func=cmd_operate)


def _add_operate(sub: Any) -> None:
    a = sub.add_parser("alarms", help="AWS: the environment's alarms in ALARM, with reason and runbook")
    a.add_argument("--all", action="store_true", help="every alarm of the environment, whatever its state")
    _deployed(a)

    pl = sub.add_parser("pipeline", help="AWS: the pipeline's (or maintenance's) executions; start one")
    plsub = pl.add_subparsers(dest="pipeline_command", required=True, metavar="{runs,start,describe,history,redrive}")
    for name, text in (
        ("runs", "the latest executions"),
        ("start", "start an execution unless a writer runs"),
        ("describe", "one execution: status, error, cause"),
        ("history", "one execution's last history events (where it failed)"),
        ("redrive", "restart a failed execution from its failed state (same name, same batch id)"),
    ):
        c = plsub.add_parser(name, help=text)
        c.add_argument("--machine", default="pipeline", choices=("pipeline", "maintenance"))
        if name in ("runs", "history"):
            c.add_argument("--limit", type=int, default=10 if name == "runs" else 20)
        if name in ("describe", "history", "redrive"):
            c.add_argument("execution", nargs="?", help="the execution's name (batch id) or ARN")
            c.add_argument("--latest-failed", action="store_true", help="the newest FAILED or TIMED_OUT one")
        if name == "redrive":
            c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        _deployed(c)

    mt = sub.add_parser("metric", help="AWS: a catalog metric (docs/METRICS.md) over the last hours")
    mt.add_argument("key", help="catalog key, e.g. dq_score, job_cost_usd, freshness_minutes")
    mt.add_argument("--dim", action="append", help="Name=Value of a dimension (Environment is implied); repeat")
    mt.add_argument("--hours", type=int, default=24)
    _deployed(mt)


def _add_env(sub: Any) -> None:
    ev = sub.add_parser("env", help="compare environments: settings and what they deploy")
    evsub = ev.add_subparsers(dest="env_command", required=True, metavar="{diff}")
    ed = evsub.add_parser("diff", help="cdk.json settings and synthesized resources that differ between A and B")
    ed.add_argument("a", help="an environment of cdk.json, e.g. dev")
    ed.add_argument("b", help="another, e.g. prod")
    ed.add_argument("--json", action="store_true", help="machine-readable output")
    ed.add_argument("--repo", default=".", help="the repository checkout (with cdk.json); default: here")
    ed.set_defaults(func=cmd_env_diff)


def add_parsers(sub: Any) -> None:
    """Register ``dlq``, ``alarms``, ``pipeline``, ``metric`` and ``env`` on the ``lakehouse`` parser."""
    _add_dlq(sub)
    _add_operate(sub)
    _add_env(sub)
