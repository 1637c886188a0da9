"""``lakehouse landing rejected``: the landing objects the intake rejected, with their reasons
(runbooks/landing-rejected.md).

The landing intake Lambda records every landing object in the intake manifest (DynamoDB,
:func:`platform_model.aws_names.intake_manifest_table_name`) as ``accepted`` or ``rejected`` with a
``reason_code`` and a readable ``reason`` (``lambdas/landing_intake/classification.py``), and counts the
rejections in ``IntakeObjectsRejected`` (catalog ``intake_rejected``, whose alarm links the runbook). A
rejected object is never ingested: the fix is a new delivery under a valid key (docs/LANDING_CONTRACT.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from platform_model import aws_names

from .guard import Deployed, GuardError, aws_error


def since_time(text: str) -> dt.datetime:
    """``--since``: an age (``24h``, ``7d``) or an ISO-8601 time (:func:`lakehouse.since.parse_since`)."""
    from ..since import parse_since

    try:
        return parse_since(text)
    except ValueError as error:
        raise GuardError(str(error)) from None


def rejected_objects(target: Deployed, since: dt.datetime) -> list[dict[str, Any]]:
    """The manifest's rejected items recorded at or after ``since``, oldest first."""
    table = aws_names.intake_manifest_table_name(target.env, target.project)
    dynamodb = target.client("dynamodb")
    request = {
        "TableName": table,
        "FilterExpression": "#s = :rejected AND recorded_at >= :since",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {
            ":rejected": {"S": "rejected"},
            ":since": {"S": since.astimezone(dt.UTC).isoformat(timespec="milliseconds")},
        },
    }
    try:
        pages = dynamodb.get_paginator("scan").paginate(**request)
        items = [item for page in pages for item in page["Items"]]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise GuardError(
                f"--env {target.env}: no intake manifest table {table} in {target.session.region_name}: is the "
                "environment deployed in this account and region? (--region and --project select another)"
            ) from error
        raise aws_error(error, target.env, f"Scan {table}") from error
    except BotoCoreError as error:
        raise aws_error(error, target.env, f"Scan {table}") from error
    plain = [{k: next(iter(v.values())) for k, v in item.items()} for item in items]
    return sorted(plain, key=lambda i: str(i.get("recorded_at", "")))


def rejected(target: Deployed, *, since: str, console: Console) -> int:
    """List the rejected objects since ``since`` with their reasons, and the count per reason."""
    start = since_time(since)
    found = rejected_objects(target, start)
    if not found:
        console.print(f"no landing object rejected in {target.env} since {start:%Y-%m-%d %H:%M} UTC")
        return 0
    table = Table(title=f"landing objects rejected in {target.env} since {start:%Y-%m-%d %H:%M} UTC")
    for column in ("recorded (UTC)", "object", "reason code", "reason"):
        table.add_column(column, overflow="fold")
    for item in found:
        table.add_row(
            str(item.get("recorded_at", ""))[:19].replace("T", " "),
            str(item.get("object_key", "")),
            str(item.get("reason_code", "")),
            str(item.get("reason", "")),
        )
    console.print(table)
    counts = Counter(str(i.get("reason_code", "?")) for i in found)
    console.print(f"{len(found)} rejected: " + ", ".join(f"{code} {n}" for code, n in counts.most_common()))
    return 0
