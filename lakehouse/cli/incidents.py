"""``lakehouse logs|traces|emr|intake|events|replication``: what the runbooks read and repair on a deployed
environment during an incident. The logic: :mod:`lakehouse.ops` (logs, traces, jobruns, intake, events,
replication);
``lakehouse pipeline describe|history|redrive`` are wired with the other ``pipeline`` commands in :mod:`.ops`."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError
from .common import add_deployed, console


def cmd_logs(args: argparse.Namespace) -> int:
    """``lakehouse logs``: log lines of an EMR job run or a Lambda function of a deployed environment."""
    from ..ops.logs import LogQuery, OperateError, show_logs

    query = LogQuery(
        env=args.env,
        function=args.function,
        job_run=args.job_run,
        since=args.since,
        pattern=args.filter or "",
        limit=args.limit,
        project=args.project,
    )
    try:
        return show_logs(query, region=args.region, console=console)
    except OperateError as exc:
        raise UsageError(str(exc)) from exc


def cmd_traces(args: argparse.Namespace) -> int:
    """``lakehouse traces``: a Lambda function's recent X-Ray traces (``--errors``: the failed ones)."""
    from ..ops.common import OperateError
    from ..ops.traces import traces

    try:
        return traces(
            args.env,
            args.function,
            since=args.since,
            errors=args.errors,
            project=args.project,
            region=args.region,
            console=console,
        )
    except OperateError as exc:
        raise UsageError(str(exc)) from exc


def cmd_incident(args: argparse.Namespace) -> int:
    """``lakehouse emr|intake|events|replication ...``: the incident runbooks' reads and repairs."""
    from ..ops import events, intake, jobruns, replication
    from ..ops.common import OperateError

    common = {"project": args.project, "region": args.region, "console": console}
    calls = {
        ("emr", "runs"): lambda: jobruns.runs(args.env, states=args.state or (), limit=args.limit, **common),
        ("emr", "cancel"): lambda: jobruns.cancel(args.env, args.run_id, yes=args.yes, **common),
        ("intake", "manifest"): lambda: intake.manifest(args.env, limit=args.limit, status=args.status, **common),
        ("events", "rules"): lambda: events.rules(args.env, **common),
        ("events", "failed"): lambda: events.failed(args.env, **common),
        ("replication", "status"): lambda: replication.status(args.env, hours=args.hours, **common),
        ("replication", "retry"): lambda: replication.retry(args.env, args.bucket, args.prefix, yes=args.yes, **common),
    }
    try:
        return calls[(args.command, args.action)]()
    except OperateError as exc:
        raise UsageError(str(exc)) from exc


def _group(sub: Any, name: str, text: str, actions: dict[str, str]) -> dict[str, argparse.ArgumentParser]:
    group = sub.add_parser(name, help=text)
    gsub = group.add_subparsers(dest="action", required=True, metavar="{" + ",".join(actions) + "}")
    parsers = {}
    for action, help_text in actions.items():
        c = gsub.add_parser(action, help=help_text)
        add_deployed(c)
        c.set_defaults(func=cmd_incident)
        parsers[action] = c
    return parsers


def _add_logs(sub: Any) -> None:
    lg = sub.add_parser("logs", help="AWS: log lines of the EMR job runs or an operational Lambda (CloudWatch Logs)")
    which = lg.add_mutually_exclusive_group(required=True)
    which.add_argument("--emr", action="store_true", help="the EMR Serverless application's log group (every job)")
    which.add_argument("--job-run", metavar="RUN_ID", help="one EMR job run's driver and executor streams")
    which.add_argument("--function", help="an operational Lambda: landing-intake, failure-notifier, ...")
    lg.add_argument("--since", default="1h", help="how far back: 30m, 2h, 7d (default 1h)")
    lg.add_argument("--filter", help="a CloudWatch filter pattern, e.g. ERROR or '\"file_missing_in_replica\"'")
    lg.add_argument("--limit", type=int, default=200, help="at most this many lines, the newest (default 200)")
    add_deployed(lg)
    lg.set_defaults(func=cmd_logs)


def _add_traces(sub: Any) -> None:
    tr = sub.add_parser("traces", help="AWS: X-Ray traces of an operational Lambda (errors, faults, throttles)")
    tr.add_argument("--function", required=True, help="landing-intake, failure-notifier, cost-reporter, ...")
    tr.add_argument("--since", default="1h", help="how far back: 30m, 2h, up to 24h (default 1h)")
    tr.add_argument("--errors", action="store_true", help="only traces with an error, fault or throttle")
    add_deployed(tr)
    tr.set_defaults(func=cmd_traces)


def add_parsers(sub: Any) -> None:
    """Register ``logs``, ``traces``, ``emr``, ``intake``, ``events`` and ``replication`` on the parser."""
    _add_logs(sub)
    _add_traces(sub)
    emr = _group(
        sub,
        "emr",
        "AWS: the EMR Serverless application's job runs; cancel one",
        {"runs": "the application, its capacity and latest job runs", "cancel": "cancel a job run that has not ended"},
    )
    emr["runs"].add_argument("--state", action="append", help="only runs in this state (repeat), e.g. RUNNING")
    emr["runs"].add_argument("--limit", type=int, default=20)
    emr["cancel"].add_argument("run_id", metavar="RUN_ID", help="the job run id (the alert and `emr runs` show it)")
    emr["cancel"].add_argument("--yes", action="store_true", help="do not ask for confirmation")
    intake = _group(
        sub, "intake", "AWS: the landing intake's manifest", {"manifest": "the newest recorded landing objects"}
    )
    intake["manifest"].add_argument("--limit", type=int, default=20)
    intake["manifest"].add_argument("--status", choices=("accepted", "rejected"), help="only these")
    _group(
        sub,
        "events",
        "AWS: EventBridge rules and the events that failed them",
        {"rules": "the rules, their patterns and targets", "failed": "events in the ops failed-events queue"},
    )
    rep = _group(
        sub,
        "replication",
        "AWS: S3 replication of the lake to the DR region; re-replicate what failed",
        {"status": "replica and replication metrics per bucket", "retry": "re-replicate objects with no replica"},
    )
    rep["status"].add_argument("--hours", type=int, default=1)
    rep["retry"].add_argument("--bucket", required=True, metavar="LAYER", help="landing, bronze, silver or gold")
    rep["retry"].add_argument(
        "--prefix",
        required=True,
        help="key prefix under the layer's root, e.g. orders/ (a table of the layer: the layer is the bucket root)",
    )
    rep["retry"].add_argument("--yes", action="store_true", help="do not ask for confirmation")
