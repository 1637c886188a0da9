"""AccessLogsBucket: the target of the other buckets' S3 server access logs."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import BUCKET_DEFAULT_KMS, BUCKET_REPLICATION, acknowledge


@dataclass(frozen=True, kw_only=True)
class AccessLogsBucketProps:
    expire_after_days: int
    noncurrent_expire_after_days: int = 1
    """How long overwritten or deleted log objects stay (``security.audit.access_logs_noncurrent_days``)."""
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class AccessLogsBucket(Construct):
    """Receives server access logs through a bucket policy (no ACLs) and expires them.

    S3 server access logging cannot deliver to a bucket whose default encryption is SSE-KMS, so this bucket
    uses SSE-S3; it holds request metadata only, never table data.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: AccessLogsBucketProps) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(props.expire_after_days),
                    noncurrent_version_expiration=Duration.days(props.noncurrent_expire_after_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=props.removal_policy,
        )
        acknowledge(
            self.bucket,
            rules=[
                "AwsSolutions-S1",
                "NIST.800.53.R5-S3BucketLoggingEnabled",
                "HIPAA.Security-S3BucketLoggingEnabled",
            ],
            reason="This is the server access log target; logging it to itself would loop.",
        )
        acknowledge(
            self.bucket,
            rules=BUCKET_DEFAULT_KMS,
            reason="Server access logging delivers only to SSE-S3 buckets; it holds request logs, no data.",
        )
        acknowledge(
            self.bucket,
            rules=BUCKET_REPLICATION,
            reason="Access logs are regional audit records that expire on a schedule; no DR copy is kept.",
        )
