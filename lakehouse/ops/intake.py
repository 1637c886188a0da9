"""``lakehouse intake manifest``: what the landing intake recorded of the newest landing objects.

The intake writes one item per landing object version to the manifest table
(:func:`platform_model.aws_names.intake_manifest_table_name`): ``accepted`` (it waits for, or went into, a
pipeline run) or ``rejected`` with a reason code (an object that can never be ingested: bad key, empty
file...). The table is keyed by object, not by time, so this scans it (a cost proportional to the table,
fine for an incident; ``--status rejected`` filters on the server) and prints the ``limit`` newest items.
The pending marker (the item ``#pipeline-pending``) is shown as a line: accepted objects wait for a run. It has
no status, so it is read on its own (a consistent ``GetItem``, as the intake reads it), whatever ``--status``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from platform_model import aws_names

from .common import OperateError, aws_client, error_code, guarded

PENDING_KEY = "#pipeline-pending"
"""The pending marker's ``object_key`` (lambdas/landing_intake/aws_repositories.py)."""
PENDING_VERSION = "-"
"""The pending marker's ``object_version``."""
STATUSES = ("accepted", "rejected")
_COLUMNS = ("recorded_at", "status", "object_key", "reason_code", "reason", "size")


def _plain(item: dict[str, Any]) -> dict[str, str]:
    return {name: str(next(iter(value.values()))) for name, value in item.items()}


def _scan(dynamodb: Any, env: str, table: str, status: str | None) -> tuple[list[dict[str, str]], dict[str, str]]:
    """(the recorded objects, of ``status`` when given; the pending marker, empty when not set)."""
    request: dict[str, Any] = {"TableName": table}
    if status:
        request |= {
            "FilterExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": status}},
        }
    marker_key = {"object_key": {"S": PENDING_KEY}, "object_version": {"S": PENDING_VERSION}}
    try:
        marker = dynamodb.get_item(TableName=table, Key=marker_key, ConsistentRead=True).get("Item")
        pages = dynamodb.get_paginator("scan").paginate(**request)
        items = [_plain(item) for page in pages for item in page["Items"]]
        return [i for i in items if i.get("object_key") != PENDING_KEY], _plain(marker or {})
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise OperateError(
                f"--env {env}: no intake manifest table {table} in {dynamodb.meta.region_name}: is the environment "
                "deployed in this account and region? (--region and --project select another)"
            ) from error
        raise


def manifest(
    env: str,
    *,
    limit: int = 20,
    status: str | None = None,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    console: Console,
) -> int:
    """Print the ``limit`` newest manifest items (of ``status``), and whether objects wait for a run."""
    if limit < 1:
        raise OperateError(f"--limit {limit}: give 1 or more")
    if status is not None and status not in STATUSES:
        raise OperateError(f"--status {status!r}: one of {', '.join(STATUSES)}")
    table_name = aws_names.intake_manifest_table_name(env, project)
    dynamodb = aws_client("dynamodb", env, region)
    items, pending = guarded(env, f"Scan of {table_name}", lambda: _scan(dynamodb, env, table_name, status))
    objects = sorted(items, key=lambda i: i.get("recorded_at", ""))
    if pending:
        console.print(f"pending marker set since {pending.get('since', '?')}: accepted objects wait for a run")
    else:
        console.print("no pending marker: no accepted object waits for a pipeline run")
    if not objects:
        console.print(f"{table_name}: no {status or 'recorded'} objects")
        return 0
    counts = {s: sum(1 for i in objects if i.get("status") == s) for s in STATUSES}
    shown = objects[-limit:][::-1]
    table = Table(title=f"{table_name}: newest {len(shown)} of {len(objects)} ({counts})")
    for column in _COLUMNS:
        table.add_column(column, overflow="fold")
    for item in shown:
        table.add_row(*(escape(item.get(c, "")) for c in _COLUMNS))
    console.print(table)
    return 0
