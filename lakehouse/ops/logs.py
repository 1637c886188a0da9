"""``lakehouse logs``: the log lines of an environment's EMR job runs or operational Lambdas (CloudWatch Logs).

The log groups are the ones the stacks create, named by :mod:`platform_model.aws_names`
(``emr_log_group_name``: every job run's driver and executor output; ``function_log_group_name``: one
operational function). ``FilterLogEvents`` reads them over the last ``--since`` with an optional CloudWatch
filter pattern (``ERROR``, ``"file_missing_in_replica"``); ``--job-run`` keeps one job run's streams: EMR
Serverless names them ``<application name>/applications/<application id>/jobs/<run id>/...``, so the
application's id (``ListApplications``, as ``lakehouse emr runs`` finds it) gives their common prefix, which
``FilterLogEvents`` takes as ``logStreamNamePrefix`` (however many streams the run wrote). The events come
oldest first; every page is read and the newest ``--limit`` kept, the output saying how many it left out.
Read-only.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape

from platform_model import aws_names

from ..since import parse_since
from .common import OperateError, aws_client, error_code, guarded
from .jobruns import application


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


def run_stream_prefix(query: LogQuery, app: dict[str, Any]) -> str:
    """The prefix of every log stream of ``query.job_run`` in the application ``app`` (GetApplication's)."""
    return f"{app['name']}/applications/{app['applicationId']}/jobs/{query.job_run}/"


def _run_prefix(logs: Any, query: LogQuery, group: str, app: dict[str, Any]) -> str:
    prefix = run_stream_prefix(query, app)
    if not logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix, limit=1)["logStreams"]:
        raise OperateError(f"--job-run {query.job_run}: no log streams of that job run in {group} (under {prefix})")
    return prefix


def _events(
    logs: Any, query: LogQuery, group: str, start: dt.datetime, app: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], int]:
    """(the newest ``limit`` matching events, oldest first; how many matched in all), every page read."""
    request: dict[str, Any] = {"logGroupName": group, "startTime": int(start.timestamp() * 1000)}
    if query.pattern:
        request["filterPattern"] = query.pattern
    if app is not None:
        request["logStreamNamePrefix"] = _run_prefix(logs, query, group, app)
    matched = 0

    def every() -> Iterator[tuple[int, int, dict[str, Any]]]:
        nonlocal matched
        for page in logs.get_paginator("filter_log_events").paginate(**request):
            for event in page["events"]:
                matched += 1
                yield event["timestamp"], matched, event  # ties: the one read later is the newer

    newest = heapq.nlargest(query.limit, every())
    return [event for _, _, event in reversed(newest)], matched


def show_logs(query: LogQuery, *, region: str | None = None, now: dt.datetime | None = None, console: Console) -> int:
    """Print the matching log lines, oldest first (at most ``limit``, the newest ones)."""
    if query.limit < 1:
        raise OperateError(f"--limit {query.limit}: give 1 or more")
    group, start = log_group(query), parse_age(query.since, now)
    logs = aws_client("logs", query.env, region)
    app = None
    if query.job_run:
        app = application(aws_client("emr-serverless", query.env, region), query.env, query.project)

    def read() -> tuple[list[dict[str, Any]], int]:
        try:
            return _events(logs, query, group, start, app)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise OperateError(
                    f"--env {query.env}: no log group {group} in {logs.meta.region_name}: is the environment "
                    "deployed in this account and region? (--region and --project select another)"
                ) from error
            raise

    events, matched = guarded(query.env, f"FilterLogEvents on {group}", read)
    what = f"{group}" + (f", job run {query.job_run}" if query.job_run else "")
    what += f", pattern {query.pattern!r}" if query.pattern else ""
    if not events:
        console.print(f"{what}: no log lines in the last {query.since}")
        return 0
    if matched > len(events):
        console.print(
            f"{what}: showing the newest {len(events)} of {matched} line(s) in the last {query.since} "
            "(--limit shows more, --since or --filter fewer)"
        )
    else:
        console.print(f"{what}: {len(events)} line(s) in the last {query.since}")
    for e in events:
        when = dt.datetime.fromtimestamp(e["timestamp"] / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        stream = e.get("logStreamName", "").rsplit("/", 3)[-3:] if query.function is None else []
        where = f" [{'/'.join(stream)}]" if stream else ""
        console.print(f"{when}{escape(where)} {escape(e['message'].rstrip())}", soft_wrap=True)
    return 0
