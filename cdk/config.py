"""Typed, validated environment configuration for the lakehouse stacks.

``cdk.json`` context holds one block per environment under ``lakehouse.environments``. ``app.py`` is the
only place that reads context; it hands the raw mapping to :func:`load_config` and the stacks receive the
frozen :class:`EnvironmentConfig` it returns. Every problem stops synth with a :class:`ConfigError` whose
message names the offending key, e.g. ``lakehouse.environments.prod.budget.monthly_limit_usd``.

Example::

    config = load_config(app.node.try_get_context("lakehouse"))
    for env in config.select("dev"):
        ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from job_assets.flags import FlagError
from job_assets.flags import validate as validate_flags

from .config_reader import ConfigError
from .config_reader import Section as _Section
from .data_access import DataAccessConfig, parse_data_access
from .network_config import (
    NetworkConfig,
    ProducerConfig,
    check_networks_disjoint,
    parse_network,
    parse_producers,
)
from .recovery import (
    DYNAMODB_PITR_LAG_MINUTES,
    REBUILT_FROM,
    RTC_WINDOW_MINUTES,
    RecoveryConfig,
    parse_recovery,
)
from .retention_config import (
    RetentionConfig,
    parse_retention,
)
from .security import SecurityConfig, parse_security
from .spark_sizing import Capacity, SparkConfig, parse_spark

ENVIRONMENT_NAMES = ("dev", "staging", "prod")
ALL_ENVIRONMENTS = "all"

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^(us|eu|ap|ca|sa|me|af|il|mx)(-gov)?-(north|south|east|west|central|northeast|southeast)-\d$")
_RELEASE = re.compile(r"^emr-\d+\.\d+\.\d+$")
_SCHEDULE = re.compile(r"^(cron\(.+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,20}$")
_HTTPS_URL = re.compile(r"^https://[^\s]+/$")
_LINEAGE = re.compile(r"^(none|http:https://[^\s]+)$")


@dataclass(frozen=True, kw_only=True)
class EmrConfig:
    release_label: str
    max_vcpu: int
    max_memory_gb: int
    max_disk_gb: int
    idle_timeout_minutes: int
    job_timeout_minutes: int
    job_retry_attempts: int


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    pipeline: str
    maintenance: str
    enabled: bool


@dataclass(frozen=True, kw_only=True)
class BudgetConfig:
    monthly_limit_usd: float
    alert_emails: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FeatureFlags:
    replication: bool
    """Replicate landing/bronze/silver/gold to the DR region with Replication Time Control and metrics."""
    allow_destroy: bool
    """Data buckets and keys are destroyed with the stack (empty buckets only). Never allowed for prod."""


@dataclass(frozen=True, kw_only=True)
class OpsConfig:
    """The operational Lambdas: landing intake queue, monitors' schedules, where runbooks live."""

    intake_max_receive_count: int
    """Deliveries of one landing event before it moves to the intake dead-letter queue."""
    intake_batch_size: int
    intake_batching_window_seconds: int
    freshness_check_minutes: int
    """How often the freshness monitor runs; also the period of the freshness alarms."""
    replica_check_minutes: int
    """How often the replica verifier runs; also the replica alarm's period (at most the 15-minute RTC window)."""
    runbook_base_url: str
    """Ends with ``/``; alarm descriptions and alerts link ``<base><runbook>.md``."""


@dataclass(frozen=True, kw_only=True)
class PromotionConfig:
    """Gates of ``lakehouse promote`` (docs/PROMOTION.md): the audited version's shadow gold against the
    published gold."""

    max_row_count_change_pct: float
    """Largest change of any gold table's row count, in percent of the published count."""
    max_metric_change_pct: float
    """Largest change of any key gold metric (``job_assets.contracts.gold.KEY_METRICS``), in percent."""
    metric_change_pct: Mapping[str, float]
    """Per-metric overrides of ``max_metric_change_pct`` (keys are key-metric names)."""
    requires_passed_in: str
    """Environment a version must have passed its gates in before it may be promoted here ("" = none)."""
    confirm: bool
    """Ask the operator before publishing (``--yes`` answers for them)."""


@dataclass(frozen=True, kw_only=True)
class DrConfig:
    """What the DR region holds besides the replicas (runbooks/dr-failover.md)."""

    standby: bool
    """A standby EMR Serverless application and pipeline/maintenance state machines (no schedule) in the DR
    region, pointed at the replica buckets, and the artifacts bucket's job releases replicated there, so that
    ``lakehouse dr failover`` can run the pipeline in the DR region. Needs ``features.replication``."""


