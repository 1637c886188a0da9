"""``lakehouse logs``: the log lines of an environment's EMR job runs or operational Lambdas (CloudWatch Logs).

The log groups are the ones the stacks create, named by :mod:`platform_model.aws_names`
(``emr_log_group_name``: every job run's driver and executor output; ``function_log_group_name``: one
operational function). ``FilterLogEvents`` reads them over the last ``--since`` with an optional CloudWatch
filter pattern (``ERROR``, ``"file_missing_in_replica"``); ``--job-run`` keeps one job run's streams (EMR
Serverless names them ``<application>/applications/<id>/jobs/<run id>/...``). Read-only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape

from platform_model import aws_names

from ..since import parse_since
from .common import OperateError, aws_client, error_code, guarded

MAX_STREAMS = 100
"""FilterLogEvents takes at most 100 log stream names."""


@dataclass(frozen=True, kw_only=True)
class LogQuery:
    """What to read: one environment's log group, since when, which lines."""

    env: str
    function: str | None = None
    """An operational function (``landing-intake``...); None: the EMR application's log group."""
    job_run: str | None = None
    """Only this EMR job run's streams."""
    since: str = "1h"
    pattern: str = ""
    limit: int = 200
    project: str = aws_names.DEFAULT_PROJECT


def parse_age(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``--since 30m|2h|7d``: that long before ``now`` (:func:`lakehouse.since.parse_since`)."""
    try:
        return parse_since(text, now, ages_only=True)
    except ValueError as error:
        raise OperateError(str(error)) from None


def log_group(query: LogQuery) -> str:
    """The log group the stacks created for the function, or the EMR application's."""
    if query.function is None:
        return aws_names.emr_log_group_name(query.env, query.project)
    if query.function not in aws_names.OPS_FUNCTIONS:
        raise OperateError(
            f"--function {query.function!r}: not an operational function; one of {', '.join(aws_names.OPS_FUNCTIONS)}"
        )
    return aws_names.function_log_group_name(query.env, query.function, query.project)


def _run_streams(logs: Any, query: LogQuery, group: str) -> list[str]:
    streams: list[str] = []
    for page in logs.get_paginator("describe_log_streams").paginate(logGroupName=group):
        streams += [s["logStreamName"] for s in page["logStreams"] if f"/jobs/{query.job_run}/" in s["logStreamName"]]
    if not streams:
        raise OperateError(f"--job-run {query.job_run}: no log streams of that job run in {group}")
    return streams[:MAX_STREAMS]


def _events(logs: Any, query: LogQuery, group: str, start: dt.datetime) -> list[dict[str, Any]]:
    request: dict[str, Any] = {"logGroupName": group, "startTime": int(start.timestamp() * 1000)}
    if query.pattern:
        request["filterPattern"] = query.pattern
    if query.job_run:
        request["logStreamNames"] = _run_streams(logs, query, group)
    found: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(**request):
        found += page["events"]
        if len(found) >= query.limit:
            break
    return sorted(found, key=lambda e: e["timestamp"])[-query.limit :]


def show_logs(query: LogQuery, *, region: str | None = None, now: dt.datetime | None = None, console: Console) -> int:
    """Print the matching log lines, oldest first (at most ``limit``, the newest ones)."""
    if query.limit < 1:
        raise OperateError(f"--limit {query.limit}: give 1 or more")
    group, start = log_group(query), parse_age(query.since, now)
    logs = aws_client("logs", query.env, region)

    def read() -> list[dict[str, Any]]:
        try:
            return _events(logs, query, group, start)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise OperateError(
                    f"--env {query.env}: no log group {group} in {logs.meta.region_name}: is the environment "
                    "deployed in this account and region? (--region and --project select another)"
                ) from error
            raise

    events = guarded(query.env, f"FilterLogEvents on {group}", read)
    what = f"{group}" + (f", job run {query.job_run}" if query.job_run else "")
    what += f", pattern {query.pattern!r}" if query.pattern else ""
    if not events:
        console.print(f"{what}: no log lines in the last {query.since}")
        return 0
    console.print(f"{what}: {len(events)} line(s) in the last {query.since}")
    for e in events:
        when = dt.datetime.fromtimestamp(e["timestamp"] / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        stream = e.get("logStreamName", "").rsplit("/", 3)[-3:] if query.function is None else []
        where = f" [{'/'.join(stream)}]" if stream else ""
        console.print(f"{when}{escape(where)} {escape(e['message'].rstrip())}", soft_wrap=True)
    return 0
