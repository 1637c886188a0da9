"""cdk.json validation: each kind of mistake stops synth with a message naming the key."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from cdk_testkit import REPO_ROOT, cdk_context

from cdk.config import ConfigError, load_config

DELETE = object()
ENV = "lakehouse.environments"


def mutate(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return data


def test_committed_cdk_json_is_valid(raw_config: dict[str, Any]) -> None:
    config = load_config(raw_config)
    assert set(config.environments) == {"dev", "staging", "prod"}
    prod = config.environments["prod"]
    assert prod.features.allow_destroy is False
    assert prod.stack_name("Storage") == "Lakehouse-prod-Storage"
    assert prod.emr.release_label == "emr-7.12.0"
    # Promotion: versions reach prod only from staging, and prod asks before publishing.
    assert (prod.promotion.requires_passed_in, prod.promotion.confirm) == ("staging", True)
    assert config.environments["staging"].promotion.requires_passed_in == "dev"
    assert config.environments["dev"].promotion.requires_passed_in == ""
    assert config.local_promotion.confirm is False


@pytest.mark.parametrize(
    ("path", "value", "key", "message"),
    [
        ("environments.dev.region", "mars-1", f"{ENV}.dev.region", "not a valid AWS region"),
        ("environments.prod.dr_region", "eu-west-1", f"{ENV}.prod.dr_region", "must differ from region"),
        ("environments.dev.account", "1234", f"{ENV}.dev.account", "12-digit"),
        (
            "environments.prod.budget.monthly_limit_usd",
            -5,
            f"{ENV}.prod.budget.monthly_limit_usd",
            "positive",
        ),
        (
            "environments.dev.budget.monthly_limit_usd",
            "100",
            f"{ENV}.dev.budget.monthly_limit_usd",
            "expected float",
        ),
        ("environments.dev.budget.alert_emails", [], f"{ENV}.dev.budget.alert_emails", "at least one"),
        (
            "environments.dev.budget.alert_emails",
            ["not-an-email"],
            f"{ENV}.dev.budget.alert_emails[0]",
            "e-mail",
        ),
        ("environments.staging.emr", DELETE, f"{ENV}.staging.emr", "missing required section"),
        (
            "environments.staging.emr.max_vcpu",
            DELETE,
            f"{ENV}.staging.emr.max_vcpu",
            "missing required field",
        ),
        ("environments.dev.emr.max_vcpu", 0, f"{ENV}.dev.emr.max_vcpu", "between 1 and"),
        ("environments.dev.emr.max_vcpu", True, f"{ENV}.dev.emr.max_vcpu", "expected int"),
        ("environments.dev.emr.release_label", "7.12", f"{ENV}.dev.emr.release_label", "EMR release label"),
        ("environments.dev.emr.job_timeout_minutes", 0, f"{ENV}.dev.emr.job_timeout_minutes", "between 5"),
        (
            "environments.dev.job_flags.attribution_model",
            "middle_touch",
            f"{ENV}.dev.job_flags.attribution_model",
            "is not one of last_touch, first_touch",
        ),
        ("environments.prod.job_flags.colour", "blue", f"{ENV}.prod.job_flags.colour", "unknown flag 'colour'"),
        ("environments.staging.job_flags", DELETE, f"{ENV}.staging.job_flags", "missing required section"),
        (
            "environments.prod.ops.replica_check_minutes",
            20,
            f"{ENV}.prod.ops.replica_check_minutes",
            "between 1 and 15",
        ),
        (
            "environments.dev.ops.freshness_check_minutes",
            0,
            f"{ENV}.dev.ops.freshness_check_minutes",
            "between 1 and 720",
        ),
        (
            "environments.dev.schedule.pipeline",
            "daily",
            f"{ENV}.dev.schedule.pipeline",
            "schedule expression",
        ),
        ("environments.dev.schedule.enabled", "yes", f"{ENV}.dev.schedule.enabled", "expected bool"),
        (
            "environments.dev.retention.landing.glacier_after_days",
            10,
            f"{ENV}.dev.retention.landing.glacier_after_days",
            "later than infrequent_access_after_days",
        ),
        (
            "environments.dev.retention.landing.infrequent_access_after_days",
            7,
            f"{ENV}.dev.retention.landing.infrequent_access_after_days",
            ">= 30",
        ),
        (
            "environments.dev.retention.log_group_retention_days",
            10,
            f"{ENV}.dev.retention.log_group_retention_days",
            "retention period",
        ),
        (
            "environments.prod.features.allow_destroy",
            True,
            f"{ENV}.prod.features.allow_destroy",
            "always retained",
        ),
        ("environments.dev.features.replicate", True, f"{ENV}.dev.features.replicate", "unknown field"),
        ("environments.qa", {}, f"{ENV}.qa", "unknown environment"),
        ("environments.prod", DELETE, f"{ENV}.prod", "missing required environment"),
        (
            "environments.dev.promotion.max_row_count_change_pct",
            150,
            f"{ENV}.dev.promotion.max_row_count_change_pct",
            "percentage between 0 and 100",
        ),
        (
            "environments.prod.promotion.metric_change_pct",
            {"revenue": 1.0},
            f"{ENV}.prod.promotion.metric_change_pct.revenue",
            "unknown key metric",
        ),
        (
            "environments.prod.promotion.requires_passed_in",
            "qa",
            f"{ENV}.prod.promotion.requires_passed_in",
            "is not one of dev, staging, prod",
        ),
        (
            "environments.staging.promotion.requires_passed_in",
            "staging",
            f"{ENV}.staging.promotion.requires_passed_in",
            "cannot require itself",
        ),
        ("environments.prod.promotion", DELETE, f"{ENV}.prod.promotion", "missing required section"),
        ("local_promotion.confirm", "no", "lakehouse.local_promotion.confirm", "expected bool"),
        ("environments.dev.lineage", "file:/tmp/events", f"{ENV}.dev.lineage", "lineage target"),
        ("environments.prod.lineage", "http:http://marquez", f"{ENV}.prod.lineage", "https URL"),
        (
            "environments.prod.recovery.objectives.bronze.rpo_minutes",
            5,
            f"{ENV}.prod.recovery.objectives.bronze.rpo_minutes",
            "cannot be met: S3 replication with Replication Time Control loses up to 15 minutes",
        ),
        (
            "environments.prod.recovery.objectives.ops_state.rpo_minutes",
            60,
            f"{ENV}.prod.recovery.objectives.ops_state.rpo_minutes",
            "the DR-region copy of the snapshot taken every 4 h loses up to 240 minutes",
        ),
        (
            "environments.dev.recovery.objectives.ops_state.rpo_minutes",
            1,
            f"{ENV}.dev.recovery.objectives.ops_state.rpo_minutes",
            "DynamoDB point-in-time recovery loses up to 5 minutes",
        ),
        (
            "environments.staging.recovery.objectives.gold.rto_minutes",
            60,
            f"{ENV}.staging.recovery.objectives.gold.rto_minutes",
            "rebuilt from silver in up to 240 minutes",
        ),
        (
            "environments.staging.recovery.objectives.gold",
            DELETE,
            f"{ENV}.staging.recovery.objectives.gold",
            "missing required section",
        ),
        (
            "environments.dev.recovery.objectives.platinum",
            {"rpo_minutes": 1, "rto_minutes": 1},
            f"{ENV}.dev.recovery.objectives.platinum",
            "unknown field",
        ),
        (
            "environments.dev.recovery.region_loss",
            True,
            f"{ENV}.dev.recovery.region_loss",
            "needs features.replication",
        ),
        (
            "environments.prod.recovery.backup.vault_lock.enabled",
            False,
            f"{ENV}.prod.recovery.backup.vault_lock.enabled",
            "always locked",
        ),
        (
            "environments.prod.recovery.backup.ops_state.dr_copy_retention_days",
            400,
            f"{ENV}.prod.recovery.backup.ops_state.dr_copy_retention_days",
            "outside the vault lock's 7..365 days",
        ),
        (
            "environments.prod.recovery.backup.vault_lock.max_retention_days",
            3,
            f"{ENV}.prod.recovery.backup.vault_lock.max_retention_days",
            ">= min_retention_days (7)",
        ),
        (
            "environments.staging.recovery.backup.continuous.bronze",
            False,
            f"{ENV}.staging.recovery.backup.continuous.bronze",
            "nothing rebuilds this layer",
        ),
        (
            "environments.dev.recovery.backup.continuous_retention_days",
            36,
            f"{ENV}.dev.recovery.backup.continuous_retention_days",
            "between 1 and 35",
        ),
        (
            "environments.dev.recovery.backup.ops_state.every_hours",
            5,
            f"{ENV}.dev.recovery.backup.ops_state.every_hours",
            "must divide a day",
        ),
        (
            "environments.dev.recovery.backup.restore_testing.schedule",
            "rate(7 days)",
            f"{ENV}.dev.recovery.backup.restore_testing.schedule",
            "cron expression",
        ),
        (
            "environments.prod.recovery.backup.restore_testing.sample",
            ["gold"],
            f"{ENV}.prod.recovery.backup.restore_testing.sample[0]",
            "gold has no backup to restore",
        ),
        (
            "environments.prod.recovery.backup.restore_testing.sample",
            ["platinum"],
            f"{ENV}.prod.recovery.backup.restore_testing.sample[0]",
            "is not one of landing, bronze, silver, gold, ops_state",
        ),
        (
            "environments.dev.recovery.backup.restore_testing.selection_window_days",
            30,
            f"{ENV}.dev.recovery.backup.restore_testing.selection_window_days",
            "reaches past ops_state's 7-day retention",
        ),
        ("project", "Lake House", "lakehouse.project", "project name"),
        ("cost_center", " ", "lakehouse.cost_center", "must not be empty"),
    ],
)
def test_invalid_config_names_the_key(
    raw_config: dict[str, Any], path: str, value: Any, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(mutate(raw_config, path, value))
    assert error.value.key == key
    assert str(error.value).startswith(f"{key}: ")
    assert message in str(error.value)


def test_missing_context_block() -> None:
    with pytest.raises(ConfigError, match=r"^lakehouse: missing context block"):
        load_config(None)


def test_unknown_environment_lists_the_known_ones(raw_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"^env: unknown environment 'qa'; expected one of: dev, staging, prod, all"):
        load_config(raw_config).select("qa")


def test_select_all_returns_every_environment(raw_config: dict[str, Any]) -> None:
    assert [e.name for e in load_config(raw_config).select("all")] == ["dev", "staging", "prod"]


def test_app_fails_fast_on_unknown_env(tmp_path: Any) -> None:
    """app.py (the only context reader) exits non-zero before building any stack."""
    context = dict(cdk_context(), env="qa")
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        cwd=REPO_ROOT,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "env: unknown environment 'qa'" in result.stderr