@dataclass(frozen=True, kw_only=True)
class EmrPricing:
    """EMR Serverless list prices (USD) in one region for the application's architecture (arm64)."""

    vcpu_hour: float
    memory_gb_hour: float
    storage_gb_hour: float


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    name: str
    project: str
    cost_center: str
    account: str
    region: str
    dr_region: str
    emr: EmrConfig
    schedule: ScheduleConfig
    budget: BudgetConfig
    retention: RetentionConfig
    features: FeatureFlags
    job_flags: Mapping[str, str]
    """Job feature flags (``job_assets/flags.py``), passed to every job as ``--flag key=value``."""
    ops: OpsConfig
    promotion: PromotionConfig
    lineage: str
    """Where the jobs send OpenLineage run events: ``none`` or ``http:<https URL of an OpenLineage API>``
    (e.g. Marquez), passed to every job as ``--lineage`` (docs/LINEAGE.md)."""
    pricing: EmrPricing
    recovery: RecoveryConfig
    dr: DrConfig
    data_access: DataAccessConfig
    """The analyst and privileged roles that query gold under Lake Formation (cdk/data_access.py)."""
    security: SecurityConfig
    """Key users, audit trail, detection (:mod:`cdk.security`)."""
    network: NetworkConfig
    """The private network (docs/security/NETWORK.md)."""
    producers: Mapping[str, ProducerConfig]
    """One producer role per landing source (docs/security/PRODUCERS.md)."""
    spark: SparkConfig
    """Each job's Spark sizing and the application's pre-initialized capacity (docs/guides/EMR_SIZING.md)."""

    @property
    def prefix(self) -> str:
        """Physical-name prefix, e.g. ``lakehouse-dev``."""
        return f"{self.project}-{self.name}"

    def stack_name(self, part: str) -> str:
        return f"Lakehouse-{self.name}-{part}"


@dataclass(frozen=True, kw_only=True)
class LakehouseConfig:
    environments: Mapping[str, EnvironmentConfig]
    local_promotion: PromotionConfig
    """Gates of ``lakehouse promote --env local`` (the local lake)."""

    def select(self, name: str) -> tuple[EnvironmentConfig, ...]:
        """One environment by name, or every one for ``all``; an unknown name lists the known ones."""
        if name == ALL_ENVIRONMENTS:
            return tuple(self.environments.values())
        if name not in self.environments:
            known = ", ".join([*self.environments, ALL_ENVIRONMENTS])
            raise ConfigError("env", f"unknown environment {name!r}; expected one of: {known}")
        return (self.environments[name],)


def _emr(s: _Section) -> EmrConfig:
    cfg = EmrConfig(
        release_label=s.matching("release_label", _RELEASE, "EMR release label like emr-7.12.0"),
        max_vcpu=s.integer("max_vcpu", minimum=1, maximum=4000),
        max_memory_gb=s.integer("max_memory_gb", minimum=2, maximum=24000),
        max_disk_gb=s.integer("max_disk_gb", minimum=20, maximum=200000),
        idle_timeout_minutes=s.integer("idle_timeout_minutes", minimum=1, maximum=10080),
        # emr-7.11+ rejects 0 (no timeout) and caps a job at 7 days.
        job_timeout_minutes=s.integer("job_timeout_minutes", minimum=5, maximum=10080),
        job_retry_attempts=s.integer("job_retry_attempts", minimum=0, maximum=5),
    )
    s.close()
    return cfg


def _schedule(s: _Section) -> ScheduleConfig:
    what = "EventBridge schedule expression like cron(0 2 * * ? *) or rate(1 day)"
    cfg = ScheduleConfig(
        pipeline=s.matching("pipeline", _SCHEDULE, what),
        maintenance=s.matching("maintenance", _SCHEDULE, what),
        enabled=s.get("enabled", bool),
    )
    s.close()
    return cfg


def _budget(s: _Section) -> BudgetConfig:
    limit = s.get("monthly_limit_usd", float)
    if limit <= 0:
        raise ConfigError(s.key("monthly_limit_usd"), f"must be a positive amount in USD, got {limit:g}")
    emails = s.get("alert_emails", list)
    if not emails:
        raise ConfigError(s.key("alert_emails"), "at least one address is required")
    for i, email in enumerate(emails):
        if not isinstance(email, str) or not _EMAIL.match(email):
            raise ConfigError(f"{s.key('alert_emails')}[{i}]", f"{email!r} is not an e-mail address")
    s.close()
    return BudgetConfig(monthly_limit_usd=limit, alert_emails=tuple(emails))


