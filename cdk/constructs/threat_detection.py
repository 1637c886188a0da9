"""ThreatDetection: GuardDuty, Macie, Security Hub and AWS Config rules of one environment, each by flag, and
the EventBridge rules that send their high-severity findings to the alert topic with a runbook link.

* GuardDuty: a detector with S3 data event protection (``S3_DATA_EVENTS``), findings every 15 minutes.
* Macie: the account's session. CloudFormation has no resource for a classification job
  (``AWS::Macie::Session``, ``AllowList``, ``CustomDataIdentifier`` and ``FindingsFilter`` only), so the job
  over silver and gold is created by ``lakehouse findings macie-job --env E`` (docs/security/KEYS_AND_AUDIT.md),
  which prints the definition and, with ``--create``, submits it.
* Security Hub: the hub and the AWS Foundational Security Best Practices standard; GuardDuty, Macie and Config
  findings flow into it, so ``lakehouse findings --env E`` reads one place.
* AWS Config: managed rules for the invariants the template tests assert (TLS-only and SSE-KMS buckets,
  public access blocked, versioning, key rotation, CloudTrail on with log validation, Lambdas in a VPC,
  encrypted log groups and topics), over a recorder and delivery channel created here or the account's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_config as config
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_macie as macie
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_securityhub as securityhub
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk.compliance import acknowledge

FSBP_STANDARD = "standards/aws-foundational-security-best-practices/v/1.0.0"
GUARDDUTY_HIGH_SEVERITY = 7
"""GuardDuty's high band starts at 7.0 (7.0-8.9 high, 9.0-10.0 critical)."""
CONFIG_RULES: Mapping[str, str] = {
    "s3-ssl-requests-only": config.ManagedRuleIdentifiers.S3_BUCKET_SSL_REQUESTS_ONLY,
    "s3-default-encryption-kms": config.ManagedRuleIdentifiers.S3_DEFAULT_ENCRYPTION_KMS,
    "s3-public-access-prohibited": config.ManagedRuleIdentifiers.S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED,
    "s3-versioning-enabled": config.ManagedRuleIdentifiers.S3_BUCKET_VERSIONING_ENABLED,
    "s3-logging-enabled": config.ManagedRuleIdentifiers.S3_BUCKET_LOGGING_ENABLED,
    "kms-rotation-enabled": config.ManagedRuleIdentifiers.CMK_BACKING_KEY_ROTATION_ENABLED,
    "kms-not-scheduled-for-deletion": config.ManagedRuleIdentifiers.KMS_CMK_NOT_SCHEDULED_FOR_DELETION,
    "cloudtrail-enabled": config.ManagedRuleIdentifiers.CLOUD_TRAIL_ENABLED,
    "cloudtrail-log-validation": config.ManagedRuleIdentifiers.CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED,
    "cloudtrail-encryption": config.ManagedRuleIdentifiers.CLOUD_TRAIL_ENCRYPTION_ENABLED,
    "lambda-inside-vpc": config.ManagedRuleIdentifiers.LAMBDA_INSIDE_VPC,
    "log-groups-encrypted": config.ManagedRuleIdentifiers.CLOUDWATCH_LOG_GROUP_ENCRYPTED,
    "sns-encrypted-kms": config.ManagedRuleIdentifiers.SNS_ENCRYPTED_KMS,
}
"""Our name (after ``<prefix>-``) -> the AWS Config managed rule."""


@dataclass(frozen=True, kw_only=True)
class ThreatDetectionProps:
    name_prefix: str
    guardduty: bool
    macie: bool
    security_hub: bool
    config_rules: bool
    config_recorder: bool
    """Create the recorder and delivery channel (a region holds one; false: the account's existing one)."""
    config_bucket: s3.IBucket | None
    """Where the delivery channel writes configuration snapshots (needed with ``config_recorder``), referenced
    by its fixed name (``s3.Bucket.from_bucket_name``)."""
    config_bucket_key: kms.IKey | None
    topic: sns.ITopic
    runbook_url: str
    """The security-finding runbook's URL, in every rule's description and message."""


