"""Compliance gates: the cdk-nag packs every stack runs, and the one way to acknowledge a finding.

cdk-nag 3.x reports through CDK policy validation: an unacknowledged finding fails ``cdk synth``.
An acknowledgement sits on the one construct it concerns (it covers that construct's children, e.g. a
role's default policy), names the rule and, for ``AwsSolutions-IAM4`` (each AWS managed policy) and
``AwsSolutions-IAM5``, the exact finding, and gives a reason specific to that resource. Tests count them
against ``tests/cdk/nag_acknowledgements_budget.json``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import IConstruct

PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security")
_MIN_REASON = 25
_NEEDS_FINDING = ("AwsSolutions-IAM4", "AwsSolutions-IAM5")

# The same concern reported by the NIST 800-53 rev 5 and HIPAA Security packs.
NO_INLINE_POLICY = ("NIST.800.53.R5-IAMNoInlinePolicy", "HIPAA.Security-IAMNoInlinePolicy")
LAMBDA_CONCURRENCY = ("NIST.800.53.R5-LambdaConcurrency", "HIPAA.Security-LambdaConcurrency")
LAMBDA_DLQ = ("NIST.800.53.R5-LambdaDLQ", "HIPAA.Security-LambdaDLQ")
LAMBDA_IN_VPC = ("NIST.800.53.R5-LambdaInsideVPC", "HIPAA.Security-LambdaInsideVPC")
BUCKET_REPLICATION = (
    "NIST.800.53.R5-S3BucketReplicationEnabled",
    "HIPAA.Security-S3BucketReplicationEnabled",
)
BUCKET_DEFAULT_KMS = ("NIST.800.53.R5-S3DefaultEncryptionKMS", "HIPAA.Security-S3DefaultEncryptionKMS")


def add_compliance_checks(app: App) -> None:
    """Run AwsSolutions, NIST 800-53 rev 5 and HIPAA Security on every stack of ``app``."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app), HIPAASecurityChecks(app))


def acknowledge(
    construct: IConstruct,
    *,
    rules: Sequence[str],
    reason: str,
    findings: Sequence[str] = (),
) -> None:
    """Acknowledge ``rules`` on ``construct`` only.

    ``findings`` narrows a multi-finding rule (IAM5) to its exact findings, e.g.
    ``acknowledge(role, rules=["AwsSolutions-IAM5"], findings=["Resource::<App.Arn>/jobruns/*"], reason=...)``
    acknowledges ``AwsSolutions-IAM5[Resource::<App.Arn>/jobruns/*]`` and nothing else.
    """
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(f"acknowledgement of {list(rules)} needs a specific reason (>= {_MIN_REASON} chars)")
    if not rules:
        raise ValueError("acknowledge() needs at least one rule")
    ids: list[str] = []
    for rule in rules:
        if not rule.startswith(tuple(f"{p}-" for p in PACKS)):
            raise ValueError(f"{rule!r} is not a rule of the packs {PACKS}")
        if rule in _NEEDS_FINDING:
            if not findings:
                raise ValueError(f"{rule} must name the findings it acknowledges")
            ids.extend(f"{rule}[{finding}]" for finding in findings)
        else:
            ids.append(rule)
    Validations.of(construct).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in ids))
