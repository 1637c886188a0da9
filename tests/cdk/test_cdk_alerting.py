"""Alert topic and the monthly budget."""

from __future__ import annotations

from typing import Any

from cdk_testkit import Synthesized, resources


def test_budget_notifications(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    for env, config in env_config.items():
        template = lakehouse.template(lakehouse.environments[env].alerting)
        (budget,) = resources(template, "AWS::Budgets::Budget").values()
        data = budget["Properties"]["Budget"]
        assert data["BudgetType"] == "COST" and data["TimeUnit"] == "MONTHLY"
        assert data["BudgetLimit"] == {"Amount": config.budget.monthly_limit_usd, "Unit": "USD"}
        tags = {e["Tags"]["Key"]: e["Tags"]["Values"] for e in data["FilterExpression"]["And"]}
        assert tags == {"Environment": [env], "Project": ["lakehouse"]}
        (topic_id,) = resources(template, "AWS::SNS::Topic")
        notifications = sorted(
            (n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
            for n in budget["Properties"]["NotificationsWithSubscribers"]
        )
        assert notifications == [("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)]
        for n in budget["Properties"]["NotificationsWithSubscribers"]:
            assert n["Notification"]["ThresholdType"] == "PERCENTAGE"
            assert n["Subscribers"] == [{"Address": {"Ref": topic_id}, "SubscriptionType": "SNS"}]


def test_alert_topic_is_encrypted_tls_only_and_open_to_budgets(
    lakehouse: Synthesized, env_config: dict[str, Any]
) -> None:
    for env, config in env_config.items():
        template = lakehouse.template(lakehouse.environments[env].alerting)
        (topic,) = resources(template, "AWS::SNS::Topic").values()
        assert "KmsMasterKeyId" in topic["Properties"]
        (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )
        budgets = next(s for s in statements if s.get("Sid") == "AllowBudgetsToPublish")
        assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"} and budgets["Action"] == "sns:Publish"
        subscriptions = resources(template, "AWS::SNS::Subscription").values()
        assert sorted(s["Properties"]["Endpoint"] for s in subscriptions) == sorted(config.budget.alert_emails)
        (key,) = resources(template, "AWS::KMS::Key").values()
        assert key["Properties"]["EnableKeyRotation"] is True
        services = [
            s["Principal"]["Service"]
            for s in key["Properties"]["KeyPolicy"]["Statement"]
            if s.get("Sid") == "AllowAlertingServicesToUseKey"
        ]
        assert services == [["budgets.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com"]]


def test_stack_names_and_tags(lakehouse: Synthesized) -> None:
    for env, stacks in lakehouse.environments.items():
        parts = [s.stack_name.removeprefix(f"Lakehouse-{env}-") for s in stacks.all()]
        assert parts == (["Network"] if stacks.network else []) + (["Dr"] if stacks.dr else []) + [
            "Storage",
            "Alerting",
            "Compute",
            "Orchestration",
            "Ops",
            "Observability",
        ] + (["Security"] if stacks.security else [])
        for stack in stacks.all():
            component = stack.stack_name.rsplit("-", 1)[1]
            assert stack.tags.tag_values() == {
                "Project": "lakehouse",
                "Environment": env,
                "Component": component,
                "CostCenter": "data-platform",
            }
            template = lakehouse.template(stack)
            for logical_id, resource in template["Resources"].items():
                tags = resource.get("Properties", {}).get("Tags")
                if isinstance(tags, list) and resource["Type"] != "AWS::EMRServerless::Application":
                    keys = {t["Key"] for t in tags}
                    assert {"Project", "Environment", "Component", "CostCenter"} <= keys, (
                        stack.stack_name,
                        logical_id,
                    )