def _features(s: _Section) -> FeatureFlags:
    cfg = FeatureFlags(replication=s.get("replication", bool), allow_destroy=s.get("allow_destroy", bool))
    s.close()
    return cfg


def _dr(s: _Section, features: FeatureFlags) -> DrConfig:
    cfg = DrConfig(standby=s.get("standby", bool))
    if cfg.standby and not features.replication:
        raise ConfigError(s.key("standby"), "needs features.replication (the replica buckets the standby runs on)")
    s.close()
    return cfg


def _ops(s: _Section) -> OpsConfig:
    batch_size = s.integer("intake_batch_size", minimum=1, maximum=10000)
    window = s.integer("intake_batching_window_seconds", minimum=0, maximum=300)
    if batch_size > 10 and window == 0:
        raise ConfigError(s.key("intake_batching_window_seconds"), "must be > 0 when intake_batch_size > 10 (SQS)")
    cfg = OpsConfig(
        intake_max_receive_count=s.integer("intake_max_receive_count", minimum=1, maximum=1000),
        intake_batch_size=batch_size,
        intake_batching_window_seconds=window,
        # A metric alarm spans at most one day: two periods of at most 12 hours.
        freshness_check_minutes=s.integer("freshness_check_minutes", minimum=1, maximum=720),
        replica_check_minutes=s.integer("replica_check_minutes", minimum=1, maximum=RTC_WINDOW_MINUTES),
        runbook_base_url=s.matching("runbook_base_url", _HTTPS_URL, "https URL ending with '/'"),
    )
    s.close()
    return cfg


def _promotion(s: _Section, environments: tuple[str, ...]) -> PromotionConfig:
    from job_assets.contracts.gold import KEY_METRICS

    def percent(r: _Section, name: str) -> float:
        value = r.get(name, float)
        if not 0 <= value <= 100:
            raise ConfigError(r.key(name), f"must be a percentage between 0 and 100, got {value:g}")
        return value

    overrides = s.section("metric_change_pct")
    metric_change = {}
    for name in overrides.raw:
        if name not in KEY_METRICS:
            raise ConfigError(overrides.key(name), f"unknown key metric; expected one of {', '.join(KEY_METRICS)}")
        metric_change[name] = percent(overrides, name)
    overrides.close()
    requires = s.get("requires_passed_in", str)
    if requires and requires not in environments:
        raise ConfigError(s.key("requires_passed_in"), f"{requires!r} is not one of {', '.join(environments)} or ''")
    cfg = PromotionConfig(
        max_row_count_change_pct=percent(s, "max_row_count_change_pct"),
        max_metric_change_pct=percent(s, "max_metric_change_pct"),
        metric_change_pct=metric_change,
        requires_passed_in=requires,
        confirm=s.get("confirm", bool),
    )
    s.close()
    return cfg


def _pricing(s: _Section) -> dict[str, EmrPricing]:
    prices: dict[str, EmrPricing] = {}
    for region in s.raw:
        if not _REGION.match(region):
            raise ConfigError(s.key(region), "is not an AWS region like eu-west-1")
        r = s.section(region)
        values = {}
        for name in ("vcpu_hour", "memory_gb_hour", "storage_gb_hour"):
            value = r.get(name, float)
            if value < 0:
                raise ConfigError(r.key(name), f"must be >= 0 USD, got {value:g}")
            values[name] = value
        r.close()
        prices[region] = EmrPricing(**values)
    s.close()
    return prices


