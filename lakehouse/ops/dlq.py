"""`lakehouse dlq`: the landing intake's dead-letter queue: how deep it is, and moving its messages back.

Messages land in the DLQ after failing ``maxReceiveCount`` deliveries to the landing intake Lambda (a
malformed event, or a transient error that outlasted the retries). Once the cause is fixed, ``redrive``
starts an SQS message move task (``StartMessageMoveTask``) from the DLQ back to the intake queue; the
intake is idempotent (one manifest item per object, no second pipeline start), so moving a message that
was already handled is harmless. Queue names come from :mod:`platform_model.aws_names`, the same functions
the CDK stacks name the queues with.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from rich.console import Console
from rich.table import Table

from platform_model import aws_names

MAX_RATE = 500
"""StartMessageMoveTask's upper limit for MaxNumberOfMessagesPerSecond."""
_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


class DlqError(Exception):
    """Something the operator must fix (wrong env, missing queue, no credentials): one clear line."""


@dataclass(frozen=True, kw_only=True)
class QueueState:
    """One SQS queue of the landing intake (the intake or its dead-letter queue): depth, in flight, delayed,
    and its redrive policy.
    """

    role: str
    name: str
    url: str
    arn: str
    visible: int
    """ApproximateNumberOfMessages: waiting to be received (what the DLQ depth alarm watches)."""
    in_flight: int
    """ApproximateNumberOfMessagesNotVisible: received, not yet deleted."""
    delayed: int
    redrive_policy: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class MoveTask:
    """An SQS message move task (a DLQ redrive): status, queues, messages moved and to move, rate, start, failure."""

    status: str
    handle: str
    source_arn: str
    destination_arn: str
    moved: int
    to_move: int | None
    rate: int | None
    started: dt.datetime | None
    failure: str


@dataclass(frozen=True, kw_only=True)
class IntakeQueues:
    """An environment's landing intake queue and its dead-letter queue, as ``lakehouse dlq status`` shows them."""

    env: str
    region: str
    intake: QueueState
    dlq: QueueState

    @property
    def max_receive_count(self) -> int | None:
        value = self.intake.redrive_policy.get("maxReceiveCount")
        return int(value) if value is not None else None


def sqs_client(region: str | None) -> Any:
    """An SQS client for ``region`` (default: the AWS configuration's region)."""
    return boto3.session.Session(region_name=region).client("sqs")


def _connect(env: str, project: str, region: str | None) -> Any:
    try:
        return sqs_client(region)
    except BotoCoreError as error:  # no region, an unknown AWS_PROFILE, a broken config file
        raise _aws_error(error, env, f"the intake queue {aws_names.intake_queue_name(env, project)}") from None


def _aws_error(error: Exception, env: str, what: str) -> DlqError:
    if isinstance(error, NoCredentialsError):
        return DlqError(f"--env {env}: no AWS credentials to read {what} (set AWS_PROFILE or the AWS_* variables)")
    if isinstance(error, NoRegionError):
        return DlqError(f"--env {env}: no AWS region for {what}: pass --region or set AWS_REGION")
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return DlqError(f"--env {env}: {what}: {info.get('Code', 'error')}: {info.get('Message', str(error))}")
    return DlqError(f"--env {env}: {what}: {error}")


