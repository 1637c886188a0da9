"""PII known by the contracts, enforced by Lake Formation: Glue parameters, LF-Tags, grants, the two roles.

Template assertions per environment on the session's synthesized app; config validation on ``load_config``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cdk_testkit import Synthesized, resources

from cdk.config import ConfigError, EnvironmentConfig, load_config
from job_assets.contracts.gold import GOLD_TABLES

ENVS = ("dev", "staging", "prod")
ENV = "lakehouse.environments"


def _storage(lakehouse: Synthesized, env: str) -> dict[str, Any]:
    return lakehouse.template(lakehouse.environments[env].storage)


def _arn_of(template: dict[str, Any], value: Any) -> str:
    """The logical id a ``Fn::GetAtt [X, Arn]`` names."""
    assert isinstance(value, dict) and "Fn::GetAtt" in value, value
    return value["Fn::GetAtt"][0]


@pytest.mark.parametrize("env", ENVS)
def test_glue_tables_carry_the_contracts_personal_columns(lakehouse: Synthesized, env: str) -> None:
    tables = {
        t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"]
        for t in resources(_storage(lakehouse, env), "AWS::Glue::Table").values()
    }
    assert set(tables) == {c.table for c in GOLD_TABLES}
    for contract in GOLD_TABLES:
        table = tables[contract.table]
        personal = {c.name: c.pii for c in contract.pii_columns}
        params = table["Parameters"]
        assert params["pii"] == ("true" if personal else "false"), contract.table
        assert params["pii_columns"] == ",".join(personal)
        assert {k: v for k, v in params.items() if k.startswith("pii.")} == {f"pii.{c}": p for c, p in personal.items()}
        for column in table["StorageDescriptor"]["Columns"]:
            assert column.get("Comment", "").startswith("[PII: ") == (column["Name"] in personal), column
    assert tables["customer_segments"]["Parameters"]["pii.customer_id"] == "identifier"


@pytest.mark.parametrize("env", ENVS)
def test_lake_formation_tags_come_from_the_contracts(lakehouse: Synthesized, env: str) -> None:
    template = _storage(lakehouse, env)
    (tag,) = resources(template, "AWS::LakeFormation::Tag").values()
    assert (tag["Properties"]["TagKey"], sorted(tag["Properties"]["TagValues"])) == (
        "classification",
        ["non_pii", "pii"],
    )
    tagged: dict[str, tuple[str, ...]] = {}
    database_tag = None
    for association in resources(template, "AWS::LakeFormation::TagAssociation").values():
        props = association["Properties"]
        (pair,) = props["LFTags"]
        if "Database" in props["Resource"]:
            database_tag = pair["TagValues"]
        else:
            columns = props["Resource"]["TableWithColumns"]
            assert pair["TagValues"] == ["pii"]
            tagged[columns["Name"]] = tuple(columns["ColumnNames"])
    assert database_tag == ["non_pii"]  # every column inherits non_pii unless the contract says personal
    assert tagged == {c.table: tuple(p.name for p in c.pii_columns) for c in GOLD_TABLES if c.pii_columns}


@pytest.mark.parametrize("env", ENVS)
def test_analyst_selects_non_pii_columns_and_privileged_everything(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    template = _storage(lakehouse, env)
    access = env_config[env].data_access
    roles = {
        r["Properties"]["RoleName"]: logical
        for logical, r in resources(template, "AWS::IAM::Role").items()
        if "RoleName" in r["Properties"]
    }
    grants: dict[str, dict[str, Any]] = {}
    for grant in resources(template, "AWS::LakeFormation::PrincipalPermissions").values():
        props = grant["Properties"]
        who = _arn_of(template, props["Principal"]["DataLakePrincipalIdentifier"])
        policy = props["Resource"].get("LFTagPolicy")
        if policy:
            assert policy["ResourceType"] == "TABLE"
            grants[who] = {"values": sorted(policy["Expression"][0]["TagValues"]), "permissions": props["Permissions"]}
        else:
            assert props["Permissions"] == ["DESCRIBE"] and "Database" in props["Resource"]
        assert props["PermissionsWithGrantOption"] == []
    analyst, privileged = roles[access.analyst.role_name], roles[access.privileged.role_name]
    assert grants[analyst] == {"values": ["non_pii"], "permissions": ["SELECT", "DESCRIBE"]}
    assert grants[privileged] == {"values": ["non_pii", "pii"], "permissions": ["SELECT", "DESCRIBE"]}
    assert set(grants) == {analyst, privileged}


@pytest.mark.parametrize("env", ENVS)
def test_the_roles_are_trusted_by_the_configured_principals_only(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    template = _storage(lakehouse, env)
    by_name = {r["Properties"].get("RoleName"): r for r in resources(template, "AWS::IAM::Role").values()}
    access = env_config[env].data_access
    for role in (access.analyst, access.privileged):
        (statement,) = by_name[role.role_name]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        principals = statement["Principal"]["AWS"]
        assert sorted(principals if isinstance(principals, list) else [principals]) == sorted(role.trusted_principals)
        assert statement["Action"] == "sts:AssumeRole"


@pytest.mark.parametrize("env", ENVS)
def test_lake_formation_governs_gold_with_its_own_location_role(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    template = _storage(lakehouse, env)
    ((logical, settings),) = resources(template, "AWS::LakeFormation::DataLakeSettings").items()
    props = settings["Properties"]
    assert props["MutationType"] == "APPEND"  # adds administrators, never removes the account's others
    assert props["CreateDatabaseDefaultPermissions"] == [] and props["CreateTableDefaultPermissions"] == []
    admins = [a["DataLakePrincipalIdentifier"] for a in props["Admins"]]
    configured = list(env_config[env].data_access.lake_formation_admins)
    assert [a for a in admins if "cfn-exec-role" not in a] == configured  # plus the CDK deployment role
    assert len(admins) == len(configured) + 1 and "cfn-exec-role" in admins[0]
    (database,) = resources(template, "AWS::Glue::Database").values()
    assert logical in database["DependsOn"]  # created without the IAMAllowedPrincipals default
    (location,) = resources(template, "AWS::LakeFormation::Resource").values()
    assert location["Properties"]["UseServiceLinkedRole"] is False
    gold = next(k for k in resources(template, "AWS::S3::Bucket") if k.startswith("GoldBucket"))
    assert location["Properties"]["ResourceArn"] == {"Fn::GetAtt": [gold, "Arn"]}


def _config_with(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[leaf] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("data_access.analyst.role_name", "", "not a valid IAM role name"),
        ("data_access.privileged.role_name", "lakehouse-dev-analyst", "must differ from analyst.role_name"),
        ("data_access.analyst.trusted_principals", [], "at least one principal ARN"),
        ("data_access.privileged.trusted_principals", ["everyone"], "is not an IAM root, role or user ARN"),
        ("data_access.lake_formation_admins", ["arn:aws:iam::111111111111:root"], "is not an IAM role ARN"),
        ("data_access.analyst.colour", "blue", "unknown field"),
    ],
)
def test_bad_data_access_config_names_the_key(raw_config: dict[str, Any], path: str, value: Any, message: str) -> None:
    raw = _config_with(raw_config, f"environments.dev.{path}", value)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(raw)
    expected = f"{ENV}.dev.{path}"
    if ("trusted_principals" in path and value) or "admins" in path:
        expected += "[0]"
    assert error.value.key == expected


def test_missing_data_access_section_names_it(raw_config: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_config)
    del raw["environments"]["prod"]["data_access"]
    with pytest.raises(ConfigError, match="missing required section") as error:
        load_config(raw)
    assert error.value.key == f"{ENV}.prod.data_access"
