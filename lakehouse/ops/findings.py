"""``lakehouse findings list|macie-job``: the detection services' findings (runbooks/security-finding.md).

``list`` reads Security Hub, where GuardDuty, Macie and AWS Config send their findings when the environment's
detection flags are on (docs/security/KEYS_AND_AUDIT.md), and says whether the region's GuardDuty detector
watches S3 data events. ``macie-job`` prints the Macie classification job over the silver and gold buckets
(CloudFormation has no resource for one) and, with ``--create``, creates it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from ..since import parse_since
from .guard import Confirm, Deployed, GuardError, aws_error

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL")
MACIE_LAYERS = ("silver", "gold")
"""The layers Macie classifies: where contracts say personal columns live after cleaning."""


def _findings(target: Deployed, severities: tuple[str, ...], since: dt.datetime) -> list[dict[str, Any]]:
    hub = target.client("securityhub")
    filters = {
        "SeverityLabel": [{"Value": s, "Comparison": "EQUALS"} for s in severities],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        "WorkflowStatus": [{"Value": s, "Comparison": "EQUALS"} for s in ("NEW", "NOTIFIED")],
    }
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Filters": filters, "MaxResults": 100}
    try:
        hub.describe_hub()  # not subscribed: InvalidAccessException (get_findings may answer nothing instead)
        while True:
            page = hub.get_findings(**kwargs)
            found += page.get("Findings", [])
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("InvalidAccessException", "ResourceNotFoundException"):
            raise GuardError(
                f"--env {target.env}: Security Hub is not enabled in {target.session.region_name} "
                "(detection.security_hub in cdk.json)"
            ) from error
        raise aws_error(error, target.env, "Security Hub GetFindings") from error
    except BotoCoreError as error:
        raise aws_error(error, target.env, "Security Hub GetFindings") from error
    cutoff = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return [  # filtered here too: the same answer whatever filters the endpoint honours
        f
        for f in found
        if f.get("Severity", {}).get("Label") in severities
        and f.get("RecordState", "ACTIVE") == "ACTIVE"
        and f.get("Workflow", {}).get("Status", "NEW") in ("NEW", "NOTIFIED")
        and str(f.get("UpdatedAt", "")) >= cutoff
    ]


def _guardduty(target: Deployed) -> str:
    """One line: the region's detector and whether it watches S3 data events."""
    guardduty = target.client("guardduty")
    try:
        detectors = guardduty.list_detectors().get("DetectorIds", [])
        if not detectors:
            return "GuardDuty: no detector in this region (detection.guardduty)"
        detector = guardduty.get_detector(DetectorId=detectors[0])
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, "GuardDuty GetDetector") from error
    s3 = [f for f in detector.get("Features", []) if f.get("Name") == "S3_DATA_EVENTS"]
    s3_state = s3[0].get("Status", "?") if s3 else detector.get("DataSources", {}).get("S3Logs", {}).get("Status", "?")
    return f"GuardDuty: detector {detectors[0]} {detector.get('Status', '?')}, S3 protection {s3_state}"


def _table(findings: list[dict[str, Any]], env: str) -> Table:
    table = Table(title=f"Security findings of {env}")
    for column in ("severity", "product", "title", "resource", "updated"):
        table.add_column(column, overflow="fold")
    for f in sorted(findings, key=lambda f: SEVERITIES.index(f.get("Severity", {}).get("Label", "LOW"))):
        resources = ", ".join(r.get("Id", "") for r in f.get("Resources", []))
        table.add_row(
            f.get("Severity", {}).get("Label", "?"),
            f.get("ProductName", f.get("ProductArn", "").rsplit("/", 1)[-1]),
            f.get("Title", ""),
            resources,
            str(f.get("UpdatedAt", ""))[:16],
        )
    return table


def list_findings(target: Deployed, *, severity: str, since: str, console: Console) -> int:
    """Active findings at ``severity`` or above since ``since``; 1 when there is one, else 0."""
    if severity not in SEVERITIES:
        raise GuardError(f"--severity {severity!r}: one of {', '.join(SEVERITIES)}")
    try:
        cutoff = parse_since(since)
    except ValueError as error:
        raise GuardError(str(error)) from error
    severities = SEVERITIES[: SEVERITIES.index(severity) + 1]
    findings = _findings(target, severities, cutoff)
    console.print(_guardduty(target))
    if not findings:
        console.print(f"no active finding of severity {severity} or above since {since}")
        return 0
    console.print(_table(findings, target.env))
    console.print(f"{len(findings)} active finding(s) of severity {severity} or above: triage each (runbook step 2)")
    return 1


def macie_job(target: Deployed, *, create: bool, confirm: Confirm, console: Console) -> int:
    """Print the classification job over silver and gold; with ``create``, create it (asked first)."""
    from .kms import _lake_buckets

    buckets = _lake_buckets(target)
    missing = [layer for layer in MACIE_LAYERS if layer not in buckets]
    if missing:
        raise GuardError(f"--env {target.env}: no deployment parameter naming the {', '.join(missing)} bucket(s)")
    job = {
        "name": f"{target.prefix}-personal-data",
        "description": "Weekly sampling of the silver and gold buckets for personal data (issue 18).",
        "jobType": "SCHEDULED",
        "scheduleFrequency": {"weeklySchedule": {"dayOfWeek": "MONDAY"}},
        "samplingPercentage": 10,
        "s3JobDefinition": {
            "bucketDefinitions": [{"accountId": target.account, "buckets": [buckets[layer] for layer in MACIE_LAYERS]}],
            "scoping": {"excludes": {"and": [{"simpleScopeTerm": _exclude_delta_log()}]}},
        },
    }
    console.print(json.dumps(job, indent=2))
    if not create:
        console.print("the Macie classification job of this environment (create it with --create)")
        return 0
    if not confirm(f"Create the Macie classification job {job['name']}?"):
        console.print("not created: nothing changed")
        return 1
    try:
        created = target.client("macie2").create_classification_job(clientToken=str(job["name"]), **job)
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, "Macie CreateClassificationJob") from error
    console.print(f"[bold green]created[/] Macie classification job {created.get('jobId', '?')}")
    return 0


def _exclude_delta_log() -> dict[str, Any]:
    """Skip the Delta logs (JSON commit metadata, no rows)."""
    return {"comparator": "CONTAINS", "key": "OBJECT_KEY", "values": ["_delta_log/"]}
