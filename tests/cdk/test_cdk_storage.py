"""Storage and DR: bucket security, lifecycle rules that spare live Delta tables, replication, catalog."""

from __future__ import annotations

import json
from typing import Any

from cdk_testkit import Synthesized, flatten_join, readable_token, resources

from job_assets.contracts.gold import GOLD_TABLES

DELTA_BUCKET_PREFIXES = ("Bronze", "Silver", "Gold")  # logical-id prefixes of buckets holding Delta tables
ALLOWED_EXPIRING_PREFIXES = {"emr-logs/", "athena-results/"}


def buckets(lakehouse: Synthesized, env: str | None = None) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(stack name, logical id, bucket resource, template) for every bucket."""
    out = []
    for stack, template in lakehouse.templates(env):
        for logical_id, bucket in resources(template, "AWS::S3::Bucket").items():
            out.append((stack.stack_name, logical_id, bucket, template))
    return out


def is_access_logs(logical_id: str) -> bool:
    return logical_id.startswith("AccessLogs")


def test_every_bucket_blocks_public_access_and_is_versioned(lakehouse: Synthesized) -> None:
    all_buckets = buckets(lakehouse)
    # 7 per environment (the audit bucket since issue 18); 4 replicas, the artifacts replica (dr.standby) and
    # access logs in 2 DR regions
    assert len(all_buckets) == 3 * 7 + 2 * 6
    for stack, logical_id, bucket, _ in all_buckets:
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, (stack, logical_id)
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, (stack, logical_id)
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_data_buckets_use_sse_kms_with_bucket_key_and_log_access(lakehouse: Synthesized) -> None:
    for stack, logical_id, bucket, _ in buckets(lakehouse):
        props = bucket["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        if is_access_logs(logical_id):
            assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
            continue
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", (stack, logical_id)
        assert "KMSMasterKeyID" in sse["ServerSideEncryptionByDefault"]
        assert sse["BucketKeyEnabled"] is True
        assert "DestinationBucketName" in props["LoggingConfiguration"], (stack, logical_id)


def test_every_bucket_denies_insecure_transport(lakehouse: Synthesized) -> None:
    for stack, logical_id, _, template in buckets(lakehouse):
        policies = [
            p
            for p in resources(template, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": logical_id}
        ]
        assert len(policies) == 1, (stack, logical_id)
        statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        ), (stack, logical_id)
        assert any(
            s["Effect"] == "Deny" and "s3:TlsVersion" in s["Condition"].get("NumericLessThan", {}) for s in statements
        ), (stack, logical_id)


def test_lifecycle_never_expires_or_archives_live_delta_tables(lakehouse: Synthesized) -> None:
    checked = 0
    for stack, logical_id, bucket, _ in buckets(lakehouse):
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert any(r.get("AbortIncompleteMultipartUpload") == {"DaysAfterInitiation": 1} for r in rules), logical_id
        assert any("NoncurrentVersionExpiration" in r for r in rules), logical_id
        for rule in rules:
            destructive = "ExpirationInDays" in rule or "Transitions" in rule
            if logical_id.startswith(DELTA_BUCKET_PREFIXES):
                checked += 1
                assert not destructive, f"{stack}/{logical_id} rule {rule['Id']} touches live Delta files"
                assert set(rule) <= {
                    "Id",
                    "Status",
                    "AbortIncompleteMultipartUpload",
                    "NoncurrentVersionExpiration",
                    "ExpiredObjectDeleteMarker",
                }
            elif logical_id.startswith("Artifacts") and destructive:
                assert rule["Prefix"] in ALLOWED_EXPIRING_PREFIXES, (stack, rule)
    assert checked == 3 * 3 + 2 * 3  # one rule per Delta bucket, primaries and replicas


def test_landing_tiers_then_expires_from_config(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    for env, config in env_config.items():
        landing = [b for _, lid, b, _ in buckets(lakehouse, env) if lid.startswith("Landing")]
        assert len(landing) == (2 if config.features.replication else 1)
        for bucket in landing:
            rule = next(r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"] if "Transitions" in r)
            assert rule["Transitions"] == [
                {
                    "StorageClass": "STANDARD_IA",
                    "TransitionInDays": config.retention.landing.infrequent_access_after_days,
                },
                {"StorageClass": "GLACIER", "TransitionInDays": config.retention.landing.glacier_after_days},
            ]
            assert rule["ExpirationInDays"] == config.retention.landing.expire_after_days


def test_removal_policy_retains_prod_and_destroys_only_where_allowed(lakehouse: Synthesized) -> None:
    for stack, logical_id, bucket, _ in buckets(lakehouse):
        expected = "Delete" if stack.startswith("Lakehouse-dev-") else "Retain"
        assert bucket["DeletionPolicy"] == expected, (stack, logical_id)
    for stack, template in lakehouse.templates("prod"):
        for logical_id, key in resources(template, "AWS::KMS::Key").items():
            assert key["DeletionPolicy"] == "Retain", (stack.stack_name, logical_id)
            assert key["Properties"]["EnableKeyRotation"] is True


def test_replication_with_rtc_and_metrics_only_where_enabled(
    lakehouse: Synthesized, env_config: dict[str, Any]
) -> None:
    for env, config in env_config.items():
        storage = lakehouse.template(lakehouse.environments[env].storage)
        replicated = {
            lid: b["Properties"]["ReplicationConfiguration"]
            for lid, b in resources(storage, "AWS::S3::Bucket").items()
            if "ReplicationConfiguration" in b["Properties"]
        }
        if not config.features.replication:
            assert replicated == {}
            assert lakehouse.environments[env].dr is None
            continue
        standby = ["Artifacts"] if config.dr.standby else []  # its job releases, for the DR standby
        assert sorted(lid.split("Bucket")[0] for lid in replicated) == [*standby, "Bronze", "Gold", "Landing", "Silver"]
        for lid, replication in replicated.items():
            (rule,) = replication["Rules"]
            layer = lid.split("Bucket")[0].lower()
            destination = rule["Destination"]
            assert (
                destination["Bucket"]
                == f"arn:aws:s3:::{config.prefix}-{layer}-replica-{config.account}-{config.dr_region}"
            )
            assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
            assert destination["Metrics"] == {"EventThreshold": {"Minutes": 15}, "Status": "Enabled"}
            assert "ReplicaKmsKeyID" in destination["EncryptionConfiguration"]
            assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
            assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
        dr = lakehouse.environments[env].dr
        assert dr is not None and dr.region == config.dr_region
        replica_names = {
            b["Properties"].get("BucketName") for b in resources(lakehouse.template(dr), "AWS::S3::Bucket").values()
        }
        assert {
            f"{config.prefix}-{layer}-replica-{config.account}-{config.dr_region}"
            for layer in ("landing", "bronze", "silver", "gold")
        } <= replica_names


def test_gold_tables_are_delta_tables_from_the_contracts(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    storage = lakehouse.template(lakehouse.environments["prod"].storage)
    (database,) = resources(storage, "AWS::Glue::Database").values()
    assert database["Properties"]["DatabaseInput"]["Name"] == "lakehouse_prod_gold"
    tables = {
        t["Properties"]["TableInput"]["Name"]: t["Properties"] for t in resources(storage, "AWS::Glue::Table").values()
    }
    assert set(tables) == {c.table for c in GOLD_TABLES}
    for contract in GOLD_TABLES:
        table = tables[contract.table]
        assert table["DatabaseName"] == "lakehouse_prod_gold"
        table_input = table["TableInput"]
        assert table_input["TableType"] == "EXTERNAL_TABLE"
        assert table_input["Parameters"]["table_type"] == "DELTA"
        assert table_input["Parameters"]["spark.sql.sources.provider"] == "delta"
        columns = table_input["StorageDescriptor"]["Columns"]
        assert [(c["Name"], c["Type"]) for c in columns] == [(c.name, c.type) for c in contract.columns]
        # Gold is per blue/green slot: the tables start on blue; promotions re-point them (glue:UpdateTable).
        location = table_input["StorageDescriptor"]["Location"]
        assert flatten_join(location, readable_token) == f"s3://GoldBucket/blue/{contract.table}/"
        assert table_input["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"path": location}


def test_athena_workgroup_engine_v3_with_encrypted_results(lakehouse: Synthesized) -> None:
    storage = lakehouse.template(lakehouse.environments["dev"].storage)
    workgroups = resources(storage, "AWS::Athena::WorkGroup").values()  # the privileged role's has its own results
    (workgroup,) = [w for w in workgroups if w["Properties"]["Name"] == "lakehouse-dev-analytics"]
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"
    assert config["EnforceWorkGroupConfiguration"] is True
    encryption = config["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption["EncryptionOption"] == "SSE_KMS" and "KmsKey" in encryption
    assert "athena-results/" in json.dumps(config["ResultConfiguration"]["OutputLocation"])
