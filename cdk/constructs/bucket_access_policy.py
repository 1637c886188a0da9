"""BucketAccessPolicy: a customer-managed policy granting exact S3 and KMS actions on one bucket.

The stack that owns a bucket publishes these policies; roles in other stacks attach them. Keeping the
statements next to the bucket keeps them free of cross-stack imports (so each IAM5 finding can be named
exactly) and out of inline policies (NIST 800-53 / HIPAA ``IAMNoInlinePolicy``).
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

READ_OBJECT_ACTIONS = ("s3:GetObject",)
WRITE_OBJECT_ACTIONS = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
LIST_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation")
WRITE_BUCKET_ACTIONS = ("s3:ListBucketMultipartUploads",)


@dataclass(frozen=True, kw_only=True)
class BucketAccessPolicyProps:
    bucket: s3.Bucket
    encryption_key: kms.IKey
    description: str
    read_prefixes: Sequence[str] = ()
    """Key prefixes readable (``""`` is the whole bucket)."""
    write_prefixes: Sequence[str] = ()
    """Key prefixes writable, including delete (Delta commits and VACUUM remove files)."""
    put_prefixes: Sequence[str] = ()
    """Key prefixes writable without delete (logs a job ships and must not remove)."""
    list_prefixes: Sequence[str] | None = None
    """``s3:prefix`` patterns that may be listed (``None``: the whole bucket)."""


class BucketAccessPolicy(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, props: BucketAccessPolicyProps) -> None:
        super().__init__(scope, construct_id)
        if not props.read_prefixes and not props.write_prefixes and not props.put_prefixes:
            raise ValueError("a BucketAccessPolicy needs a read or a write prefix")
        bucket = props.bucket
        region = Stack.of(self).region
        readable = sorted({*props.read_prefixes, *props.write_prefixes, *props.put_prefixes})
        statements = [
            *_list_statements(props),
            iam.PolicyStatement(
                sid="ReadObjects",
                actions=[*READ_OBJECT_ACTIONS],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in readable],
            ),
            iam.PolicyStatement(
                sid="DecryptObjects",
                actions=["kms:Decrypt"],
                resources=[props.encryption_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            ),
        ]
        if props.write_prefixes or props.put_prefixes:
            statements += _write_statements(props)
        self.policy = iam.ManagedPolicy(self, "Policy", description=props.description, statements=statements)
        acknowledge(
            self.policy,
            rules=["AwsSolutions-IAM5"],
            findings=[object_arn_finding(bucket, f"{prefix}*") for prefix in readable],
            reason="Objects under the listed prefixes of this one bucket; data file keys exist at run time.",
        )


def _list_statements(props: BucketAccessPolicyProps) -> list[iam.PolicyStatement]:
    """ListBucket (and GetBucketLocation): everywhere, or only under ``list_prefixes``."""
    bucket_arn = props.bucket.bucket_arn
    if props.list_prefixes is None:
        return [iam.PolicyStatement(sid="ListBucket", actions=[*LIST_BUCKET_ACTIONS], resources=[bucket_arn])]
    return [
        iam.PolicyStatement(
            sid="ListPrefixes",
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": sorted(props.list_prefixes)}},
        ),
        iam.PolicyStatement(sid="BucketLocation", actions=["s3:GetBucketLocation"], resources=[bucket_arn]),
    ]


def _write_statements(props: BucketAccessPolicyProps) -> list[iam.PolicyStatement]:
    """Writes with delete under ``write_prefixes``, uploads without delete under ``put_prefixes``, the key."""
    bucket = props.bucket
    region = Stack.of(bucket).region
    statements = [
        iam.PolicyStatement(sid="ListUploads", actions=[*WRITE_BUCKET_ACTIONS], resources=[bucket.bucket_arn])
    ]
    if props.write_prefixes:
        statements.append(
            iam.PolicyStatement(
                sid="WriteObjects",
                actions=[*WRITE_OBJECT_ACTIONS],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in sorted(props.write_prefixes)],
            )
        )
    if props.put_prefixes:
        statements.append(
            iam.PolicyStatement(
                sid="PutObjectsWithoutDelete",
                actions=[action for action in WRITE_OBJECT_ACTIONS if action != "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in sorted(props.put_prefixes)],
            )
        )
    statements.append(
        iam.PolicyStatement(
            sid="EncryptObjects",
            actions=["kms:GenerateDataKey"],
            resources=[props.encryption_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        )
    )
    return statements


def object_arn_finding(bucket: s3.Bucket, key_pattern: str) -> str:
    """cdk-nag's name for a wildcard on a same-stack bucket's objects: ``Resource::<Id.Arn>/<keys>``."""
    stack = Stack.of(bucket)
    logical_id = stack.resolve(stack.get_logical_id(bucket.node.default_child))
    return f"Resource::<{logical_id}.Arn>/{key_pattern}"
