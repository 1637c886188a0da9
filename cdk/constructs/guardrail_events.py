"""GuardrailEvents: EventBridge rules that tell the alert topic of a disabled or doomed KMS key and of a failed
AWS Backup job, each message ending with its runbook's URL.

Neither has a CloudWatch metric to alarm on: KMS publishes no metric of a key's state, and AWS Backup's job
metrics are per resource type. Both are events: KMS's ``DisableKey`` and ``ScheduleKeyDeletion`` calls reach
EventBridge as CloudTrail events (``AWS API Call via CloudTrail``: only where the account has a trail logging
management events), AWS Backup sends its job state changes itself. The rules match the account's events in
the stack's region; ``lakehouse kms status`` and ``lakehouse backup status`` tell whether the environment's
keys or jobs are the ones concerned.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from job_assets.contracts import runbooks

KMS_EVENTS = ("DisableKey", "ScheduleKeyDeletion")
JOB_FAILED_STATES = ("FAILED", "ABORTED", "EXPIRED")


@dataclass(frozen=True, kw_only=True)
class GuardrailEventsProps:
    rule_prefix: str
    """``lakehouse-dev``: the rules are ``<prefix>-kms-key-disabled``, ``<prefix>-backup-job-failed`` and
    ``<prefix>-restore-job-failed``."""
    topic: sns.ITopic
    runbook_base_url: str


def _field(path: str) -> str:
    return events.EventField.from_path(path)


class GuardrailEvents(Construct):
    """Three rules to ``topic``: KMS key disabled or scheduled for deletion, backup or copy job failed, restore
    job (restore testing included) failed."""

    def __init__(self, scope: Construct, construct_id: str, *, props: GuardrailEventsProps) -> None:
        super().__init__(scope, construct_id)
        # The rules target the topic by ARN: CDK's own grants (an unconditioned sns:Publish and key use for
        # EventBridge) are replaced by :meth:`_allow_publish`'s, limited to these rules.
        self._target = sns.Topic.from_topic_attributes(self, "TopicRef", topic_arn=props.topic.topic_arn)
        kms_url = runbooks.runbook_url(props.runbook_base_url, runbooks.KMS_KEY_DISABLED)
        backup_url = runbooks.runbook_url(props.runbook_base_url, runbooks.BACKUP_FAILED)
        self.kms_rule = self._rule(
            "KmsKeyDisabled",
            props,
            name="kms-key-disabled",
            description="A KMS key of the account was disabled or scheduled for deletion (CloudTrail).",
            pattern=events.EventPattern(
                source=["aws.kms"],
                detail_type=["AWS API Call via CloudTrail"],
                detail={"eventSource": ["kms.amazonaws.com"], "eventName": list(KMS_EVENTS)},
            ),
            message=(
                f"KMS {_field('$.detail.eventName')} on key {_field('$.detail.requestParameters.keyId')} in "
                f"{_field('$.region')} by {_field('$.detail.userIdentity.arn')} at {_field('$.time')}: what the "
                f"key encrypts is unreadable while it is not Enabled. Runbook: {kms_url}"
            ),
        )
        self.backup_rule = self._rule(
            "BackupJobFailed",
            props,
            name="backup-job-failed",
            description="An AWS Backup backup or copy job failed, was aborted or expired.",
            pattern=events.EventPattern(
                source=["aws.backup"],
                detail_type=["Backup Job State Change", "Copy Job State Change"],
                detail={"state": list(JOB_FAILED_STATES)},
            ),
            message=(
                f"AWS Backup: {_field('$.detail-type')} to {_field('$.detail.state')} in {_field('$.region')} at "
                f"{_field('$.time')} ({_field('$.detail.statusMessage')}). Runbook: {backup_url}"
            ),
        )
        self.restore_rule = self._rule(
            "RestoreJobFailed",
            props,
            name="restore-job-failed",
            description="An AWS Backup restore job (restore testing included) failed.",
            pattern=events.EventPattern(
                source=["aws.backup"], detail_type=["Restore Job State Change"], detail={"status": ["FAILED"]}
            ),
            message=(
                f"AWS Backup: a restore job failed in {_field('$.region')} at {_field('$.time')} "
                f"({_field('$.detail.statusMessage')}): the backups may not restore. Runbook: {backup_url}"
            ),
        )
        self._allow_publish(props.topic)

    def _allow_publish(self, topic: sns.ITopic) -> None:
        """EventBridge may publish to ``topic`` for these three rules only (the key: the topic's own statement)."""
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowGuardrailRulesToPublish",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnEquals": {
                        "aws:SourceArn": [r.rule_arn for r in (self.kms_rule, self.backup_rule, self.restore_rule)]
                    }
                },
            )
        )

    def _rule(
        self,
        construct_id: str,
        props: GuardrailEventsProps,
        *,
        name: str,
        description: str,
        pattern: events.EventPattern,
        message: str,
    ) -> events.Rule:
        rule = events.Rule(
            self,
            construct_id,
            rule_name=f"{props.rule_prefix}-{name}",
            description=description,
            event_pattern=pattern,
        )
        rule.add_target(targets.SnsTopic(self._target, message=events.RuleTargetInput.from_text(message)))
        return rule
