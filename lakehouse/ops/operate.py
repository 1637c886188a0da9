"""Operator commands on a deployed environment: alarms, pipeline runs, metrics (what the runbooks use).

Every name comes from :mod:`platform_model.aws_names` and the metric catalog, the same sources the stacks use,
so ``--env`` (and ``--project``, ``--region``) is all an operator types. Errors an operator can fix (no
credentials, no region, an environment that is not deployed there) are one :class:`OperateError` line.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from rich.console import Console
from rich.table import Table

from job_assets.context import new_batch_id
from job_assets.contracts import metrics as catalog
from platform_model import aws_names

MACHINES = ("pipeline", "maintenance")
_RUNBOOK = re.compile(r"Runbook: (\S+)$")


class OperateError(Exception):
    """Something the operator must fix; printed as one line, exit code 2."""


def _session(region: str | None) -> boto3.session.Session:
    try:
        return boto3.session.Session(region_name=region)
    except BotoCoreError as error:
        raise OperateError(f"AWS configuration: {error}") from error


def _fail(error: Exception, env: str, what: str) -> OperateError:
    if isinstance(error, NoCredentialsError):
        return OperateError(f"--env {env}: no AWS credentials for {what}: configure a profile or AWS_* variables")
    if isinstance(error, NoRegionError):
        return OperateError(f"--env {env}: no AWS region for {what}: pass --region or set AWS_REGION")
    return OperateError(f"--env {env}: {what} failed: {error}")


def _ts(value: Any) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else ""


# --- alarms ---------------------------------------------------------------------------------------------------


def alarms(
    env: str,
    *,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    every: bool = False,
    console: Console,
) -> int:
    """The environment's alarms in ALARM (``every``: all of them), each with its reason and runbook."""
    prefix = f"{aws_names.prefix(env, project)}-"
    kwargs: dict[str, Any] = {"AlarmNamePrefix": prefix, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}

    def describe(**extra: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in cloudwatch.get_paginator("describe_alarms").paginate(**kwargs, **extra):
            found += page.get("CompositeAlarms", []) + page.get("MetricAlarms", [])
        return found

    try:
        cloudwatch = _session(region).client("cloudwatch")
        found = describe() if every else describe(StateValue="ALARM")
        # An empty answer must mean "healthy", not "wrong account or region": the environment's alarms exist.
        deployed = bool(found) or bool(describe())
    except (BotoCoreError, ClientError) as error:
        raise _fail(error, env, "DescribeAlarms") from error
    where = cloudwatch.meta.region_name
    if not deployed:
        raise OperateError(
            f"--env {env}: no alarms named {prefix}* in {where}: is the environment deployed in this account "
            f"and region? (--region and --project select another)"
        )
    if not found:
        console.print(f"no alarms in ALARM among {prefix}* in {where}: all OK or INSUFFICIENT_DATA")
        return 0
    table = Table(title=f"{prefix}* alarms" + ("" if every else " in ALARM"))
    for column in ("alarm", "state", "since (UTC)", "reason", "runbook"):
        table.add_column(column, overflow="fold")
    composite_first = sorted(found, key=lambda a: ("AlarmRule" not in a, a["AlarmName"]))
    for a in composite_first:
        runbook = _RUNBOOK.search(a.get("AlarmDescription") or "")
        table.add_row(
            a["AlarmName"],
            a.get("StateValue", ""),
            _ts(a.get("StateTransitionedTimestamp") or a.get("StateUpdatedTimestamp")),
            (a.get("StateReason") or "")[:160],
            runbook.group(1) if runbook else "",
        )
    console.print(table)
    return 0


# --- pipeline runs ---------------------------------------------------------------------------------------------


def _machine_arn(session: boto3.session.Session, env: str, project: str, machine: str) -> str:
    name = (
        aws_names.pipeline_state_machine_name(env, project)
        if machine == "pipeline"
        else aws_names.maintenance_state_machine_name(env, project)
    )
    identity = session.client("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]  # aws, aws-cn, aws-us-gov
    return f"arn:{partition}:states:{session.region_name}:{identity['Account']}:stateMachine:{name}"


def pipeline_runs(
    env: str,
    *,
    machine: str = "pipeline",
    limit: int = 10,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    console: Console,
) -> int:
    """The state machine's latest executions: name (the batch id), status, start and stop."""
    session = _session(region)
    try:
        arn = _machine_arn(session, env, project, machine)
        executions = session.client("stepfunctions").list_executions(stateMachineArn=arn, maxResults=limit)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "StateMachineDoesNotExist":
            raise OperateError(
                f"--env {env}: no state machine {arn.rsplit(':', 1)[1]} in {session.region_name}"
            ) from error
        raise _fail(error, env, "ListExecutions") from error
    except BotoCoreError as error:
        raise _fail(error, env, "ListExecutions") from error
    rows = executions["executions"]
    if not rows:
        console.print(f"{arn.rsplit(':', 1)[1]}: no executions yet")
        return 0
    table = Table(title=f"{arn.rsplit(':', 1)[1]}: last {len(rows)} executions")
    for column in ("execution (batch id)", "status", "started (UTC)", "stopped (UTC)", "execution ARN"):
        table.add_column(column, overflow="fold")
    for e in rows:
        table.add_row(e["name"], e["status"], _ts(e.get("startDate")), _ts(e.get("stopDate")), e["executionArn"])
    console.print(table)
    return 0


def start_pipeline(
    env: str,
    *,
    machine: str = "pipeline",
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    now: dt.datetime | None = None,
    console: Console,
) -> int:
    """Start ``machine`` unless a lake writer runs (its single-writer guard would refuse it anyway)."""
    session = _session(region)
    current = machine  # the state machine of the call under way: the one a StateMachineDoesNotExist is about
    try:
        sfn = session.client("stepfunctions")
        arns = {m: _machine_arn(session, env, project, m) for m in MACHINES}
        for m, arn in arns.items():
            current = m
            running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1)["executions"]
            if running:
                after = (
                    "the landing intake starts the pipeline when it ends if new objects wait"
                    if machine == "pipeline"
                    else "start maintenance again once it has ended (`lakehouse pipeline runs --env "
                    f"{env} --machine {m}`)"
                )
                console.print(
                    f"not started: {m} execution {running[0]['name']} is running (one writer at a time); {after}"
                )
                return 1
        name = new_batch_id(now.astimezone(dt.UTC) if now else None)  # the jobs' batch id format
        current = machine
        started = sfn.start_execution(stateMachineArn=arns[machine], name=name, input="{}")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "StateMachineDoesNotExist":
            why = "" if current == machine else f" (starting {machine} checks that no {current} execution runs)"
            raise OperateError(
                f"--env {env}: the {current} state machine is not deployed in {session.region_name}{why}"
            ) from error
        raise _fail(error, env, "StartExecution") from error
    except BotoCoreError as error:
        raise _fail(error, env, "StartExecution") from error
    console.print(f"started {machine} execution {name}: {started['executionArn']}")
    console.print(
        f"its single-writer guard fails it if another writer started meanwhile: "
        f"`lakehouse pipeline runs --env {env}{'' if machine == 'pipeline' else ' --machine ' + machine}` shows it"
    )
    return 0


# --- metrics ---------------------------------------------------------------------------------------------------


def parse_dimensions(items: Sequence[str]) -> dict[str, str]:
    """``--dim Name=Value`` arguments as a mapping.

    Raises:
        OperateError: an item is not ``Name=Value``.

    Examples:
        >>> parse_dimensions(["Job=silver", "Table=silver.orders"])
        {'Job': 'silver', 'Table': 'silver.orders'}
    """
    dims = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise OperateError(f"--dim {item!r}: expected Name=Value, e.g. Job=silver")
        dims[name] = value
    return dims


def _given_dimensions(spec: catalog.Metric, env: str, dims: Mapping[str, str], hours: int) -> dict[str, str]:
    """The dimensions asked for (``Environment`` from ``--env`` for our metrics), checked against the metric's."""
    if hours < 1:
        raise OperateError(f"--hours {hours}: give 1 or more")
    if spec.ours and catalog.ENVIRONMENT in dims:
        raise OperateError(f"{spec.key}: the Environment dimension is --env's; do not pass it with --dim")
    given = {**({catalog.ENVIRONMENT: env} if spec.ours else {}), **dict(dims)}
    unknown = set(given) - set(spec.dimensions)
    if unknown:
        raise OperateError(
            f"{spec.key}: {', '.join(sorted(unknown))} not among its dimensions ({', '.join(spec.dimensions)})"
        )
    return given


def _print_series(
    cloudwatch: Any, spec: catalog.Metric, given: Mapping[str, str], namespace: str, prefix: str, console: Console
) -> int:
    """Open dimensions: the environment's series of the metric that exist, to pick one from with ``--dim``."""
    filters = [{"Name": k, "Value": v} for k, v in given.items()]
    listed = []
    for page in cloudwatch.get_paginator("list_metrics").paginate(
        Namespace=namespace, MetricName=spec.name, Dimensions=filters
    ):
        listed += page["Metrics"]
    series = [
        {d["Name"]: d["Value"] for d in m["Dimensions"]}
        for m in listed
        if {d["Name"] for d in m["Dimensions"]} == set(spec.dimensions)
    ]
    if not spec.ours:  # AWS namespaces hold every environment: keep this one's resources
        series = [s for s in series if any(prefix in v for v in s.values())]
    if not series:
        console.print(f"{namespace} {spec.name}: no series of {prefix} with {given or 'any dimensions'}")
        return 0
    table = Table(title=f"{namespace} {spec.name}: {len(series)} series (add --dim to pick one)")
    for name in spec.dimensions:
        table.add_column(name)
    for s in sorted(series, key=lambda s: tuple(s[n] for n in spec.dimensions)):
        table.add_row(*(s[n] for n in spec.dimensions))
    console.print(table)
    return 0


def _print_points(
    points: list[dict[str, Any]],
    spec: catalog.Metric,
    given: Mapping[str, str],
    namespace: str,
    hours: int,
    period: int,
    console: Console,
) -> int:
    """One series' statistic per period, oldest first."""
    label = ", ".join(f"{k}={v}" for k, v in given.items())
    if not points:
        console.print(f"{namespace} {spec.name} ({label}): no data in the last {hours} h")
        return 0
    table = Table(title=f"{namespace} {spec.name} ({label}), {spec.statistic} per {period // 60} min")
    table.add_column("period start (UTC)")
    table.add_column(f"{spec.statistic} ({spec.unit})", justify="right")
    for p in sorted(points, key=lambda p: p["Timestamp"]):
        table.add_row(_ts(p["Timestamp"]), f"{p[spec.statistic]:,.4g}")
    console.print(table)
    return 0


MAX_POINTS = 1440
"""GetMetricStatistics returns at most this many data points: a longer range takes a longer period."""
PERIOD_STEPS = ((63 * 24, 3600), (15 * 24, 300), (0, 60))
"""(hours back, seconds): CloudWatch keeps data older than 15 days at 5-minute resolution, older than 63 days at
1-hour; a request reaching back that far must ask a multiple of it, or it gets no data points."""


def metric_period(hours: int, minimum: int = 60) -> int:
    """The GetMetricStatistics period for the last ``hours``: at least ``minimum`` seconds, within 1,440 points,
    a multiple of the resolution CloudWatch keeps at the start's age (60 s, 300 s past 15 days, 3600 s past 63)."""
    step = next(seconds for back, seconds in PERIOD_STEPS if hours >= back)
    needed = max(minimum, math.ceil(hours * 3600 / MAX_POINTS))
    return math.ceil(needed / step) * step


def metric(
    env: str,
    key: str,
    *,
    dims: Mapping[str, str] = (),
    hours: int = 24,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    now: dt.datetime | None = None,
    console: Console,
) -> int:
    """A catalog metric over the last ``hours``: per period, or the series to choose from when dims are open."""
    try:
        spec = catalog.metric(key)
    except KeyError as error:
        raise OperateError(str(error.args[0])) from error
    given = _given_dimensions(spec, env, dims, hours)
    namespace = spec.namespace_for(env)
    prefix = aws_names.prefix(env, project)
    try:
        cloudwatch = _session(region).client("cloudwatch")
        if spec.ours and not cloudwatch.list_metrics(Namespace=namespace).get("Metrics"):
            raise OperateError(
                f"--env {env}: nothing was ever published to {namespace} in {cloudwatch.meta.region_name}: is the "
                f"environment deployed in this account and region? (--region selects another)"
            )
        if set(given) != set(spec.dimensions):  # open dimensions: list the series that exist
            return _print_series(cloudwatch, spec, given, namespace, prefix, console)
        end = now or dt.datetime.now(dt.UTC)
        period = metric_period(hours, spec.period_seconds)
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=spec.name,
            Dimensions=[{"Name": n, "Value": given[n]} for n in spec.dimensions],
            StartTime=end - dt.timedelta(hours=hours),
            EndTime=end,
            Period=period,
            Statistics=[spec.statistic],
        )["Datapoints"]
    except (BotoCoreError, ClientError) as error:
        raise _fail(error, env, "CloudWatch") from error
    return _print_points(points, spec, given, namespace, hours, period, console)
