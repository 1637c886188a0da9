"""AlertTopic: the encrypted SNS topic every alarm, failed pipeline and budget notification goes to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk.constructs.layer_key import LayerKey, LayerKeyProps

# Services that publish to the topic on their own behalf need to use its key.
PUBLISHING_SERVICES = ("budgets.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com")


@dataclass(frozen=True, kw_only=True)
class AlertTopicProps:
    topic_name: str
    key_alias: str
    emails: Sequence[str]
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class AlertTopic(Construct):
    """SSE-KMS with its own rotating key, TLS-only publishing, e-mail subscribers, Budgets may publish."""

    def __init__(self, scope: Construct, construct_id: str, *, props: AlertTopicProps) -> None:
        super().__init__(scope, construct_id)
        self.key = self._key(props)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=props.topic_name,
            display_name=props.topic_name,
            master_key=self.key,
            enforce_ssl=True,
        )
        for sid, service in (
            ("AllowBudgetsToPublish", "budgets.amazonaws.com"),
            ("AllowCloudWatchAlarmsToPublish", "cloudwatch.amazonaws.com"),
        ):
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
                )
            )
        self.publish_policy = self._publish_policy(props)
        for email in props.emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def _key(self, props: AlertTopicProps) -> kms.Key:
        """The topic's rotating key (the account administers it, its roles use it through SNS only); the
        ``PUBLISHING_SERVICES`` of this account may use it."""
        key = LayerKey(
            self,
            "Key",
            props=LayerKeyProps(
                alias=props.key_alias,
                description=f"Encrypts the {props.topic_name} SNS topic.",
                removal_policy=props.removal_policy,
                via_services=[f"sns.{Stack.of(self).region}.amazonaws.com"],
            ),
        ).key
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlertingServicesToUseKey",
                principals=[iam.ServicePrincipal(service) for service in PUBLISHING_SERVICES],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        return key

    def _publish_policy(self, props: AlertTopicProps) -> iam.ManagedPolicy:
        """Publish to the topic, with the key through SNS only: what our own publishers attach."""
        return iam.ManagedPolicy(
            self,
            "PublishPolicy",
            description=f"Publish to the {props.topic_name} topic (encrypted with its key).",
            statements=[
                iam.PolicyStatement(sid="Publish", actions=["sns:Publish"], resources=[self.topic.topic_arn]),
                iam.PolicyStatement(
                    sid="EncryptMessages",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[self.key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sns.{Stack.of(self).region}.amazonaws.com"}},
                ),
            ],
        )
