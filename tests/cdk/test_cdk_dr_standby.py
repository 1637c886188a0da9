"""The DR standby (``dr.standby``): config validation, and what the DR and Storage templates hold with it on
(a standby application and state machines with no schedule, over the replicas and the replicated job
releases, under the replica key) and without it (nothing of it)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cdk_testkit import Synthesized, resources

from cdk.config import ConfigError, EnvironmentConfig, load_config
from platform_model import aws_names

ENV = "lakehouse.environments"


def _dr(lakehouse: Synthesized, env: str) -> tuple[Any, dict[str, Any]]:
    stacks = lakehouse.environments[env]
    assert stacks.dr is not None
    return stacks.dr, lakehouse.template(stacks.dr)


def _replica_key_ref(template: dict[str, Any]) -> dict[str, Any]:
    [key_id] = [k for k in resources(template, "AWS::KMS::Key") if k.startswith("ReplicaKey")]
    return {"Fn::GetAtt": [key_id, "Arn"]}


def _named(template: dict[str, Any], value: Any) -> str:
    """``value`` as JSON, each reference to a bucket of ``template`` replaced by the bucket's name."""
    text = json.dumps(value)
    for logical_id, bucket in resources(template, "AWS::S3::Bucket").items():
        if "BucketName" in bucket["Properties"]:
            text = text.replace(json.dumps({"Ref": logical_id}), bucket["Properties"]["BucketName"])
    return text


def _replica(config: EnvironmentConfig, layer: str) -> str:
    return aws_names.replica_bucket_name(config.name, layer, account=config.account, dr_region=config.dr_region)


def test_standby_defaults_prod_and_staging_on_dev_off(env_config: dict[str, EnvironmentConfig]) -> None:
    assert {name: c.dr.standby for name, c in env_config.items()} == {"dev": False, "staging": True, "prod": True}


@pytest.mark.parametrize(
    ("env", "value", "key", "message"),
    [
        ("dev", True, f"{ENV}.dev.dr.standby", "needs features.replication"),
        ("prod", "yes", f"{ENV}.prod.dr.standby", "expected bool"),
        ("staging", None, f"{ENV}.staging.dr.standby", "missing required field"),
    ],
)
def test_standby_config_errors_name_the_key(
    raw_config: dict[str, Any], env: str, value: Any, key: str, message: str
) -> None:
    raw = copy.deepcopy(raw_config)
    if value is None:
        del raw["environments"][env]["dr"]["standby"]
    else:
        raw["environments"][env]["dr"]["standby"] = value
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert error.value.key == key and message in str(error.value)


