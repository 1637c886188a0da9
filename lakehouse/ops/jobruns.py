"""``lakehouse emr runs|cancel``: the job runs of an environment's EMR Serverless application.

The application is found by the name the stacks give it (:func:`platform_model.aws_names.emr_application_name`).
``runs`` prints the application (state, maximum capacity: what ``emr.max_vcpu``/``emr.max_memory_gb``
deployed) and its latest job runs, optionally of some states (``--state RUNNING``: a run left behind by a
timed-out execution). ``ListJobRuns`` answers at most 50 runs a page in an order AWS does not document (a listing
of several states comes grouped by state), so the newest runs are found by creation time: every page of the runs
created in the last day, then the last week, month and year, then all, until ``--limit`` runs are in hand.
``cancel`` cancels one run, after confirmation (``--yes``): a run that already ended is refused, nothing changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from platform_model import aws_names

from .common import OperateError, aws_client, confirmed, error_code, guarded, timestamp

STATES = ("SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "SUCCESS", "FAILED", "CANCELLING", "CANCELLED")
ENDED = ("SUCCESS", "FAILED", "CANCELLED")


def application(emr: Any, env: str, project: str = aws_names.DEFAULT_PROJECT) -> dict[str, Any]:
    """GetApplication of the environment's Spark application (an OperateError line when it is not deployed)."""
    name = aws_names.emr_application_name(env, project)

    def find() -> dict[str, Any]:
        for page in emr.get_paginator("list_applications").paginate():
            for app in page["applications"]:
                if app["name"] == name and app["state"] != "TERMINATED":
                    return emr.get_application(applicationId=app["id"])["application"]
        raise OperateError(
            f"--env {env}: no EMR Serverless application {name} in {emr.meta.region_name}: is the environment "
            "deployed in this account and region? (--region and --project select another)"
        )

    return guarded(env, "ListApplications", find)


def _application_line(app: dict[str, Any]) -> str:
    capacity = app.get("maximumCapacity") or {}
    limits = ", ".join(f"{k} {v}" for k, v in capacity.items()) or "no maximum"
    return f"application {app['name']} ({app['applicationId']}): {app['state']}; maximum capacity: {limits}"


WINDOWS_DAYS = (1, 7, 31, 365)
"""How far back :func:`latest_runs` looks, widening until it has enough runs (then without a bound)."""


def latest_runs(
    emr: Any, application_id: str, states: Sequence[str], limit: int, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The application's ``limit`` newest job runs (of ``states``, when given), newest first.

    No page is trusted to hold the newest runs: AWS does not document ListJobRuns' order. Every page of the runs
    created in the last day is read (``createdAtAfter``), then of the last week, month and year, then of all,
    until ``limit`` are in hand; they are sorted by creation time. A deployed pipeline's day is a few pages.
    ``now``: the end of the windows (the current time when not given).
    """
    now = now or dt.datetime.now(dt.UTC)
    request: dict[str, Any] = {"applicationId": application_id}
    if states:
        request["states"] = list(dict.fromkeys(states))
    found: list[dict[str, Any]] = []
    for days in (*WINDOWS_DAYS, None):
        window = {**request, "createdAtAfter": now - dt.timedelta(days=days)} if days else request
        found = [run for page in emr.get_paginator("list_job_runs").paginate(**window) for run in page["jobRuns"]]
        if len(found) >= limit:
            break
    return sorted(found, key=lambda r: r["createdAt"], reverse=True)[:limit]


def runs(
    env: str,
    *,
    states: Sequence[str] = (),
    limit: int = 20,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    console: Console,
) -> int:
    """Print the application and its latest job runs (of ``states``, when given), newest first."""
    unknown = sorted(set(states) - set(STATES))
    if unknown:
        raise OperateError(f"--state {', '.join(unknown)}: not a job run state; one of {', '.join(STATES)}")
    if limit < 1:
        raise OperateError(f"--limit {limit}: give 1 or more")
    emr = aws_client("emr-serverless", env, region)
    app = application(emr, env, project)
    found = guarded(env, "ListJobRuns", lambda: latest_runs(emr, app["applicationId"], states, limit))
    console.print(_application_line(app))
    if not found:
        console.print(f"no job runs{' in state ' + ', '.join(states) if states else ''}")
        return 0
    table = Table(title=f"{len(found)} job run(s), newest first")
    for column in ("job run id", "name", "state", "created (UTC)", "updated (UTC)", "details"):
        table.add_column(column, overflow="fold")
    for r in found:
        table.add_row(
            r["id"],
            r.get("name", ""),
            r["state"],
            timestamp(r["createdAt"]),
            timestamp(r.get("updatedAt")),
            (r.get("stateDetails") or "")[:200],
        )
    console.print(table)
    return 0


def cancel(
    env: str,
    run_id: str,
    *,
    yes: bool = False,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    console: Console,
    confirm: Any = None,
) -> int:
    """Cancel a job run that has not ended, after confirmation."""
    emr = aws_client("emr-serverless", env, region)
    app = application(emr, env, project)

    def get() -> dict[str, Any]:
        try:
            return emr.get_job_run(applicationId=app["applicationId"], jobRunId=run_id)["jobRun"]
        except ClientError as error:
            if error_code(error) in {"ResourceNotFoundException", "ValidationException"}:
                raise OperateError(f"--env {env}: no job run {run_id} in application {app['name']}") from error
            raise

    run = guarded(env, "GetJobRun", get)
    if run["state"] in ENDED:
        raise OperateError(f"job run {run_id} already ended {run['state']}: nothing to cancel")
    question = f"Cancel job run {run_id} ({run.get('name', '')}, {run['state']}) of {app['name']}?"
    hint = f"lakehouse emr cancel {run_id} --env {env}"
    if not confirmed(question, yes=yes, console=console, flag_hint=hint, confirm=confirm):
        console.print("cancel declined: the job run goes on")
        return 1
    guarded(env, "CancelJobRun", lambda: emr.cancel_job_run(applicationId=app["applicationId"], jobRunId=run_id))
    console.print(f"cancelled job run {run_id} ({run.get('name', '')}) of {app['name']}")
    console.print(f"check: `lakehouse emr runs --env {env} --state RUNNING`")
    return 0
