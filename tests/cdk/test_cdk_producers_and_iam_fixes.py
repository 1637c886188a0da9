"""Producer roles (one per landing source) and issue 18's IAM fixes, each pinned on the synthesized templates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cdk_testkit import Synthesized, resources

from cdk.config import EnvironmentConfig

ENVS = ["dev", "staging", "prod"]
ENTITIES = {"crm": ["accounts", "contacts", "opportunities"], "snowflake": ["customers", "order_items", "orders"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def managed_policy(storage: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in resources(storage, "AWS::IAM::ManagedPolicy").items() if k.startswith(prefix)]
    return policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("source", ["crm", "snowflake"])
def test_producer_role_puts_only_its_own_entities_encrypted_with_the_landing_key(
    lakehouse: Synthesized, env: str, source: str, env_config: dict[str, Any]
) -> None:
    config: EnvironmentConfig = env_config[env]
    storage = lakehouse.template(lakehouse.environments[env].storage)
    roles = resources(storage, "AWS::IAM::Role")
    (role,) = [r for k, r in roles.items() if k.startswith(f"{source.capitalize()}ProducerRole")]
    assert role["Properties"]["RoleName"] == f"lakehouse-{env}-producer-{source}"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    producer = config.producers[source]
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": producer.external_id}}
    arn = producer.principal if producer.principal.startswith("arn:") else f":iam::{producer.principal}:root"
    assert arn in json.dumps(trust["Principal"])
    put, encrypt = managed_policy(storage, f"{source.capitalize()}ProducerPolicy")
    assert put["Action"] == "s3:PutObject"
    keys = [r["Fn::Join"][1][1] for r in put["Resource"]]
    assert keys == [f"/{source}/{entity}/dt=*/*" for entity in ENTITIES[source]]
    assert all(r["Fn::Join"][1][0]["Fn::GetAtt"][0].startswith("LandingBucket") for r in put["Resource"])
    assert put["Condition"]["StringEquals"]["s3:x-amz-server-side-encryption"] == "aws:kms"
    assert put["Condition"]["StringEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"] == encrypt["Resource"]
    assert sorted(encrypt["Action"]) == ["kms:Encrypt", "kms:GenerateDataKey"]  # no Decrypt, no read
    assert role["Properties"]["ManagedPolicyArns"] == [{"Ref": put_policy_id(storage, source)}]


def put_policy_id(storage: dict[str, Any], source: str) -> str:
    (found,) = [
        k for k in resources(storage, "AWS::IAM::ManagedPolicy") if k.startswith(f"{source.capitalize()}Producer")
    ]
    return found


def service_statements(template: dict[str, Any], service: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every resource-policy statement (keys, queues, topics) that grants ``service``."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        document = props.get("KeyPolicy") or props.get("PolicyDocument")
        if resource["Type"].startswith("AWS::IAM::") or not isinstance(document, dict):
            continue
        for statement in document.get("Statement", []):
            principal = statement.get("Principal", {})
            if statement["Effect"] == "Allow" and service in as_list(principal.get("Service", [])):
                yield logical_id, statement


@pytest.mark.parametrize("env", ENVS)
def test_eventbridge_grants_carry_a_source_condition(
    lakehouse: Synthesized, env: str, env_config: dict[str, Any]
) -> None:
    account = env_config[env].account
    found = 0
    for _, template in lakehouse.templates(env):
        for logical_id, statement in service_statements(template, "events.amazonaws.com"):
            found += 1
            condition = json.dumps(statement.get("Condition", {}))
            assert '"aws:SourceArn"' in condition or f'"aws:SourceAccount": "{account}"' in condition, (
                logical_id,
                statement,
            )
    assert found >= 3


@pytest.mark.parametrize("env", ENVS)
def test_the_ops_key_and_intake_queue_admit_eventbridge_of_this_account_only(
    lakehouse: Synthesized, env: str, env_config: dict[str, Any]
) -> None:
    ops = lakehouse.template(lakehouse.environments[env].ops)
    account = env_config[env].account
    grants = dict(service_statements(ops, "events.amazonaws.com"))
    key_grants = [s for k, s in service_statements(ops, "events.amazonaws.com") if k.startswith("OpsKey")]
    assert key_grants and all(s["Condition"]["StringEquals"]["aws:SourceAccount"] == account for s in key_grants)
    intake = [s for k, s in grants.items() if k.startswith("IntakeQueuePolicy")]
    assert intake and intake[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
    assert "sqs:SendMessage" in intake[0]["Action"]


def role_policies(lakehouse: Synthesized, env: str, role_prefix: str) -> list[dict[str, Any]]:
    """The statements of the managed policies on the Ops role ``role_prefix`` (its own and imported ones)."""
    stacks = lakehouse.environments[env]
    ops = lakehouse.template(stacks.ops)
    owners = [lakehouse.template(stacks.storage), ops, lakehouse.template(stacks.compute)]
    for owner in (stacks.dr, stacks.network):  # the replicas' read policies; the network-interfaces policy
        if owner is not None:
            owners.append(lakehouse.template(owner))
    (role,) = [r for k, r in resources(ops, "AWS::IAM::Role").items() if k.startswith(role_prefix)]
    found = []
    for arn in role["Properties"]["ManagedPolicyArns"]:
        reference = json.dumps(arn)
        matches = [
            policy["Properties"]["PolicyDocument"]["Statement"]
            for template in owners
            for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy").items()
            if logical_id in reference
        ]
        assert len(matches) == 1, reference
        found += matches[0]
    return found


def object_reads(statements: list[dict[str, Any]]) -> set[str]:
    keys = set()
    for statement in statements:
        if "s3:GetObject" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                keys.add(resource["Fn::Join"][1][1] if isinstance(resource, dict) else resource)
    return keys


def listed_prefixes(statements: list[dict[str, Any]]) -> set[str]:
    """The ``s3:prefix`` patterns a role may list; ``"<any>"`` for a ListBucket without that condition."""
    prefixes: set[str] = set()
    for statement in statements:
        if "s3:ListBucket" in as_list(statement["Action"]):
            condition = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
            prefixes |= set(as_list(condition)) if condition else {"<any>"}
    return prefixes


@pytest.mark.parametrize("env", ENVS)
def test_monitors_read_delta_logs_and_run_summaries_only(lakehouse: Synthesized, env: str) -> None:
    freshness = role_policies(lakehouse, env, "FreshnessMonitorRole")
    assert object_reads(freshness) == {"/*/_delta_log/*"}
    assert listed_prefixes(freshness) == {"*/_delta_log/*"}
    cost = role_policies(lakehouse, env, "CostReporterRole")
    assert object_reads(cost) == {"/run_summary/*", "/*/run_summary/*"}
    assert listed_prefixes(cost) == {"run_summary/*", "*/run_summary/*"}
    if lakehouse.environments[env].dr is not None:
        verifier = role_policies(lakehouse, env, "ReplicaVerifierRole")
        assert object_reads(verifier) == {"/*/_delta_log/*"}
        # It lists whole buckets (finding the tables, checking a replica's files: key names and sizes only).
        assert listed_prefixes(verifier) == {"*/_delta_log/*", "<any>"}


@pytest.mark.parametrize("env", ENVS)
def test_spark_jobs_cannot_delete_emr_logs(lakehouse: Synthesized, env: str) -> None:
    storage = lakehouse.template(lakehouse.environments[env].storage)
    statements = managed_policy(storage, "SparkRuntimePolicy")
    deletes = [s for s in statements if "s3:DeleteObject" in as_list(s["Action"])]
    assert deletes == []
    (put,) = [s for s in statements if s.get("Sid") == "PutObjectsWithoutDelete"]
    assert sorted(put["Action"]) == ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"]
    assert [r["Fn::Join"][1][1] for r in as_list(put["Resource"])] == ["/emr-logs/*"]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_replication_roles_trust_s3_of_this_account_only(
    lakehouse: Synthesized, env: str, env_config: dict[str, Any]
) -> None:
    storage = lakehouse.template(lakehouse.environments[env].storage)
    roles = {k: r for k, r in resources(storage, "AWS::IAM::Role").items() if "ReplicationRole" in k}
    assert len(roles) == 5  # landing, bronze, silver, gold, artifacts (job releases to the standby)
    for role in roles.values():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": env_config[env].account}}
