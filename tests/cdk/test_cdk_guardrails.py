"""The guardrails' alerting in the templates (issue 17): the EMR capacity alarms (percent of the maximum, from
the metric catalog), the rejected-landing-objects alarm, the EventBridge rules for disabled KMS keys and failed
AWS Backup jobs, and the budget whose name and tag carry its runbook."""

from __future__ import annotations

from typing import Any

from cdk_testkit import Synthesized, resources

from job_assets.contracts import runbooks
from platform_model import aws_names


def _by_name(template: dict[str, Any], kind: str, name_key: str) -> dict[str, dict[str, Any]]:
    return {r["Properties"][name_key]: r["Properties"] for r in resources(template, kind).values()}


def test_capacity_alarms_watch_the_percent_of_the_maximum(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    for env, config in env_config.items():
        template = lakehouse.template(lakehouse.environments[env].orchestration)
        alarms = _by_name(template, "AWS::CloudWatch::Alarm", "AlarmName")
        for resource, used, cap in (
            ("cpu", "CPUAllocated", "MaxCPUAllowed"),
            ("memory", "MemoryAllocated", "MaxMemoryAllowed"),
        ):
            alarm = alarms[f"{config.prefix}-emr-{resource}-capacity"]
            assert alarm["Threshold"] == 90 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert alarm["EvaluationPeriods"] == 10 and alarm["DatapointsToAlarm"] == 10
            assert alarm["TreatMissingData"] == "notBreaching"
            expression, *metrics = sorted(alarm["Metrics"], key=lambda m: "Expression" not in m)
            assert expression["Expression"] == "100 * used / cap" and expression["ReturnData"] is True
            stats = {m["Id"]: m["MetricStat"] for m in metrics}
            assert {stats["used"]["Metric"]["MetricName"], stats["cap"]["Metric"]["MetricName"]} == {used, cap}
            for stat in stats.values():
                assert stat["Metric"]["Namespace"] == "AWS/EMRServerless" and stat["Period"] == 60
                assert {d["Name"] for d in stat["Metric"]["Dimensions"]} == {"ApplicationId", "ApplicationName"}
            assert alarm["AlarmDescription"].endswith(
                f"Runbook: {runbooks.runbook_url(config.ops.runbook_base_url, runbooks.EMR_CAPACITY_EXHAUSTED)}"
            )
            assert len(alarm["AlarmActions"]) == 1 and len(alarm["OKActions"]) == 1


def test_rejected_landing_objects_alarm(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    for env, config in env_config.items():
        alarms = _by_name(lakehouse.template(lakehouse.environments[env].ops), "AWS::CloudWatch::Alarm", "AlarmName")
        alarm = alarms[f"{config.prefix}-landing-intake-rejected"]
        assert (alarm["Namespace"], alarm["MetricName"]) == (f"Lakehouse/{env}", "IntakeObjectsRejected")
        assert alarm["Dimensions"] == [{"Name": "Environment", "Value": env}]
        assert alarm["Threshold"] == 1 and alarm["Statistic"] == "Sum" and alarm["Period"] == 300
        assert alarm["AlarmDescription"].endswith(
            runbooks.runbook_url(config.ops.runbook_base_url, runbooks.LANDING_REJECTED)
        )


def test_kms_and_backup_rules_tell_the_alert_topic_with_the_runbook(
    lakehouse: Synthesized, env_config: dict[str, Any]
) -> None:
    for env, config in env_config.items():
        template = lakehouse.template(lakehouse.environments[env].alerting)
        (topic_id,) = resources(template, "AWS::SNS::Topic")
        rules = _by_name(template, "AWS::Events::Rule", "Name")
        kms = rules[f"{config.prefix}-kms-key-disabled"]
        assert kms["EventPattern"]["source"] == ["aws.kms"]
        assert kms["EventPattern"]["detail"]["eventName"] == ["DisableKey", "ScheduleKeyDeletion"]
        backup = rules[f"{config.prefix}-backup-job-failed"]
        assert backup["EventPattern"]["detail-type"] == ["Backup Job State Change", "Copy Job State Change"]
        assert backup["EventPattern"]["detail"] == {"state": ["FAILED", "ABORTED", "EXPIRED"]}
        restore = rules[f"{config.prefix}-restore-job-failed"]
        assert restore["EventPattern"]["detail"] == {"status": ["FAILED"]}
        for rule, incident in (
            (kms, runbooks.KMS_KEY_DISABLED),
            (backup, runbooks.BACKUP_FAILED),
            (restore, runbooks.BACKUP_FAILED),
        ):
            (target,) = rule["Targets"]
            assert target["Arn"] == {"Ref": topic_id}
            template_text = target["InputTransformer"]["InputTemplate"]
            assert runbooks.runbook_url(config.ops.runbook_base_url, incident) in template_text
        (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
        assert any(
            s.get("Principal") == {"Service": "events.amazonaws.com"} and s["Action"] == "sns:Publish"
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )


def test_budget_name_and_tag_carry_the_runbook(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    for env, config in env_config.items():
        (budget,) = resources(lakehouse.template(lakehouse.environments[env].alerting), "AWS::Budgets::Budget").values()
        name = budget["Properties"]["Budget"]["BudgetName"]
        assert name == aws_names.budget_name(env) == f"lakehouse-{env}-monthly - runbook budget-exceeded.md"
        assert ":" not in name and len(name) <= 100  # what AWS Budgets accepts as a name
        tags = {t["Key"]: t["Value"] for t in budget["Properties"]["ResourceTags"]}
        assert tags["Runbook"] == runbooks.runbook_url(config.ops.runbook_base_url, runbooks.BUDGET_EXCEEDED)
