"""``lakehouse pipeline describe|history|redrive``: one execution of the pipeline or maintenance state machine.

An execution is named by its name (the batch id ``lakehouse pipeline runs`` lists and the alert carries) or
its ARN; ``--latest-failed`` picks the newest execution that ended FAILED or TIMED_OUT. ``describe``
shows its status, error and cause; ``history`` the last events of its history (the failing state, a task
timeout); ``redrive`` restarts a failed execution from the state that failed (Step Functions
``RedriveExecution``): it keeps its name, so the jobs see the same batch id and their writes stay
idempotent. A redrive resumes after the execution's single-writer guard, so it is refused while a pipeline
or maintenance execution runs (:func:`lakehouse.locks.running_writer`); it changes state, so it asks first
(``--yes`` answers). The state machine names come
from :mod:`platform_model.aws_names`, as in :mod:`.operate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from platform_model import aws_names

from .common import OperateError, aws_client, confirmed, error_code, guarded, timestamp
from .operate import _machine_arn, _session

ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")
"""The statuses RedriveExecution accepts."""
FAILED = ("FAILED", "TIMED_OUT")
"""What ``--latest-failed`` looks for: the executions that alert (a stopped one was stopped by someone)."""
_DETAILS = ("stateEnteredEventDetails", "stateExitedEventDetails", "taskScheduledEventDetails")


@dataclass(frozen=True, kw_only=True)
class ExecutionRef:
    """Which execution: ``execution`` (a name or an ARN) of ``machine``, or the newest that ended badly."""

    env: str
    execution: str | None = None
    latest_failed: bool = False
    machine: str = "pipeline"
    project: str = aws_names.DEFAULT_PROJECT
    region: str | None = None


def _resolve(sfn: Any, ref: ExecutionRef) -> dict[str, Any]:
    """DescribeExecution of the execution ``ref`` names; one clear line when there is none."""
    if bool(ref.execution) == ref.latest_failed:
        raise OperateError("give an execution (its name or ARN) or --latest-failed, not both")
    machine_arn = _machine_arn(_session(ref.region), ref.env, ref.project, ref.machine)
    machine = machine_arn.rsplit(":", 1)[1]
    try:
        return _find(sfn, ref, machine_arn)
    except ClientError as error:
        if error_code(error) == "StateMachineDoesNotExist":
            raise OperateError(f"--env {ref.env}: no state machine {machine} in {sfn.meta.region_name}") from error
        if error_code(error) in {"ExecutionDoesNotExist", "InvalidArn"}:
            raise OperateError(f"--env {ref.env}: no execution {ref.execution} of {machine}") from error
        raise


def _find(sfn: Any, ref: ExecutionRef, machine_arn: str) -> dict[str, Any]:
    machine = machine_arn.rsplit(":", 1)[1]
    if ref.latest_failed:
        ended = [
            e
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn)
            for e in page["executions"]
            if e["status"] in FAILED
        ]
        if not ended:
            raise OperateError(f"--env {ref.env}: {machine} has no execution that ended {' or '.join(FAILED)}")
        arn = max(ended, key=lambda e: e["startDate"])["executionArn"]
    elif str(ref.execution).startswith("arn:"):
        arn = str(ref.execution)
    else:
        arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{ref.execution}"
    return sfn.describe_execution(executionArn=arn)


def describe_execution(ref: ExecutionRef) -> dict[str, Any]:
    """DescribeExecution of the execution ``ref`` names (an OperateError line when there is none)."""
    sfn = aws_client("stepfunctions", ref.env, ref.region)
    return guarded(ref.env, "DescribeExecution", lambda: _resolve(sfn, ref))


def describe(ref: ExecutionRef, *, console: Console) -> int:
    """Print the execution's status, times, error and cause, and how often it was redriven."""
    e = describe_execution(ref)
    table = Table(title=f"execution {e['name']}", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    rows = {
        "status": e["status"],
        "started (UTC)": timestamp(e.get("startDate")),
        "stopped (UTC)": timestamp(e.get("stopDate")),
        "error": e.get("error", ""),
        "cause": (e.get("cause") or "")[:600],
        "redrives": str(e.get("redriveCount", 0)),
        "input": (e.get("input") or "")[:300],
        "execution ARN": e["executionArn"],
    }
    for name, value in rows.items():
        table.add_row(name, escape(str(value)))
    console.print(table)
    if e["status"] in ENDED_BADLY:
        console.print(
            f"where it failed: `lakehouse pipeline history {e['name']} --env {ref.env}`; after the fix: "
            f"`lakehouse pipeline redrive {e['name']} --env {ref.env}`"
        )
    return 0


def _detail(event: dict[str, Any]) -> str:
    """The part of a history event an operator reads: the state's name, or the error and its cause."""
    for key, value in event.items():
        if not key.endswith("EventDetails") or not isinstance(value, dict):
            continue
        if "error" in value or "cause" in value:
            return f"{value.get('error', '')}: {value.get('cause', '')}"[:400]
        if key in _DETAILS and "name" in value:
            return str(value["name"])
        if "resource" in value:
            return f"{value.get('resourceType', '')} {value['resource']}"
    return ""


def history(ref: ExecutionRef, *, limit: int = 20, console: Console) -> int:
    """Print the execution's last ``limit`` history events, newest first."""
    if limit < 1:
        raise OperateError(f"--limit {limit}: give 1 or more")
    sfn = aws_client("stepfunctions", ref.env, ref.region)
    e = guarded(ref.env, "DescribeExecution", lambda: _resolve(sfn, ref))
    events = guarded(
        ref.env,
        "GetExecutionHistory",
        lambda: sfn.get_execution_history(executionArn=e["executionArn"], reverseOrder=True, maxResults=limit),
    )["events"]
    table = Table(title=f"execution {e['name']} ({e['status']}): last {len(events)} events, newest first")
    for column in ("id", "time (UTC)", "event", "state / error: cause"):
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(str(event["id"]), timestamp(event["timestamp"]), event["type"], escape(_detail(event)))
    console.print(table)
    return 0


def _refuse_while_a_writer_runs(ref: ExecutionRef) -> None:
    """A redrive resumes at the failed state, after the single-writer guard the execution passed when it
    started: so the check is made here, for both lake writers."""
    from ..locks import WriterMachineMissingError, running_writer

    try:
        running = guarded(ref.env, "ListExecutions", lambda: running_writer(_session(ref.region), ref.env, ref.project))
    except WriterMachineMissingError as error:
        raise OperateError(f"--env {ref.env}: no state machine {error.name}: is the environment deployed?") from error
    if running:
        raise OperateError(
            f"{running[0]} execution {running[1]} is running (one writer at a time): redrive once it has ended "
            f"(`lakehouse pipeline runs --env {ref.env}`); nothing changed"
        )


def redrive(ref: ExecutionRef, *, yes: bool = False, console: Console, confirm: Any = None) -> int:
    """Redrive a FAILED, TIMED_OUT or ABORTED execution from its failed state, after confirmation."""
    sfn = aws_client("stepfunctions", ref.env, ref.region)
    e = guarded(ref.env, "DescribeExecution", lambda: _resolve(sfn, ref))
    if e["status"] not in ENDED_BADLY:
        raise OperateError(
            f"execution {e['name']} is {e['status']}: only a {', '.join(ENDED_BADLY)} execution can be redriven"
        )
    _refuse_while_a_writer_runs(ref)
    question = f"Redrive execution {e['name']} ({e['status']}) from the state that failed?"
    hint = f"lakehouse pipeline redrive {e['name']} --env {ref.env}"
    if not confirmed(question, yes=yes, console=console, flag_hint=hint, confirm=confirm):
        console.print("redrive cancelled: nothing changed")
        return 1
    answer = guarded(ref.env, "RedriveExecution", lambda: sfn.redrive_execution(executionArn=e["executionArn"]))
    console.print(
        f"redriven execution {e['name']} at {timestamp(answer.get('redriveDate'))} UTC: same name, same batch id"
    )
    console.print(f"follow it with `lakehouse pipeline runs --env {ref.env}`")
    return 0
