"""``lakehouse events rules|failed``: the environment's EventBridge rules and the events that failed them.

``rules`` lists every rule named ``<prefix>-*`` (what the stacks create: the failure notifier's
``-job-run-failed`` and ``-execution-failed``, the landing intake's, the schedules...) with its state, its
event pattern or schedule, and its targets: what an unrecognised event is compared with. ``failed`` shows
the events waiting in the ops failed-events queue (:func:`platform_model.aws_names.failed_events_queue_name`,
the dead-letter queue of EventBridge deliveries and asynchronous invocations) with the error each carries;
it peeks (visibility timeout 0), so they stay for a later replay.

Why no re-invoke command: replaying an event means ``lambda invoke`` of the function with the event, which the
tests cannot run (moto runs Lambda functions in Docker); and the events that reach this queue come from
EventBridge rules and schedules that deliver again on their own (the freshness monitor, replica verifier and
cost reporter act on the next event; landing objects are redelivered through the intake queue and
``lakehouse dlq redrive``). So the command shows what failed and why; the fix is the runbook's.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from platform_model import aws_names

from .common import OperateError, aws_client, error_code, guarded

_ATTRIBUTES = ("ERROR_CODE", "ERROR_MESSAGE", "RULE_ARN", "TARGET_ARN", "ErrorCode", "ErrorMessage", "RequestID")


def _not_deployed(env: str, what: str, region: str) -> OperateError:
    return OperateError(
        f"--env {env}: no {what} in {region}: is the environment deployed in this account and region? "
        "(--region and --project select another)"
    )


def rules(env: str, *, project: str = aws_names.DEFAULT_PROJECT, region: str | None = None, console: Console) -> int:
    """Print the environment's rules: name, state, pattern or schedule, targets."""
    prefix = f"{aws_names.prefix(env, project)}-"
    events = aws_client("events", env, region)

    def read() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        found = [r for page in events.get_paginator("list_rules").paginate(NamePrefix=prefix) for r in page["Rules"]]
        return [(r, events.list_targets_by_rule(Rule=r["Name"])["Targets"]) for r in found]

    found = guarded(env, "ListRules", read)
    if not found:
        raise _not_deployed(env, f"EventBridge rules named {prefix}*", events.meta.region_name)
    table = Table(title=f"EventBridge rules {prefix}* ({len(found)})")
    for column in ("rule", "state", "event pattern / schedule", "targets"):
        table.add_column(column, overflow="fold")
    for rule, targets in sorted(found, key=lambda f: f[0]["Name"]):
        pattern = rule.get("ScheduleExpression") or json.dumps(json.loads(rule.get("EventPattern") or "{}"))
        names = ", ".join(t["Arn"].rsplit(":", 1)[-1] for t in targets) or "(none)"
        table.add_row(rule["Name"], rule.get("State", ""), escape(pattern), names)
    console.print(table)
    return 0


def _peek(sqs: Any, env: str, name: str) -> tuple[int, list[dict[str, Any]]]:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as error:
        if error_code(error) in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            raise _not_deployed(env, f"queue {name}", sqs.meta.region_name) from error
        raise
    depth = int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return depth, messages


def failed(env: str, *, project: str = aws_names.DEFAULT_PROJECT, region: str | None = None, console: Console) -> int:
    """Print how many events wait in the failed-events queue and up to 10 of them with their errors."""
    name = aws_names.failed_events_queue_name(env, project)
    sqs = aws_client("sqs", env, region)
    depth, messages = guarded(env, f"the queue {name}", lambda: _peek(sqs, env, name))
    if not messages:
        console.print(f"{name}: empty ({depth} waiting): no failed event to look at")
        return 0
    table = Table(title=f"{name}: ~{depth} failed event(s), {len(messages)} shown (they stay in the queue)")
    table.add_column("error", overflow="fold")
    table.add_column("event", overflow="fold")
    for m in messages:
        attributes = m.get("MessageAttributes", {})
        error = "; ".join(f"{k}={attributes[k].get('StringValue', '')}" for k in _ATTRIBUTES if k in attributes)
        table.add_row(escape(error or "(no error attributes)"), escape(m["Body"][:500]))
    console.print(table)
    return 0