def test_unknown_dr_field_is_refused(raw_config: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_config)
    raw["environments"]["prod"]["dr"]["stanby"] = True
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert error.value.key == f"{ENV}.prod.dr.stanby"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_standby_application_matches_the_primary(lakehouse: Synthesized, env: str) -> None:
    _, template = _dr(lakehouse, env)
    primary = lakehouse.template(lakehouse.environments[env].compute)
    [(_, standby)] = resources(template, "AWS::EMRServerless::Application").items()
    [(_, active)] = resources(primary, "AWS::EMRServerless::Application").items()
    for field in ("Name", "ReleaseLabel", "Architecture", "MaximumCapacity", "RuntimeConfiguration", "Type"):
        assert standby["Properties"][field] == active["Properties"][field], field
    logging = standby["Properties"]["MonitoringConfiguration"]["CloudWatchLoggingConfiguration"]
    assert logging["EncryptionKeyArn"] == _replica_key_ref(template)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_standby_state_machines_have_no_schedule(lakehouse: Synthesized, env: str) -> None:
    config = lakehouse.config.environments[env]
    _, template = _dr(lakehouse, env)
    names = {
        m["Properties"]["StateMachineName"] for m in resources(template, "AWS::StepFunctions::StateMachine").values()
    }
    assert names == {aws_names.pipeline_state_machine_name(env), aws_names.maintenance_state_machine_name(env)}
    # The DR region's only rule forwards its KMS key events to the primary's guardrail (issue 18): no schedule.
    rules = list(resources(template, "AWS::Events::Rule").values())
    assert [r["Properties"]["EventPattern"]["source"] for r in rules] == [["aws.kms"]]
    assert not any("ScheduleExpression" in r["Properties"] for r in rules)
    assert resources(template, "AWS::Scheduler::Schedule") == {}
    # ... and every log group of the standby is under the replica key.
    for log_group in resources(template, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["KmsKeyId"] == _replica_key_ref(template)
    assert config.dr_region != config.region


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_standby_runs_on_the_replicas_and_the_replicated_releases(lakehouse: Synthesized, env: str) -> None:
    config = lakehouse.config.environments[env]
    dr, template = _dr(lakehouse, env)
    assert dr.standby is not None
    parameters = {
        p["Properties"]["Name"]: p["Properties"]["Value"] for p in resources(template, "AWS::SSM::Parameter").values()
    }
    assert set(parameters) == {aws_names.slots_parameter_name(env), aws_names.deployment_parameter_name(env)}
    deployment = _named(template, parameters[aws_names.deployment_parameter_name(env)])
    for layer in ("landing", "bronze", "silver", "gold", "artifacts"):
        assert _replica(config, layer) in deployment, layer
    # Nothing of the standby refers to the primary region's stacks (no export, no cross-region reader).
    assert "Fn::ImportValue" not in json.dumps(template)
    assert not [r for r in template["Resources"].values() if r["Type"] == "Custom::CrossRegionExportReader"]
    state_machines = _named(template, resources(template, "AWS::StepFunctions::StateMachine"))
    for layer in ("landing", "bronze", "silver", "gold", "artifacts"):
        assert _replica(config, layer) in state_machines, layer
    assert "/jobs/{}/entrypoints/bronze.py" in state_machines and "--gold-uri" in state_machines


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_standby_job_roles_are_their_own_and_least_privilege(lakehouse: Synthesized, env: str) -> None:
    _, template = _dr(lakehouse, env)
    roles = {
        r["Properties"]["RoleName"]: r
        for r in resources(template, "AWS::IAM::Role").values()
        if "RoleName" in r["Properties"]
    }
    assert set(roles) == {f"lakehouse-{env}-{job}-job-dr" for job in ("bronze", "silver", "gold", "maintenance")}
    for role in roles.values():
        assert "Policies" not in role["Properties"]  # managed policies only
        principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        assert principal == {"Service": "emr-serverless.amazonaws.com"}
    bronze = roles[f"lakehouse-{env}-bronze-job-dr"]["Properties"]["ManagedPolicyArns"]
    policies = resources(template, "AWS::IAM::ManagedPolicy")
    described = [policies[ref["Ref"]]["Properties"]["Description"] for ref in bronze if "Ref" in ref]
    assert any("bronze replica" in d for d in described)
    assert not any("silver replica" in d or "gold replica" in d for d in described)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_artifacts_job_releases_replicate_to_the_dr_region(lakehouse: Synthesized, env: str) -> None:
    config = lakehouse.config.environments[env]
    storage = lakehouse.template(lakehouse.environments[env].storage)
    [artifacts] = [
        b for logical_id, b in resources(storage, "AWS::S3::Bucket").items() if logical_id.startswith("Artifacts")
    ]
    [rule] = artifacts["Properties"]["ReplicationConfiguration"]["Rules"]
    assert rule["Filter"] == {"Prefix": "jobs/"}
    destination = rule["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::{_replica(config, 'artifacts')}"
    assert destination["EncryptionConfiguration"]["ReplicaKmsKeyID"]
    assert destination["ReplicationTime"]["Status"] == "Enabled"
    _, dr_template = _dr(lakehouse, env)
    names = {b["Properties"].get("BucketName") for b in resources(dr_template, "AWS::S3::Bucket").values()}
    assert _replica(config, "artifacts") in names


def test_no_standby_without_the_setting(lakehouse: Synthesized) -> None:
    dev = lakehouse.environments["dev"]
    assert dev.dr is None
    storage = lakehouse.template(dev.storage)
    for bucket in resources(storage, "AWS::S3::Bucket").values():
        assert "ReplicationConfiguration" not in bucket["Properties"]
