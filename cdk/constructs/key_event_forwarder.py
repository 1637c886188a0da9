"""KeyEventForwarder: the DR region's KMS ``DisableKey`` / ``ScheduleKeyDeletion`` events, forwarded to the
primary region's default event bus, where the ``<prefix>-kms-key-disabled`` rule (GuardrailEvents) tells the
alert topic; so the replica keys are guarded like the primary's.

CloudTrail events reach EventBridge in the region of the call only, and an SNS topic is not a cross-region
target; an event bus is. The forwarded event keeps its source, detail and region, so the primary's rule
matches it and its message names the DR region.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk.constructs.guardrail_events import KMS_EVENTS


@dataclass(frozen=True, kw_only=True)
class KeyEventForwarderProps:
    rule_name: str
    target_region: str
    """The primary region, whose default bus the rule forwards to."""


class KeyEventForwarder(Construct):
    """One rule on this region's default bus, forwarding the KMS guardrail events to ``target_region``'s."""

    def __init__(self, scope: Construct, construct_id: str, *, props: KeyEventForwarderProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        bus_arn = stack.format_arn(
            service="events",
            region=props.target_region,
            resource="event-bus",
            resource_name="default",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        role = iam.Role(
            self,
            "Role",
            description=f"EventBridge forwards KMS key events to the default bus of {props.target_region}.",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            managed_policies=[
                iam.ManagedPolicy(
                    self,
                    "Policy",
                    description=f"Put events on the default bus of {props.target_region} only.",
                    statements=[
                        iam.PolicyStatement(sid="ForwardKeyEvents", actions=["events:PutEvents"], resources=[bus_arn])
                    ],
                )
            ],
        )
        self.rule = events.Rule(
            self,
            "Rule",
            rule_name=props.rule_name,
            description=f"KMS key disabled or scheduled for deletion here: to {props.target_region}'s guardrail rule.",
            event_pattern=events.EventPattern(
                source=["aws.kms"],
                detail_type=["AWS API Call via CloudTrail"],
                detail={"eventSource": ["kms.amazonaws.com"], "eventName": list(KMS_EVENTS)},
            ),
        )
        self.rule.add_target(
            targets.EventBus(
                events.EventBus.from_event_bus_arn(self, "PrimaryBus", bus_arn), role=role.without_policy_updates()
            )
        )
