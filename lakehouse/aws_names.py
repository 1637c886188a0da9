"""Physical names of the AWS resources the CLI addresses, shared with the CDK stacks that create them.

The stacks name these resources with the same functions, so ``lakehouse dlq status --env prod`` finds
the queue ``cdk deploy -c env=prod`` created without reading any stack outputs.
"""

from __future__ import annotations

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


def replica_bucket_name(env: str, layer: str, *, account: str, dr_region: str, project: str = DEFAULT_PROJECT) -> str:
    """Replica buckets are named, so the source side can address them without a cross-region lookup."""
    return f"{prefix(env, project)}-{layer}-replica-{account}-{dr_region}"


OPS_FUNCTIONS = ("landing-intake", "failure-notifier", "cost-reporter", "freshness-monitor", "replica-verifier")
"""The operational Lambdas (``function_name(env, f)``); the replica verifier only where replication is on."""
