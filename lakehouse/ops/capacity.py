"""``lakehouse capacity``: the EMR Serverless application's maximum capacity, its use, and raising it
(runbooks/emr-capacity-exhausted.md).

The application is the Compute stack's (:func:`platform_model.aws_names.emr_application_name`). Its use is
the catalog's ``emr_application_cpu_allocated`` / ``emr_application_memory_allocated`` against
``emr_max_cpu_allowed`` / ``emr_max_memory_allowed`` (the figures the capacity alarms divide), and its active
job runs. AWS updates an application only while it is CREATED or STOPPED: ``--stop`` stops it first, and only
when no job run is active. A raise is bounded: never below the current maximum (lowering is a ``cdk.json``
change and a deploy), never above what ``cdk.json`` accepts (``emr.max_vcpu`` <= 4000, ``emr.max_memory_gb``
<= 24000). The next ``cdk deploy`` sets the maximum back to ``cdk.json``'s: raise it there too.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from job_assets.contracts import metrics as catalog
from platform_model import aws_names

from .guard import Confirm, Deployed, GuardError, aws_error

MAX_VCPU = 4000
"""The largest ``emr.max_vcpu`` cdk/config.py accepts."""
MAX_MEMORY_GB = 24000
"""The largest ``emr.max_memory_gb`` cdk/config.py accepts."""
ACTIVE_RUN_STATES = ("SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED", "CANCELLING")
_NUMBER = re.compile(r"^\s*(\d+)\s*([A-Za-z]*)\s*$")


@dataclass(frozen=True, kw_only=True)
class Application:
    """The application's id, state and maximum capacity (vCPU, GB of memory, GB of disk or None)."""

    id: str
    name: str
    state: str
    max_cpu: int
    max_memory: int
    max_disk: int | None


def _number(text: str | None) -> int | None:
    match = _NUMBER.match(text or "")
    return int(match.group(1)) if match else None


def application(target: Deployed) -> Application:
    """The environment's EMR Serverless application; a missing one is one line."""
    name = aws_names.emr_application_name(target.env, target.project)
    emr = target.client("emr-serverless")
    try:
        apps = [a for page in emr.get_paginator("list_applications").paginate() for a in page["applications"]]
        found = [a for a in apps if a["name"] == name and a["state"] != "TERMINATED"]
        if not found:
            raise GuardError(
                f"--env {target.env}: no EMR Serverless application {name} in {target.session.region_name}: "
                "is the environment deployed in this account and region? (--region and --project select another)"
            )
        app = emr.get_application(applicationId=found[0]["id"])["application"]
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, f"EMR Serverless application {name}") from error
    maximum = app.get("maximumCapacity", {})
    return Application(
        id=app["applicationId"],
        name=name,
        state=app["state"],
        max_cpu=_number(maximum.get("cpu")) or 0,
        max_memory=_number(maximum.get("memory")) or 0,
        max_disk=_number(maximum.get("disk")),
    )


def active_runs(target: Deployed, app: Application) -> list[dict[str, Any]]:
    """The application's job runs that hold or wait for capacity."""
    emr = target.client("emr-serverless")
    try:
        pages = emr.get_paginator("list_job_runs").paginate(applicationId=app.id, states=list(ACTIVE_RUN_STATES))
        return [run for page in pages for run in page["jobRuns"]]
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, f"ListJobRuns of {app.name}") from error


def allocated(target: Deployed, app: Application, key: str, minutes: int = 60) -> float | None:
    """The highest value of catalog metric ``key`` (application dimensions) over the last ``minutes``."""
    spec = catalog.metric(key)
    now = dt.datetime.now(dt.UTC)
    dims = {catalog.APPLICATION_ID: app.id, catalog.APPLICATION_NAME: app.name}
    try:
        points = target.client("cloudwatch").get_metric_statistics(
            Namespace=spec.namespace,
            MetricName=spec.name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            StartTime=now - dt.timedelta(minutes=minutes),
            EndTime=now,
            Period=spec.period_seconds,
            Statistics=[spec.statistic],
        )["Datapoints"]
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, f"GetMetricStatistics {spec.name}") from error
    return max((float(p[spec.statistic]) for p in points), default=None)


def _use(value: float | None, maximum: int) -> str:
    if value is None:
        return "no data in the last hour"
    return f"{value:g} ({100 * value / maximum:.0f}% of {maximum})" if maximum else f"{value:g}"


