"""Audit trail and detection (issue 18, deliverables 3 and 4): the security section's bad input stops synth
naming the key; per environment, the trail records the lake buckets' data events with log file validation
into the Object Lock audit bucket, access logs and replicas keep old versions as configured, and the
detection services the flags turn on send their high-severity findings to the alert topic with a runbook link.
"""

from __future__ import annotations

from typing import Any

import pytest
from cdk_testkit import Synthesized, resources
from test_cdk_config import DELETE, ENV, mutate

from cdk.config import ENVIRONMENT_NAMES, ConfigError, EnvironmentConfig, load_config
from cdk.constructs.threat_detection import CONFIG_RULES, GUARDDUTY_HIGH_SEVERITY
from cdk.security import COMPLIANCE_MIN_RETENTION_DAYS, GOVERNANCE_MIN_RETENTION_DAYS
from job_assets.contracts import runbooks

LAKE_BUCKETS = ("Landing", "Bronze", "Silver", "Gold", "Artifacts")


@pytest.mark.parametrize(
    ("path", "value", "key", "message"),
    [
        (
            "environments.dev.security.audit.retention_days",
            GOVERNANCE_MIN_RETENTION_DAYS - 1,
            f"{ENV}.dev.security.audit.retention_days",
            f"89 days is below the audit minimum of {GOVERNANCE_MIN_RETENTION_DAYS} days for GOVERNANCE mode",
        ),
        (
            "environments.prod.security.audit.retention_days",
            200,
            f"{ENV}.prod.security.audit.retention_days",
            f"below the audit minimum of {COMPLIANCE_MIN_RETENTION_DAYS} days for COMPLIANCE mode",
        ),
        (
            "environments.prod.security.audit.object_lock_mode",
            "GOVERNANCE",
            f"{ENV}.prod.security.audit.object_lock_mode",
            "prod audit logs are locked in COMPLIANCE mode",
        ),
        (
            "environments.dev.security.audit.object_lock_mode",
            "LEGAL_HOLD",
            f"{ENV}.dev.security.audit.object_lock_mode",
            "is not one of GOVERNANCE, COMPLIANCE",
        ),
        (
            "environments.dev.security.audit.retention_days",
            5000,
            f"{ENV}.dev.security.audit.retention_days",
            "must be between 1 and 3650",
        ),
        (
            "environments.staging.security.audit.access_logs_noncurrent_days",
            1,
            f"{ENV}.staging.security.audit.access_logs_noncurrent_days",
            "1 days is below the audit minimum of 90 days",
        ),
        (
            "environments.dev.retention.access_logs_expire_after_days",
            30,
            f"{ENV}.dev.retention.access_logs_expire_after_days",
            "30 days is below the audit minimum of 90 days",
        ),
        (
            "environments.dev.security.keys.operator_roles",
            ["arn:aws:iam::1:role/x"],
            f"{ENV}.dev.security.keys.operator_roles[0]",
            "is not an IAM role name",
        ),
        (
            "environments.prod.security.detection.guardduty",
            False,
            f"{ENV}.prod.security.detection",
            "prod runs GuardDuty and Security Hub",
        ),
        (
            "environments.staging.security.audit.organization_trail",
            True,
            f"{ENV}.staging.security.detection.config_recorder",
            "organization_trail leaves out",
        ),
        (
            "environments.dev.security.detection.inspector",
            True,
            f"{ENV}.dev.security.detection.inspector",
            "unknown field",
        ),
        (
            "environments.dev.security.audit",
            DELETE,
            f"{ENV}.dev.security.audit",
            "missing required section",
        ),
    ],
)
def test_bad_security_config_names_the_key(
    raw_config: dict[str, Any], path: str, value: Any, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(mutate(raw_config, path, value))
    assert error.value.key == key
    assert str(error.value).startswith(f"{key}: ")
    assert message in str(error.value)


def test_committed_security_config(env_config: dict[str, EnvironmentConfig]) -> None:
    """Governance where dev and staging can clean up, compliance in prod; detection on in prod, off in dev."""
    modes = {env: config.security.audit.object_lock_mode for env, config in env_config.items()}
    assert modes == {"dev": "GOVERNANCE", "staging": "GOVERNANCE", "prod": "COMPLIANCE"}
    assert not env_config["dev"].security.detection.any
    prod = env_config["prod"].security.detection
    assert prod.guardduty and prod.macie and prod.security_hub and prod.config_rules
    replica = {env: config.security.audit.replica_noncurrent_days for env, config in env_config.items()}
    assert replica["prod"] > replica["staging"] > replica["dev"]


def _storage(lakehouse: Synthesized, env: str) -> dict[str, Any]:
    return lakehouse.template(lakehouse.environments[env].storage)


def _one(template: dict[str, Any], cfn_type: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = [(k, v) for k, v in resources(template, cfn_type).items() if k.startswith(prefix)]
    return logical_id, resource["Properties"]


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_trail_records_the_lake_buckets_data_events_with_log_validation(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    template = _storage(lakehouse, env)
    _, trail = _one(template, "AWS::CloudTrail::Trail")
    assert trail["TrailName"] == f"{env_config[env].prefix}-audit"
    assert trail["EnableLogFileValidation"] is True
    assert trail["IsMultiRegionTrail"] is True and trail["IncludeGlobalServiceEvents"] is True
    key_id, _ = _one(template, "AWS::KMS::Key", "AuditKey")
    bucket_id, _ = _one(template, "AWS::S3::Bucket", "AuditBucket")
    assert trail["KMSKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert trail["S3BucketName"] == {"Ref": bucket_id}
    assert "CloudWatchLogsLogGroupArn" in trail
    management, data = trail["EventSelectors"]
    # Every management event, KMS included (no source excluded), read and write.
    assert management == {"IncludeManagementEvents": True, "ReadWriteType": "All"}
    [resource] = data["DataResources"]
    assert resource["Type"] == "AWS::S3::Object" and data["ReadWriteType"] == "All"
    recorded = sorted(v["Fn::Join"][1][0]["Fn::GetAtt"][0] for v in resource["Values"])
    lake = sorted(k for k in resources(template, "AWS::S3::Bucket") if k.startswith(LAKE_BUCKETS))
    assert recorded == lake and len(lake) == len(LAKE_BUCKETS)
    # CloudTrail may deliver to the audit bucket for this trail only (no confused deputy).
    [policy] = [
        p
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    arn = f"arn:aws:cloudtrail:{env_config[env].region}:{env_config[env].account}:trail/{trail['TrailName']}"
    granted = [st for st in policy["Properties"]["PolicyDocument"]["Statement"] if st["Effect"] == "Allow"]
    assert {st["Principal"]["Service"] for st in granted} == {"cloudtrail.amazonaws.com"} and len(granted) == 2
    assert all(st["Condition"]["StringEquals"]["aws:SourceArn"] == arn for st in granted)


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_audit_bucket_is_locked_per_environment_under_the_audit_key(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    template = _storage(lakehouse, env)
    audit = env_config[env].security.audit
    _, bucket = _one(template, "AWS::S3::Bucket", "AuditBucket")
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": audit.object_lock_mode, "Days": audit.retention_days}},
    }
    assert audit.object_lock_mode == ("COMPLIANCE" if env == "prod" else "GOVERNANCE")
    key_id, _ = _one(template, "AWS::KMS::Key", "AuditKey")
    [sse] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] > audit.retention_days  # nothing expires while locked


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_access_logs_and_replicas_keep_old_versions_as_configured(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    config = env_config[env]
    stacks = lakehouse.environments[env]
    for stack in (stacks.storage, stacks.dr):
        if stack is None:
            continue
        template = lakehouse.template(stack)
        _, logs = _one(template, "AWS::S3::Bucket", "AccessLogs")
        [rule] = logs["LifecycleConfiguration"]["Rules"]
        assert rule["NoncurrentVersionExpiration"] == {
            "NoncurrentDays": config.security.audit.access_logs_noncurrent_days
        }
        assert rule["ExpirationInDays"] == config.retention.access_logs_expire_after_days
        assert rule["ExpirationInDays"] >= config.security.audit.minimum_retention_days
    if stacks.dr is None:
        return
    dr = lakehouse.template(stacks.dr)
    for layer in ("Landing", "Bronze", "Silver", "Gold"):
        _, replica = _one(dr, "AWS::S3::Bucket", f"{layer}Replica")
        baseline = [r for r in replica["LifecycleConfiguration"]["Rules"] if "NoncurrentVersionExpiration" in r]
        assert baseline[0]["NoncurrentVersionExpiration"] == {
            "NoncurrentDays": config.security.audit.replica_noncurrent_days
        }


def _rules_to_topic(lakehouse: Synthesized, env: str) -> dict[str, dict[str, Any]]:
    stack = lakehouse.environments[env].security
    assert stack is not None
    return {
        r["Properties"]["Name"]: r["Properties"]
        for r in resources(lakehouse.template(stack), "AWS::Events::Rule").values()
    }


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_detection_services_follow_the_flags(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    detection = env_config[env].security.detection
    stack = lakehouse.environments[env].security
    if not detection.any:
        assert stack is None
        return
    assert stack is not None
    template = lakehouse.template(stack)
    detectors = resources(template, "AWS::GuardDuty::Detector")
    assert len(detectors) == int(detection.guardduty)
    for detector in detectors.values():
        assert {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"} in detector["Properties"]["Features"]
    assert len(resources(template, "AWS::Macie::Session")) == int(detection.macie)
    assert len(resources(template, "AWS::SecurityHub::Hub")) == int(detection.security_hub)
    standards = [s["Properties"]["StandardsArn"] for s in resources(template, "AWS::SecurityHub::Standard").values()]
    assert standards == (
        [f"arn:aws:securityhub:{stack.region}::standards/aws-foundational-security-best-practices/v/1.0.0"]
        if detection.security_hub
        else []
    )
    rules = {r["Properties"]["ConfigRuleName"] for r in resources(template, "AWS::Config::ConfigRule").values()}
    prefix = env_config[env].prefix
    assert rules == ({f"{prefix}-{name}" for name in CONFIG_RULES} if detection.config_rules else set())
    recorders = resources(template, "AWS::Config::ConfigurationRecorder")
    assert len(recorders) == int(detection.config_rules and detection.config_recorder)
    assert len(resources(template, "AWS::Config::DeliveryChannel")) == len(recorders)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_high_findings_reach_the_alert_topic_with_the_runbook_link(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    config = env_config[env]
    detection = config.security.detection
    url = runbooks.runbook_url(config.ops.runbook_base_url, runbooks.SECURITY_FINDING)
    rules = _rules_to_topic(lakehouse, env)
    expected = {
        f"{config.prefix}-{name}"
        for name, on in (
            ("guardduty-high", detection.guardduty),
            ("macie-high", detection.macie),
            ("securityhub-high", detection.security_hub),
            ("config-noncompliant", detection.config_rules),
        )
        if on
    }
    assert set(rules) == expected
    alerting = lakehouse.template(lakehouse.environments[env].alerting)
    [topic_id] = resources(alerting, "AWS::SNS::Topic")
    for name, rule in rules.items():
        assert url in rule["Description"], name
        [target] = rule["Targets"]
        assert topic_id in target["Arn"]["Fn::ImportValue"], name
        message = target["InputTransformer"]["InputTemplate"]  # the event's fields, then the runbook
        assert message.endswith(f'Runbook: {url}"'), name
    if detection.guardduty:
        pattern = rules[f"{config.prefix}-guardduty-high"]["EventPattern"]
        assert pattern["detail"]["severity"] == [{"numeric": [">=", GUARDDUTY_HIGH_SEVERITY]}]
    if detection.security_hub:
        pattern = rules[f"{config.prefix}-securityhub-high"]["EventPattern"]
        assert pattern["detail"]["findings"]["Severity"]["Label"] == ["CRITICAL", "HIGH"]
    if detection.config_rules:
        pattern = rules[f"{config.prefix}-config-noncompliant"]["EventPattern"]
        assert pattern["detail"]["newEvaluationResult"]["complianceType"] == ["NON_COMPLIANT"]
        assert set(pattern["detail"]["configRuleName"]) == {f"{config.prefix}-{n}" for n in CONFIG_RULES}
