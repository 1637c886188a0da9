"""`lakehouse recover-deleted` against moto's S3: an accidental deletion in a versioned layer bucket is undone
by removing its delete markers (dry run first, then --apply), and bad input changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from ops_common.aws import client

from lakehouse.cli import main
from platform_model import aws_names

ENV = "rec"
REGION = "eu-west-1"
BUCKETS = {layer: f"lakehouse-{ENV}-{layer}-bucket" for layer in ("landing", "bronze", "silver", "gold")}
FILES = {
    "crm/accounts/dt=2026-12-01/a.jsonl": b'{"Id": "001"}\n',
    "crm/accounts/dt=2026-12-02/b.jsonl": b'{"Id": "002"}\n',
    "crm/contacts/dt=2026-12-01/c.jsonl": b'{"Id": "003"}\n',
}


def deploy(versioned: bool = True) -> None:
    """The layer buckets and the deployment parameter naming them, as the stacks deploy them."""
    s3 = client("s3")
    for bucket in BUCKETS.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        if versioned:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    arguments = []
    for layer in ("landing", "bronze", "silver"):
        arguments += [f"--{layer}-uri", f"s3://{BUCKETS[layer]}/"]
    document = {
        "version": "v1",
        "application_id": "app",
        "artifacts_uri": "s3://artifacts/jobs/",
        "gold_uri": f"s3://{BUCKETS['gold']}/",
        "job_role_arns": {},
        "arguments": [*arguments, "--env", ENV],
        "spark_submit_parameters": "",
    }
    client("ssm").put_parameter(
        Name=aws_names.deployment_parameter_name(ENV), Value=json.dumps(document), Type="String"
    )
    for key, body in FILES.items():
        s3.put_object(Bucket=BUCKETS["landing"], Key=key, Body=body)


def exists(key: str, bucket: str = BUCKETS["landing"]) -> bool:
    try:
        client("s3").head_object(Bucket=bucket, Key=key)
    except client("s3").exceptions.ClientError:
        return False
    return True


def markers(bucket: str = BUCKETS["landing"]) -> list[str]:
    return [m["Key"] for m in client("s3").list_object_versions(Bucket=bucket).get("DeleteMarkers", [])]


def since_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_dry_run_then_apply_restores_the_deleted_objects(aws, capsys):
    deploy()
    s3 = client("s3")
    gone = [k for k in FILES if k.startswith("crm/accounts/")]
    for key in gone:
        s3.delete_object(Bucket=BUCKETS["landing"], Key=key)  # the accident: a recursive rm on crm/accounts/
    s3.delete_object(Bucket=BUCKETS["landing"], Key=gone[0])  # twice on one key: two markers stacked
    argv = ["recover-deleted", "--env", ENV, "--bucket", "landing", "--prefix", "crm/", "--since", "1h"]

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert all(key in out for key in gone) and "dry run: 2 object(s) would be restored" in out
    assert not any(exists(key) for key in gone) and len(markers()) == 3  # nothing changed

    assert main([*argv, "--apply"]) == 0
    assert "restored 2 object(s)" in capsys.readouterr().out
    for key, body in FILES.items():
        assert s3.get_object(Bucket=BUCKETS["landing"], Key=key)["Body"].read() == body
    assert markers() == []

    assert main([*argv, "--apply"]) == 0  # again: nothing left to do
    assert "nothing to restore" in capsys.readouterr().out


def test_leaves_alone_older_deletions_and_objects_with_no_version_left(aws, capsys):
    deploy()
    s3 = client("s3")
    bucket = BUCKETS["silver"]
    s3.put_object(Bucket=bucket, Key="orders/part-0.parquet", Body=b"old")
    s3.put_object(Bucket=bucket, Key="orders/part-1.parquet", Body=b"new")
    s3.delete_object(Bucket=bucket, Key="orders/part-0.parquet")  # deleted on purpose, earlier
    time.sleep(1.1)
    since = since_now()
    time.sleep(1.1)
    s3.delete_object(Bucket=bucket, Key="orders/part-1.parquet")  # the accident
    expired = s3.put_object(Bucket=bucket, Key="orders/expired", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="orders/expired")
    s3.delete_object(Bucket=bucket, Key="orders/expired", VersionId=expired)  # as the noncurrent expiry would
    argv = ["recover-deleted", "--env", ENV, "--bucket", "silver", "--prefix", "orders/", "--since", since]

    assert main([*argv, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "restored 1 object(s)" in out
    assert "orders/part-0.parquet: deleted" in out and "before --since" in out
    assert "orders/expired: no version left" in out
    assert s3.get_object(Bucket=bucket, Key="orders/part-1.parquet")["Body"].read() == b"new"
    assert not exists("orders/part-0.parquet", bucket)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bucket", "platinum", "--since", "1h"], "--bucket 'platinum': unknown layer; one of landing, bronze"),
        (["--bucket", "landing", "--since", "yesterday"], "--since 'yesterday': expected an ISO-8601 time"),
        (["--bucket", "landing", "--since", "2999-01-01"], "is in the future"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(aws, capsys, extra, message):
    deploy()
    client("s3").delete_object(Bucket=BUCKETS["landing"], Key="crm/accounts/dt=2026-12-01/a.jsonl")

    assert main(["recover-deleted", "--env", ENV, "--prefix", "crm/", "--apply", *extra]) == 2

    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert markers() == ["crm/accounts/dt=2026-12-01/a.jsonl"]


def test_unversioned_bucket_and_undeployed_environment_are_refused(aws, capsys):
    argv = ["recover-deleted", "--bucket", "landing", "--prefix", "crm/", "--since", "1h", "--apply"]
    assert main([*argv, "--env", ENV]) == 2
    assert "SSM parameter /lakehouse/rec/deployment not found" in capsys.readouterr().err

    deploy(versioned=False)
    client("s3").delete_object(Bucket=BUCKETS["landing"], Key="crm/accounts/dt=2026-12-01/a.jsonl")
    assert main([*argv, "--env", ENV]) == 2
    err = capsys.readouterr().err.strip()
    assert f"bucket {BUCKETS['landing']} is not versioned" in err and len(err.splitlines()) == 1
    assert not exists("crm/accounts/dt=2026-12-01/a.jsonl")
