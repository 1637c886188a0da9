"""Lakehouse-<env>-Security: the detection services the environment's flags turn on (``security.detection``
in cdk.json) and the EventBridge rules that send their high-severity findings to the alert topic.

The audit side (the audit key, the Object Lock audit bucket, the trail) lives in the Storage stack, next to
the buckets whose data events it records (:class:`~cdk.constructs.audit_trail.AuditTrail`); this stack
deploys after Storage and Alerting and only when a detection flag is on.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk.config import EnvironmentConfig
from cdk.constructs.threat_detection import ThreatDetection, ThreatDetectionProps
from job_assets.contracts import runbooks
from stacks.storage import StorageStack, audit_bucket_name


class SecurityStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        storage: StorageStack,
        alert_topic: sns.ITopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        detection = config.security.detection
        audit = storage.audit
        # By its fixed name: the Storage stack's bucket policy is not touched from here.
        config_bucket = (
            s3.Bucket.from_bucket_name(self, "AuditBucketRef", audit_bucket_name(config)) if audit.bucket else None
        )
        self.detection = ThreatDetection(
            self,
            "Detection",
            props=ThreatDetectionProps(
                name_prefix=config.prefix,
                guardduty=detection.guardduty,
                macie=detection.macie,
                security_hub=detection.security_hub,
                config_rules=detection.config_rules,
                config_recorder=detection.config_recorder,
                config_bucket=config_bucket,
                config_bucket_key=audit.key,
                topic=alert_topic,
                runbook_url=runbooks.runbook_url(config.ops.runbook_base_url, runbooks.SECURITY_FINDING),
            ),
        )