def _environment(
    name: str,
    s: _Section,
    *,
    project: str,
    cost_center: str,
    pricing: Mapping[str, EmrPricing],
    pricing_key: str,
    names: tuple[str, ...] = ENVIRONMENT_NAMES,
) -> EnvironmentConfig:
    region = s.matching("region", _REGION, "AWS region like eu-west-1")
    dr_region = s.matching("dr_region", _REGION, "AWS region like eu-central-1")
    if dr_region == region:
        raise ConfigError(s.key("dr_region"), f"must differ from region ({region})")
    features = _features(s.section("features"))
    account = s.matching("account", _ACCOUNT, "12-digit AWS account id")
    emr = _emr(s.section("emr"))
    cfg = EnvironmentConfig(
        name=name,
        project=project,
        cost_center=cost_center,
        account=account,
        region=region,
        dr_region=dr_region,
        emr=emr,
        schedule=_schedule(s.section("schedule")),
        budget=_budget(s.section("budget")),
        retention=parse_retention(s.section("retention")),
        features=features,
        job_flags=_job_flags(s.section("job_flags")),
        ops=_ops(s.section("ops")),
        promotion=_promotion(s.section("promotion"), names),
        lineage=s.matching("lineage", _LINEAGE, "lineage target: none, or http:<https URL>"),
        pricing=_region_pricing(region, pricing, pricing_key),
        recovery=parse_recovery(s.section("recovery")),
        dr=_dr(s.section("dr"), features),
        data_access=parse_data_access(s.section("data_access")),
        security=_security(s, name),
        network=parse_network(s.section("network"), region=region, account=account),
        producers=parse_producers(s.section("producers")),
        spark=parse_spark(
            s.section("spark"), Capacity(vcpu=emr.max_vcpu, memory_gb=emr.max_memory_gb, disk_gb=emr.max_disk_gb)
        ),
    )
    _check_recovery(cfg, s.key("recovery"))
    if name == "prod" and cfg.features.allow_destroy:
        raise ConfigError(s.key("features.allow_destroy"), "prod data is always retained; set it to false")
    if cfg.promotion.requires_passed_in == name:
        raise ConfigError(s.key("promotion.requires_passed_in"), "an environment cannot require itself")
    s.close()
    return cfg


def _security(s: _Section, name: str) -> SecurityConfig:
    """The ``security`` section, checked against the access logs' retention."""
    access_logs_days = s.raw.get("retention", {}).get("access_logs_expire_after_days", 0)
    return parse_security(s.section("security"), environment=name, access_logs_expire_after_days=access_logs_days)


def achievable_rpo(config: EnvironmentConfig, layer: str) -> tuple[int, str]:
    """The shortest RPO (minutes) ``layer``'s configured mechanisms give, and the mechanism that sets it.

    The worst event in scope sets it: the primary region lost when ``recovery.region_loss``, otherwise a bad
    write, a deletion or the destruction of a layer's object versions in the region.
    """
    if layer == "ops_state":
        if config.recovery.region_loss:
            hours = config.recovery.backup.ops_state.every_hours
            return hours * 60, f"the DR-region copy of the snapshot taken every {hours} h"
        return DYNAMODB_PITR_LAG_MINUTES, "DynamoDB point-in-time recovery"
    if config.recovery.region_loss:
        return RTC_WINDOW_MINUTES, "S3 replication with Replication Time Control"
    return 0, "S3 versioning (every version kept)"


def rebuild_minutes(config: EnvironmentConfig, layer: str) -> int:
    """Upper bound of rebuilding ``layer`` from the nearest layer below with its own backup (0: restored).

    Each pipeline job is cut off at ``emr.job_timeout_minutes``; a rebuild runs one job per layer.
    """
    jobs = 0
    while layer in REBUILT_FROM and not config.recovery.backup.continuous[layer]:
        layer = REBUILT_FROM[layer]
        jobs += 1
    return jobs * config.emr.job_timeout_minutes


def _check_recovery(cfg: EnvironmentConfig, key: str) -> None:
    """Cross-field rules: the DR stack exists for region loss, prod is locked, the objectives can be met."""
    recovery = cfg.recovery
    if recovery.region_loss and not cfg.features.replication:
        raise ConfigError(f"{key}.region_loss", "needs features.replication (the DR stack and its vault)")
    if cfg.name == "prod" and not recovery.backup.vault_lock.enabled:
        raise ConfigError(f"{key}.backup.vault_lock.enabled", "prod backups are always locked; set it to true")
    for layer in ("landing", "bronze"):
        if not recovery.backup.continuous[layer]:
            raise ConfigError(
                f"{key}.backup.continuous.{layer}", "nothing rebuilds this layer if its versions are lost; set true"
            )
    _check_vault_lock(cfg, f"{key}.backup")
    _check_objectives(cfg, f"{key}.objectives")
    _check_restore_testing(cfg, f"{key}.backup.restore_testing")


