"""Retention of the lake's buckets and log groups (``retention`` of an environment in cdk.json), validated at
synth: landing's storage-class transitions and expiry, each Delta layer's old versions, access logs, and the
CloudWatch Logs retention period. Split from :mod:`cdk.config`, which re-exports these names."""

from __future__ import annotations

from dataclasses import dataclass

from .config_reader import ConfigError
from .config_reader import Section as _Section

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


@dataclass(frozen=True, kw_only=True)
class LandingRetention:
    """Raw files: Standard -> Infrequent Access -> Glacier -> expired (days after creation)."""

    infrequent_access_after_days: int
    glacier_after_days: int
    expire_after_days: int
    noncurrent_expire_after_days: int


@dataclass(frozen=True, kw_only=True)
class TableLayerRetention:
    """A Delta layer: live files are never expired or archived (VACUUM owns them); only old versions go."""

    noncurrent_expire_after_days: int


@dataclass(frozen=True, kw_only=True)
class RetentionConfig:
    landing: LandingRetention
    bronze: TableLayerRetention
    silver: TableLayerRetention
    gold: TableLayerRetention
    access_logs_expire_after_days: int
    log_group_retention_days: int

    def layer(self, name: str) -> TableLayerRetention:
        return {"bronze": self.bronze, "silver": self.silver, "gold": self.gold}[name]


def _landing(s: _Section) -> LandingRetention:
    ia = s.integer("infrequent_access_after_days", minimum=30)  # S3 minimum for STANDARD_IA
    glacier = s.integer("glacier_after_days", minimum=1)
    expire = s.integer("expire_after_days", minimum=1)
    if glacier <= ia:
        raise ConfigError(s.key("glacier_after_days"), f"must be later than infrequent_access_after_days ({ia})")
    if expire <= glacier:
        raise ConfigError(s.key("expire_after_days"), f"must be later than glacier_after_days ({glacier})")
    cfg = LandingRetention(
        infrequent_access_after_days=ia,
        glacier_after_days=glacier,
        expire_after_days=expire,
        noncurrent_expire_after_days=s.integer("noncurrent_expire_after_days", minimum=1),
    )
    s.close()
    return cfg


def _table_layer(s: _Section) -> TableLayerRetention:
    cfg = TableLayerRetention(noncurrent_expire_after_days=s.integer("noncurrent_expire_after_days", minimum=1))
    s.close()
    return cfg


def parse_retention(s: _Section) -> RetentionConfig:
    log_days = s.get("log_group_retention_days", int)
    if log_days not in LOG_RETENTION_DAYS:
        raise ConfigError(
            s.key("log_group_retention_days"),
            f"{log_days} is not a CloudWatch Logs retention period; use one of {LOG_RETENTION_DAYS}",
        )
    cfg = RetentionConfig(
        landing=_landing(s.section("landing")),
        bronze=_table_layer(s.section("bronze")),
        silver=_table_layer(s.section("silver")),
        gold=_table_layer(s.section("gold")),
        access_logs_expire_after_days=s.integer("access_logs_expire_after_days", minimum=1),
        log_group_retention_days=log_days,
    )
    s.close()
    return cfg
