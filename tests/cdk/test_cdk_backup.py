"""AWS Backup (issue 17): vault, plans, copies to the DR region, restore testing, the service roles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cdk_testkit import REPO_ROOT, Synthesized, acknowledgements, cdk_context, resources

from cdk.config import EnvironmentConfig, LakehouseConfig, achievable_rpo, load_config, rebuild_minutes
from platform_model import aws_names

ENVS = ["dev", "staging", "prod"]


def storage_template(lakehouse: Synthesized, env: str) -> dict[str, Any]:
    return lakehouse.template(lakehouse.environments[env].storage)


def one(template: dict[str, Any], cfn_type: str, **match: Any) -> tuple[str, dict[str, Any]]:
    """The single resource of ``cfn_type`` whose properties contain ``match``."""
    found = [
        (logical_id, r["Properties"])
        for logical_id, r in resources(template, cfn_type).items()
        if all(r["Properties"].get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, (cfn_type, match, found)
    return found[0]


def plan_rule(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    for logical_id, r in resources(template, "AWS::Backup::BackupPlan").items():
        plan = r["Properties"]["BackupPlan"]
        if plan["BackupPlanName"] == name:
            [rule] = plan["BackupPlanRule"]
            return logical_id, rule
    raise AssertionError(f"no backup plan {name}")


def logical_id_of_bucket(template: dict[str, Any], layer: str) -> str:
    [logical_id] = [k for k in resources(template, "AWS::S3::Bucket") if k.startswith(f"{layer.capitalize()}Bucket")]
    return logical_id


@pytest.mark.parametrize("env", ENVS)
def test_vault_is_encrypted_with_the_artifacts_key_and_locked_only_in_prod(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    template = storage_template(lakehouse, env)
    _, vault = one(template, "AWS::Backup::BackupVault", BackupVaultName=aws_names.backup_vault_name(env))
    [data_key] = [k for k in resources(template, "AWS::KMS::Key") if k.startswith("ArtifactsKey")]
    assert vault["EncryptionKeyArn"] == {"Fn::GetAtt": [data_key, "Arn"]}
    lock = env_config[env].recovery.backup.vault_lock
    if env == "prod":
        assert vault["LockConfiguration"] == {
            "MinRetentionDays": lock.min_retention_days,
            "MaxRetentionDays": lock.max_retention_days,
        }
        # Governance mode: without ChangeableForDays the lock never becomes immutable.
        assert "ChangeableForDays" not in vault["LockConfiguration"]
    else:
        assert "LockConfiguration" not in vault


@pytest.mark.parametrize("env", ENVS)
def test_continuous_backup_covers_the_configured_buckets_with_retention_from_config(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    template = storage_template(lakehouse, env)
    settings = env_config[env].recovery.backup
    plan_id, rule = plan_rule(template, f"lakehouse-{env}-continuous")
    assert rule["EnableContinuousBackup"] is True
    assert rule["Lifecycle"] == {"DeleteAfterDays": settings.continuous_retention_days}
    _, selection = one(template, "AWS::Backup::BackupSelection", BackupPlanId={"Fn::GetAtt": [plan_id, "BackupPlanId"]})
    expected = [{"Fn::GetAtt": [logical_id_of_bucket(template, layer), "Arn"]} for layer in settings.continuous_layers]
    assert selection["BackupSelection"]["Resources"] == expected
    assert settings.continuous_layers == ("landing", "bronze")
    for layer in settings.continuous_layers:  # S3 continuous backup needs versioning
        bucket = template["Resources"][logical_id_of_bucket(template, layer)]
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


@pytest.mark.parametrize("env", ENVS)
def test_ops_state_tables_are_in_the_snapshot_plan_from_their_own_stacks(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    stacks = lakehouse.environments[env]
    settings = env_config[env].recovery.backup.ops_state
    _, rule = plan_rule(storage_template(lakehouse, env), f"lakehouse-{env}-snapshots")
    every = settings.every_hours
    assert rule["ScheduleExpression"] == f"cron(0 {'0' if every == 24 else f'0/{every}'} * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": settings.retention_days}
    for stack, table_name in (
        (stacks.orchestration, aws_names.promotions_table_name(env)),
        (stacks.ops, aws_names.intake_manifest_table_name(env)),
    ):
        template = lakehouse.template(stack)
        table_id, _ = one(template, "AWS::DynamoDB::GlobalTable", TableName=table_name)
        [selection] = [r["Properties"] for r in resources(template, "AWS::Backup::BackupSelection").values()]
        assert selection["BackupSelection"]["Resources"] == [{"Fn::GetAtt": [table_id, "Arn"]}]
        assert "SnapshotPlan" in selection["BackupPlanId"]["Fn::ImportValue"]
        assert "BackupRole" in selection["BackupSelection"]["IamRoleArn"]["Fn::ImportValue"]


@pytest.mark.parametrize("env", ENVS)
def test_snapshots_are_copied_to_the_dr_vault_when_region_loss_is_in_scope(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    config = env_config[env]
    _, rule = plan_rule(storage_template(lakehouse, env), f"lakehouse-{env}-snapshots")
    dr = lakehouse.environments[env].dr
    if not config.recovery.region_loss:
        assert "CopyActions" not in rule
        assert dr is None or not resources(lakehouse.template(dr), "AWS::Backup::BackupVault")
        return
    assert dr is not None
    dr_name = aws_names.dr_backup_vault_name(env)
    assert rule["CopyActions"] == [
        {
            "DestinationBackupVaultArn": f"arn:aws:backup:{config.dr_region}:{config.account}:backup-vault:{dr_name}",
            "Lifecycle": {"DeleteAfterDays": config.recovery.backup.ops_state.dr_copy_retention_days},
        }
    ]
    dr_template = lakehouse.template(dr)
    _, vault = one(dr_template, "AWS::Backup::BackupVault", BackupVaultName=dr_name)
    [replica_key] = [k for k in resources(dr_template, "AWS::KMS::Key") if k.startswith("ReplicaKey")]
    assert vault["EncryptionKeyArn"] == {"Fn::GetAtt": [replica_key, "Arn"]}
    assert ("LockConfiguration" in vault) == (env == "prod")
    assert dr.region == config.dr_region


@pytest.mark.parametrize("env", ENVS)
def test_restore_testing_restores_a_sample_on_a_schedule(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    template = storage_template(lakehouse, env)
    testing = env_config[env].recovery.backup.restore_testing
    plan_name = f"lakehouse_{env}_restore_testing"
    _, plan = one(template, "AWS::Backup::RestoreTestingPlan", RestoreTestingPlanName=plan_name)
    assert plan["ScheduleExpression"] == testing.schedule
    assert plan["StartWindowHours"] == testing.start_window_hours
    selection = plan["RecoveryPointSelection"]
    assert selection["Algorithm"] == "RANDOM_WITHIN_WINDOW"
    assert selection["SelectionWindowDays"] == testing.selection_window_days
    [vault_id] = resources(template, "AWS::Backup::BackupVault")
    assert selection["IncludeVaults"] == [{"Fn::GetAtt": [vault_id, "BackupVaultArn"]}]
    samples = {
        r["Properties"]["ProtectedResourceType"]: r["Properties"]
        for r in resources(template, "AWS::Backup::RestoreTestingSelection").values()
    }
    buckets = [layer for layer in testing.sample if layer != "ops_state"]
    assert set(samples) == {*(["S3"] if buckets else []), "DynamoDB"}
    assert selection["RecoveryPointTypes"] == [*(["CONTINUOUS"] if buckets else []), "SNAPSHOT"]
    region, account = env_config[env].region, env_config[env].account
    assert samples["DynamoDB"]["ProtectedResourceArns"] == [
        f"arn:aws:dynamodb:{region}:{account}:table/{aws_names.promotions_table_name(env)}",
        f"arn:aws:dynamodb:{region}:{account}:table/{aws_names.intake_manifest_table_name(env)}",
    ]
    if buckets:
        assert samples["S3"]["ProtectedResourceArns"] == [
            {"Fn::GetAtt": [logical_id_of_bucket(template, layer), "Arn"]} for layer in buckets
        ]
    for sample in samples.values():
        assert sample["RestoreTestingPlanName"] == plan_name
        assert sample["ValidationWindowHours"] == testing.validation_window_hours
        assert "RestoreTestingRole" in sample["IamRoleArn"]["Fn::GetAtt"][0]


def managed_policies(role: dict[str, Any]) -> list[str]:
    return [p["Fn::Join"][1][-1].removeprefix(":iam::aws:policy/") for p in role["Properties"]["ManagedPolicyArns"]]


@pytest.mark.parametrize("env", ENVS)
def test_backup_roles_hold_only_aws_backups_managed_policies(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    template = storage_template(lakehouse, env)
    roles = {k: r for k, r in resources(template, "AWS::IAM::Role").items() if k.startswith("Backup")}
    [backup_role] = [r for k, r in roles.items() if k.startswith("BackupBackupRole")]
    [restore_role] = [r for k, r in roles.items() if k.startswith("BackupRestoreTestingRole")]
    for role in (backup_role, restore_role):
        statement = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}}
        ]
        assert "Policies" not in role["Properties"]
    assert managed_policies(backup_role) == [
        "AWSBackupServiceRolePolicyForS3Backup",
        "service-role/AWSBackupServiceRolePolicyForBackup",
    ]
    samples_buckets = any(layer != "ops_state" for layer in env_config[env].recovery.backup.restore_testing.sample)
    assert managed_policies(restore_role) == [
        *(["AWSBackupServiceRolePolicyForS3Restore"] if samples_buckets else []),
        "service-role/AWSBackupServiceRolePolicyForRestores",
    ]
    # No policy of ours is attached to either role (no inline grants, no customer-managed policy).
    for policy in [
        *resources(template, "AWS::IAM::Policy").values(),
        *resources(template, "AWS::IAM::ManagedPolicy").values(),
    ]:
        attached = policy["Properties"].get("Roles", [])
        assert all("Backup" not in str(role) for role in attached), policy


def test_no_backup_plan_acknowledgement_is_left(lakehouse: Synthesized) -> None:
    """The DynamoDBInBackupPlan findings are met by the plan, not acknowledged."""

    assert [a for a in acknowledgements(lakehouse.app) if "InBackupPlan" in a[1]] == []


# --- docs/runbooks/BACKUP_AND_RESTORE.md states the objectives of cdk.json -----------------------------
DOC = REPO_ROOT / "docs" / "runbooks" / "BACKUP_AND_RESTORE.md"
TABLE_START = "<!-- objectives: generated from cdk.json, checked by tests/cdk/test_cdk_backup.py -->"
TABLE_END = "<!-- /objectives -->"


def objectives_table(config: LakehouseConfig) -> str:
    """The objectives table as the doc must show it (the test's failure message prints it to paste)."""
    lines = [
        "| environment | layer | RPO (min) | RTO (min) | worst event in scope | RPO floor: set by"
        " | rebuild bound (min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for env in config.environments.values():
        event = "region loss" if env.recovery.region_loss else "in-region loss"
        for layer, objective in env.recovery.objectives.items():
            floor, mechanism = achievable_rpo(env, layer)
            rebuild = rebuild_minutes(env, layer)
            lines.append(
                f"| {env.name} | {layer} | {objective.rpo_minutes} | {objective.rto_minutes} | {event} "
                f"| {floor}: {mechanism} | {rebuild or '-'} |"
            )
    return "\n".join(lines)


def test_backup_and_restore_doc_states_the_configured_objectives() -> None:
    text = DOC.read_text()
    assert TABLE_START in text and TABLE_END in text, f"{DOC.name} lost its table markers"
    shown = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    expected = objectives_table(load_config(cdk_context()["lakehouse"]))
    assert shown == expected, f"{DOC.name} is stale; replace its objectives table with:\n{expected}"


def test_backup_and_restore_doc_links_every_runbook() -> None:
    text = DOC.read_text()
    runbooks = sorted(p.name for p in (REPO_ROOT / "runbooks").glob("*.md") if p.name != "README.md")
    missing = [name for name in runbooks if f"](../../runbooks/{name})" not in text]
    assert missing == [], f"{DOC.name} does not link {missing}"
    for link in re.findall(r"\]\((\.\./[^)#]+)", text):
        assert (DOC.parent / link).resolve().exists(), link
