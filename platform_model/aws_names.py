"""Physical names of the AWS resources the CLI addresses, shared with the CDK stacks that create them.

The stacks name these resources with the same functions, so ``lakehouse dlq status --env prod`` finds
the queue ``cdk deploy -c env=prod`` created without reading any stack outputs.
"""

from __future__ import annotations

from job_assets.contracts import runbooks
from job_assets.contracts.layout import SLOTS

DEFAULT_PROJECT = "lakehouse"


def prefix(env: str, project: str = DEFAULT_PROJECT) -> str:
    """``lakehouse-dev``: the prefix of every physical name in one environment."""
    return f"{project}-{env}"


def intake_queue_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    return f"{prefix(env, project)}-landing-intake"


def intake_dlq_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    return f"{prefix(env, project)}-landing-intake-dlq"


def intake_manifest_table_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    return f"{prefix(env, project)}-landing-intake-manifest"


def function_name(env: str, function: str, project: str = DEFAULT_PROJECT) -> str:
    """``lakehouse-dev-landing-intake`` for ``function='landing-intake'``."""
    return f"{prefix(env, project)}-{function}"


def pipeline_state_machine_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    return f"{prefix(env, project)}-pipeline"


def maintenance_state_machine_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    return f"{prefix(env, project)}-maintenance"


def failed_events_queue_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """Asynchronous invocations of the operational Lambdas that still failed (a DLQ only)."""
    return f"{prefix(env, project)}-ops-failed-events"


def emr_application_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    return f"{prefix(env, project)}-spark"


def audit_bucket_name(env: str, *, account: str, region: str, project: str = DEFAULT_PROJECT) -> str:
    """The Object Lock audit bucket (trail logs, AWS Config deliveries): ``lakehouse-dev-audit-<account>-<region>``."""
    return f"{prefix(env, project)}-audit-{account}-{region}"


def replica_bucket_name(env: str, layer: str, *, account: str, dr_region: str, project: str = DEFAULT_PROJECT) -> str:
    """Replica buckets are named, so the source side can address them without a cross-region lookup."""
    return f"{prefix(env, project)}-{layer}-replica-{account}-{dr_region}"


def restore_testing_plan_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """``lakehouse_<env>_restore_testing``: the environment's AWS Backup restore-testing plan (no ``-`` allowed)."""
    return f"{prefix(env, project).replace('-', '_')}_restore_testing"


def backup_vault_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """The AWS Backup vault of an environment, in its region."""
    return f"{prefix(env, project)}-backup"


def dr_backup_vault_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """The vault in the DR region that the snapshots are copied to (named, like the replica buckets)."""
    return f"{prefix(env, project)}-backup-dr"


def emr_log_group_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """CloudWatch log group of the EMR Serverless application's drivers and executors (stacks/compute.py);
    each job run writes streams ``<application name>/applications/<id>/jobs/<run id>/SPARK_DRIVER/stdout``."""
    return f"/aws/emr-serverless/{prefix(env, project)}"


def function_log_group_name(env: str, function: str, project: str = DEFAULT_PROJECT) -> str:
    """CloudWatch log group of an operational Lambda (cdk/constructs/ops_function.py): ``/aws/lambda/<name>``."""
    return f"/aws/lambda/{function_name(env, function, project)}"


OPS_FUNCTIONS = ("landing-intake", "failure-notifier", "cost-reporter", "freshness-monitor", "replica-verifier")
"""The operational Lambdas (``function_name(env, f)``); the replica verifier only where replication is on."""


# --- Blue/green promotion (docs/PROMOTION.md) -------------------------------------------------------
"""The two slots of an environment. Gold of slot ``s`` lives under ``s3://<gold-bucket>/<s>/``."""


def slots_parameter_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """SSM String parameter naming the active slot and each slot's job-assets version, as JSON::

        {"active": "blue", "slots": {"blue": "<version>", "green": "<version>"}, ...}

    A slot's version ``""`` means "the version this stack deployed" (an environment nobody promoted to
    yet). CloudFormation creates it once with a constant value; ``lakehouse promote`` and ``lakehouse
    rollback`` write it; the state machines read it at the start of every execution.
    """
    return f"/{project}/{env}/slots"


