"""Keys per layer (issue 18, deliverable 2): every key rotates, the account may only administer it, and the
key policies and role policies together let each role use exactly the keys of the layers it reads or writes.

The expected matrix is written out here from what each job and function does (docs/PIPELINE.md: bronze reads
landing and writes bronze, ...), not computed from ``stacks.layer_access``, so a widening in either the key
policies or the role policies fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from cdk_testkit import Synthesized, flatten_join, readable_token, resources

from cdk.config import ENVIRONMENT_NAMES, EnvironmentConfig
from cdk.constructs.layer_key import ADMIN_ACTIONS
from platform_model import aws_names

ENVS = ENVIRONMENT_NAMES
LAYER_KEYS = ("landing", "bronze", "silver", "gold")
D, E = "decrypt", "encrypt"
EXPECTED: dict[str, dict[str, str]] = {
    # role name suffix -> {layer key: what it may do}
    "bronze-job": {"landing": D, "bronze": E},
    "silver-job": {"bronze": D, "silver": E},
    "gold-job": {"silver": D, "gold": E},
    "maintenance-job": {"bronze": E, "silver": E, "gold": E},
    "cost-reporter-role": {"bronze": D, "silver": D, "gold": D},
    "freshness-monitor-role": {"silver": D, "gold": D},
    "gold-lakeformation": {"gold": D},  # Lake Formation's location role: Athena users read gold through it
    "landing-intake-role": {},
    "failure-notifier-role": {},
}
REPLICATED_EXPECTED = {
    "replica-verifier-role": {"bronze": D, "silver": D, "gold": D},
    **{f"{layer}-replication": {layer: D} for layer in LAYER_KEYS},
}
EXPECTED_REPLICA: dict[str, dict[str, str]] = {
    "replica-verifier-role": {layer: D for layer in ("landing", "bronze", "silver", "gold")},
    **{f"{layer}-replication": {layer: E} for layer in LAYER_KEYS},
    "bronze-job-dr": {"landing": D, "bronze": E},
    "silver-job-dr": {"bronze": D, "silver": E},
    "gold-job-dr": {"silver": D, "gold": E},
    "maintenance-job-dr": {"bronze": E, "silver": E, "gold": E},
}
USE_ACTIONS = re.compile(r"^kms:(\*|Decrypt|Encrypt|GenerateDataKey|ReEncrypt)")


def _render(value: Any) -> str:
    return flatten_join(value, readable_token)


def _stack_templates(lakehouse: Synthesized, env: str) -> dict[str, dict[str, Any]]:
    return {stack.stack_name.rsplit("-", 1)[1]: template for stack, template in lakehouse.templates(env)}


def _keys_by_alias(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """alias suffix (``gold``) -> (key logical id, key properties)."""
    keys = resources(template, "AWS::KMS::Key")
    found = {}
    for alias in resources(template, "AWS::KMS::Alias").values():
        target = alias["Properties"]["TargetKeyId"]
        logical_id = target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else target["Ref"]
        suffix = re.sub(r"^alias/lakehouse-[a-z]+-", "", alias["Properties"]["AliasName"])
        found[suffix] = (logical_id, keys[logical_id]["Properties"])
    return found


def _allowed(key: dict[str, Any], role_arn: str) -> str | None:
    """What ``key``'s policy lets ``role_arn`` do through a statement naming it: ``encrypt``, ``decrypt``."""
    granted: set[str] = set()
    for statement in key["KeyPolicy"]["Statement"]:
        arns = statement.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn", [])
        if role_arn in {_render(arn) for arn in arns}:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            granted.add(E if any(a.startswith(("kms:Encrypt", "kms:GenerateDataKey")) for a in actions) else D)
    return E if E in granted else (D if granted else None)


def _role_arn(config: EnvironmentConfig, suffix: str) -> str:
    return f"arn:aws:iam::{config.account}:role/{config.prefix}-{suffix}"


@pytest.mark.parametrize("env", ENVS)
def test_every_key_rotates_and_the_account_only_administers_it(lakehouse: Synthesized, env: str) -> None:
    keys = 0
    for stack, template in lakehouse.templates(env):
        for logical_id, key in resources(template, "AWS::KMS::Key").items():
            keys += 1
            props = key["Properties"]
            assert props["EnableKeyRotation"] is True, (stack.stack_name, logical_id)
            for statement in props["KeyPolicy"]["Statement"]:
                principal = statement.get("Principal", {}).get("AWS")
                if principal is None or not _render(principal).endswith(":root"):
                    continue
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                conditions = statement.get("Condition", {})
                if not conditions:  # the account itself: administration only
                    assert statement["Sid"] == "KeyAdministration"
                    assert sorted(actions) == sorted(ADMIN_ACTIONS), (stack.stack_name, logical_id)
                    assert not [a for a in actions if USE_ACTIONS.match(a)]
                else:  # a use of the key: by named roles, or through named services of this account only
                    named = conditions.get("ArnEquals", {}).get("aws:PrincipalArn")
                    through = conditions.get("StringEquals", {})
                    assert named or ("kms:ViaService" in through and "kms:CallerAccount" in through), statement
    assert keys >= 8


