"""What the cost model reads of one environment in ``cdk.json``: EMR capacity, schedules, lifecycle, features.

:func:`load_settings` reads the checkout's ``cdk.json`` the way ``lakehouse env diff`` does
(:func:`lakehouse.checkout.load_cdk_config`, validated as ``cdk synth`` validates it) and keeps only what the
model prices, in :class:`EnvSettings`, so the arithmetic is testable with settings made by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

REPO = Path(__file__).resolve().parents[2]
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_PER_DAY = {"minute": 1440, "minutes": 1440, "hour": 24, "hours": 24, "day": 1, "days": 1}
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True, kw_only=True)
class LandingLifecycle:
    """Days after creation: to Standard-IA, to Glacier, expired; then days a noncurrent version is kept."""

    ia_after: int
    glacier_after: int
    expire_after: int
    noncurrent_days: int


@dataclass(frozen=True, kw_only=True)
class EnvSettings:
    """One environment's settings the cost model prices (see docs/guides/COST_OPTIMIZATION.md)."""

    name: str
    region: str
    dr_region: str
    max_vcpu: int
    max_memory_gb: int
    job_timeout_minutes: int
    pipeline_runs_per_day: float
    maintenance_runs_per_day: float
    landing: LandingLifecycle
    table_noncurrent_days: dict[str, int]
    log_retention_days: int
    replication: bool
    replica_noncurrent_days: int
    backup_layers: tuple[str, ...]
    availability_zones: int
    freshness_check_minutes: int
    replica_check_minutes: int
    intake_batch_size: int


def _field_count(field: str, full: int) -> float:
    """How many values one cron field takes: ``*``/``?`` all, ``*/n`` every n-th, ``a-b`` a range, ``a,b`` a list."""
    if field in ("*", "?"):
        return float(full)
    count = 0.0
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            span = full
        elif step:  # a/n: from a to the end of the field
            span = full - int(base)
        elif "-" in base:
            low, high = base.split("-")
            span = _WEEKDAYS.index(high) - _WEEKDAYS.index(low) + 1 if low in _WEEKDAYS else int(high) - int(low) + 1
        else:
            span = 1
        count += -(-span // int(step)) if step else span
    return count


def runs_per_day(expression: str) -> float:
    """Average runs a day of an EventBridge ``rate(...)`` or six-field ``cron(...)`` expression."""
    rate = _RATE.match(expression)
    if rate:
        return _PER_DAY[rate.group(2)] / int(rate.group(1))
    fields = expression.removeprefix("cron(").removesuffix(")").split()
    minutes, hours, day_of_month, _, day_of_week = fields[:5]
    per_day = _field_count(minutes, 60) * _field_count(hours, 24)
    if day_of_week not in ("*", "?"):
        return per_day * _field_count(day_of_week, 7) / 7
    if day_of_month not in ("*", "?"):
        return per_day * _field_count(day_of_month, 31) * 12 / 365
    return per_day


def from_config(cfg: Any) -> EnvSettings:
    """:class:`EnvSettings` of one validated ``cdk.config.EnvironmentConfig``."""
    landing = cfg.retention.landing
    return EnvSettings(
        name=cfg.name,
        region=cfg.region,
        dr_region=cfg.dr_region,
        max_vcpu=cfg.emr.max_vcpu,
        max_memory_gb=cfg.emr.max_memory_gb,
        job_timeout_minutes=cfg.emr.job_timeout_minutes,
        pipeline_runs_per_day=runs_per_day(cfg.schedule.pipeline),
        maintenance_runs_per_day=runs_per_day(cfg.schedule.maintenance),
        landing=LandingLifecycle(
            ia_after=landing.infrequent_access_after_days,
            glacier_after=landing.glacier_after_days,
            expire_after=landing.expire_after_days,
            noncurrent_days=landing.noncurrent_expire_after_days,
        ),
        table_noncurrent_days={
            layer: cfg.retention.layer(layer).noncurrent_expire_after_days for layer in ("bronze", "silver", "gold")
        },
        log_retention_days=cfg.retention.log_group_retention_days,
        replication=cfg.features.replication,
        replica_noncurrent_days=cfg.security.audit.replica_noncurrent_days,
        backup_layers=tuple(cfg.recovery.backup.continuous_layers),
        availability_zones=len(cfg.network.availability_zones) if cfg.network.enabled else 0,
        freshness_check_minutes=cfg.ops.freshness_check_minutes,
        replica_check_minutes=cfg.ops.replica_check_minutes,
        intake_batch_size=cfg.ops.intake_batch_size,
    )


def load_settings(env: str, repo: Path = REPO) -> EnvSettings:
    """The settings of environment ``env`` in ``<repo>/cdk.json``; an unknown name or a bad file: UsageError."""
    from ..checkout import CheckoutError, load_cdk_config

    try:
        _, config = load_cdk_config(repo)
    except CheckoutError as error:
        raise UsageError(str(error)) from None
    if env not in config.environments:
        known = ", ".join(config.environments)
        raise UsageError(f"--env {env}: unknown environment; expected one of: {known}")
    return from_config(config.environments[env])
