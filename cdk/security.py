"""The security section of an environment's configuration (``cdk.json`` ``security``): who else may use the
data keys, the audit trail and its Object Lock, the detection services. What each control is and costs:
docs/security/KEYS_AND_AUDIT.md.

Example (prod)::

    "security": {
      "keys": {"operator_roles": []},
      "audit": {"organization_trail": false, "object_lock_mode": "COMPLIANCE", "retention_days": 365,
                "access_logs_noncurrent_days": 365, "replica_noncurrent_days": 35},
      "detection": {"guardduty": true, "macie": true, "security_hub": true, "config_rules": true,
                    "config_recorder": true}
    }
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .config_reader import ConfigError
from .config_reader import Section as _Section

OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
GOVERNANCE_MIN_RETENTION_DAYS = 90
"""The audit minimum under governance mode (dev, staging): 90 days, the window CloudTrail's own event history
covers and the least an incident investigation needs."""
COMPLIANCE_MIN_RETENTION_DAYS = 365
"""The audit minimum under compliance mode (prod): one year of audit records no one (not even the account
root) can delete, the usual retention for access records of personal data."""
OBJECT_LOCK_MAX_RETENTION_DAYS = 3650
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


@dataclass(frozen=True, kw_only=True)
class KeysConfig:
    operator_roles: tuple[str, ...]
    """IAM role names (of the environment's account) that may use every data layer key besides the jobs and
    Lambdas: the operators' recovery / break-glass roles. Empty: no human can read the lake's data."""


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    organization_trail: bool
    """True: no trail of our own; the organization's trail (AWS Organizations) logs this account's management
    and the lake buckets' data events (docs/security/KEYS_AND_AUDIT.md says what it must include)."""
    object_lock_mode: str
    """``GOVERNANCE`` (dev, staging) or ``COMPLIANCE`` (prod) default retention of the audit bucket."""
    retention_days: int
    """Default Object Lock retention of every audit log object, at least the mode's audit minimum."""
    access_logs_noncurrent_days: int
    """How long the access-logs bucket keeps noncurrent versions (was one day)."""
    replica_noncurrent_days: int
    """How long the DR replicas keep noncurrent versions (the primary's layers keep theirs per ``retention``)."""

    @property
    def minimum_retention_days(self) -> int:
        """The audit minimum for this mode: :data:`GOVERNANCE_MIN_RETENTION_DAYS` or the compliance one."""
        return COMPLIANCE_MIN_RETENTION_DAYS if self.object_lock_mode == "COMPLIANCE" else GOVERNANCE_MIN_RETENTION_DAYS


@dataclass(frozen=True, kw_only=True)
class DetectionConfig:
    guardduty: bool
    """A GuardDuty detector with S3 data event protection."""
    macie: bool
    """A Macie session (the classification job over silver and gold: ``lakehouse findings macie-job``)."""
    security_hub: bool
    """Security Hub with the AWS Foundational Security Best Practices standard."""
    config_rules: bool
    """AWS Config managed rules for the invariants the template tests assert."""
    config_recorder: bool
    """Create the AWS Config recorder and delivery channel (false: the account already has one, e.g. from
    the organization; a region holds only one recorder)."""

    @property
    def any(self) -> bool:
        return self.guardduty or self.macie or self.security_hub or self.config_rules


@dataclass(frozen=True, kw_only=True)
class SecurityConfig:
    keys: KeysConfig
    audit: AuditConfig
    detection: DetectionConfig


def _keys(s: _Section) -> KeysConfig:
    roles = s.get("operator_roles", list)
    for i, role in enumerate(roles):
        if not isinstance(role, str) or not _ROLE_NAME.match(role):
            raise ConfigError(f"{s.key('operator_roles')}[{i}]", f"{role!r} is not an IAM role name")
    s.close()
    return KeysConfig(operator_roles=tuple(roles))


def _audit(s: _Section, environment: str) -> AuditConfig:
    mode = s.get("object_lock_mode", str)
    if mode not in OBJECT_LOCK_MODES:
        raise ConfigError(s.key("object_lock_mode"), f"{mode!r} is not one of {', '.join(OBJECT_LOCK_MODES)}")
    if environment == "prod" and mode != "COMPLIANCE":
        raise ConfigError(s.key("object_lock_mode"), "prod audit logs are locked in COMPLIANCE mode")
    cfg = AuditConfig(
        organization_trail=s.get("organization_trail", bool),
        object_lock_mode=mode,
        retention_days=s.integer("retention_days", minimum=1, maximum=OBJECT_LOCK_MAX_RETENTION_DAYS),
        access_logs_noncurrent_days=s.integer("access_logs_noncurrent_days", minimum=1),
        replica_noncurrent_days=s.integer("replica_noncurrent_days", minimum=1),
    )
    if cfg.retention_days < cfg.minimum_retention_days:
        raise ConfigError(
            s.key("retention_days"),
            f"{cfg.retention_days} days is below the audit minimum of {cfg.minimum_retention_days} days "
            f"for {mode} mode",
        )
    if cfg.access_logs_noncurrent_days < cfg.minimum_retention_days:
        raise ConfigError(
            s.key("access_logs_noncurrent_days"),
            f"{cfg.access_logs_noncurrent_days} days is below the audit minimum of {cfg.minimum_retention_days} days",
        )
    s.close()
    return cfg


def _detection(s: _Section) -> DetectionConfig:
    cfg = DetectionConfig(
        guardduty=s.get("guardduty", bool),
        macie=s.get("macie", bool),
        security_hub=s.get("security_hub", bool),
        config_rules=s.get("config_rules", bool),
        config_recorder=s.get("config_recorder", bool),
    )
    s.close()
    return cfg


def parse_security(s: _Section, *, environment: str, access_logs_expire_after_days: int) -> SecurityConfig:
    """The ``security`` section of ``environment``; the access logs must outlive the audit minimum too."""
    cfg = SecurityConfig(
        keys=_keys(s.section("keys")),
        audit=_audit(s.section("audit"), environment),
        detection=_detection(s.section("detection")),
    )
    if cfg.detection.config_recorder and cfg.audit.organization_trail:
        raise ConfigError(
            s.key("detection.config_recorder"),
            "the recorder delivers to the audit bucket, which organization_trail leaves out; use the "
            "organization's recorder (false)",
        )
    if environment == "prod" and not (cfg.detection.guardduty and cfg.detection.security_hub):
        raise ConfigError(s.key("detection"), "prod runs GuardDuty and Security Hub; set both to true")
    if access_logs_expire_after_days < cfg.audit.minimum_retention_days:
        raise ConfigError(
            f"{s.path.rsplit('.', 1)[0]}.retention.access_logs_expire_after_days",
            f"{access_logs_expire_after_days} days is below the audit minimum of "
            f"{cfg.audit.minimum_retention_days} days (security.audit.object_lock_mode)",
        )
    s.close()
    return cfg
