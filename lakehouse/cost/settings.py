"""What the cost model reads of one environment in ``cdk.json``: EMR capacity, schedules, lifecycle, features.

:func:`load_settings` reads the checkout's ``cdk.json`` the way ``lakehouse env diff`` does
(:func:`lakehouse.checkout.load_cdk_config`, validated as ``cdk synth`` validates it) and keeps only what the
model prices, in :class:`EnvSettings`, so the arithmetic is testable with settings made by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError

REPO = Path(__file__).resolve().parents[2]
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_PER_DAY = {"minute": 1440, "minutes": 1440, "hour": 24, "hours": 24, "day": 1, "days": 1}
SIZED_JOBS = ("bronze", "silver", "gold", "maintenance")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True, kw_only=True)
class LandingLifecycle:
    """Days after creation: to Standard-IA, to Glacier, expired; then days a noncurrent version is kept."""

    ia_after: int
    glacier_after: int
    expire_after: int
    noncurrent_days: int


@dataclass(frozen=True, kw_only=True)
class Worker:
    """One EMR Serverless worker's configured size: billed whole while it runs."""

    vcpu: int
    memory_gb: int
    disk_gb: int


@dataclass(frozen=True, kw_only=True)
class JobWorkers:
    """A job's driver and executor sizes and its cap on executors (``None``: only the maximum capacity)."""

    driver: Worker
    executor: Worker
    max_executors: int | None


@dataclass(frozen=True, kw_only=True)
class InitialCapacity:
    """Pre-initialized workers: billed while the application is STARTED, used or not."""

    driver: Worker
    drivers: int
    executor: Worker
    executors: int


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
    idle_timeout_minutes: int = 15
    initial_capacity: InitialCapacity | None = None
    """``cdk.json``'s ``spark.initial_capacity`` where it is set (issue 19's EMR sizing), else none."""
    workers: dict[str, JobWorkers] = field(default_factory=dict)
    """Per job, the sizes ``cdk.json``'s ``spark`` section sets (issue 19's EMR sizing); absent: the defaults
    of ``measured.json`` (EMR Serverless's default worker)."""


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


def _worker(raw: dict[str, Any], key: str) -> Worker:
    try:
        return Worker(vcpu=int(raw["cores"]), memory_gb=int(raw["memory_gb"]), disk_gb=int(raw.get("disk_gb", 20)))
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"cdk.json {key}: needs cores and memory_gb as numbers ({error})") from None


def workers_from_raw(spark: dict[str, Any] | None, key: str) -> dict[str, JobWorkers]:
    """Per-job worker sizes from an environment's raw ``spark`` section (``{job: {driver: {cores, memory_gb,
    disk_gb}, executor: {...}, max_executors}}``); jobs it does not name keep the defaults."""
    workers = {}
    for job, raw in (spark or {}).items():
        if job not in SIZED_JOBS or not isinstance(raw, dict):
            continue  # not a job's block (initial capacity, a flag of the section)
        workers[job] = JobWorkers(
            driver=_worker(raw.get("driver", {}), f"{key}.{job}.driver"),
            executor=_worker(raw.get("executor", {}), f"{key}.{job}.executor"),
            max_executors=raw.get("max_executors"),
        )
    return workers


def initial_capacity_from_raw(spark: dict[str, Any] | None, key: str) -> InitialCapacity | None:
    """``spark.initial_capacity``: ``{driver: {workers, cores, memory_gb, disk_gb}, executor: {...}}`` or off."""
    raw = (spark or {}).get("initial_capacity")
    if not isinstance(raw, dict):
        return None
    driver, executor = raw.get("driver", {}), raw.get("executor", {})
    return InitialCapacity(
        driver=_worker(driver, f"{key}.initial_capacity.driver"),
        drivers=int(driver.get("workers", 1)),
        executor=_worker(executor, f"{key}.initial_capacity.executor"),
        executors=int(executor.get("workers", 0)),
    )


def from_config(cfg: Any, raw: dict[str, Any] | None = None) -> EnvSettings:
    """:class:`EnvSettings` of one validated ``cdk.config.EnvironmentConfig`` (``raw``: its ``cdk.json``
    block, for the per-job worker sizes)."""
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
        idle_timeout_minutes=cfg.emr.idle_timeout_minutes,
        initial_capacity=initial_capacity_from_raw(
            (raw or {}).get("spark"), f"lakehouse.environments.{cfg.name}.spark"
        ),
        workers=workers_from_raw((raw or {}).get("spark"), f"lakehouse.environments.{cfg.name}.spark"),
    )


def load_settings(env: str, repo: Path = REPO) -> EnvSettings:
    """The settings of environment ``env`` in ``<repo>/cdk.json``; an unknown name or a bad file: UsageError."""
    from ..checkout import CheckoutError, load_cdk_config

    try:
        context, config = load_cdk_config(repo)
    except CheckoutError as error:
        raise UsageError(str(error)) from None
    if env not in config.environments:
        known = ", ".join(config.environments)
        raise UsageError(f"--env {env}: unknown environment; expected one of: {known}")
    return from_config(config.environments[env], context["lakehouse"]["environments"][env])
