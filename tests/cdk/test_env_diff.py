"""`lakehouse env diff`: settings and synthesized resources that differ, without the environments' own names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_testkit import REPO_ROOT, Synthesized, cdk_context

from lakehouse.cli import main
from lakehouse.ops.envdiff import EnvDiffError, diff_environments


def templates(lakehouse: Synthesized) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        env: {s.stack_name.removeprefix(f"Lakehouse-{env}-"): lakehouse.template(s) for s in stacks.all()}
        for env, stacks in lakehouse.environments.items()
    }


@pytest.fixture(scope="module")
def dev_prod(lakehouse: Synthesized):
    raw = cdk_context()["lakehouse"]
    return diff_environments(raw, lakehouse.config.environments, templates(lakehouse), "dev", "prod")


def test_config_differences_are_listed_by_setting(dev_prod) -> None:
    changes = {c.path: (c.a, c.b) for c in dev_prod.config}
    assert changes["features.replication"] == (False, True)
    assert changes["emr.max_vcpu"] == (32, 200)
    assert changes["account"] == ("111111111111", "333333333333")
    assert "region" not in changes and "job_flags.attribution_model" not in changes  # equal settings stay out


def test_resources_and_properties_that_differ_and_nothing_that_only_names_the_environment(dev_prod) -> None:
    # prod replicates (Dr) and runs the detection services (Security: security.detection, all off in dev)
    assert dev_prod.stacks_only_in_b == ["Dr", "Security"] and dev_prod.stacks_only_in_a == []
    by_part = {s.part: s for s in dev_prod.stacks}
    spark = next(changes for key, changes in by_part["Compute"].changed.items() if key.startswith("SparkApplication"))
    assert {c.path: (c.a, c.b) for c in spark}["Properties.MaximumCapacity.Cpu"] == ("32 vCPU", "200 vCPU")
    assert any(r.startswith("DrDashboard ") for r in by_part["Observability"].only_in_b)
    every = [c for s in dev_prod.stacks for changes in s.changed.values() for c in changes]
    assert every
    for c in every:  # the environment's own name, account and regions are placeholders on both sides
        for side in (c.a, c.b):
            text = json.dumps(side)
            assert "lakehouse-dev" not in text and "lakehouse-prod" not in text, c
            assert not (c.a == "dev" and c.b == "prod"), c


def test_staging_and_prod_differ_only_where_their_settings_do(lakehouse: Synthesized) -> None:
    """Both replicate: every difference left must come from a cdk.json value, none from names or hashes."""
    raw = cdk_context()["lakehouse"]
    diff = diff_environments(raw, lakehouse.config.environments, templates(lakehouse), "staging", "prod")
    from_settings = (
        "RetentionInDays",  # retention.log_group_retention_days
        "ExpirationInDays",  # retention.*_expire_after_days
        "MaximumCapacity.Cpu",  # emr.max_vcpu
        "MaximumCapacity.Disk",
        "MaximumCapacity.Memory",
        "BudgetLimit.Amount",  # budget.monthly_limit_usd
        "DashboardBody",  # the cost board's budget line
        "LockConfiguration.MinRetentionDays",  # recovery.backup.vault_lock (prod only)
        "LockConfiguration.MaxRetentionDays",
        "DeleteAfterDays",  # recovery.backup.*retention_days
        "BackupPlanRule[0].ScheduleExpression",  # recovery.backup.ops_state.every_hours
        "BackupPlanRule[0].RuleName",  # "every-<hours>h"
        "NoncurrentDays",  # security.audit.access_logs_noncurrent_days, replica_noncurrent_days
        "DefaultRetention.Mode",  # security.audit.object_lock_mode
        "DefaultRetention.Days",  # security.audit.retention_days
        "CidrBlock",  # network.cidr (the VPC and its subnets)
    )
    changes = [(s.part, key, c) for s in diff.stacks for key, cs in s.changed.items() for c in cs]
    assert changes
    for part, key, change in changes:
        path = change.path
        # security.detection.macie (prod only): Macie's service-linked role is an exception of silver's and
        # gold's endpoint perimeter
        macie = key.startswith(("SilverBucketPolicy", "GoldBucketPolicy")) and ".ArnNotLike.aws:PrincipalArn[" in path
        initial = path.startswith("Properties.InitialCapacity")  # spark.initial_capacity (prod only)
        # spark.<job>: a job state's SparkSubmitParameters carry its sizing, the deployment parameter gold's
        sizing = path.startswith(("Properties.DefinitionString", "Properties.Value")) and all(
            "--conf spark.dynamicAllocation.maxExecutors=" in str(side) for side in (change.a, change.b)
        )
        explained = path.endswith(from_settings) or macie or initial or sizing
        assert explained, f"{part}/{key}: {path} differs but no setting explains it"
    only = [r for s in diff.stacks for r in (*s.only_in_a, *s.only_in_b)]
    # budget.alert_emails; security.detection.macie (prod only)
    assert only and all(r.endswith("(AWS::SNS::Subscription)") or r.startswith("DetectionMacie") for r in only), only


def test_an_environment_against_itself_is_empty_and_an_unknown_one_is_named(lakehouse: Synthesized) -> None:
    raw = cdk_context()["lakehouse"]
    same = diff_environments(raw, lakehouse.config.environments, templates(lakehouse), "staging", "staging")
    assert same.config == [] and same.stacks == [] and same.stacks_only_in_a == same.stacks_only_in_b == []
    with pytest.raises(EnvDiffError, match=r"unknown environment 'qa'; cdk\.json has: dev, staging, prod"):
        diff_environments(raw, lakehouse.config.environments, templates(lakehouse), "dev", "qa")


def test_the_command_synthesizes_and_prints_json(capsys) -> None:
    assert main(["env", "diff", "staging", "prod", "--json", "--repo", str(REPO_ROOT)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["a"], out["b"]) == ("staging", "prod")
    assert {c["path"] for c in out["config"]} >= {"account", "emr.max_vcpu"}
    assert out["stacks_only_in_a"] == out["stacks_only_in_b"] == []  # both replicate
    assert main(["env", "diff", "dev", "qa", "--repo", str(REPO_ROOT)]) == 2
    assert "unknown environment 'qa'" in capsys.readouterr().err
