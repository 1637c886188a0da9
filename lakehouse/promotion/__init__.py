"""Blue/green promotion with write-audit-publish (docs/PROMOTION.md), split by concern: ``model`` holds the
errors, the slots document (``SlotState``), the records (``Record``, ``Gate``, ``AuditRun``) and the
``Control`` protocol; ``local`` the local lake's control plane (``LocalControl``); ``aws`` an AWS
environment's (``AwsControl``: SSM, DynamoDB, Glue, S3); ``versions`` the checkout's job-assets version and
``package``; ``auditors`` the two auditors that run a version's gold job (``LocalAuditor``, ``AwsAuditor``);
``gates`` the comparison of the audit's shadow gold with the published gold (``evaluate_gates``); and
``workflow`` the operations (``promote``, ``recover``, ``rollback``, ``proven``) and how they fit together.
This package re-exports every name importers use, so ``from lakehouse.promotion import X`` keeps working.
"""

from __future__ import annotations

from dataclasses import replace  # `promotion.replace` was importable from the single module; still is

from job_assets.context import CONTROL_DIR

from .auditors import AUDIT_JOB, AwsAuditor, LocalAuditor
from .aws import LOCK_TTL_SECONDS, AwsControl, log
from .gates import CONTRACT_RULES, DQ_REFUSAL, evaluate_gates
from .local import AUDIT_DIR, LocalControl
from .model import (
    INITIAL_STATE,
    AuditRun,
    Control,
    Gate,
    LockedError,
    PromotionError,
    Record,
    SlotState,
    local_actor,
    now_iso,
)
from .versions import checkout_version, package, package_dir
from .workflow import Outcome, promote, proven, recover, rollback

__all__ = [
    "AUDIT_DIR",
    "AUDIT_JOB",
    "CONTRACT_RULES",
    "CONTROL_DIR",
    "DQ_REFUSAL",
    "INITIAL_STATE",
    "LOCK_TTL_SECONDS",
    "AuditRun",
    "AwsAuditor",
    "AwsControl",
    "Control",
    "Gate",
    "LocalAuditor",
    "LocalControl",
    "LockedError",
    "Outcome",
    "PromotionError",
    "Record",
    "SlotState",
    "checkout_version",
    "evaluate_gates",
    "local_actor",
    "log",
    "now_iso",
    "package",
    "package_dir",
    "promote",
    "proven",
    "recover",
    "replace",
    "rollback",
]