def status(target: Deployed, *, console: Console) -> Application:
    """Print the application's state, maximum capacity, use over the last hour and active runs."""
    app = application(target)
    runs = active_runs(target, app)
    table = Table(title=f"EMR Serverless application {app.name} ({app.id})")
    table.add_column("")
    table.add_column("maximum", justify="right")
    table.add_column("allocated, highest in the last hour", justify="right")
    table.add_row("vCPU", str(app.max_cpu), _use(allocated(target, app, "emr_application_cpu_allocated"), app.max_cpu))
    table.add_row(
        "memory (GB)",
        str(app.max_memory),
        _use(allocated(target, app, "emr_application_memory_allocated"), app.max_memory),
    )
    table.add_row("disk (GB)", str(app.max_disk or "-"), "")
    console.print(table)
    console.print(f"state {app.state}; {len(runs)} active job run(s)")
    for run in runs:
        console.print(f"  {run['id']} {run.get('name', '')} {run['state']}")
    return app


def _validated(app: Application, cpu: int | None, memory: int | None) -> tuple[int, int]:
    """The new (vCPU, GB) maximum: each given value a raise within cdk.json's bounds; unchanged otherwise."""
    if cpu is None and memory is None:
        raise GuardError("--max-cpu / --max-memory: give at least one to raise the maximum capacity")
    for flag, value, current, bound in (
        ("--max-cpu", cpu, app.max_cpu, MAX_VCPU),
        ("--max-memory", memory, app.max_memory, MAX_MEMORY_GB),
    ):
        if value is None:
            continue
        if value > bound:
            raise GuardError(f"{flag} {value}: above {bound}, the most cdk.json accepts; nothing changed")
        if value <= current:
            raise GuardError(
                f"{flag} {value}: not above the current maximum {current}: this command only raises it "
                "(lower it in cdk.json and deploy); nothing changed"
            )
    return (cpu if cpu is not None else app.max_cpu, memory if memory is not None else app.max_memory)


def _stop(target: Deployed, app: Application, sleep: Callable[[float], None], timeout_s: int = 600) -> None:
    """Stop the application (no job run active) and wait until it is STOPPED."""
    runs = active_runs(target, app)
    if runs:
        raise GuardError(
            f"--stop: {len(runs)} job run(s) of {app.name} are active ({runs[0]['id']} {runs[0]['state']}): "
            "stopping would fail them; wait for them to end (or cancel them) first; nothing changed"
        )
    emr = target.client("emr-serverless")
    try:
        emr.stop_application(applicationId=app.id)
        for _ in range(timeout_s // 5):
            if emr.get_application(applicationId=app.id)["application"]["state"] == "STOPPED":
                return
            sleep(5)
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, f"StopApplication {app.name}") from error
    raise GuardError(
        f"--stop: {app.name} was asked to stop but did not reach STOPPED within {timeout_s} s; capacity not "
        "raised (run the command again once it has stopped; the next job run starts it again)"
    )


def raise_capacity(
    target: Deployed,
    *,
    cpu: int | None,
    memory: int | None,
    stop: bool,
    confirm: Confirm,
    console: Console,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Raise the application's maximum vCPU and/or memory (stopping it first with ``stop``)."""
    app = status(target, console=console)
    new_cpu, new_memory = _validated(app, cpu, memory)
    if app.state not in ("CREATED", "STOPPED") and not stop:
        raise GuardError(
            f"--env {target.env}: {app.name} is {app.state}: AWS updates only a CREATED or STOPPED application; "
            "add --stop to stop it first (refused while a job run is active); nothing changed"
        )
    question = (
        f"Raise {app.name}'s maximum to {new_cpu} vCPU / {new_memory} GB (from {app.max_cpu} / {app.max_memory})?"
    )
    if not confirm(question):
        console.print("not raised: nothing changed")
        return 1
    if app.state not in ("CREATED", "STOPPED"):
        _stop(target, app, sleep)
    maximum = {"cpu": f"{new_cpu} vCPU", "memory": f"{new_memory} GB"}
    if app.max_disk:
        maximum["disk"] = f"{app.max_disk} GB"
    try:
        target.client("emr-serverless").update_application(applicationId=app.id, maximumCapacity=maximum)
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, f"UpdateApplication {app.name}") from error
    console.print(
        f"[bold green]raised[/] {app.name} to {new_cpu} vCPU / {new_memory} GB; it starts again with the next job "
        f"run. Set emr.max_vcpu={new_cpu} and emr.max_memory_gb={new_memory} for {target.env} in cdk.json too: "
        "the next deploy sets the maximum back to cdk.json's"
    )
    return 0