@pytest.mark.parametrize("env", ENVS)
def test_a_key_per_layer_artifacts_ops_audit_alerts_and_network(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    templates = _stack_templates(lakehouse, env)
    primary = {}
    for name in ("Storage", "Ops", "Alerting", "Network"):
        primary.update(_keys_by_alias(templates[name]))
    assert set(primary) == {"landing", "bronze", "silver", "gold", "artifacts", "ops", "alerts", "audit", "network"}
    assert set(primary) | set(aws_names.DR_KEY_ROLES) == set(aws_names.KMS_KEY_ROLES)
    if env_config[env].features.replication:
        dr = _keys_by_alias(templates["Dr"])
        assert set(aws_names.DR_KEY_ROLES) <= set(dr)
    # Each lake bucket is encrypted with its own layer's key.
    storage = templates["Storage"]
    by_alias = _keys_by_alias(storage)
    for logical_id, bucket in resources(storage, "AWS::S3::Bucket").items():
        layer = next((la for la in (*LAYER_KEYS, "artifacts") if logical_id.startswith(la.capitalize())), None)
        if layer is None:
            continue
        [rule] = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [by_alias[layer][0], "Arn"]}, (
            logical_id
        )


@pytest.mark.parametrize("env", ENVS)
def test_key_policies_name_exactly_the_roles_of_the_layers_they_read_and_write(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    config = env_config[env]
    keys = _keys_by_alias(_stack_templates(lakehouse, env)["Storage"])
    expected = dict(EXPECTED)
    if config.features.replication:
        expected.update(REPLICATED_EXPECTED)
    # The producer roles deliver the extracts: they encrypt with landing's key (their own policies: encrypt only).
    expected.update({f"producer-{source}": {"landing": E} for source in config.producers})
    for suffix, layers in expected.items():
        arn = _role_arn(config, suffix)
        granted = {layer: _allowed(keys[layer][1], arn) for layer in LAYER_KEYS}
        assert {k: v for k, v in granted.items() if v} == layers, suffix
    # Nobody else: every role a layer key names is one of the expected ones.
    known = {_role_arn(config, suffix) for suffix in expected}
    for layer in LAYER_KEYS:
        for statement in keys[layer][1]["KeyPolicy"]["Statement"]:
            for arn in statement.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn", []):
                rendered = _render(arn)
                assert rendered in known or rendered.startswith("Backup"), (layer, rendered)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_replica_keys_name_the_replication_verifier_and_standby_roles(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    config = env_config[env]
    dr = _keys_by_alias(_stack_templates(lakehouse, env)["Dr"])
    for suffix, layers in EXPECTED_REPLICA.items():
        arn = _role_arn(config, suffix)
        granted = {layer: _allowed(dr[f"replica-{layer}"][1], arn) for layer in LAYER_KEYS}
        assert {k: v for k, v in granted.items() if v} == layers, suffix


def _job_role_key_statements(templates: dict[str, dict[str, Any]], role_name: str) -> dict[str, set[str]]:
    """key logical id -> KMS actions the role's managed policies allow on it (policies of the Storage stack)."""
    compute, storage = templates["Compute"], templates["Storage"]
    [role] = [r for r in resources(compute, "AWS::IAM::Role").values() if r["Properties"].get("RoleName") == role_name]
    allowed: dict[str, set[str]] = {}
    for arn in role["Properties"]["ManagedPolicyArns"]:
        if "Fn::ImportValue" not in arn:
            continue
        exported = re.search(r"ExportsOutputRef(\w+?)[0-9A-F]{8}$", arn["Fn::ImportValue"])
        assert exported, arn
        policy = storage["Resources"].get(exported.group(1))
        if policy is None:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("kms:") for a in actions):
                allowed.setdefault(statement["Resource"]["Fn::GetAtt"][0], set()).update(actions)
    return allowed


@pytest.mark.parametrize("env", ENVS)
def test_job_role_policies_reach_only_the_keys_their_key_policies_name(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    """The other half: the role's own policies name no other layer's key (a bronze job cannot decrypt gold
    even if a key policy widened)."""
    templates = _stack_templates(lakehouse, env)
    keys = _keys_by_alias(templates["Storage"])
    layer_of = {logical_id: layer for layer, (logical_id, _) in keys.items()}
    for job in ("bronze", "silver", "gold", "maintenance"):
        allowed = _job_role_key_statements(templates, f"{env_config[env].prefix}-{job}-job")
        layers = {layer_of[k]: (E if "kms:GenerateDataKey" in actions else D) for k, actions in allowed.items()}
        layers.pop("artifacts")  # job releases and EMR logs: every job
        assert layers == EXPECTED[f"{job}-job"], job


def _policy_keys(policy: dict[str, Any], layer_of: dict[str, str]) -> dict[str, str]:
    """layer -> decrypt/encrypt that a (managed or inline) policy allows on the layer keys it names."""
    found: dict[str, str] = {}
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for target in targets:
            text = str(target)
            for logical_id, layer in layer_of.items():
                if logical_id in text and any(a.startswith("kms:") for a in actions):
                    mode = E if any(a.startswith(("kms:Encrypt", "kms:GenerateDataKey")) for a in actions) else D
                    found[layer] = E if E in (mode, found.get(layer)) else D
    return found


def _role_layer_keys(template: dict[str, Any], storage: dict[str, Any], layer_of: dict[str, str]) -> Any:
    """(role logical id, role name, layer -> access) for every role of ``template`` reaching a layer key."""
    own = template["Resources"]
    for role_id, role in resources(template, "AWS::IAM::Role").items():
        policies = []
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and "Ref" in arn and arn["Ref"] in own:
                policies.append(own[arn["Ref"]])
            elif isinstance(arn, dict) and "Fn::ImportValue" in arn:
                exported = re.search(r"ExportsOutputRef(\w+?)[0-9A-F]{8}$", arn["Fn::ImportValue"])
                if exported and exported.group(1) in storage["Resources"]:
                    policies.append(storage["Resources"][exported.group(1)])
        for policy_type in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            policies += [
                p
                for p in resources(template, policy_type).values()
                if {"Ref": role_id} in p["Properties"].get("Roles", [])
            ]
        access: dict[str, str] = {}
        for policy in policies:
            for layer, mode in _policy_keys(policy, layer_of).items():
                access[layer] = E if E in (mode, access.get(layer)) else D
        if access:
            yield role_id, role["Properties"].get("RoleName"), access


@pytest.mark.parametrize("env", ENVS)
def test_every_role_whose_policies_reach_a_layer_key_is_named_by_that_key(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    """Across every stack: a role given KMS access to a layer key by IAM must be named by the key's policy with
    at least that access (else its reads fail at run time); found by walking the templates, not a list."""
    config = env_config[env]
    templates = _stack_templates(lakehouse, env)
    storage = templates["Storage"]
    keys = {layer: value for layer, value in _keys_by_alias(storage).items() if layer in LAYER_KEYS}
    layer_of = {logical_id: layer for layer, (logical_id, _) in keys.items()}
    checked = 0
    for part, template in templates.items():
        for role_id, role_name, access in _role_layer_keys(template, storage, layer_of):
            assert role_name, f"{part}/{role_id}: a role using a layer key needs a fixed name for the key policy"
            arn = f"arn:aws:iam::{config.account}:role/{role_name}"
            for layer, mode in access.items():
                allowed = _allowed(keys[layer][1], arn)
                assert allowed in (E, mode), (part, role_name, layer, mode, allowed)
                checked += 1
    assert checked >= 10


@pytest.mark.parametrize("env", ENVS)
def test_the_kms_guardrail_rule_covers_every_key_the_dr_regions_too(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    """The kms-key-disabled rule filters on no key (every key of the account and region: each layer's), the
    environment's trail feeds it management events (KMS included), and the DR region forwards its own."""
    config = env_config[env]
    templates = _stack_templates(lakehouse, env)
    rules = {
        r["Properties"]["Name"]: r["Properties"] for r in resources(templates["Alerting"], "AWS::Events::Rule").values()
    }
    pattern = rules[f"{config.prefix}-kms-key-disabled"]["EventPattern"]
    assert set(pattern["detail"]) == {"eventSource", "eventName"}  # no key id, alias or resource filter
    [trail] = resources(templates["Storage"], "AWS::CloudTrail::Trail").values()
    assert {"IncludeManagementEvents": True, "ReadWriteType": "All"} in trail["Properties"]["EventSelectors"]
    if "Dr" not in templates:
        return
    [forward] = [
        r["Properties"]
        for r in resources(templates["Dr"], "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.kms"]
    ]
    assert forward["EventPattern"] == pattern
    [target] = forward["Targets"]
    assert target["Arn"] == f"arn:aws:events:{config.region}:{config.account}:event-bus/default"