def _queue_state(sqs: Any, env: str, role: str, name: str) -> QueueState:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "QueueArn",
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
                "RedrivePolicy",
            ],
        )["Attributes"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _MISSING_QUEUE:
            raise DlqError(
                f"--env {env}: the {role} queue {name} does not exist in {sqs.meta.region_name} "
                f"(is the environment deployed there? --region and --project select another)"
            ) from None
        raise _aws_error(error, env, f"the {role} queue {name}") from None
    except BotoCoreError as error:
        raise _aws_error(error, env, f"the {role} queue {name}") from None
    policy = attributes.get("RedrivePolicy")
    return QueueState(
        role=role,
        name=name,
        url=url,
        arn=attributes["QueueArn"],
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        redrive_policy=json.loads(policy) if policy else {},
    )


def intake_queues(sqs: Any, env: str, project: str = aws_names.DEFAULT_PROJECT) -> IntakeQueues:
    """Both queues' depths; a DlqError when either is missing or the intake queue dead-letters elsewhere."""
    try:
        region = sqs.meta.region_name
    except AttributeError:  # pragma: no cover - any boto3 client has it
        region = "?"
    if not region:
        raise DlqError(f"--env {env}: no AWS region: pass --region or set AWS_REGION")
    intake = _queue_state(sqs, env, "intake", aws_names.intake_queue_name(env, project))
    dlq = _queue_state(sqs, env, "dead-letter", aws_names.intake_dlq_name(env, project))
    target = intake.redrive_policy.get("deadLetterTargetArn")
    if target != dlq.arn:
        raise DlqError(
            f"--env {env}: the intake queue {intake.name} dead-letters to {target or 'nothing'}, not {dlq.arn}"
        )
    return IntakeQueues(env=env, region=region, intake=intake, dlq=dlq)


def move_tasks(sqs: Any, env: str, dlq: QueueState) -> list[MoveTask]:
    """The DLQ's message move tasks (SQS keeps the most recent ones), newest first."""
    try:
        results = sqs.list_message_move_tasks(SourceArn=dlq.arn, MaxResults=10).get("Results", [])
    except (ClientError, BotoCoreError) as error:
        raise _aws_error(error, env, f"the message move tasks of {dlq.name}") from None
    tasks = []

    def optional_int(result: dict[str, Any], name: str) -> int | None:
        return int(result[name]) if result.get(name) is not None else None

    for r in results:
        started = r.get("StartedTimestamp")
        tasks.append(
            MoveTask(
                status=str(r.get("Status", "?")),
                handle=str(r.get("TaskHandle", "")),
                source_arn=str(r.get("SourceArn", "")),
                destination_arn=str(r.get("DestinationArn", "")),
                moved=int(r.get("ApproximateNumberOfMessagesMoved", 0)),
                to_move=int(r["ApproximateNumberOfMessagesToMove"])
                if "ApproximateNumberOfMessagesToMove" in r
                else None,
                rate=int(r["MaxNumberOfMessagesPerSecond"]) if "MaxNumberOfMessagesPerSecond" in r else None,
                started=dt.datetime.fromtimestamp(started / 1000, dt.UTC) if started is not None else None,
                failure=str(r.get("FailureReason", "")),
            )
        )
    return tasks


def _queue_table(queues: IntakeQueues) -> Table:
    table = Table(title=f"landing intake queues: env {queues.env}, {queues.region}", title_justify="left")
    table.add_column("queue")
    table.add_column("role")
    table.add_column("waiting", justify="right")
    table.add_column("in flight", justify="right")
    table.add_column("delayed", justify="right")
    for q in (queues.intake, queues.dlq):
        waiting = f"[bold red]{q.visible}[/]" if q.role == "dead-letter" and q.visible else str(q.visible)
        table.add_row(q.name, q.role, waiting, str(q.in_flight), str(q.delayed))
    return table


def _tasks_table(tasks: list[MoveTask], queues: IntakeQueues) -> Table:
    names = {queues.intake.arn: queues.intake.name, queues.dlq.arn: queues.dlq.name}
    table = Table(title=f"message move tasks from {queues.dlq.name}", title_justify="left")
    for column in ("status", "started (UTC)", "moved", "to move", "rate/s", "destination", "task handle / failure"):
        table.add_column(column)
    for t in tasks:
        table.add_row(
            t.status,
            t.started.strftime("%Y-%m-%d %H:%M:%S") if t.started else "",
            str(t.moved),
            "" if t.to_move is None else str(t.to_move),
            "" if t.rate is None else str(t.rate),
            names.get(t.destination_arn, t.destination_arn or "(its source queues)"),
            t.failure or t.handle,
        )
    return table


def status(
    env: str,
    *,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    console: Console,
    sqs: Any = None,
) -> int:
    """Print the intake queue's and the DLQ's depths and the DLQ's message move tasks."""
    sqs = sqs or _connect(env, project, region)
    queues = intake_queues(sqs, env, project)
    tasks = move_tasks(sqs, env, queues.dlq)
    console.print(_queue_table(queues))
    console.print(
        f"maxReceiveCount {queues.max_receive_count}: a message that fails that many deliveries moves to "
        f"{queues.dlq.name}"
    )
    if tasks:
        console.print(_tasks_table(tasks, queues))
    else:
        console.print(f"no message move tasks from {queues.dlq.name}")
    if queues.dlq.visible:
        console.print(
            f"[bold]{queues.dlq.visible} message(s) wait in {queues.dlq.name}[/]: fix the cause (runbook "
            f"intake-dlq-not-empty.md), then `lakehouse dlq redrive --env {env}`"
        )
    return 0


def redrive(
    env: str,
    *,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    rate: int | None = None,
    yes: bool = False,
    console: Console,
    sqs: Any = None,
    confirm: Callable[[str], bool] | None = None,
) -> int:
    """Move the DLQ's messages back to the intake queue with a message move task (after confirmation)."""
    if rate is not None and not 1 <= rate <= MAX_RATE:
        raise DlqError(f"--rate {rate}: must be between 1 and {MAX_RATE} messages per second")
    sqs = sqs or _connect(env, project, region)
    queues = intake_queues(sqs, env, project)
    dlq, intake = queues.dlq, queues.intake
    if dlq.visible == 0:
        extra = f" ({dlq.in_flight} in flight: received by someone right now)" if dlq.in_flight else ""
        console.print(f"{dlq.name} is empty{extra}: nothing to redrive")
        return 0
    running = [t for t in move_tasks(sqs, env, dlq) if t.status == "RUNNING"]
    if running:
        raise DlqError(
            f"--env {env}: a message move task from {dlq.name} is already running ({running[0].handle}); "
            f"follow it with `lakehouse dlq status --env {env}`"
        )
    question = f"Move ~{dlq.visible} message(s) from {dlq.name} back to {intake.name}?"
    if not yes:
        if confirm is None:
            if not sys.stdin.isatty():
                raise DlqError(f"--env {env}: redrive of {dlq.name} needs --yes when not run from a terminal")
            from rich.prompt import Confirm

            confirm = lambda text: Confirm.ask(text, console=console, default=False)  # noqa: E731
        if not confirm(question):
            console.print("redrive cancelled: nothing moved")
            return 1
    request: dict[str, Any] = {"SourceArn": dlq.arn, "DestinationArn": intake.arn}
    if rate is not None:
        request["MaxNumberOfMessagesPerSecond"] = rate
    try:
        handle = sqs.start_message_move_task(**request)["TaskHandle"]
    except (ClientError, BotoCoreError) as error:
        raise _aws_error(error, env, f"moving messages from {dlq.name} to {intake.name}") from None
    console.print(
        f"[bold green]redrive started[/]: ~{dlq.visible} message(s) from {dlq.name} to {intake.name}"
        f"{f' at {rate}/s' if rate else ''}"
    )
    console.print(f"task handle: {handle}")
    console.print(f"follow it with `lakehouse dlq status --env {env}`")
    return 0
