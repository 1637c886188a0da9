"""Who reads and writes which lake layer: the Spark jobs and the operational Lambdas.

One table for the IAM side (the Compute stack attaches each job's bucket access policies from ``READS`` and
``WRITES``; the Ops stack attaches the Lambdas' read policies) and the KMS side (each layer key's policy
names exactly these roles, :func:`layer_key_users`), so the two cannot drift apart: a bronze job can decrypt
neither silver's nor gold's key, whatever policy it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from job_assets.contracts.freshness import MONITORED_LAYERS
from job_assets.contracts.layout import LAYERS
from platform_model import aws_names

JOBS = ("bronze", "silver", "gold", "maintenance")
# What each job reads and what it writes (and may delete in, for Delta commits and VACUUM).
READS: dict[str, tuple[str, ...]] = {
    "bronze": ("landing",),
    "silver": ("bronze",),
    "gold": ("silver",),
    "maintenance": (),
}
WRITES: dict[str, tuple[str, ...]] = {
    "bronze": ("bronze",),
    "silver": ("silver",),
    "gold": ("gold",),
    "maintenance": ("bronze", "silver", "gold"),
}
FUNCTION_READS: dict[str, tuple[str, ...]] = {
    "cost-reporter": tuple(LAYERS),
    "freshness-monitor": tuple(MONITORED_LAYERS),
}
"""The Lambdas that read lake layers (their ``_delta_log/``), by function name; the DR replica verifier reads
``REPLICA_VERIFIER_READS`` as well when the environment replicates."""
REPLICA_VERIFIER = "replica-verifier"
REPLICA_VERIFIER_READS = tuple(LAYERS)
STANDBY_ROLE_SUFFIX = "-dr"
"""IAM role names are global to the account: the standby's job roles are ``<prefix>-<job>-job-dr``."""


def job_role_name(prefix: str, job: str, *, standby: bool = False) -> str:
    """``lakehouse-dev-bronze-job`` (``-dr`` for the DR standby's)."""
    return f"{prefix}-{job}-job{STANDBY_ROLE_SUFFIX if standby else ''}"


def function_role_name(env: str, function: str, project: str) -> str:
    """The execution role of an operational Lambda: ``lakehouse-dev-cost-reporter-role``."""
    return f"{aws_names.function_name(env, function, project)}-role"


def lake_formation_role_name(prefix: str) -> str:
    """Lake Formation's location role for the gold bucket (it reads gold's files for the roles it granted):
    ``lakehouse-dev-gold-lakeformation``."""
    return f"{prefix}-gold-lakeformation"


def producer_role_name(prefix: str, source: str) -> str:
    """The role a source's extracts are delivered with (docs/security/PRODUCERS.md): ``lakehouse-dev-producer-crm``."""
    return f"{prefix}-producer-{source}"


def replication_role_name(prefix: str, bucket: str) -> str:
    """The S3 replication role of ``bucket`` (a layer or ``artifacts``): ``lakehouse-dev-gold-replication``."""
    return f"{prefix}-{bucket}-replication"


@dataclass(frozen=True, kw_only=True)
class KeyUsers:
    """Role names that may decrypt with a layer's key, and those that may also encrypt."""

    decrypters: tuple[str, ...]
    encrypters: tuple[str, ...]


def layer_key_users(
    env: str,
    project: str,
    layer: str,
    *,
    replication: bool,
    operators: tuple[str, ...] = (),
    producers: tuple[str, ...] = (),
) -> KeyUsers:
    """The roles (by name) that use ``layer``'s key in the primary region: the jobs that read or write it,
    the Lambdas that read it, its replication role, the configured operator roles, and on landing the
    producer roles of ``producers`` (sources; their own IAM policies allow encrypting only)."""
    prefix = f"{project}-{env}"
    readers = [job_role_name(prefix, job) for job in JOBS if layer in READS[job]]
    readers += [function_role_name(env, f, project) for f, layers in FUNCTION_READS.items() if layer in layers]
    if layer == "gold":  # Athena users read gold through Lake Formation, which uses its location role
        readers.append(lake_formation_role_name(prefix))
    if replication:
        readers.append(replication_role_name(prefix, layer))
        if layer in REPLICA_VERIFIER_READS:
            readers.append(function_role_name(env, REPLICA_VERIFIER, project))
    writers = [job_role_name(prefix, job) for job in JOBS if layer in WRITES[job]]
    if layer == "landing":
        writers += [producer_role_name(prefix, source) for source in producers]
    return KeyUsers(decrypters=tuple(readers), encrypters=(*writers, *operators))


def replica_key_users(env: str, project: str, layer: str, *, standby: bool) -> KeyUsers:
    """The roles that use ``layer``'s replica key in the DR region: replication writes it, the replica
    verifier reads it, the standby's jobs read and write it as the primary's do."""
    prefix = f"{project}-{env}"
    readers = [function_role_name(env, REPLICA_VERIFIER, project)]
    writers = [replication_role_name(prefix, layer)]
    if standby:
        readers += [job_role_name(prefix, job, standby=True) for job in JOBS if layer in READS[job]]
        writers += [job_role_name(prefix, job, standby=True) for job in JOBS if layer in WRITES[job]]
    return KeyUsers(decrypters=tuple(readers), encrypters=tuple(writers))