def _field(path: str) -> str:
    return events.EventField.from_path(path)


class ThreatDetection(Construct):
    """The services the flags turn on, and one EventBridge rule per service to ``topic`` (``rules``)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: ThreatDetectionProps) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, events.Rule] = {}
        if props.guardduty:
            self._guardduty(props)
        if props.macie:
            self._macie(props)
        if props.security_hub:
            self._security_hub(props)
        if props.config_rules:
            self._config_rules(props)

    def _guardduty(self, props: ThreatDetectionProps) -> None:
        guardduty.CfnDetector(
            self,
            "GuardDuty",
            enable=True,
            finding_publishing_frequency="FIFTEEN_MINUTES",
            features=[guardduty.CfnDetector.CFNFeatureConfigurationProperty(name="S3_DATA_EVENTS", status="ENABLED")],
        )
        self._rule(
            "GuardDutyHighFinding",
            props,
            name="guardduty-high",
            what=f"GuardDuty finding of severity >= {GUARDDUTY_HIGH_SEVERITY}",
            pattern=events.EventPattern(
                source=["aws.guardduty"],
                detail_type=["GuardDuty Finding"],
                detail={"severity": events.Match.greater_than_or_equal(GUARDDUTY_HIGH_SEVERITY)},
            ),
            message=f"GuardDuty {_field('$.detail.type')} (severity {_field('$.detail.severity')}) on "
            f"{_field('$.detail.resource.resourceType')} in {_field('$.region')}: {_field('$.detail.title')}",
        )

    def _macie(self, props: ThreatDetectionProps) -> None:
        macie.CfnSession(self, "Macie", status="ENABLED", finding_publishing_frequency="FIFTEEN_MINUTES")
        self._rule(
            "MacieHighFinding",
            props,
            name="macie-high",
            what="Macie finding of high severity (personal data where it should not be, or a bucket exposed)",
            pattern=events.EventPattern(
                source=["aws.macie"], detail_type=["Macie Finding"], detail={"severity": {"description": ["High"]}}
            ),
            message=f"Macie {_field('$.detail.type')} in {_field('$.region')}: {_field('$.detail.title')}",
        )

    def _security_hub(self, props: ThreatDetectionProps) -> None:
        hub = securityhub.CfnHub(self, "SecurityHub", auto_enable_controls=True)
        standard = securityhub.CfnStandard(
            self, "FoundationalStandard", standards_arn=f"arn:aws:securityhub:{Stack.of(self).region}::{FSBP_STANDARD}"
        )
        standard.node.add_dependency(hub)
        self._rule(
            "SecurityHubHighFinding",
            props,
            name="securityhub-high",
            what="Security Hub finding of severity CRITICAL or HIGH, active and new",
            pattern=events.EventPattern(
                source=["aws.securityhub"],
                detail_type=["Security Hub Findings - Imported"],
                detail={
                    "findings": {
                        "Severity": {"Label": ["CRITICAL", "HIGH"]},
                        "RecordState": ["ACTIVE"],
                        "Workflow": {"Status": ["NEW"]},
                    }
                },
            ),
            message=f"Security Hub {_field('$.detail.findings[0].Severity.Label')}: "
            f"{_field('$.detail.findings[0].Title')} in {_field('$.region')}",
        )

    def _config_rules(self, props: ThreatDetectionProps) -> None:
        recorder = self._recorder(props) if props.config_recorder else None
        names = []
        for name, identifier in CONFIG_RULES.items():
            rule = config.ManagedRule(
                self, f"Rule-{name}", identifier=identifier, config_rule_name=f"{props.name_prefix}-{name}"
            )
            if recorder is not None:
                rule.node.add_dependency(recorder)
            names.append(f"{props.name_prefix}-{name}")
        self._rule(
            "ConfigNonCompliant",
            props,
            name="config-noncompliant",
            what="A resource became NON_COMPLIANT with one of our AWS Config rules",
            pattern=events.EventPattern(
                source=["aws.config"],
                detail_type=["Config Rules Compliance Change"],
                detail={"configRuleName": names, "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]}},
            ),
            message=f"AWS Config: {_field('$.detail.resourceType')} {_field('$.detail.resourceId')} is "
            f"NON_COMPLIANT with {_field('$.detail.configRuleName')} in {_field('$.region')}",
        )

    def _recorder(self, props: ThreatDetectionProps) -> Construct:
        """The region's recorder (every supported resource) and its delivery channel to ``config_bucket``."""
        if props.config_bucket is None or props.config_bucket_key is None:
            raise ValueError("config_recorder needs a config_bucket and its key")
        role = iam.Role(
            self,
            "ConfigRole",
            description="AWS Config records this region's resources.",
            assumed_by=iam.ServicePrincipal("config.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWS_ConfigRole")],
        )
        acknowledge(
            role,
            rules=["AwsSolutions-IAM4"],
            findings=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole"],
            reason="AWS Config's own managed policy (read-only Describe/List of every recorded resource type), "
            "which AWS keeps in step with the resource types it records.",
        )
        self._delivery_policy(props, role)
        recorder = config.CfnConfigurationRecorder(
            self,
            "Recorder",
            role_arn=role.role_arn,
            recording_group=config.CfnConfigurationRecorder.RecordingGroupProperty(
                all_supported=True, include_global_resource_types=True
            ),
        )
        channel = config.CfnDeliveryChannel(
            self, "DeliveryChannel", s3_bucket_name=props.config_bucket.bucket_name, s3_key_prefix="config"
        )
        channel.node.add_dependency(recorder)
        return channel

    def _delivery_policy(self, props: ThreatDetectionProps, role: iam.Role) -> None:
        """Deliveries under ``config/`` of the audit bucket, encrypted with its key through S3."""
        assert props.config_bucket is not None and props.config_bucket_key is not None
        policy = iam.ManagedPolicy(
            self,
            "ConfigDeliveryPolicy",
            description="AWS Config delivers configuration snapshots and history under config/ of the audit bucket.",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="CheckBucket",
                    actions=["s3:GetBucketAcl", "s3:ListBucket"],
                    resources=[props.config_bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="DeliverUnderConfig",
                    actions=["s3:PutObject"],
                    resources=[props.config_bucket.arn_for_objects("config/*")],
                ),
                iam.PolicyStatement(
                    sid="EncryptDeliveries",
                    actions=["kms:GenerateDataKey"],
                    resources=[props.config_bucket_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}},
                ),
            ],
        )
        acknowledge(
            policy,
            rules=["AwsSolutions-IAM5"],
            findings=[_object_finding(self, props.config_bucket, "config/*")],
            reason="AWS Config writes one object per delivery under config/ of the audit bucket only.",
        )

    def _rule(
        self,
        construct_id: str,
        props: ThreatDetectionProps,
        *,
        name: str,
        what: str,
        pattern: events.EventPattern,
        message: str,
    ) -> None:
        rule = events.Rule(
            self,
            construct_id,
            rule_name=f"{props.name_prefix}-{name}",
            description=f"{what}. Runbook: {props.runbook_url}"[:512],
            event_pattern=pattern,
        )
        # By ARN: CDK's own grants to EventBridge on the topic and its key carry no condition; the alert topic
        # and its key already admit EventBridge of this account (aws:SourceAccount, AlertTopic).
        topic = self.node.try_find_child("TopicRef") or sns.Topic.from_topic_attributes(
            self, "TopicRef", topic_arn=props.topic.topic_arn
        )
        rule.add_target(
            targets.SnsTopic(
                topic, message=events.RuleTargetInput.from_text(f"{message}. Runbook: {props.runbook_url}")
            )
        )
        self.rules[name] = rule


def _object_finding(scope: Construct, bucket: s3.IBucket, key_pattern: str) -> str:
    """cdk-nag's name for a wildcard on the objects of a bucket referenced by its (fixed) name."""
    return f"Resource::{Stack.of(scope).resolve(bucket.arn_for_objects(key_pattern))}"
