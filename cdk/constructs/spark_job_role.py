"""SparkJobRole: the runtime role of one EMR Serverless job (one per layer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class SparkJobRoleProps:
    role_name: str
    description: str
    managed_policies: Sequence[iam.IManagedPolicy]
    """Everything the job may do; the role has no inline policy."""


class SparkJobRole(Construct):
    """Trusted by EMR Serverless in this account only; permitted exactly what its managed policies say.

    The stack attaches the access policies of the buckets the job's layer reads and writes, nothing else.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: SparkJobRoleProps) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.role = iam.Role(
            self,
            "Role",
            role_name=props.role_name,
            description=props.description,
            assumed_by=iam.ServicePrincipal(
                "emr-serverless.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}
            ),
            managed_policies=list(props.managed_policies),
        )
