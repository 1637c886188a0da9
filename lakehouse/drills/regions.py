"""The region-lost drill's two regions, on moto: what `cdk deploy` leaves there that `lakehouse dr` uses, and
the drill lake's tables in the primary and (replicated) in the DR region.

moto stands in for AWS (it is a development dependency: ``make install`` installs it; the drill says so when
it is missing). moto replicates nothing, so :func:`replicate` copies the objects S3 replication would, and
leaves out the newest commit of one table: replication lag at the moment the region is lost. The primary is
then "lost" the way an outage looks to the commands: its deployment parameter cannot be read.

``tests/cli/test_dr.py`` deploys with the same functions (:func:`deploy_region`, :func:`replicate`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from platform_model import aws_names

ACCOUNT = "123456789012"
BUCKET_LAYERS = ("landing", "bronze", "silver", "gold", "artifacts")
LAKE_LAYERS = ("landing", "bronze", "silver", "gold")
INITIAL_SLOTS = json.dumps({"active": aws_names.SLOTS[0], "slots": {slot: "" for slot in aws_names.SLOTS}})
"""The slots parameter as the Orchestration stack creates it (cdk.constructs.release_slots.INITIAL_VALUE)."""


@contextmanager
def moto_regions() -> Iterator[None]:
    """moto's in-process AWS, with the fake credentials it needs; a one-line error when moto is missing."""
    import os

    from ..errors import UsageError

    try:
        from moto import mock_aws
    except ImportError:
        raise UsageError(
            "the region-lost drill runs on moto, a development dependency: run `make install` in the checkout"
        ) from None
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws():
            yield
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def client(region: str, service: str) -> Any:
    """A boto3 client of ``service`` in ``region`` (moto's, during the drill)."""
    import boto3

    return boto3.session.Session(region_name=region).client(service)


def deployment_document(buckets: dict[str, str], application_id: str, env: str) -> str:
    """The deployment parameter the Compute stack writes: the lake's URIs, the application, the releases."""
    arguments: list[str] = []
    for layer in ("landing", "bronze", "silver"):
        arguments += [f"--{layer}-uri", f"s3://{buckets[layer]}/"]
    return json.dumps(
        {
            "version": "1111aaaa2222bbbb",
            "application_id": application_id,
            "artifacts_uri": f"s3://{buckets['artifacts']}/jobs/",
            "gold_uri": f"s3://{buckets['gold']}/",
            "job_role_arns": {},
            "arguments": [*arguments, "--env", env, "--metrics", "cloudwatch"],
            "spark_submit_parameters": "--conf spark.submit.pyFiles={version}",
        }
    )


def deploy_region(env: str, region: str, buckets: dict[str, str], *, schedules: bool) -> None:
    """One region: versioned buckets, the EMR application, the slots and deployment parameters, the pipeline
    and maintenance state machines (with their schedules in the primary only)."""
    s3 = client(region, "s3")
    for name in buckets.values():
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    app = client(region, "emr-serverless").create_application(
        name=aws_names.emr_application_name(env), releaseLabel="emr-7.12.0", type="SPARK"
    )
    ssm = client(region, "ssm")
    ssm.put_parameter(Name=aws_names.slots_parameter_name(env), Value=INITIAL_SLOTS, Type="String")
    document = deployment_document(buckets, app["applicationId"], env)
    ssm.put_parameter(Name=aws_names.deployment_parameter_name(env), Value=document, Type="String")
    sfn = client(region, "stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    for name in (aws_names.pipeline_state_machine_name(env), aws_names.maintenance_state_machine_name(env)):
        sfn.create_state_machine(name=name, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")
        if schedules:  # the primary's schedules; the standby has none
            client(region, "events").put_rule(
                Name=f"{name}-schedule", ScheduleExpression="cron(0 2 * * ? *)", State="ENABLED"
            )
    if schedules:  # the primary's landing intake; the DR region has none
        deploy_intake(env, region)


def deploy_intake(env: str, region: str) -> str:
    """The landing intake: its queue, its function (a stub body: moto runs no Lambda here) and the SQS event
    source mapping that failover pauses. The mapping's UUID."""
    import io
    import zipfile

    role = client(region, "iam").create_role(
        RoleName=f"{aws_names.prefix(env)}-landing-intake",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    lam = client(region, "lambda")
    function = aws_names.function_name(env, "landing-intake")
    lam.create_function(
        FunctionName=function,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    sqs = client(region, "sqs")
    queue = sqs.create_queue(QueueName=aws_names.intake_queue_name(env))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, Enabled=True)["UUID"])


def deploy_infrastructure(env: str, region: str, dr_region: str, account: str) -> dict[str, dict[str, str]]:
    """Both regions; per region the buckets by layer (the DR region's named as the DR stack names replicas)."""
    primary = {layer: f"lakehouse-{env}-{layer}-primary" for layer in BUCKET_LAYERS}
    replicas = {
        layer: aws_names.replica_bucket_name(env, layer, account=account, dr_region=dr_region)
        for layer in BUCKET_LAYERS
    }
    deploy_region(env, region, primary, schedules=True)
    deploy_region(env, dr_region, replicas, schedules=False)
    return {region: primary, dr_region: replicas}


def upload_lake(root: Path, buckets: dict[str, str], region: str) -> int:
    """Every file of the local lake's layers into the region's buckets (gold keeps its slot prefix)."""
    s3, count = client(region, "s3"), 0
    for layer in LAKE_LAYERS:
        base = root / layer
        for path in sorted(p for p in base.rglob("*") if p.is_file() and "_rebuild" not in p.parts):
            s3.put_object(Bucket=buckets[layer], Key=path.relative_to(base).as_posix(), Body=path.read_bytes())
            count += 1
    return count


def replicate(deployed: dict[str, dict[str, str]], *, skip: tuple[str, ...] = ()) -> int:
    """What S3 replication would do: every object of the primary's lake buckets copied to its replica,
    except the ``layer/key`` paths matching a pattern of ``skip``; the number copied."""
    primary, dr = deployed  # regions, the primary first
    source, target, copied = client(primary, "s3"), client(dr, "s3"), 0
    for layer in LAKE_LAYERS:
        for page in source.get_paginator("list_objects_v2").paginate(Bucket=deployed[primary][layer]):
            for item in page.get("Contents", []):
                if any(re.search(pattern, f"{layer}/{item['Key']}") for pattern in skip):
                    continue
                body = source.get_object(Bucket=deployed[primary][layer], Key=item["Key"])["Body"].read()
                target.put_object(Bucket=deployed[dr][layer], Key=item["Key"], Body=body)
                copied += 1
    return copied


def download_lake(buckets: dict[str, str], region: str, root: Path) -> Path:
    """The region's lake buckets as a local lake under ``root`` (to read what the DR region holds)."""
    s3 = client(region, "s3")
    for layer in LAKE_LAYERS:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=buckets[layer]):
            for item in page.get("Contents", []):
                path = root / layer / item["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=buckets[layer], Key=item["Key"])["Body"].read())
    return root


def lose_region(env: str, region: str) -> None:
    """The region is gone, as the commands see an outage: its deployment parameter cannot be read."""
    client(region, "ssm").delete_parameter(Name=aws_names.deployment_parameter_name(env))
