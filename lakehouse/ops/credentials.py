"""``lakehouse credentials status``: what can be rotated and how old it is (runbooks/credential-rotation.md).

What the platform has, honestly: its stacks create IAM *roles* only (the jobs, the state machines, the
Lambdas, replication, backup), whose credentials are temporary and rotated by AWS; no IAM user, access key or
stored secret. What does age: the KMS keys (yearly automatic rotation, on in every stack), IAM users'
access keys created outside the stacks (for example a source system's landing writer), and the alert
e-mail subscriptions (a pending one receives nothing). This command reports the three.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from . import kms
from .guard import Deployed, aws_error, when


def access_keys(target: Deployed, now: dt.datetime) -> list[dict[str, Any]]:
    """Every IAM user's access keys in the account: user, id, status, age in days, last use."""
    iam = target.client("iam")
    found = []
    try:
        users = [u for page in iam.get_paginator("list_users").paginate() for u in page["Users"]]
        for user in users:
            for key in iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]:
                used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"]).get("AccessKeyLastUsed", {})
                found.append(
                    {
                        "user": user["UserName"],
                        "id": key["AccessKeyId"],
                        "status": key["Status"],
                        "age_days": (now - key["CreateDate"].astimezone(dt.UTC)).days,
                        "last_used": when(used.get("LastUsedDate")) or "never",
                    }
                )
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, "listing IAM access keys") from error
    return found


def subscriptions(target: Deployed) -> list[tuple[str, str]]:
    """The alert topic's subscriptions: (endpoint, confirmed or pending)."""
    try:
        subs = target.client("sns").list_subscriptions_by_topic(TopicArn=target.alert_topic_arn)["Subscriptions"]
    except ClientError:
        return []  # no alert topic here: kms.keys() already named the environment's absence
    except BotoCoreError as error:
        raise aws_error(error, target.env, "ListSubscriptionsByTopic") from error
    return [(s["Endpoint"], "pending" if s["SubscriptionArn"] == "PendingConfirmation" else "confirmed") for s in subs]


def _keys_table(found: list[kms.KeyStatus]) -> Table:
    table = Table(title="KMS keys: automatic rotation (yearly)")
    for column in ("key", "state", "rotation", "last rotation"):
        table.add_column(column)
    for k in found:
        rotation = {True: "on", False: "[bold red]off[/]", None: "?"}[k.rotation]
        table.add_row(k.alias, k.state, rotation, k.last_rotation or "none yet")
    return table


def _access_table(found: list[dict[str, Any]], max_age_days: int) -> Table:
    table = Table(title=f"IAM access keys in the account (rotate after {max_age_days} days)")
    for column in ("user", "access key", "status", "age (days)", "last used"):
        table.add_column(column)
    for k in found:
        age = str(k["age_days"]) if k["age_days"] <= max_age_days else f"[bold red]{k['age_days']}[/]"
        table.add_row(k["user"], k["id"], k["status"], age, k["last_used"])
    return table


def status(target: Deployed, *, max_age_days: int, dr_region: str | None = None, console: Console) -> int:
    """Key rotation, access key ages and alert subscriptions; 1 when a rotation is off or an active access
    key is older than ``max_age_days``."""
    found = [k for k in kms.keys(target, dr_region) if k.state != "NotFound"]
    console.print(_keys_table(found))
    keys = access_keys(target, dt.datetime.now(dt.UTC))
    if keys:
        console.print(_access_table(keys, max_age_days))
    else:
        console.print("no IAM user has an access key: every principal of the platform is a role")
    for endpoint, state in subscriptions(target):
        console.print(f"alert subscription {endpoint}: {state}")
    stale = [k for k in keys if k["status"] == "Active" and k["age_days"] > max_age_days]
    off = [k for k in found if k.rotation is False]
    for k in off:
        console.print(f"[bold red]{k.alias}[/]: automatic rotation is off")
    for k in stale:
        console.print(f"[bold red]{k['id']}[/] of {k['user']}: active and {k['age_days']} days old")
    if not (off or stale):
        console.print("nothing to rotate now")
    return 1 if off or stale else 0
