"""The recovery section of an environment's configuration: objectives (RPO/RTO per layer) and the AWS Backup
settings that meet them, parsed from ``cdk.json`` (``recovery``); what each means and how it is met:
docs/runbooks/BACKUP_AND_RESTORE.md. The rules across sections (replication for region loss, prod locked,
objectives achievable) are :mod:`cdk.config`'s, which holds the whole environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .config_reader import ConfigError
from .config_reader import Section as _Section

RTC_WINDOW_MINUTES = 15
"""S3 Replication Time Control replicates 99.99% of objects within 15 minutes."""
DYNAMODB_PITR_LAG_MINUTES = 5
"""DynamoDB point-in-time recovery restores up to its latest restorable time, typically 5 minutes ago."""
CONTINUOUS_BACKUP_MAX_DAYS = 35
"""AWS Backup keeps continuous (point-in-time) recovery points for 1 to 35 days."""
RECOVERY_LAYERS = ("landing", "bronze", "silver", "gold", "ops_state")
"""What the recovery objectives are stated for: the four lake buckets and the operational state (the
promotions table and the landing intake manifest, DynamoDB)."""
BUCKET_LAYERS = RECOVERY_LAYERS[:4]
REBUILT_FROM = {"silver": "bronze", "gold": "silver"}
"""A layer without its own backup is rebuilt from the layer below by one pipeline job."""
SNAPSHOT_EVERY_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)


@dataclass(frozen=True, kw_only=True)
class RecoveryObjective:
    rpo_minutes: int
    """Recovery point objective: the most recent data, in minutes, that the worst event in scope may lose."""
    rto_minutes: int
    """Recovery time objective: minutes from declaring the event to the layer serving again."""


@dataclass(frozen=True, kw_only=True)
class OpsStateBackup:
    """Snapshots of the DynamoDB operational state, copied to the DR region's vault when region loss is in scope."""

    every_hours: int
    retention_days: int
    dr_copy_retention_days: int


@dataclass(frozen=True, kw_only=True)
class VaultLockConfig:
    """AWS Backup Vault Lock in governance mode (no ``changeable_for_days``; see BACKUP_AND_RESTORE.md)."""

    enabled: bool
    min_retention_days: int
    max_retention_days: int


@dataclass(frozen=True, kw_only=True)
class RestoreTestingConfig:
    """AWS Backup restore testing: restore a random recent recovery point of each sampled layer."""

    schedule: str
    sample: tuple[str, ...]
    """Layers whose recovery points are restored: bucket layers with continuous backup, or ``ops_state``."""
    selection_window_days: int
    start_window_hours: int
    validation_window_hours: int


@dataclass(frozen=True, kw_only=True)
class BackupConfig:
    continuous: Mapping[str, bool]
    """Per bucket layer: AWS Backup continuous backup (point-in-time restore) of the bucket."""
    continuous_retention_days: int
    ops_state: OpsStateBackup
    vault_lock: VaultLockConfig
    restore_testing: RestoreTestingConfig

    @property
    def continuous_layers(self) -> tuple[str, ...]:
        return tuple(layer for layer in BUCKET_LAYERS if self.continuous[layer])


@dataclass(frozen=True, kw_only=True)
class RecoveryConfig:
    """Recovery objectives per layer and the AWS Backup settings that meet them.

    What each objective means and how it is met: docs/runbooks/BACKUP_AND_RESTORE.md.
    """

    region_loss: bool
    """The objectives hold when the primary region is lost (needs ``features.replication``: the DR stack)."""
    objectives: Mapping[str, RecoveryObjective]
    backup: BackupConfig


_CRON = re.compile(r"^cron\(.+\)$")


def parse_recovery(s: _Section) -> RecoveryConfig:
    objectives = s.section("objectives")
    cfg = RecoveryConfig(
        region_loss=s.get("region_loss", bool),
        objectives={layer: _objective(objectives.section(layer)) for layer in RECOVERY_LAYERS},
        backup=_backup(s.section("backup")),
    )
    objectives.close()
    s.close()
    return cfg


def _objective(s: _Section) -> RecoveryObjective:
    cfg = RecoveryObjective(
        rpo_minutes=s.integer("rpo_minutes", minimum=0, maximum=525600),
        rto_minutes=s.integer("rto_minutes", minimum=1, maximum=525600),
    )
    s.close()
    return cfg


def _backup(s: _Section) -> BackupConfig:
    continuous = s.section("continuous")
    cfg = BackupConfig(
        continuous={layer: continuous.get(layer, bool) for layer in BUCKET_LAYERS},
        continuous_retention_days=s.integer("continuous_retention_days", minimum=1, maximum=CONTINUOUS_BACKUP_MAX_DAYS),
        ops_state=_ops_state_backup(s.section("ops_state")),
        vault_lock=_vault_lock(s.section("vault_lock")),
        restore_testing=_restore_testing(s.section("restore_testing")),
    )
    continuous.close()
    s.close()
    return cfg


def _ops_state_backup(s: _Section) -> OpsStateBackup:
    every = s.get("every_hours", int)
    if every not in SNAPSHOT_EVERY_HOURS:
        raise ConfigError(s.key("every_hours"), f"must divide a day: one of {SNAPSHOT_EVERY_HOURS}, got {every}")
    cfg = OpsStateBackup(
        every_hours=every,
        retention_days=s.integer("retention_days", minimum=1, maximum=36500),
        dr_copy_retention_days=s.integer("dr_copy_retention_days", minimum=1, maximum=36500),
    )
    s.close()
    return cfg


def _vault_lock(s: _Section) -> VaultLockConfig:
    minimum = s.integer("min_retention_days", minimum=1, maximum=36500)
    maximum = s.integer("max_retention_days", minimum=1, maximum=36500)
    if maximum < minimum:
        raise ConfigError(s.key("max_retention_days"), f"must be >= min_retention_days ({minimum})")
    cfg = VaultLockConfig(enabled=s.get("enabled", bool), min_retention_days=minimum, max_retention_days=maximum)
    s.close()
    return cfg


def _restore_testing(s: _Section) -> RestoreTestingConfig:
    sample = s.get("sample", list)
    if not sample:
        raise ConfigError(s.key("sample"), "at least one layer is required")
    for i, layer in enumerate(sample):
        if layer not in RECOVERY_LAYERS:
            raise ConfigError(f"{s.key('sample')}[{i}]", f"{layer!r} is not one of {', '.join(RECOVERY_LAYERS)}")
    cfg = RestoreTestingConfig(
        schedule=s.matching("schedule", _CRON, "cron expression like cron(0 6 ? * SAT *) (AWS Backup takes cron only)"),
        sample=tuple(sample),
        selection_window_days=s.integer("selection_window_days", minimum=1, maximum=365),
        start_window_hours=s.integer("start_window_hours", minimum=1, maximum=168),
        validation_window_hours=s.integer("validation_window_hours", minimum=1, maximum=168),
    )
    s.close()
    return cfg
