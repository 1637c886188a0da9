"""Lakehouse-<env>-Alerting: the alert topic (and its key), the monthly budget that notifies it (named so its
notifications name their runbook), and the EventBridge rules for disabled KMS keys and failed backup jobs."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from constructs import Construct

from cdk.config import EnvironmentConfig
from cdk.constructs.alert_topic import AlertTopic, AlertTopicProps
from cdk.constructs.guardrail_events import GuardrailEvents, GuardrailEventsProps
from cdk.constructs.monthly_budget import MonthlyBudget, MonthlyBudgetProps
from job_assets.contracts import runbooks
from platform_model import aws_names


class AlertingStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        alerts = AlertTopic(
            self,
            "Alerts",
            props=AlertTopicProps(
                topic_name=aws_names.alert_topic_name(config.name, config.project),
                key_alias=f"alias/{config.prefix}-alerts",
                emails=config.budget.alert_emails,
                removal_policy=RemovalPolicy.DESTROY if config.features.allow_destroy else RemovalPolicy.RETAIN,
            ),
        )
        self.topic = alerts.topic
        self.publish_policy = alerts.publish_policy
        self.budget = MonthlyBudget(
            self,
            "Budget",
            props=MonthlyBudgetProps(
                budget_name=aws_names.budget_name(config.name, config.project),
                limit_usd=config.budget.monthly_limit_usd,
                topic=self.topic,
                cost_allocation_tags={"Project": config.project, "Environment": config.name},
                runbook_url=runbooks.runbook_url(config.ops.runbook_base_url, runbooks.BUDGET_EXCEEDED),
            ),
        )
        self.guardrail_events = GuardrailEvents(
            self,
            "GuardrailEvents",
            props=GuardrailEventsProps(
                rule_prefix=config.prefix, topic=self.topic, runbook_base_url=config.ops.runbook_base_url
            ),
        )
