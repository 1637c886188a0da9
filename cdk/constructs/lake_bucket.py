"""LakeBucket: a data bucket that is secure by default, optionally replicated to another region."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import acknowledge


@dataclass(frozen=True, kw_only=True)
class ReplicationTarget:
    """Where a bucket replicates to: a versioned bucket in another region and the key it encrypts with."""

    bucket: s3.IBucket
    encryption_key: kms.IKey
    region: str
    prefix: str = ""
    """Replicate only the keys under this prefix (``""``: every object)."""
    role_name: str | None = None
    """A fixed name for the replication role, so that the replica key's policy can name it before it exists."""


@dataclass(frozen=True, kw_only=True)
class LakeBucketProps:
    encryption_key: kms.IKey
    access_logs_bucket: s3.IBucket
    noncurrent_expire_after_days: int
    lifecycle_rules: Sequence[s3.LifecycleRule] = ()
    """Extra rules. Never give a rule that expires or archives live Delta table prefixes."""
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    bucket_name: str | None = None
    replication: ReplicationTarget | None = None


class LakeBucket(Construct):
    """Versioned, SSE-KMS with a bucket key, TLS only, no public access, server access logs.

    Every bucket aborts incomplete multipart uploads after one day and expires noncurrent versions after
    ``noncurrent_expire_after_days``; nothing else is expired unless the caller adds a rule. Delta tables
    rely on that: VACUUM removes unreferenced files, a lifecycle rule must never remove live ones.

    With ``replication``, every object (and delete marker) is replicated with Replication Time Control
    (99.99% within 15 minutes) and replication metrics, re-encrypted with the target's key.
    """

    BASELINE_RULE_ID = "abort-mpu-and-expire-noncurrent"

    def __init__(self, scope: Construct, construct_id: str, *, props: LakeBucketProps) -> None:
        super().__init__(scope, construct_id)
        baseline = s3.LifecycleRule(
            id=self.BASELINE_RULE_ID,
            abort_incomplete_multipart_upload_after=Duration.days(1),
            noncurrent_version_expiration=Duration.days(props.noncurrent_expire_after_days),
            expired_object_delete_marker=True,
        )
        target = props.replication
        self.replication_role = self._replication_role(target.role_name) if target else None
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=props.bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=props.encryption_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=props.access_logs_bucket,
            server_access_logs_prefix=f"{construct_id.lower()}/",
            lifecycle_rules=[baseline, *props.lifecycle_rules],
            removal_policy=props.removal_policy,
            # The role's permissions are the managed policy below; CDK's inline grants are dropped.
            replication_role=self.replication_role.without_policy_updates() if self.replication_role else None,
            replication_rules=(
                [
                    s3.ReplicationRule(
                        id="to-dr-region",
                        destination=target.bucket,
                        priority=1,
                        filter=s3.Filter(prefix=target.prefix),
                        kms_key=target.encryption_key,
                        sse_kms_encrypted_objects=True,
                        delete_marker_replication=True,
                        replication_time_control=s3.ReplicationTimeValue.FIFTEEN_MINUTES,
                        metrics=s3.ReplicationTimeValue.FIFTEEN_MINUTES,
                    )
                ]
                if target
                else None
            ),
        )
        if target and self.replication_role:
            self._replication_policy(self.replication_role, target, props.encryption_key)

    def _replication_role(self, role_name: str | None) -> iam.Role:
        """The role S3 replication runs as. Only S3 acting for this account may assume it (confused deputy);
        the bucket's ARN is not named (``aws:SourceArn``): the bucket refers to the role, which cannot refer back."""
        return iam.Role(
            self,
            "ReplicationRole",
            role_name=role_name,
            description="S3 replication of this bucket to the DR region.",
            assumed_by=iam.ServicePrincipal(
                "s3.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
        )

    def _replication_policy(self, role: iam.Role, target: ReplicationTarget, source_key: kms.IKey) -> None:
        """The permissions S3 replication needs, from the S3 user guide, on these two buckets only."""
        region = Stack.of(self).region
        source_objects = self.bucket.arn_for_objects("*")
        target_objects = target.bucket.arn_for_objects("*")
        policy = iam.ManagedPolicy(
            self,
            "ReplicationPolicy",
            description="Replicate this bucket's objects to its DR replica.",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadReplicationConfiguration",
                    actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    resources=[self.bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadSourceVersions",
                    actions=[
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                    ],
                    resources=[source_objects],
                ),
                iam.PolicyStatement(
                    sid="WriteReplicas",
                    actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    resources=[target_objects],
                ),
                iam.PolicyStatement(
                    sid="DecryptSource",
                    actions=["kms:Decrypt"],
                    resources=[source_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="EncryptReplicas",
                    actions=["kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[target.encryption_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{target.region}.amazonaws.com"}},
                ),
            ],
        )
        stack = Stack.of(self)
        logical_id = stack.resolve(stack.get_logical_id(self.bucket.node.default_child))
        acknowledge(
            policy,
            rules=["AwsSolutions-IAM5"],
            findings=[f"Resource::<{logical_id}.Arn>/*", f"Resource::{stack.resolve(target_objects)}"],
            reason="Replication reads every object version of this bucket and writes it to its one replica.",
        )
