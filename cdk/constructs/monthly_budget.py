"""MonthlyBudget: an AWS Budget on the environment's tagged costs, notifying the alert topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_sns as sns
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class BudgetThreshold:
    notification_type: str  # ACTUAL | FORECASTED
    percent: float


DEFAULT_THRESHOLDS = (
    BudgetThreshold(notification_type="ACTUAL", percent=80),
    BudgetThreshold(notification_type="ACTUAL", percent=100),
    BudgetThreshold(notification_type="FORECASTED", percent=100),
)


@dataclass(frozen=True, kw_only=True)
class MonthlyBudgetProps:
    budget_name: str
    limit_usd: float
    topic: sns.ITopic
    cost_allocation_tags: Mapping[str, str]
    """Tags every resource carries; they must be activated as cost allocation tags in Billing."""
    thresholds: tuple[BudgetThreshold, ...] = DEFAULT_THRESHOLDS
    runbook_url: str = ""
    """The runbook that answers the budget's notifications, kept as the budget's ``Runbook`` tag (a
    notification's only text of ours is the budget name, which takes no URL: name the file there)."""


class MonthlyBudget(Construct):
    """A monthly COST budget filtered on the cost allocation tags (all of them must match)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: MonthlyBudgetProps) -> None:
        super().__init__(scope, construct_id)
        tag_filters = [
            budgets.CfnBudget.ExpressionProperty(
                tags=budgets.CfnBudget.TagValuesProperty(key=key, values=[value], match_options=["EQUALS"])
            )
            for key, value in sorted(props.cost_allocation_tags.items())
        ]
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=props.budget_name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=props.limit_usd, unit="USD"),
                filter_expression=(
                    budgets.CfnBudget.ExpressionProperty(and_=tag_filters) if len(tag_filters) > 1 else tag_filters[0]
                ),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=threshold.notification_type,
                        comparison_operator="GREATER_THAN",
                        threshold=threshold.percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[
                        budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=props.topic.topic_arn)
                    ],
                )
                for threshold in props.thresholds
            ],
            resource_tags=(
                [budgets.CfnBudget.ResourceTagProperty(key="Runbook", value=props.runbook_url)]
                if props.runbook_url
                else None
            ),
        )
