"""ProducerRole: the role one source's team assumes to deliver extracts to landing (docs/security/PRODUCERS.md).

It may only put objects under its own source's entities in the landing contract's layout
(``<source>/<entity>/dt=YYYY-MM-DD/<file>``), encrypted with SSE-KMS under the landing key (the request must
name it), and use that key to encrypt only: no read, no list, no delete, no decrypt. The trust names the
producer's account or role and requires its external id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import acknowledge
from cdk.constructs.bucket_access_policy import object_arn_finding

PARTITION_PATTERN = "dt=*/*"
"""Under ``<source>/<entity>/``: the delivery date partition, then any file name (docs/LANDING_CONTRACT.md)."""


@dataclass(frozen=True, kw_only=True)
class ProducerRoleProps:
    role_name: str
    source: str
    entities: Sequence[str]
    """The source's entities in the landing contract (``job_assets.contracts.landing``)."""
    landing_bucket: s3.Bucket
    landing_key: kms.IKey
    trusted: iam.IPrincipal
    """The producer's account or role."""
    external_id: str


class ProducerRole(Construct):
    """``role``: PutObject under ``<source>/<entity>/dt=*/*`` with SSE-KMS under the landing key, nothing else."""

    def __init__(self, scope: Construct, construct_id: str, *, props: ProducerRoleProps) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        patterns = [f"{props.source}/{entity}/{PARTITION_PATTERN}" for entity in sorted(props.entities)]
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Deliver {props.source} extracts to landing: put only, SSE-KMS with the landing key.",
            statements=[
                iam.PolicyStatement(
                    sid="PutExtractsInTheContractLayout",
                    actions=["s3:PutObject"],
                    resources=[props.landing_bucket.arn_for_objects(pattern) for pattern in patterns],
                    conditions={
                        "StringEquals": {
                            "s3:x-amz-server-side-encryption": "aws:kms",
                            "s3:x-amz-server-side-encryption-aws-kms-key-id": props.landing_key.key_arn,
                        }
                    },
                ),
                iam.PolicyStatement(
                    sid="EncryptWithTheLandingKey",
                    actions=["kms:GenerateDataKey", "kms:Encrypt"],
                    resources=[props.landing_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                ),
            ],
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=props.role_name,
            description=f"Assumed by the {props.source} team to put extracts under {props.source}/ in landing.",
            assumed_by=props.trusted,
            external_ids=[props.external_id],
            managed_policies=[self.policy],
        )
        acknowledge(
            self.policy,
            rules=["AwsSolutions-IAM5"],
            findings=[object_arn_finding(props.landing_bucket, pattern) for pattern in patterns],
            reason=f"New files of {props.source}'s own entities, any delivery date and file name, as the landing"
            " contract lays them out; put only, under the landing key.",
        )
