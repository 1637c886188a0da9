"""The access review's evaluator on small hand-written templates: allow, deny, wildcards, prefixes, key policies,
cross-stack imports, and the command on a cloud assembly folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lakehouse.cli import main
from lakehouse.security.access_review import review
from lakehouse.security.templates import Assembly, AssemblyError

GOLD = "GoldBucketAAAAAAAA"
KEY = "DataKeyBBBBBBBB"
STORAGE = "Lakehouse-t-Storage"
OPS = "Lakehouse-t-Ops"
GOLD_ARN = {"Fn::GetAtt": [GOLD, "Arn"]}
SEGMENTS = "blue/customer_segments/"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(actions: Any, resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _role(name: str, **props: Any) -> dict[str, Any]:
    trust = _doc(
        {"Effect": "Allow", "Principal": {"Service": "emr-serverless.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    return {"Type": "AWS::IAM::Role", "Properties": {"RoleName": name, "AssumeRolePolicyDocument": trust, **props}}


def _key_policy(delegate: bool, *extra: dict[str, Any]) -> dict[str, Any]:
    root = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return _doc(*([root] if delegate else []), *extra)


def _storage(delegate: bool = True) -> dict[str, Any]:
    objects = {"Fn::Join": ["", [GOLD_ARN, "/*"]]}
    return {
        "Resources": {
            GOLD: {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"KMSMasterKeyID": {"Fn::GetAtt": [KEY, "Arn"]}}}
                        ]
                    }
                },
            },
            "GoldPolicyCCCCCCCC": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": GOLD},
                    "PolicyDocument": _doc(
                        {  # TLS only: conditional, constrains the way in, removes nobody
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "s3:*",
                            "Resource": [GOLD_ARN, objects],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                        {  # unconditional: the auditor never reads customer segments
                            "Effect": "Deny",
                            "Principal": {"AWS": {"Fn::GetAtt": ["AuditorDDDDDDDD", "Arn"]}},
                            "Action": "s3:GetObject",
                            "Resource": {"Fn::Join": ["", [GOLD_ARN, "/*/customer_segments/*"]]},  # both slots
                        },
                        {  # NotPrincipal: everyone but the reader loses the sales pipeline
                            "Effect": "Deny",
                            "NotPrincipal": {"AWS": {"Fn::GetAtt": ["Reader", "Arn"]}},
                            "Action": "s3:GetObject",
                            "Resource": {"Fn::Join": ["", [GOLD_ARN, "/*/sales_pipeline/*"]]},
                        },
                        {  # a role allowed by its literal ARN in the bucket policy alone
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::111111111111:role/t-freshness"},
                            "Action": "s3:GetObject",
                            "Resource": {"Fn::Join": ["", [GOLD_ARN, "/blue/win_rates/*"]]},
                        },
                        {  # a service principal allowed by the bucket policy itself
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": {"Fn::Join": ["", [GOLD_ARN, "/logs/*"]]},
                        },
                    ),
                },
            },
            KEY: {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "KeyPolicy": _key_policy(
                        delegate,
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": {"Fn::GetAtt": ["AuditorDDDDDDDD", "Arn"]}},
                            "Action": "kms:Decrypt",
                            "Resource": "*",
                        },
                    )
                },
            },
            "ReaderPolicyEEEEEEEE": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": _doc(
                        _allow(["s3:GetObject*", "s3:List*"], [GOLD_ARN, objects]),
                        _allow("kms:Decrypt", {"Fn::GetAtt": [KEY, "Arn"]}),
                    )
                },
            },
            "Reader": _role("t-reader", ManagedPolicyArns=[{"Ref": "ReaderPolicyEEEEEEEE"}]),
            "AuditorDDDDDDDD": _role(
                "t-auditor",
                Policies=[
                    {
                        "PolicyName": "read",
                        "PolicyDocument": _doc(
                            _allow(
                                "s3:GetObject",
                                objects,
                                Condition={"StringEquals": {"s3:ExistingObjectTag/team": "audit"}},
                            )
                        ),
                    }
                ],
                ManagedPolicyArns=["arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup"],
            ),
            "Admin": _role("t-admin"),
            "AdminPolicyFFFFFFFF": {
                "Type": "AWS::IAM::Policy",
                "Properties": {"Roles": [{"Ref": "Admin"}], "PolicyDocument": _doc(_allow("s3:*", "*"))},
            },
        },
        "Outputs": {
            "ExportsOutputFnGetAttGoldArn": {
                "Value": GOLD_ARN,
                "Export": {"Name": f"{STORAGE}:ExportsOutputFnGetAttGoldArn"},
            }
        },
    }


def _ops() -> dict[str, Any]:
    imported = {"Fn::ImportValue": f"{STORAGE}:ExportsOutputFnGetAttGoldArn"}
    log_only = _doc(
        _allow("s3:GetObject", {"Fn::Join": ["", [imported, "/*/_delta_log/*"]]}),
        _allow("kms:Decrypt", "*"),
    )
    return {
        "Resources": {"Freshness": _role("t-freshness", Policies=[{"PolicyName": "p", "PolicyDocument": log_only}])}
    }


def _review(delegate: bool = True) -> dict[str, Any]:
    return review(Assembly({STORAGE: _storage(delegate), OPS: _ops()}), "t")


def _gold(result: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in result["buckets"] if b["bucket"] == f"Storage/{GOLD[:-8]}")


def _prefix(result: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(p for p in _gold(result)["prefixes"] if p["prefix"] == prefix)


def _pii(result: dict[str, Any], table: str) -> dict[str, Any]:
    return next(p for p in result["pii"] if p["table"] == table)


def test_identity_policies_grant_read_and_write_by_pattern() -> None:
    gold = _gold(_review())
    assert gold["zone"] == "gold" and gold["key"] == "Storage/DataKey"
    assert gold["read"]["Storage/t-reader"] == ["*"]  # s3:GetObject* matches s3:GetObject
    assert "Storage/t-reader" not in gold["write"]
    assert gold["read"]["Storage/t-admin"] == ["*"] and gold["write"]["Storage/t-admin"] == ["*"]  # s3:* on *
    assert gold["write"]["service:logging.s3.amazonaws.com"] == ["logs/*"]  # the bucket policy's own allow


def test_an_unconditional_deny_removes_access_and_a_conditional_one_does_not() -> None:
    result = _review()
    assert "Storage/t-auditor" not in _prefix(result, SEGMENTS)["read"]  # denied outright on that table
    assert _prefix(result, "blue/revenue_attribution/")["read"]["Storage/t-auditor"] == "full"  # allowed elsewhere
    assert _prefix(result, SEGMENTS)["read"]["Storage/t-reader"] == "full"  # TLS-only deny removes nobody


def test_a_deny_with_not_principal_removes_everyone_else() -> None:
    readers = _prefix(_review(), "green/sales_pipeline/")["read"]
    assert readers == {"Storage/t-reader": "full"}  # the admin (s3:* on *) and the auditor lose it


def test_a_prefix_limited_grant_through_an_imported_arn_is_partial_and_reaches_no_files() -> None:
    result = _review()
    assert _prefix(result, SEGMENTS)["read"]["Ops/t-freshness"] == "part: */_delta_log/*"
    assert "Ops/t-freshness" not in _pii(result, "gold.customer_segments")["read_and_decrypt"]


def test_a_bucket_policy_grants_a_role_named_by_its_literal_arn() -> None:
    result = _review()
    assert _prefix(result, "blue/win_rates/")["read"]["Ops/t-freshness"] == "full"
    assert _gold(result)["read"]["Ops/t-freshness"] == ["*/_delta_log/*", "blue/win_rates/*"]


def test_personal_data_needs_read_and_decrypt() -> None:
    segments = _pii(_review(), "gold.customer_segments")
    assert segments["columns"] == ["customer_id"]
    assert segments["locations"] == [
        "Storage/GoldBucket/blue/customer_segments/",
        "Storage/GoldBucket/green/customer_segments/",
    ]
    # the reader reads and decrypts; the admin reads everything but may not decrypt; the auditor is denied
    assert segments["read_and_decrypt"] == ["Storage/t-reader"]


def test_key_policy_decides_whether_iam_policies_count() -> None:
    delegated = {k["key"]: k["decrypt"] for k in _review(delegate=True)["keys"]}
    assert delegated["Storage/DataKey"] == ["Ops/t-freshness", "Storage/t-auditor", "Storage/t-reader"]
    alone = {k["key"]: k["decrypt"] for k in _review(delegate=False)["keys"]}
    assert alone["Storage/DataKey"] == ["Storage/t-auditor"]  # only the principal the key policy names


def test_aws_managed_policies_are_named_not_evaluated() -> None:
    auditor = _review()["principals"]["Storage/t-auditor"]
    assert auditor["not_evaluated"] == ["arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup"]
    assert auditor["assumed_by"] == ["service:emr-serverless.amazonaws.com"]


def test_the_command_reads_an_assembly_folder_and_says_when_there_is_none(tmp_path: Path, capsys) -> None:
    for name, template in ((STORAGE, _storage()), (OPS, _ops())):
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
    assert main(["access", "review", "--env", "t", "--assembly", str(tmp_path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(_review()))
    assert main(["access", "review", "--env", "t", "--assembly", str(tmp_path)]) == 0
    assert "Who reaches personal data" in capsys.readouterr().out
    assert main(["access", "review", "--env", "prod", "--assembly", str(tmp_path)]) == 2
    assert "holds no Lakehouse-prod-* template: run `npx cdk synth -c env=prod`" in capsys.readouterr().err
    with pytest.raises(AssemblyError, match="no cloud assembly at"):
        Assembly.load(tmp_path / "cdk.out", "t")
