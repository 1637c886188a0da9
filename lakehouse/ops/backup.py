"""``lakehouse backup status``: the environment's recent AWS Backup jobs (runbooks/backup-failed.md).

The vault is the Storage stack's (:func:`platform_model.aws_names.backup_vault_name`): its backup jobs
(continuous S3 backups, the ops state's snapshots), the copy jobs to the DR vault, and the restore jobs the
restore-testing plan starts (the automated backup verification). A failed one reaches the alert topic through
the Alerting stack's ``<prefix>-backup-job-failed`` EventBridge rule, whose message links the runbook.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from platform_model import aws_names

from .guard import Deployed, GuardError, aws_error, when
from .rejected import since_time

FAILED = ("FAILED", "ABORTED", "EXPIRED", "PARTIAL")


def _ours(target: Deployed, job: dict[str, Any]) -> bool:
    """A restore job of this environment: one its restore-testing plan started, or one that restored a
    resource named after it (``lakehouse-<env>-...``)."""
    plan = aws_names.restore_testing_plan_name(target.env, target.project)
    prefix = aws_names.prefix(target.env, target.project)
    arns = (job.get("ResourceArn", ""), job.get("CreatedResourceArn", ""), job.get("RecoveryPointArn", ""))
    return f":restore-testing-plan:{plan}" in job.get("RestoreTestingPlanArn", "") or any(prefix in a for a in arns)


def _jobs(target: Deployed, since: dt.datetime) -> list[dict[str, Any]]:
    """Backup jobs into the vault, copy jobs from it and restore jobs since ``since``: kind, id, resource,
    state, created, message."""
    vault = aws_names.backup_vault_name(target.env, target.project)
    backup = target.client("backup")
    rows = []
    calls = (
        ("backup", "list_backup_jobs", "BackupJobs", "BackupJobId", "State", {"ByBackupVaultName": vault}),
        ("copy", "list_copy_jobs", "CopyJobs", "CopyJobId", "State", {}),
        ("restore", "list_restore_jobs", "RestoreJobs", "RestoreJobId", "Status", {}),
    )
    for kind, operation, key, id_field, state_field, filters in calls:
        try:
            pages = backup.get_paginator(operation).paginate(ByCreatedAfter=since, **filters)
            jobs = [job for page in pages for job in page[key]]
        except (BotoCoreError, ClientError) as error:
            raise aws_error(error, target.env, f"{operation} of {vault}") from error
        if kind == "copy":  # ListCopyJobs filters by destination only: keep the copies out of this vault
            jobs = [j for j in jobs if j.get("SourceBackupVaultArn", "").endswith(f":{vault}")]
        if kind == "restore":  # the account's restores: keep this environment's (its plan's tests, its resources)
            jobs = [j for j in jobs if _ours(target, j)]
        rows += [
            {
                "kind": kind,
                "id": job[id_field],
                "resource": job.get("ResourceArn", job.get("CreatedResourceArn", "")),
                "state": job.get(state_field, ""),
                "created": when(job.get("CreationDate")),
                "message": job.get("StatusMessage", ""),
            }
            for job in jobs
        ]
    return sorted(rows, key=lambda r: r["created"])


def _vault_points(target: Deployed) -> int:
    vault = aws_names.backup_vault_name(target.env, target.project)
    try:
        return int(
            target.client("backup").describe_backup_vault(BackupVaultName=vault).get("NumberOfRecoveryPoints", 0)
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("ResourceNotFoundException", "AccessDeniedException"):
            raise GuardError(
                f"--env {target.env}: no backup vault {vault} in {target.session.region_name}: is the environment "
                "deployed in this account and region? (--region and --project select another)"
            ) from error
        raise aws_error(error, target.env, f"DescribeBackupVault {vault}") from error
    except BotoCoreError as error:
        raise aws_error(error, target.env, f"DescribeBackupVault {vault}") from error


def status(target: Deployed, *, since: str, console: Console) -> int:
    """The vault's recovery points and the jobs since ``since``; 1 when one of them failed."""
    start = since_time(since)
    points = _vault_points(target)
    jobs = _jobs(target, start)
    console.print(f"vault {aws_names.backup_vault_name(target.env, target.project)}: {points} recovery point(s)")
    table = Table(title=f"AWS Backup jobs of {target.env} since {start:%Y-%m-%d %H:%M} UTC")
    for column in ("kind", "job", "resource", "state", "created (UTC)", "message"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        state = f"[bold red]{job['state']}[/]" if job["state"] in FAILED else job["state"]
        table.add_row(job["kind"], job["id"], job["resource"], state, job["created"], job["message"])
    console.print(table if jobs else f"no backup, copy or restore job since {start:%Y-%m-%d %H:%M} UTC")
    failed = [j for j in jobs if j["state"] in FAILED]
    if failed:
        console.print(
            f"[bold red]{len(failed)} job(s) failed[/]: the newest, {failed[-1]['id']}: {failed[-1]['message']}"
        )
        return 1
    console.print("no failed job")
    return 0