def _check_vault_lock(cfg: EnvironmentConfig, key: str) -> None:
    backup = cfg.recovery.backup
    lock = backup.vault_lock
    if not lock.enabled:
        return
    retentions = {
        "continuous_retention_days": backup.continuous_retention_days,
        "ops_state.retention_days": backup.ops_state.retention_days,
    }
    if cfg.recovery.region_loss:
        retentions["ops_state.dr_copy_retention_days"] = backup.ops_state.dr_copy_retention_days
    for name, days in retentions.items():
        if not lock.min_retention_days <= days <= lock.max_retention_days:
            raise ConfigError(
                f"{key}.{name}",
                f"{days} days is outside the vault lock's {lock.min_retention_days}..{lock.max_retention_days} days;"
                " the locked vault would fail these jobs",
            )


def _check_objectives(cfg: EnvironmentConfig, key: str) -> None:
    for layer, objective in cfg.recovery.objectives.items():
        rpo, mechanism = achievable_rpo(cfg, layer)
        if objective.rpo_minutes < rpo:
            raise ConfigError(
                f"{key}.{layer}.rpo_minutes",
                f"{objective.rpo_minutes} minutes cannot be met: {mechanism} loses up to {rpo} minutes",
            )
        rebuild = rebuild_minutes(cfg, layer)
        if objective.rto_minutes < rebuild:
            raise ConfigError(
                f"{key}.{layer}.rto_minutes",
                f"{objective.rto_minutes} minutes cannot be met: without its own backup the layer is rebuilt"
                f" from {REBUILT_FROM[layer]} in up to {rebuild} minutes (emr.job_timeout_minutes per job)",
            )


def _check_restore_testing(cfg: EnvironmentConfig, key: str) -> None:
    backup = cfg.recovery.backup
    testing = backup.restore_testing
    for i, layer in enumerate(testing.sample):
        retention = backup.ops_state.retention_days if layer == "ops_state" else backup.continuous_retention_days
        if layer != "ops_state" and not backup.continuous[layer]:
            raise ConfigError(f"{key}.sample[{i}]", f"{layer} has no backup to restore (backup.continuous.{layer})")
        if testing.selection_window_days > retention:
            raise ConfigError(
                f"{key}.selection_window_days",
                f"{testing.selection_window_days} days reaches past {layer}'s {retention}-day retention",
            )


def _job_flags(s: _Section) -> dict[str, str]:
    flags = {}
    for name in s.raw:
        value = s.get(name, str)
        try:
            flags.update(validate_flags({name: value}))
        except FlagError as error:
            raise ConfigError(s.key(name), str(error)) from None
    s.close()
    return flags


def _region_pricing(region: str, pricing: Mapping[str, EmrPricing], key: str) -> EmrPricing:
    if region not in pricing:
        raise ConfigError(key, f"no EMR Serverless prices for region {region}; add a {region!r} entry")
    return pricing[region]


def load_config(raw: Any, *, path: str = "lakehouse", names: tuple[str, ...] = ENVIRONMENT_NAMES) -> LakehouseConfig:
    """Validate the ``lakehouse`` context block and return the typed configuration. ``names``: the environments
    it must hold (a new one is added to :data:`ENVIRONMENT_NAMES`; docs/examples/add_an_environment.py)."""
    if raw is None:
        raise ConfigError(path, "missing context block (cdk.json 'context.lakehouse')")
    root = _Section(raw, path)
    project = root.matching("project", _NAME, "project name (lowercase letters, digits, '-')")
    cost_center = root.get("cost_center", str)
    if not cost_center.strip():
        raise ConfigError(root.key("cost_center"), "must not be empty")
    pricing = _pricing(root.section("emr_pricing"))
    envs = root.section("environments")
    environments: dict[str, EnvironmentConfig] = {}
    for name in envs.raw:
        if name not in names:
            raise ConfigError(envs.key(name), f"unknown environment; expected one of {', '.join(names)}")
        environments[name] = _environment(
            name,
            envs.section(name),
            project=project,
            cost_center=cost_center,
            pricing=pricing,
            pricing_key=root.key("emr_pricing"),
            names=names,
        )
    missing = [n for n in names if n not in environments]
    if missing:
        raise ConfigError(envs.key(missing[0]), "missing required environment")
    check_networks_disjoint({n: e.network for n, e in environments.items()}, path=envs.path)
    local_promotion = _promotion(root.section("local_promotion"), ())
    root.close()
    return LakehouseConfig(environments=environments, local_promotion=local_promotion)
