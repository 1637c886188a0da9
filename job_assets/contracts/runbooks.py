"""Incident -> runbook file (under ``runbooks/``). Dependency-free: the CDK stacks (alarm texts) and the
Lambdas (alert messages) import it from here.

Every alert the platform sends (alarm descriptions, the failure notifier's messages) ends with the URL of
the runbook to follow: ``<RUNBOOK_BASE_URL>/<file>``. The runbook files are written from this mapping, so
the incident keys and the file names below are a stable interface: rename one only together with its file.

* ``emr_job_failed`` -> ``emr-job-failed.md``: an EMR Serverless job run ended FAILED (failure notifier)
* ``emr_job_cancelled`` -> ``emr-job-cancelled.md``: a job run ended CANCELLED, cancelled or timed out
  (failure notifier)
* ``pipeline_execution_failed`` -> ``pipeline-execution-failed.md``: a pipeline or maintenance execution
  FAILED (failure notifier)
* ``pipeline_execution_timed_out`` -> ``pipeline-execution-timed-out.md``: an execution TIMED_OUT
  (failure notifier)
* ``unrecognised_event`` -> ``unrecognised-event.md``: the failure notifier got an event it cannot read
  (an EventBridge rule or event schema changed); the alert carries the raw event
* ``freshness_breach`` -> ``freshness-breach.md``: a table is older than its contract's freshness SLO
* ``replica_inconsistent`` -> ``replica-inconsistent.md``: a DR replica is behind or misses files
* ``intake_dlq_not_empty`` -> ``intake-dlq-not-empty.md``: landing events reached the intake dead-letter queue
* ``lambda_errors`` -> ``lambda-errors.md``: an operational Lambda's Errors alarm
* ``job_cost`` -> ``job-cost.md``: cost alarms on ``JobCostUSD`` / ``CostPerMillionRecords``
* ``dq_score_low`` -> ``dq-score-low.md``: a table's ``DQScore`` fell below the threshold
* ``pipeline_unhealthy`` -> ``pipeline-unhealthy.md``: the composite of the pipeline's health alarms
* ``kms_key_disabled`` -> ``kms-key-disabled.md``: a key of the environment was disabled or scheduled for
  deletion (EventBridge rule on the CloudTrail events)
* ``budget_exceeded`` -> ``budget-exceeded.md``: the monthly budget's notifications (its name carries the file)
* ``emr_capacity_exhausted`` -> ``emr-capacity-exhausted.md``: the EMR application near its maximum capacity
* ``landing_rejected`` -> ``landing-rejected.md``: the landing intake rejected objects
* ``backup_failed`` -> ``backup-failed.md``: an AWS Backup backup, copy or restore job failed (EventBridge rule)
* ``security_finding`` -> ``security-finding.md``: a high-severity GuardDuty, Security Hub, AWS Config or Macie
  finding (EventBridge rules of the detection services)
"""

from __future__ import annotations

EMR_JOB_FAILED = "emr_job_failed"
EMR_JOB_CANCELLED = "emr_job_cancelled"
PIPELINE_EXECUTION_FAILED = "pipeline_execution_failed"
PIPELINE_EXECUTION_TIMED_OUT = "pipeline_execution_timed_out"
UNRECOGNISED_EVENT = "unrecognised_event"
FRESHNESS_BREACH = "freshness_breach"
REPLICA_INCONSISTENT = "replica_inconsistent"
INTAKE_DLQ_NOT_EMPTY = "intake_dlq_not_empty"
LAMBDA_ERRORS = "lambda_errors"
JOB_COST = "job_cost"
DQ_SCORE_LOW = "dq_score_low"
PIPELINE_UNHEALTHY = "pipeline_unhealthy"
KMS_KEY_DISABLED = "kms_key_disabled"
BUDGET_EXCEEDED = "budget_exceeded"
EMR_CAPACITY_EXHAUSTED = "emr_capacity_exhausted"
LANDING_REJECTED = "landing_rejected"
BACKUP_FAILED = "backup_failed"
SECURITY_FINDING = "security_finding"

RUNBOOKS: dict[str, str] = {
    EMR_JOB_FAILED: "emr-job-failed.md",
    EMR_JOB_CANCELLED: "emr-job-cancelled.md",
    PIPELINE_EXECUTION_FAILED: "pipeline-execution-failed.md",
    PIPELINE_EXECUTION_TIMED_OUT: "pipeline-execution-timed-out.md",
    UNRECOGNISED_EVENT: "unrecognised-event.md",
    FRESHNESS_BREACH: "freshness-breach.md",
    REPLICA_INCONSISTENT: "replica-inconsistent.md",
    INTAKE_DLQ_NOT_EMPTY: "intake-dlq-not-empty.md",
    LAMBDA_ERRORS: "lambda-errors.md",
    JOB_COST: "job-cost.md",
    DQ_SCORE_LOW: "dq-score-low.md",
    PIPELINE_UNHEALTHY: "pipeline-unhealthy.md",
    KMS_KEY_DISABLED: "kms-key-disabled.md",
    BUDGET_EXCEEDED: "budget-exceeded.md",
    EMR_CAPACITY_EXHAUSTED: "emr-capacity-exhausted.md",
    LANDING_REJECTED: "landing-rejected.md",
    BACKUP_FAILED: "backup-failed.md",
    SECURITY_FINDING: "security-finding.md",
}

PROCEDURES: tuple[str, ...] = (
    "promotion.md",
    "rollback.md",
    "table-restore.md",
    "corrupt-log.md",
    "poison-landing-file.md",
    "accidental-deletion.md",
    "credential-rotation.md",
    "dr-failover.md",
    "dr-failback.md",
    "rebuild-from-bronze.md",
)
"""Runbooks followed on purpose (planned operations and recoveries an operator starts) rather than linked from
an alert."""


def runbook_file(incident: str) -> str:
    """The runbook file name of ``incident``; an unknown incident is a ``KeyError`` naming the known ones."""
    try:
        return RUNBOOKS[incident]
    except KeyError:
        raise KeyError(f"no runbook for incident {incident!r}; known: {', '.join(sorted(RUNBOOKS))}") from None


def file_url(base: str, file: str) -> str:
    """``<base>/<file>`` (one ``/`` between them whether or not ``base`` ends with one)."""
    return f"{base.rstrip('/')}/{file}"


def runbook_url(base: str, incident: str) -> str:
    """The URL of ``incident``'s runbook under ``base``."""
    return file_url(base, runbook_file(incident))