def deployment_parameter_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """SSM String parameter, rewritten by every deploy, describing how the state machines run a job::

        {"version": "<deployed job-assets version>", "application_id": "...",
         "artifacts_uri": "s3://<artifacts>/jobs/", "gold_uri": "s3://<gold-bucket>/",
         "job_role_arns": {"gold": "arn:..."}, "arguments": ["--landing-uri", ...],
         "spark_submit_parameters": "--conf spark.submit.pyFiles=s3://<artifacts>/jobs/{version}/job_assets.zip ..."}

    ``lakehouse promote`` starts the audit job run from it, exactly as the pipeline would start the job.
    """
    return f"/{project}/{env}/deployment"


def active_region_parameter_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """SSM String parameter saying which region serves the environment, as JSON, in both regions::

        {"region": "eu-central-1", "role": "dr", "landing_bucket": "...", "state_machine_arn": "...",
         "application_id": "...", "since": "...", "by": "...", "record": "s3://.../dr/failovers/<id>.json"}

    Absent (never failed over) means the primary region. ``lakehouse dr failover`` and ``failback`` write it;
    producers read ``landing_bucket`` from it to know where to land files.
    """
    return f"/{project}/{env}/active-region"


def promotions_table_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """DynamoDB table (``pk``/``sk`` strings): promotion history (``pk="history"``) and the lock (``pk="lock"``)."""
    return f"{prefix(env, project)}-promotions"


AUDIT_JOB = "gold"
"""The job ``lakehouse promote`` runs for the audit; the deployment parameter publishes its Spark sizing."""

AUDIT_PREFIX = "audit/"
"""Key prefix in the gold bucket where ``lakehouse promote`` has the candidate version write its gold (the
audit); on publish it is copied into the inactive slot. Not a slot: nothing reads it but the gates."""


def gold_slot_prefix(slot: str) -> str:
    """Key prefix of a slot's gold tables in the gold bucket: ``blue/``."""
    if slot not in SLOTS:
        raise ValueError(f"unknown slot {slot!r}; slots are {', '.join(SLOTS)}")
    return f"{slot}/"


def gold_database_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """Glue database of the gold tables (Athena): ``lakehouse_dev_gold``."""
    return f"{project}_{env}_gold".replace("-", "_")


# --- Guardrails: keys and budget (runbooks/kms-key-disabled.md, runbooks/budget-exceeded.md) ----------------
KMS_KEY_ROLES = (
    "landing",
    "bronze",
    "silver",
    "gold",
    "artifacts",
    "ops",
    "audit",
    "alerts",
    "network",
    "replica",
    "replica-landing",
    "replica-bronze",
    "replica-silver",
    "replica-gold",
)
"""The environment's customer managed keys, by the suffix of their alias: one per lake layer (``landing``,
``bronze``, ``silver``, ``gold``: that layer's bucket only, Storage stack), ``artifacts`` (Storage stack: the
artifacts bucket, EMR and state machine logs, the promotions table, the backup vault), ``ops`` (Ops stack: the
intake queues, manifest, Lambda logs), ``audit`` (Security stack: the audit trail's bucket and log group),
``alerts`` (Alerting stack: the alert topic), ``network`` (Network stack: the VPC flow logs); in the DR
region (DR stack) ``replica`` (the artifacts replica,
the standby's logs, the DR backup vault) and ``replica-<layer>`` (each layer's replica)."""
DR_KEY_ROLES = tuple(role for role in KMS_KEY_ROLES if role.startswith("replica"))
"""The keys that live in the DR region."""


def kms_alias(env: str, role: str, project: str = DEFAULT_PROJECT) -> str:
    """``alias/lakehouse-dev-data``: the alias the stacks give the environment's ``role`` key."""
    if role not in KMS_KEY_ROLES:
        raise ValueError(f"unknown key role {role!r}; roles are {', '.join(KMS_KEY_ROLES)}")
    return f"alias/{prefix(env, project)}-{role}"


def alert_topic_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    return f"{prefix(env, project)}-alerts"


def budget_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """``lakehouse-dev-monthly - runbook budget-exceeded.md``: the monthly budget, named so that every
    notification it sends (whose only text of ours is the name) says which runbook answers it. A budget name
    takes no ``:`` (so no URL scheme) and at most 100 characters."""
    return f"{prefix(env, project)}-monthly - runbook {runbooks.runbook_file(runbooks.BUDGET_EXCEEDED)}"
