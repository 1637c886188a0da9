"""AuditTrail: the audit key, the Object Lock audit bucket and (unless the organization's trail is relied on)
the environment's CloudTrail trail with the lake buckets' S3 data events.

* The audit key (a :class:`~cdk.constructs.layer_key.LayerKey`, alias ``<prefix>-audit``): CloudTrail may
  encrypt with it for this account's trails (``aws:SourceArn``), CloudWatch Logs for the trail's log group;
  the account root only administers it; reading the logs is through S3 (``kms:ViaService``) by roles IAM
  allows (auditors).
* The audit bucket: CloudTrail may check its ACL and write this account's logs for this trail only
  (``aws:SourceArn``); versioned, SSE-KMS under the audit key, TLS only, no public access, server access logs,
  Object Lock with a default retention (``GOVERNANCE`` in dev and staging: removable by a principal with
  ``s3:BypassGovernanceRetention``; ``COMPLIANCE`` in prod: no one, not even the account root, can delete
  or shorten it before it expires). Noncurrent versions expire one day after their lock does.
* The trail: multi-region, global service events, every management event (KMS included), S3 data events
  (read and write) on exactly the given buckets, log file validation (digest files), CloudWatch Logs delivery
  (the guardrail rules and metric filters read management events from EventBridge, which CloudTrail feeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import BUCKET_REPLICATION, acknowledge
from cdk.constructs.layer_key import LayerKey, LayerKeyProps


@dataclass(frozen=True, kw_only=True)
class AuditTrailProps:
    name_prefix: str
    """``lakehouse-dev``: the trail is ``<prefix>-audit``."""
    key_alias: str
    bucket_name: str
    """The audit bucket's fixed name (the Security stack's AWS Config delivery addresses it by name)."""
    data_event_buckets: Sequence[s3.IBucket]
    """The buckets whose object-level reads and writes the trail records."""
    access_logs_bucket: s3.IBucket
    object_lock_mode: str
    """``GOVERNANCE`` or ``COMPLIANCE``."""
    retention_days: int
    log_retention: logs.RetentionDays
    own_trail: bool = True
    """False: the organization's trail records this account (no trail, no audit bucket here)."""
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class AuditTrail(Construct):
    """``key`` always; ``bucket`` and ``trail`` with ``own_trail`` (else ``None``)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: AuditTrailProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.trail_name = f"{props.name_prefix}-audit"
        self.trail_arn = stack.format_arn(
            service="cloudtrail",
            resource="trail",
            resource_name=self.trail_name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.key = LayerKey(
            self,
            "Key",
            props=LayerKeyProps(
                alias=props.key_alias,
                description=f"Encrypts the {props.name_prefix} audit trail's logs.",
                removal_policy=props.removal_policy,
                via_services=[f"s3.{stack.region}.amazonaws.com"],
                cloudwatch_logs=True,
            ),
        ).key
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToEncryptThisAccountsTrail",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceArn": self.trail_arn}},
            )
        )
        self.bucket: s3.Bucket | None = None
        self.trail: cloudtrail.CfnTrail | None = None
        if props.own_trail:
            self.bucket = self._bucket(props)
            self.trail = self._trail(props)

    def _bucket(self, props: AuditTrailProps) -> s3.Bucket:
        """The Object Lock bucket the trail delivers to."""
        retention = Duration.days(props.retention_days)
        bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=props.bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=(
                s3.ObjectLockRetention.compliance(retention)
                if props.object_lock_mode == "COMPLIANCE"
                else s3.ObjectLockRetention.governance(retention)
            ),
            server_access_logs_bucket=props.access_logs_bucket,
            server_access_logs_prefix="audit/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-after-the-lock",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                    expiration=Duration.days(props.retention_days + 1),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
            removal_policy=props.removal_policy,
        )
        acknowledge(
            bucket,
            rules=BUCKET_REPLICATION,
            reason="Audit logs are locked in this region for their retention; CloudTrail itself is regional "
            "evidence, and a cross-region copy would need a second lock policy (docs/security/KEYS_AND_AUDIT.md).",
        )
        return bucket

    def _trail(self, props: AuditTrailProps) -> cloudtrail.CfnTrail:
        """Management events (KMS included) and the buckets' data events, validated, to the audit bucket."""
        assert self.bucket is not None
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/cloudtrail/{self.trail_name}",
            encryption_key=self.key,
            retention=props.log_retention,
            removal_policy=props.removal_policy,
        )
        self._allow_delivery(self.bucket)
        selectors = [
            cloudtrail.CfnTrail.EventSelectorProperty(include_management_events=True, read_write_type="All"),
            cloudtrail.CfnTrail.EventSelectorProperty(
                include_management_events=True,
                read_write_type="All",
                data_resources=[
                    cloudtrail.CfnTrail.DataResourceProperty(
                        type="AWS::S3::Object", values=[f"{bucket.bucket_arn}/" for bucket in props.data_event_buckets]
                    )
                ],
            ),
        ]
        trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=self.trail_name,
            is_logging=True,
            s3_bucket_name=self.bucket.bucket_name,
            kms_key_id=self.key.key_arn,
            enable_log_file_validation=True,
            include_global_service_events=True,
            is_multi_region_trail=True,
            event_selectors=selectors,
            cloud_watch_logs_log_group_arn=log_group.log_group_arn,
            cloud_watch_logs_role_arn=self._logs_role(log_group).role_arn,
        )
        if self.bucket.policy is not None:
            trail.node.add_dependency(self.bucket.policy)  # CloudTrail checks its access when the trail is made
        return trail

    def _allow_delivery(self, bucket: s3.Bucket) -> None:
        """CloudTrail may check the bucket's ACL and write this account's logs, for this trail only."""
        source = {"aws:SourceArn": self.trail_arn}
        cloudtrail_principal = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailAclCheck",
                principals=[cloudtrail_principal],
                actions=["s3:GetBucketAcl"],
                resources=[bucket.bucket_arn],
                conditions={"StringEquals": source},
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailWrite",
                principals=[cloudtrail_principal],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"AWSLogs/{Stack.of(self).account}/*")],
                conditions={"StringEquals": {**source, "s3:x-amz-acl": "bucket-owner-full-control"}},
            )
        )

    def _logs_role(self, log_group: logs.LogGroup) -> iam.Role:
        """CloudTrail's delivery to the log group, under a managed policy (no inline policy)."""
        return iam.Role(
            self,
            "LogsRole",
            description=f"CloudTrail delivers the {self.trail_name} trail to its log group.",
            assumed_by=iam.ServicePrincipal(
                "cloudtrail.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            managed_policies=[
                iam.ManagedPolicy(
                    self,
                    "LogsPolicy",
                    description=f"Write the {self.trail_name} trail's events to its log group.",
                    statements=[
                        iam.PolicyStatement(
                            sid="DeliverTrailEvents",
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[log_group.log_group_arn],
                        )
                    ],
                )
            ],
        )
