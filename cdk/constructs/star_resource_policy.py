"""StarResourcePolicy: a customer-managed policy of actions that take no resource ARN, defined once and shared.

X-Ray's trace writes, CloudWatch's ``PutMetricData``, CloudWatch Logs' vended delivery and Lambda's VPC network
interfaces accept only ``"Resource": "*"`` (AWS documents it). Each such set lives in one policy that every role
needing it attaches, so the wildcard is written, reviewed and acknowledged once rather than once per role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk.compliance import acknowledge


@dataclass(frozen=True, kw_only=True)
class StarResourcePolicyProps:
    description: str
    statements: Sequence[iam.PolicyStatement]
    """Each on ``"*"`` only, with a ``sid``; a condition may narrow it (``cloudwatch:namespace``)."""
    reason: str
    """Why these actions cannot name a resource: the acknowledgement's text."""


class StarResourcePolicy(Construct):
    """``policy``: the statements of ``props``, refused unless every one is on ``"*"`` alone."""

    def __init__(self, scope: Construct, construct_id: str, *, props: StarResourcePolicyProps) -> None:
        super().__init__(scope, construct_id)
        for statement in props.statements:
            document = statement.to_statement_json()
            if document.get("Resource") != "*" or not statement.sid:
                raise ValueError(f"{construct_id}: a statement with a sid on '*' only, got {document}")
        self.policy = iam.ManagedPolicy(
            self, "Policy", description=props.description, statements=list(props.statements)
        )
        acknowledge(self.policy, rules=["AwsSolutions-IAM5"], findings=["Resource::*"], reason=props.reason)
