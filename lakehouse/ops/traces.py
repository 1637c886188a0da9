"""``lakehouse traces``: the X-Ray traces of an operational Lambda (what the X-Ray console's Traces page shows).

The operational functions are traced (``cdk/constructs/ops_function.py``: active tracing); their service in
X-Ray is the function's name (:func:`platform_model.aws_names.function_name`). ``GetTraceSummaries`` with
the filter expression ``service("<name>")`` over the last ``--since`` lists each trace with its duration
and whether it had an error (4xx), a fault (5xx) or was throttled; ``--errors`` keeps the failing ones.
Read-only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table

from platform_model import aws_names

from .common import OperateError, aws_client, guarded
from .logs import parse_age

MAX_HOURS = 24
"""GetTraceSummaries looks back at most 24 hours per call."""


def _summaries(xray: Any, service: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    request = {"StartTime": start, "EndTime": end, "FilterExpression": f'service("{service}")'}
    return [s for page in xray.get_paginator("get_trace_summaries").paginate(**request) for s in page["TraceSummaries"]]


def _check_deployed(env: str, function: str, project: str, region: str | None) -> None:
    """An environment that is not deployed has no traces either: say so rather than print none (the
    function's log group, which the stack creates, is the evidence)."""
    group = aws_names.function_log_group_name(env, function, project)
    logs = aws_client("logs", env, region)
    found = guarded(env, "DescribeLogGroups", lambda: logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"])
    if not any(g["logGroupName"] == group for g in found):
        raise OperateError(
            f"--env {env}: no function {aws_names.function_name(env, function, project)} in {logs.meta.region_name} "
            "(its log group is missing): is the environment deployed in this account and region?"
        )


def traces(
    env: str,
    function: str,
    *,
    since: str = "1h",
    errors: bool = False,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    now: dt.datetime | None = None,
    console: Console,
) -> int:
    """Print the function's traces over the last ``since`` (only failing ones with ``errors``)."""
    if function not in aws_names.OPS_FUNCTIONS:
        raise OperateError(
            f"--function {function!r}: not an operational function; one of {', '.join(aws_names.OPS_FUNCTIONS)}"
        )
    end = now or dt.datetime.now(dt.UTC)
    start = parse_age(since, end)
    if end - start > dt.timedelta(hours=MAX_HOURS):
        raise OperateError(f"--since {since}: X-Ray keeps traces searchable {MAX_HOURS} h at a time; give 24h or less")
    service = aws_names.function_name(env, function, project)
    _check_deployed(env, function, project, region)
    xray = aws_client("xray", env, region)
    found = guarded(env, "GetTraceSummaries", lambda: _summaries(xray, service, start, end))
    failing = [s for s in found if s.get("HasError") or s.get("HasFault") or s.get("HasThrottle")]
    shown = failing if errors else found
    console.print(f"X-Ray service {service}: {len(found)} trace(s) in the last {since}, {len(failing)} failing")
    if not shown:
        return 0
    table = Table(title=f"{service}: {'failing ' if errors else ''}traces")
    for column in ("trace id", "duration s", "error", "fault", "throttle"):
        table.add_column(column)
    for s in shown:
        flags = ("yes" if s.get(k) else "" for k in ("HasError", "HasFault", "HasThrottle"))
        table.add_row(s["Id"], f"{s.get('Duration', 0):,.3g}", *flags)
    console.print(table)
    console.print(f"the errors' log lines: `lakehouse logs --env {env} --function {function} --filter ERROR`")
    return 0
