"""EndpointDataPerimeter: a lake bucket's objects are read and written only through the environment's S3 endpoint.

One deny statement in the bucket policy (docs/security/NETWORK.md, "The bucket-policy endpoint condition"):
object reads, writes and deletes whose request did not come through the VPC endpoint are refused, unless the
caller is one of the ``exceptions`` roles (the bucket's replication role, AWS Backup's role, the roles named in
``network.data_access_exceptions``, ...), an AWS service principal (``aws:PrincipalIsAWSService``, e.g. S3
server access logging), or an AWS service acting for a caller with its own IAM permissions
(``aws:ViaAWSService``, e.g. Athena reading gold for an analyst).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

DATA_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectAttributes",
    "s3:GetObjectVersionAttributes",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:RestoreObject",
)
"""Object data actions: read, write, delete (bucket-level and metadata actions stay under IAM alone)."""
SID = "DenyDataOutsideTheVpcEndpoint"


@dataclass(frozen=True, kw_only=True)
class EndpointDataPerimeterProps:
    bucket: s3.IBucket
    endpoint: ec2.IVpcEndpoint
    """The environment's S3 gateway endpoint."""
    exceptions: Sequence[iam.IRole]
    """Roles whose requests may come from elsewhere; each must still be allowed by its own IAM policy."""


class EndpointDataPerimeter(Construct):
    """Adds :data:`SID` to ``bucket``'s policy."""

    def __init__(self, scope: Construct, construct_id: str, *, props: EndpointDataPerimeterProps) -> None:
        super().__init__(scope, construct_id)
        if not props.exceptions:
            raise ValueError("a data perimeter needs at least one exception role (replication, backup, break-glass)")
        self.statement = iam.PolicyStatement(
            sid=SID,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=[*DATA_ACTIONS],
            resources=[props.bucket.arn_for_objects("*")],
            conditions={
                "StringNotEquals": {"aws:SourceVpce": props.endpoint.vpc_endpoint_id},
                "ArnNotLike": {"aws:PrincipalArn": [role.role_arn for role in props.exceptions]},
                "Bool": {"aws:PrincipalIsAWSService": "false", "aws:ViaAWSService": "false"},
            },
        )
        props.bucket.add_to_resource_policy(self.statement)
