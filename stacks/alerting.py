"""Lakehouse-<env>-Alerting: the alert topic (and its key) and the monthly budget that notifies it."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from constructs import Construct

from cdk.config import EnvironmentConfig
from cdk.constructs.alert_topic import AlertTopic, AlertTopicProps
from cdk.constructs.monthly_budget import MonthlyBudget, MonthlyBudgetProps


class AlertingStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        alerts = AlertTopic(
            self,
            "Alerts",
            props=AlertTopicProps(
                topic_name=f"{config.prefix}-alerts",
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
                budget_name=f"{config.prefix}-monthly",
                limit_usd=config.budget.monthly_limit_usd,
                topic=self.topic,
                cost_allocation_tags={"Project": config.project, "Environment": config.name},
            ),
        )
