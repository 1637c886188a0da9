"""Landing intake Lambda under moto: contract checks, manifest, pipeline start, partial batch responses, DLQ.

AWS errors (throttling that outlasted botocore's retries, access denied) are injected with botocore event
hooks on the very client the function uses (:func:`fail_calls`); the intake logic itself is never faked.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import pytest
from botocore.awsrequest import AWSResponse
from landing_intake import intake
from landing_intake.intake import Settings, batch_id, classify, process_batch
from ops_common import metric_names as m
from ops_common.aws import client

from lakehouse.cli import main as cli_main
from platform_model import aws_names

REGION = "eu-west-1"  # tests/lambdas/conftest.py pins it
ENV = "test"
BUCKET = "lakehouse-test-landing"
TABLE = aws_names.intake_manifest_table_name(ENV)
STATE_MACHINE = aws_names.pipeline_state_machine_name(ENV)
MAINTENANCE = aws_names.maintenance_state_machine_name(ENV)
MAX_RECEIVE_COUNT = 3
ACCOUNT = "123456789012"
GUARD_CAUSE = "Another lake-writing execution is RUNNING; this one did not start any job."
NOW = dt.datetime(2026, 11, 22, 3, 15, 42, 123456, tzinfo=dt.UTC)
GOOD_KEY = "crm/accounts/dt=2025-01-01/accounts-001.jsonl"


# --- AWS scaffolding --------------------------------------------------------------------------------------


@dataclass
class Landing:
    settings: Settings
    state_machine_arn: str
    maintenance_arn: str
    queue_url: str
    dlq_url: str


def create_intake_queues(env: str = ENV, max_receive_count: int = MAX_RECEIVE_COUNT) -> tuple[str, str]:
    """The intake queue and its DLQ as the Ops stack names and wires them (redrive at ``max_receive_count``)."""
    sqs = client("sqs")
    dlq_url = sqs.create_queue(QueueName=aws_names.intake_dlq_name(env))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=aws_names.intake_queue_name(env),
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
        },
    )["QueueUrl"]
    return queue_url, dlq_url


@pytest.fixture
def landing(aws, monkeypatch) -> Landing:
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "object_key", "KeyType": "HASH"},
            {"AttributeName": "object_version", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "object_key", "AttributeType": "S"},
            {"AttributeName": "object_version", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    arn, maintenance = (
        client("stepfunctions").create_state_machine(
            name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/pipeline"
        )["stateMachineArn"]
        for name in (STATE_MACHINE, MAINTENANCE)
    )
    queue_url, dlq_url = create_intake_queues()
    environ = {
        "ENVIRONMENT": ENV,
        "MANIFEST_TABLE": TABLE,
        "STATE_MACHINE_ARN": arn,
        "WRITER_STATE_MACHINE_ARNS": f"{arn},{maintenance}",
        "LANDING_BUCKET": BUCKET,
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return Landing(Settings.from_env(environ), arn, maintenance, queue_url, dlq_url)


def put_object(key: str, body: bytes = b'{"Id": "001"}\n', bucket: str = BUCKET) -> dict[str, Any]:
    """Write a real object; returns what S3 would put in the event (size, versionId, unquoted eTag)."""
    response = client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    obj = {"key": key, "size": len(body), "eTag": response["ETag"].strip('"'), "sequencer": "0062E99A88DC407460"}
    if response.get("VersionId"):
        obj["versionId"] = response["VersionId"]
    return obj


def s3_record(obj: dict[str, Any], bucket: str = BUCKET, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    """One S3 event notification record; the key URL-encoded as S3 sends it (``=`` -> ``%3D``, space -> ``+``)."""
    encoded = {**obj, "key": quote_plus(obj["key"], safe="/")}
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2026-11-22T03:15:40.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": encoded,
        },
    }


def notification(*objects: dict[str, Any], bucket: str = BUCKET) -> dict[str, Any]:
    return {"Records": [s3_record(o, bucket) for o in objects]}


def eventbridge(obj: dict[str, Any], bucket: str = BUCKET, detail_type: str = "Object Created") -> dict[str, Any]:
    """The EventBridge event S3 sends for the landing bucket (the Ops stack's rule forwards it to SQS)."""
    detail_object = {"key": quote_plus(obj["key"], safe="/"), "size": obj["size"], "etag": obj["eTag"]}
    if "versionId" in obj:
        detail_object["version-id"] = obj["versionId"]
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-22T03:15:40Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": detail_object, "reason": "PutObject"},
    }


def sqs_event(*bodies: Any, receive_count: int = 1) -> dict[str, Any]:
    """A Lambda SQS event; message ids are ``m0``, ``m1``, ...; a non-str body is JSON-encoded."""
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"handle-{i}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{aws_names.intake_queue_name(ENV)}",
                "awsRegion": REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


def writer_ended(execution_arn: str, status: str = "SUCCEEDED", error: str = "", cause: str = "") -> dict[str, Any]:
    """The EventBridge event Step Functions sends when an execution ends (the Ops stack routes writers' here);
    a FAILED one carries ``error`` and ``cause`` when given (older events carry neither)."""
    state_machine_arn = execution_arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    event = {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-22T04:00:00Z",
        "region": REGION,
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": state_machine_arn,
            "name": execution_arn.rsplit(":", 1)[1],
            "status": status,
            "startDate": 1795316400000,
            "stopDate": 1795320000000,
            "input": "{}",
            "output": None,
        },
    }
    if error or cause:
        event["detail"] |= {"error": error, "cause": cause}
    return event


def end_execution(execution_arn: str, status: str, error: str = "", cause: str = "") -> None:
    """End moto's execution as Step Functions would have (moto runs no definition): ``status``, ``error`` and
    ``cause`` in DescribeExecution, no longer listed RUNNING."""
    from moto.core.utils import utcnow
    from moto.stepfunctions.responses import get_backend

    execution = get_backend(ACCOUNT, REGION).describe_execution(execution_arn)
    execution.status, execution.stop_date = status, utcnow()
    execution.error, execution.cause = error or None, cause or None


def pending() -> dict[str, Any] | None:
    """The pending marker (plain values), or None."""
    key = {"object_key": {"S": intake.PENDING_KEY}, "object_version": {"S": intake.PENDING_VERSION}}
    item = client("dynamodb").get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")
    return {k: next(iter(v.values())) for k, v in item.items()} if item else None


def failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def manifest() -> dict[str, dict[str, Any]]:
    """object_key -> the item (plain values) of every recorded object; asserts one item per key."""
    items = client("dynamodb").scan(TableName=TABLE)["Items"]
    plain = [{k: next(iter(v.values())) for k, v in item.items()} for item in items]
    plain = [item for item in plain if item["object_key"] != intake.PENDING_KEY]
    keys = [item["object_key"] for item in plain]
    assert len(keys) == len(set(keys)), f"more than one manifest item per object: {keys}"
    return {item["object_key"]: item for item in plain}


def executions(arn: str, status: str | None = None) -> list[dict[str, Any]]:
    kwargs = {"statusFilter": status} if status else {}
    return client("stepfunctions").list_executions(stateMachineArn=arn, **kwargs)["executions"]


def metric_sum(name: str) -> float:
    stats = client("cloudwatch").get_metric_statistics(
        Namespace=m.namespace(ENV),
        MetricName=name,
        Dimensions=[{"Name": m.ENVIRONMENT, "Value": ENV}],
        StartTime=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        Period=60,
        Statistics=["Sum"],
    )
    return sum(point["Sum"] for point in stats["Datapoints"])


def log_lines(capsys) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def fail_calls(
    service_client: Any, operation: str, code: str, *, when: Callable[[dict[str, Any]], bool] = lambda params: True
) -> Callable[[], None]:
    """Make ``operation`` on this client answer with the AWS error ``code`` while ``when(params)`` holds.

    A ``before-call`` hook answers instead of AWS, the way botocore's Stubber does: the error surfaces as
    the ClientError the code sees once the adaptive retries have given up. Returns a function that removes it.
    """
    service = service_client.meta.service_model.service_id.hyphenize()

    def keep_params(params, context, **_):
        context["test_params"] = dict(params)

    def answer(context, **_):
        if not when(context.get("test_params", {})):
            return None
        parsed = {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "injected"},
        }
        return AWSResponse(f"https://{service}.{REGION}.amazonaws.com/", 400, {}, None), parsed

    events = service_client.meta.events
    events.register(f"before-parameter-build.{service}.{operation}", keep_params, unique_id=f"test-keep-{operation}")
    events.register(f"before-call.{service}.{operation}", answer, unique_id=f"test-fail-{operation}")

    def remove() -> None:
        events.unregister(f"before-parameter-build.{service}.{operation}", unique_id=f"test-keep-{operation}")
        events.unregister(f"before-call.{service}.{operation}", unique_id=f"test-fail-{operation}")

    return remove


def key_is(key: str) -> Callable[[dict[str, Any]], bool]:
    return lambda params: params.get("Item", {}).get("object_key", {}).get("S") == key


# --- settings and rules -----------------------------------------------------------------------------------


def test_settings_name_the_missing_or_bad_variable():
    good = {
        "ENVIRONMENT": "dev",
        "MANIFEST_TABLE": "t",
        "STATE_MACHINE_ARN": f"arn:aws:states:{REGION}:123456789012:stateMachine:p",
        "LANDING_BUCKET": "b",
    }
    assert Settings.from_env(good).landing_bucket == "b"
    for name in good:
        with pytest.raises(intake.SettingsError, match=name):
            Settings.from_env({k: v for k, v in good.items() if k != name})
    with pytest.raises(intake.SettingsError, match="STATE_MACHINE_ARN"):
        Settings.from_env({**good, "STATE_MACHINE_ARN": "pipeline"})
    with pytest.raises(intake.SettingsError, match="LANDING_BUCKET"):
        Settings.from_env({**good, "LANDING_BUCKET": "s3://b/landing"})
    with pytest.raises(intake.SettingsError, match="WRITER_STATE_MACHINE_ARNS"):
        Settings.from_env({**good, "WRITER_STATE_MACHINE_ARNS": f"{good['STATE_MACHINE_ARN']},maintenance"})
    maintenance = f"arn:aws:states:{REGION}:123456789012:stateMachine:m"
    writers = Settings.from_env({**good, "WRITER_STATE_MACHINE_ARNS": f" {maintenance} "}).writer_state_machine_arns
    assert writers == (good["STATE_MACHINE_ARN"], maintenance)  # the pipeline itself is always a writer


def test_handler_without_settings_fails_loudly(monkeypatch, lambda_context):
    handler = importlib.import_module("landing_intake.handler")
    monkeypatch.setenv("ENVIRONMENT", ENV)
    monkeypatch.setenv("STATE_MACHINE_ARN", f"arn:aws:states:{REGION}:123456789012:stateMachine:p")
    monkeypatch.setenv("LANDING_BUCKET", BUCKET)
    monkeypatch.delenv("MANIFEST_TABLE", raising=False)
    with pytest.raises(intake.SettingsError, match="MANIFEST_TABLE"):
        handler.handler(sqs_event(notification({"key": GOOD_KEY, "size": 1, "eTag": "e"})), lambda_context)


def test_extensions_come_from_the_contract_format():
    from job_assets.contracts.landing import KNOWN_EXTENSIONS, LANDING_ENTITIES

    for entity in LANDING_ENTITIES:
        assert intake.accepted_extensions(entity) == KNOWN_EXTENSIONS[entity.format]
        ext = KNOWN_EXTENSIONS[entity.format][-1]  # the gzip variant
        verdict = classify(
            bucket=BUCKET, key=f"{entity.name}/dt=2025-01-01/part-1{ext}", size=10, landing_bucket=BUCKET
        )
        assert verdict.accepted, (entity.name, verdict)
        assert (verdict.source, verdict.entity, verdict.dt) == (entity.source, entity.entity, "2025-01-01")
    assert set(intake.known_entities()) == {e.name for e in LANDING_ENTITIES}


def test_rules_agree_with_the_bronze_job():
    """Every key the intake accepts, bronze reads; every layout bronze rejects, the intake rejects."""
    from job_assets.transforms.bronze import classify_landing_path

    keys = [
        GOOD_KEY,
        "crm/accounts/dt=2025-01-01/a.JSONL.GZ",
        "crm/accounts/dt=2025-01-01/a.json",
        "snowflake/orders/dt=2025-01-04/orders 2.csv.gz",
        "reference/fx_rates/dt=2025-01-01/fx.csv",
        "crm/accounts/dt=2025-01-01/a.csv",
        "snowflake/orders/dt=2025-01-01/o.jsonl",
        "crm/leads/dt=2025-01-01/a.jsonl",
        "crm/accounts/a.jsonl",
        "crm/accounts/2025-01-01/a.jsonl",
        "crm/accounts/dt=2025-1-1/a.jsonl",
        "crm/accounts/dt=2025-01-01/x/a.jsonl",
        "accounts.jsonl",
    ]
    for key in keys:
        verdict = classify(bucket=BUCKET, key=key, size=10, landing_bucket=BUCKET)
        _, _, problem = classify_landing_path(key)
        assert verdict.accepted == (problem == ""), (key, verdict, problem)
    # Stricter than bronze's path pattern: a real calendar date, and names bronze's listing skips.
    assert (
        classify(bucket=BUCKET, key="crm/accounts/dt=2025-02-30/a.jsonl", size=1, landing_bucket=BUCKET).reason_code
        == "bad_dt"
    )
    hidden = classify(bucket=BUCKET, key="crm/accounts/dt=2025-01-01/_SUCCESS", size=1, landing_bucket=BUCKET)
    assert hidden.reason_code == "hidden_file"


def test_batch_id_is_the_jobs_batch_id_format_per_minute():
    from job_assets.context import new_batch_id

    assert batch_id(NOW) == new_batch_id(NOW.replace(second=0, microsecond=0)) == "b20261122T031500000000Z"
    assert batch_id(NOW + dt.timedelta(seconds=17)) == batch_id(NOW)
    assert batch_id(NOW, precision="second") == new_batch_id(NOW.replace(microsecond=0))
    local = NOW.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert batch_id(local) == batch_id(NOW)


# --- the happy path ---------------------------------------------------------------------------------------


def test_valid_object_is_accepted_recorded_and_starts_the_pipeline(landing, lambda_context, capsys):
    handler = importlib.import_module("landing_intake.handler")
    obj = put_object(GOOD_KEY)

    response = handler.handler(sqs_event(notification(obj)), lambda_context)

    assert response == {"batchItemFailures": []}
    item = manifest()[GOOD_KEY]
    assert item["object_version"] == obj["versionId"]
    assert (item["status"], item["source"], item["entity"], item["dt"]) == ("accepted", "crm", "accounts", "2025-01-01")
    assert item["size"] == str(obj["size"]) and item["message_id"] == "m0"
    assert item["event_time"] == "2026-11-22T03:15:40.000Z" and "reason" not in item
    started = executions(landing.state_machine_arn)
    assert len(started) == 1
    assert started[0]["name"].startswith("b") and started[0]["name"].endswith("00000000Z")
    names = {m_["MetricName"] for m_ in client("cloudwatch").list_metrics(Namespace=m.namespace(ENV))["Metrics"]}
    assert {m.INTAKE_ACCEPTED, m.INTAKE_REJECTED} <= names
    assert metric_sum(m.INTAKE_ACCEPTED) == 1 and metric_sum(m.INTAKE_REJECTED) == 0
    lines = log_lines(capsys)
    assert any(line["message"] == "object accepted" and line["key"] == GOOD_KEY for line in lines)
    assert any(line["reason"] == "pending_objects" and line["batch_id"] == started[0]["name"] for line in lines)


def test_eventbridge_object_created_events_are_accepted(landing, lambda_context):
    obj = put_object("snowflake/orders/dt=2025-01-02/orders-1.csv.gz", b"\x1f\x8b...")

    response = process_batch(sqs_event(eventbridge(obj)), lambda_context, landing.settings, now=NOW)

    assert failures(response) == []
    item = manifest()["snowflake/orders/dt=2025-01-02/orders-1.csv.gz"]
    assert item["status"] == "accepted" and item["object_version"] == obj["versionId"]
    assert item["event_name"] == "Object Created"
    assert [e["name"] for e in executions(landing.state_machine_arn)] == [batch_id(NOW)]


def test_url_encoded_keys_are_decoded(landing, lambda_context):
    key = "snowflake/customers/dt=2025-01-03/customers export+v2.csv"
    obj = put_object(key, b"CUSTOMER_ID\n1\n")
    body = notification(obj)
    assert body["Records"][0]["s3"]["object"]["key"] == "snowflake/customers/dt%3D2025-01-03/customers+export%2Bv2.csv"

    assert failures(process_batch(sqs_event(body), lambda_context, landing.settings, now=NOW)) == []
    assert manifest()[key]["status"] == "accepted"


def test_several_objects_in_one_message_and_s3_test_events(landing, lambda_context, capsys):
    first, second = put_object(GOOD_KEY), put_object("crm/contacts/dt=2025-01-01/c.jsonl")
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-22T03:00:00Z", "Bucket": BUCKET}

    response = process_batch(sqs_event(notification(first, second), test_event), lambda_context, landing.settings)

    assert failures(response) == []
    assert set(manifest()) == {GOOD_KEY, "crm/contacts/dt=2025-01-01/c.jsonl"}
    assert len(executions(landing.state_machine_arn)) == 1
    assert any(line["reason"] == "s3_test_event" and line["message_id"] == "m1" for line in log_lines(capsys))


def test_sns_wrapped_notification_is_unwrapped(landing, lambda_context):
    envelope = {"Type": "Notification", "MessageId": "sns-1", "Message": json.dumps(notification(put_object(GOOD_KEY)))}
    assert failures(process_batch(sqs_event(envelope), lambda_context, landing.settings)) == []
    assert manifest()[GOOD_KEY]["status"] == "accepted"


# --- poison messages and rejected objects -----------------------------------------------------------------


def test_poison_messages_fail_exactly_while_valid_ones_succeed(landing, lambda_context, capsys):
    good = put_object(GOOD_KEY)
    other = put_object("crm/contacts/dt=2025-01-01/c.jsonl")
    no_size = notification({k: v for k, v in good.items() if k != "size"})
    no_key = notification(good)
    del no_key["Records"][0]["s3"]["object"]["key"]
    no_bucket = notification(good)
    del no_bucket["Records"][0]["s3"]["bucket"]
    no_version = notification({"key": GOOD_KEY, "size": 3})
    not_s3 = {"Records": [{"eventSource": "aws:dynamodb", "eventName": "INSERT"}]}
    bodies = [
        notification(good),  # m0 ok
        "this is {not json",  # m1
        [1, 2, 3],  # m2: JSON, not an object
        {"hello": "world"},  # m3: not an S3 event
        no_size,  # m4
        no_key,  # m5
        notification(other),  # m6 ok
        no_bucket,  # m7
        no_version,  # m8
        not_s3,  # m9
        {"Records": []},  # m10
        notification(good, {"key": "crm/accounts/dt=2025-01-01/b.jsonl", "size": "many", "eTag": "e"}),  # m11
    ]

    response = process_batch(sqs_event(*bodies), lambda_context, landing.settings, now=NOW)

    assert failures(response) == ["m1", "m2", "m3", "m4", "m5", "m7", "m8", "m9", "m10", "m11"]
    assert set(manifest()) == {GOOD_KEY, "crm/contacts/dt=2025-01-01/c.jsonl"}
    assert len(executions(landing.state_machine_arn)) == 1
    errors = {line["message_id"]: line["reason"] for line in log_lines(capsys) if line["level"] == "ERROR"}
    assert "not JSON" in errors["m1"]
    assert "not an object" in errors["m2"]
    assert "neither an S3 event notification, an EventBridge aws.s3 event nor a Step Functions" in errors["m3"]
    assert "missing field Records[0].s3.object.size" in errors["m4"]
    assert "missing field s3.object.key" in errors["m5"]
    assert "missing field s3.bucket" in errors["m7"]
    assert "none of versionId, eTag, sequencer" in errors["m8"]
    assert "eventSource='aws:dynamodb'" in errors["m9"]
    assert "Records is not a non-empty list" in errors["m10"]
    assert "Records[1].s3.object.size='many' is not a size" in errors["m11"]


REJECTIONS = [
    # (case, bucket, key, size, reason_code, a fragment of the reason)
    (
        "unknown entity",
        BUCKET,
        "crm/leads/dt=2025-01-01/leads.jsonl",
        10,
        "unknown_entity",
        "crm/leads (known: crm/accounts",
    ),
    ("no dt partition", BUCKET, "crm/accounts/accounts.jsonl", 10, "missing_dt", "crm/accounts/dt=YYYY-MM-DD/<file>"),
    ("dt is not a partition", BUCKET, "crm/accounts/2025-01-01/a.jsonl", 10, "missing_dt", "no dt="),
    ("bad date", BUCKET, "crm/accounts/dt=2025-02-30/a.jsonl", 10, "bad_dt", "dt='2025-02-30'"),
    ("date not YYYY-MM-DD", BUCKET, "crm/accounts/dt=20250101/a.jsonl", 10, "bad_dt", "dt='20250101'"),
    ("empty object", BUCKET, "crm/accounts/dt=2025-01-01/a.jsonl", 0, "empty_object", "0 bytes"),
    ("bad extension", BUCKET, "snowflake/orders/dt=2025-01-01/orders.parquet", 10, "bad_extension", ".csv, .csv.gz"),
    ("json for a csv entity", BUCKET, "snowflake/orders/dt=2025-01-01/orders.jsonl", 10, "bad_extension", "is csv"),
    ("other bucket", "someone-elses-bucket", GOOD_KEY, 10, "wrong_bucket", f"the landing bucket is {BUCKET}"),
    ("marker file", BUCKET, "crm/accounts/dt=2025-01-01/_SUCCESS", 10, "hidden_file", "'_SUCCESS'"),
    ("nested folder", BUCKET, "crm/accounts/dt=2025-01-01/x/a.jsonl", 10, "bad_layout", "directly in the dt= folder"),
    ("no prefix", BUCKET, "accounts.jsonl", 10, "bad_layout", "no <source>/<entity>/ prefix"),
]


@pytest.mark.parametrize(
    ("bucket", "key", "size", "code", "fragment"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_objects_that_can_never_be_valid_are_rejected_not_failed(
    landing, lambda_context, capsys, bucket, key, size, code, fragment
):
    obj = {"key": key, "size": size, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "versionId": "v1"}

    response = process_batch(sqs_event(notification(obj, bucket=bucket)), lambda_context, landing.settings, now=NOW)

    assert failures(response) == []
    recorded_as = key if bucket == BUCKET else f"s3://{bucket}/{key}"
    item = manifest()[recorded_as]
    assert (item["status"], item["reason_code"]) == ("rejected", code)
    assert fragment in item["reason"], item["reason"]
    assert executions(landing.state_machine_arn) == []
    warning = next(line for line in log_lines(capsys) if line["level"] == "WARNING")
    assert warning["reason_code"] == code and fragment in warning["reason"] and warning["key"] == key
    assert metric_sum(m.INTAKE_REJECTED) == 1 and metric_sum(m.INTAKE_ACCEPTED) == 0


def test_other_event_types_are_rejected(landing, lambda_context):
    deleted = eventbridge({"key": GOOD_KEY, "size": 0, "eTag": "e", "versionId": "dm1"}, detail_type="Object Deleted")
    del deleted["detail"]["object"]["size"]

    assert failures(process_batch(sqs_event(deleted), lambda_context, landing.settings)) == []
    assert manifest()[GOOD_KEY]["reason_code"] == "not_object_created"
    assert executions(landing.state_machine_arn) == []


def test_not_an_sqs_event_is_logged_not_crashed(landing, lambda_context, capsys):
    assert process_batch({"hello": 1}, lambda_context, landing.settings) == {"batchItemFailures": []}
    assert log_lines(capsys)[0]["reason"] == "event has no Records list"


# --- the pipeline and idempotency -------------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["pipeline", "maintenance"])
def test_object_landing_while_a_writer_runs_starts_the_pipeline_when_it_ends(writer, landing, lambda_context, capsys):
    sfn = client("stepfunctions")
    machine = landing.state_machine_arn if writer == "pipeline" else landing.maintenance_arn
    running = sfn.start_execution(stateMachineArn=machine, name="scheduled-run")["executionArn"]

    response = process_batch(sqs_event(notification(put_object(GOOD_KEY))), lambda_context, landing.settings, now=NOW)

    # A run under way may have listed landing before the object arrived: the object waits for the next run,
    # and the message is done (the marker, not a redelivery, carries the wait).
    assert failures(response) == []
    assert [e["name"] for e in executions(landing.state_machine_arn)] == (
        ["scheduled-run"] if writer == "pipeline" else []
    )
    assert pending() is not None and pending()["since"] == NOW.isoformat(timespec="milliseconds")
    line = next(line for line in log_lines(capsys) if line["reason"] == "writer_running")
    assert line["execution"] == running

    sfn.stop_execution(executionArn=running)
    later = NOW + dt.timedelta(minutes=20)
    ended = process_batch(sqs_event(writer_ended(running, "ABORTED")), lambda_context, landing.settings, now=later)

    assert failures(ended) == []
    started = executions(landing.state_machine_arn, "RUNNING")
    assert [e["name"] for e in started] == [batch_id(later)]
    assert pending() is None
    assert any(line["reason"] == "writer_ended" and line["status"] == "ABORTED" for line in log_lines(capsys))


def test_writer_ended_with_nothing_pending_starts_nothing(landing, lambda_context, capsys):
    done = client("stepfunctions").start_execution(stateMachineArn=landing.state_machine_arn, name="nightly")
    client("stepfunctions").stop_execution(executionArn=done["executionArn"])

    response = process_batch(sqs_event(writer_ended(done["executionArn"])), lambda_context, landing.settings, now=NOW)

    assert failures(response) == []
    assert [e["name"] for e in executions(landing.state_machine_arn)] == ["nightly"]  # no run after a run
    assert any(line["reason"] == "nothing_pending" for line in log_lines(capsys))


def test_a_writers_own_end_is_not_answered_waiting_while_the_listing_still_shows_it(landing, lambda_context, capsys):
    """ListExecutions is eventually consistent: the execution whose end is announced may still be listed."""
    sfn = client("stepfunctions")
    scheduled = sfn.start_execution(stateMachineArn=landing.state_machine_arn, name="scheduled-run")["executionArn"]
    process_batch(sqs_event(notification(put_object(GOOD_KEY))), lambda_context, landing.settings, now=NOW)
    assert pending() is not None  # the object waits for the scheduled run's end
    capsys.readouterr()

    # the run ended, but moto (as a lagging listing would) still lists it RUNNING
    later = NOW + dt.timedelta(minutes=20)
    response = process_batch(sqs_event(writer_ended(scheduled)), lambda_context, landing.settings, now=later)

    assert failures(response) == []
    assert batch_id(later) in [e["name"] for e in executions(landing.state_machine_arn, "RUNNING")]
    assert pending() is None
    assert not any(line["reason"] == "writer_running" for line in log_lines(capsys))


def test_an_ended_execution_still_listed_does_not_hide_another_running_writer(landing, lambda_context, capsys):
    sfn = client("stepfunctions")
    other = sfn.start_execution(stateMachineArn=landing.state_machine_arn, name="operator-run")["executionArn"]
    ended = sfn.start_execution(stateMachineArn=landing.state_machine_arn, name="scheduled-run")["executionArn"]
    process_batch(sqs_event(notification(put_object(GOOD_KEY))), lambda_context, landing.settings, now=NOW)

    later = NOW + dt.timedelta(minutes=20)
    response = process_batch(sqs_event(writer_ended(ended)), lambda_context, landing.settings, now=later)

    assert failures(response) == []
    assert {e["name"] for e in executions(landing.state_machine_arn)} == {"operator-run", "scheduled-run"}
    assert pending() is not None  # still waiting: for the run that is really running
    waiting = [line for line in log_lines(capsys) if line["reason"] == "writer_running"]
    assert waiting[-1]["execution"] == other


@pytest.mark.parametrize("error_in_event", [True, False], ids=["error-in-event", "describe-execution"])
def test_a_run_the_guard_refused_brings_a_run_after_the_writer_it_met(error_in_event, landing, lambda_context, capsys):
    """The intake starts the pipeline and clears the marker; maintenance starts before the run's guard, which
    fails it with Lakehouse.ConcurrentExecution: the object still needs a run after maintenance."""
    sfn = client("stepfunctions")
    process_batch(sqs_event(notification(put_object(GOOD_KEY))), lambda_context, landing.settings, now=NOW)
    [refused] = executions(landing.state_machine_arn, "RUNNING")
    assert pending() is None
    maintenance = sfn.start_execution(stateMachineArn=landing.maintenance_arn, name="weekly")["executionArn"]
    end_execution(refused["executionArn"], "FAILED", "Lakehouse.ConcurrentExecution", GUARD_CAUSE)
    event = (
        writer_ended(refused["executionArn"], "FAILED", "Lakehouse.ConcurrentExecution", GUARD_CAUSE)
        if error_in_event
        else writer_ended(refused["executionArn"], "FAILED")
    )

    soon = NOW + dt.timedelta(seconds=5)
    response = process_batch(sqs_event(event), lambda_context, landing.settings, now=soon)

    assert failures(response) == []
    assert pending() is not None  # set again: the objects wait for maintenance's end
    assert executions(landing.state_machine_arn, "RUNNING") == []
    lines = log_lines(capsys)
    assert any(line["reason"] == "refused_by_guard" for line in lines)
    assert next(line for line in lines if line["reason"] == "writer_running")["execution"] == maintenance

    end_execution(maintenance, "SUCCEEDED")
    later = NOW + dt.timedelta(minutes=30)
    ended = process_batch(sqs_event(writer_ended(maintenance)), lambda_context, landing.settings, now=later)

    assert failures(ended) == []
    assert [e["name"] for e in executions(landing.state_machine_arn, "RUNNING")] == [batch_id(later)]
    assert pending() is None


def test_a_run_refused_after_the_writer_it_met_ended_starts_the_pipeline_at_once(landing, lambda_context):
    """The writer's end came first and found nothing pending: the refused run's own end starts the pipeline."""
    sfn = client("stepfunctions")
    process_batch(sqs_event(notification(put_object(GOOD_KEY))), lambda_context, landing.settings, now=NOW)
    [refused] = executions(landing.state_machine_arn, "RUNNING")
    maintenance = sfn.start_execution(stateMachineArn=landing.maintenance_arn, name="weekly")["executionArn"]
    end_execution(maintenance, "SUCCEEDED")
    process_batch(sqs_event(writer_ended(maintenance)), lambda_context, landing.settings, now=NOW)
    assert pending() is None and len(executions(landing.state_machine_arn)) == 1  # nothing pending: no start

    event = writer_ended(refused["executionArn"], "FAILED", "Lakehouse.ConcurrentExecution", GUARD_CAUSE)
    later = NOW + dt.timedelta(minutes=2)
    response = process_batch(sqs_event(event), lambda_context, landing.settings, now=later)

    assert failures(response) == []
    assert batch_id(later) in [e["name"] for e in executions(landing.state_machine_arn, "RUNNING")]
    assert pending() is None


def test_a_pipeline_run_that_failed_in_a_job_is_not_started_again(landing, lambda_context, capsys):
    """Only the guard's refusal means the run listed nothing; a failed job has its alert and runbook."""
    done = client("stepfunctions").start_execution(stateMachineArn=landing.state_machine_arn, name="nightly")
    end_execution(done["executionArn"], "FAILED", "LakehousePipelineFailed", "bronze job FAILED")

    bodies = [writer_ended(done["executionArn"], "FAILED"), writer_ended(done["executionArn"], "FAILED", "x", "y")]
    response = process_batch(sqs_event(*bodies), lambda_context, landing.settings, now=NOW)

    assert failures(response) == []
    assert [e["name"] for e in executions(landing.state_machine_arn)] == ["nightly"]
    assert pending() is None
    lines = log_lines(capsys)
    assert any(line["reason"] == "nothing_pending" for line in lines)
    assert not any(line["reason"] == "refused_by_guard" for line in lines)


def test_a_failed_run_whose_error_cannot_be_read_is_retried(landing, lambda_context, capsys):
    done = client("stepfunctions").start_execution(stateMachineArn=landing.state_machine_arn, name="nightly")
    end_execution(done["executionArn"], "FAILED", "Lakehouse.ConcurrentExecution", GUARD_CAUSE)
    fail_calls(client("stepfunctions"), "DescribeExecution", "AccessDeniedException")

    response = process_batch(
        sqs_event(writer_ended(done["executionArn"], "FAILED")), lambda_context, landing.settings, now=NOW
    )

    assert failures(response) == ["m0"]
    assert pending() is None and len(executions(landing.state_machine_arn)) == 1
    line = next(line for line in log_lines(capsys) if line["level"] == "ERROR")
    assert line["reason"] == "execution_describe_failed" and "AccessDeniedException" in line["error"]


def test_the_fake_manifest_keeps_one_item_per_object_version_as_the_table_does(landing):
    """Test-only fake (landing_intake.fakes) against the DynamoDB table: key (object_key, object_version)."""
    from landing_intake.aws_repositories import DynamoManifestStore
    from landing_intake.fakes import FakeManifestStore

    writes = [(GOOD_KEY, "v1"), (GOOD_KEY, "v1"), (GOOD_KEY, "v2"), ("crm/contacts/dt=2025-01-01/c.jsonl", "v1")]
    fake = FakeManifestStore()
    outcomes = {
        name: [
            store.add({"object_key": key, "object_version": version, "status": "accepted"}) for key, version in writes
        ]
        for name, store in (("table", DynamoManifestStore(TABLE)), ("fake", fake))
    }

    assert outcomes["fake"] == outcomes["table"] == [True, False, True, True]  # a new version is a new object
    assert set(fake.records) == {(GOOD_KEY, "v1"), (GOOD_KEY, "v2"), ("crm/contacts/dt=2025-01-01/c.jsonl", "v1")}
    assert len(client("dynamodb").scan(TableName=TABLE)["Items"]) == 3
    assert fake.items[GOOD_KEY]["object_version"] == "v2"  # the view by key: the latest version recorded


def test_an_ended_execution_of_another_state_machine_is_ignored(landing, lambda_context, capsys):
    process_batch(sqs_event(notification(put_object(GOOD_KEY))), lambda_context, landing.settings, now=NOW)
    client("dynamodb").put_item(  # an object is waiting (as if it landed during the run just started)
        TableName=TABLE,
        Item={"object_key": {"S": intake.PENDING_KEY}, "object_version": {"S": "-"}, "pending_token": {"S": "t"}},
    )
    other = f"arn:aws:states:{REGION}:123456789012:execution:someone-elses:run-1"

    response = process_batch(sqs_event(writer_ended(other)), lambda_context, landing.settings, now=NOW)

    assert failures(response) == []
    assert len(executions(landing.state_machine_arn)) == 1 and pending() is not None
    assert any(line["reason"] == "not_a_writer" for line in log_lines(capsys))


def test_writer_event_that_did_not_end_is_malformed(landing, lambda_context, capsys):
    arn = f"arn:aws:states:{REGION}:123456789012:execution:{STATE_MACHINE}:run-1"

    response = process_batch(sqs_event(writer_ended(arn, "RUNNING")), lambda_context, landing.settings, now=NOW)

    assert failures(response) == ["m0"]
    line = next(line for line in log_lines(capsys) if line["level"] == "ERROR")
    assert "detail.status='RUNNING'" in line["reason"]


def test_marker_set_again_during_the_start_stays_for_one_more_run(landing, lambda_context):
    """An object accepted while the pipeline starts keeps the marker: the run just started may miss it."""
    sfn = client("stepfunctions")

    def concurrent_intake(**_):
        intake.mark_pending(landing.settings, NOW)  # another invocation, between our read and our clear

    sfn.meta.events.register("before-call.sfn.StartExecution", concurrent_intake, unique_id="test-concurrent")
    try:
        response = process_batch(
            sqs_event(notification(put_object(GOOD_KEY))), lambda_context, landing.settings, now=NOW
        )
    finally:
        sfn.meta.events.unregister("before-call.sfn.StartExecution", unique_id="test-concurrent")

    assert failures(response) == []
    [run] = executions(landing.state_machine_arn, "RUNNING")
    assert pending() is not None
    sfn.stop_execution(executionArn=run["executionArn"])
    later = NOW + dt.timedelta(minutes=5)
    process_batch(sqs_event(writer_ended(run["executionArn"])), lambda_context, landing.settings, now=later)
    assert [e["name"] for e in executions(landing.state_machine_arn, "RUNNING")] == [batch_id(later)]
    assert pending() is None


@pytest.mark.parametrize("failing", ["ListExecutions", "UpdateItem", "GetItem"])
def test_unavailable_writer_check_or_marker_retries_the_messages(failing, landing, lambda_context, capsys):
    done = client("stepfunctions").start_execution(stateMachineArn=landing.maintenance_arn, name="weekly")
    client("stepfunctions").stop_execution(executionArn=done["executionArn"])
    bodies = [notification(put_object(GOOD_KEY)), writer_ended(done["executionArn"])]
    service = client("stepfunctions") if failing == "ListExecutions" else client("dynamodb")
    remove = fail_calls(
        service, failing, "ThrottlingException" if failing == "ListExecutions" else "InternalServerError"
    )

    response = process_batch(sqs_event(*bodies), lambda_context, landing.settings, now=NOW)
    remove()

    assert failures(response) == ["m0", "m1"]  # the accepted object's message and the writer's end
    assert executions(landing.state_machine_arn) == []
    assert manifest()[GOOD_KEY]["status"] == "accepted"


def test_duplicate_delivery_records_once_and_starts_once(landing, lambda_context, capsys):
    obj = put_object(GOOD_KEY)
    body = notification(obj)

    first = process_batch(sqs_event(body, body), lambda_context, landing.settings, now=NOW)  # twice in one batch
    again = process_batch(sqs_event(body, receive_count=2), lambda_context, landing.settings, now=NOW)

    assert failures(first) == failures(again) == []
    assert list(manifest()) == [GOOD_KEY]
    assert manifest()[GOOD_KEY]["message_id"] == "m0"
    assert len(executions(landing.state_machine_arn)) == 1
    # A redelivery cannot tell whether the first delivery reached the pipeline start, so it leaves the
    # marker while that run goes on: at most one extra run afterwards, never an object left behind.
    assert pending() is not None
    assert sum(line["reason"] == "duplicate" for line in log_lines(capsys)) == 2
    assert metric_sum(m.INTAKE_ACCEPTED) == 1


def test_same_minute_name_of_a_finished_execution_falls_back_to_seconds(landing, lambda_context):
    sfn = client("stepfunctions")
    done = sfn.start_execution(stateMachineArn=landing.state_machine_arn, name=batch_id(NOW), input="{}")
    sfn.stop_execution(executionArn=done["executionArn"])  # finished before the object landed

    response = process_batch(sqs_event(notification(put_object(GOOD_KEY))), lambda_context, landing.settings, now=NOW)

    assert failures(response) == []
    running = executions(landing.state_machine_arn, "RUNNING")
    assert [e["name"] for e in running] == [batch_id(NOW, precision="second")]


def test_throttled_manifest_write_fails_only_that_message(landing, lambda_context, capsys):
    keys = [GOOD_KEY, "crm/contacts/dt=2025-01-01/c.jsonl", "crm/opportunities/dt=2025-01-01/o.jsonl"]
    bodies = [notification(put_object(k)) for k in keys]
    fail_calls(client("dynamodb"), "PutItem", "ProvisionedThroughputExceededException", when=key_is(keys[1]))

    response = process_batch(sqs_event(*bodies), lambda_context, landing.settings, now=NOW)

    assert failures(response) == ["m1"]
    assert set(manifest()) == {keys[0], keys[2]}
    assert len(executions(landing.state_machine_arn)) == 1
    line = next(line for line in log_lines(capsys) if line["level"] == "ERROR")
    assert (line["reason"], line["message_id"], line["key"]) == ("manifest_throttled", "m1", keys[1])


def test_unexpected_aws_error_on_one_message_does_not_crash_the_batch(landing, lambda_context, capsys):
    keys = [GOOD_KEY, "crm/contacts/dt=2025-01-01/c.jsonl"]
    fail_calls(client("dynamodb"), "PutItem", "AccessDeniedException", when=key_is(keys[0]))

    response = process_batch(
        sqs_event(*[notification(put_object(k)) for k in keys]), lambda_context, landing.settings, now=NOW
    )

    assert failures(response) == ["m0"]
    assert set(manifest()) == {keys[1]}
    line = next(line for line in log_lines(capsys) if line["level"] == "ERROR")
    assert line["reason"] == "manifest_write_failed" and "AccessDeniedException" in line["error"]


def test_failed_pipeline_start_retries_the_accepted_messages(landing, lambda_context, capsys):
    fail_calls(client("stepfunctions"), "StartExecution", "ThrottlingException")
    accepted = notification(put_object(GOOD_KEY))
    rejected = notification({"key": "crm/leads/dt=2025-01-01/l.jsonl", "size": 3, "eTag": "e"})

    response = process_batch(sqs_event(rejected, "{oops", accepted), lambda_context, landing.settings, now=NOW)

    assert failures(response) == ["m1", "m2"]  # the poison message, then the accepted object's message
    assert manifest()[GOOD_KEY]["status"] == "accepted"  # recorded: the retry is a duplicate
    assert executions(landing.state_machine_arn) == []
    line = next(line for line in log_lines(capsys) if line.get("reason") == "pipeline_start_failed")
    assert line["throttled"] is True


def test_time_budget_reports_the_remaining_messages(landing, lambda_context, capsys):
    class Clock(type(lambda_context)):
        """60 s for the first two messages, then under the safety margin."""

        def __init__(self) -> None:
            super().__init__()
            self.left = [60_000, 50_000, 9_000]

        def get_remaining_time_in_millis(self) -> int:
            return self.left.pop(0) if len(self.left) > 1 else self.left[0]

    keys = [f"crm/accounts/dt=2025-01-01/a{i}.jsonl" for i in range(5)]
    bodies = [notification(put_object(k)) for k in keys]

    response = process_batch(sqs_event(*bodies), Clock(), landing.settings, now=NOW)

    assert failures(response) == ["m2", "m3", "m4"]
    assert set(manifest()) == set(keys[:2])
    assert len(executions(landing.state_machine_arn)) == 1
    line = next(line for line in log_lines(capsys) if line["reason"] == "time_budget")
    assert line["unprocessed"] == 3 and line["remaining_ms"] == 9_000


def test_unpublished_metrics_do_not_fail_the_batch(landing, lambda_context, capsys):
    fail_calls(client("cloudwatch"), "PutMetricData", "Throttling")

    response = process_batch(sqs_event(notification(put_object(GOOD_KEY))), lambda_context, landing.settings)

    assert failures(response) == []
    assert any(line["reason"] == "metrics_failed" for line in log_lines(capsys))


# --- through real SQS semantics: redelivery, the DLQ, redrive ---------------------------------------------


def deliver(landing: Landing, context: Any, handler: Callable[..., dict[str, Any]]) -> tuple[list, list]:
    """One poll of the event source mapping: receive, invoke, delete what did not fail (partial batch response).

    ``VisibilityTimeout=0`` makes a failed message visible again at once, so each call is one more delivery.
    """
    sqs = client("sqs")
    received = sqs.receive_message(
        QueueUrl=landing.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
    ).get("Messages", [])
    if not received:
        return [], []
    event = {
        "Records": [
            {
                "messageId": msg["MessageId"],
                "receiptHandle": msg["ReceiptHandle"],
                "body": msg["Body"],
                "attributes": msg.get("Attributes", {}),
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "awsRegion": REGION,
            }
            for msg in received
        ]
    }
    failed = failures(handler(event, context))
    for msg in received:
        if msg["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=landing.queue_url, ReceiptHandle=msg["ReceiptHandle"])
    return [msg["MessageId"] for msg in received], failed


def depth(queue_url: str) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def move_tasks(monkeypatch):
    from tests.moto_gaps import MessageMoveTasks

    return MessageMoveTasks().install(monkeypatch)


def test_poison_message_moves_to_the_dlq_after_max_receive_count(landing, lambda_context, capsys):
    handler = importlib.import_module("landing_intake.handler").handler
    client("sqs").send_message(QueueUrl=landing.queue_url, MessageBody="definitely not an S3 event")
    assert depth(landing.dlq_url) == 0

    for attempt in range(1, MAX_RECEIVE_COUNT + 1):
        received, failed = deliver(landing, lambda_context, handler)
        assert received == failed and len(failed) == 1, attempt
    assert deliver(landing, lambda_context, handler) == ([], [])  # the next receive moves it to the DLQ

    assert depth(landing.dlq_url) == 1  # what the DLQ depth alarm watches
    assert depth(landing.queue_url) == 0
    errors = [line for line in log_lines(capsys) if line["level"] == "ERROR"]
    assert [line["receive_count"] for line in errors] == ["1", "2", "3"]
    assert all("not JSON" in line["reason"] for line in errors)


def test_transient_failure_dlq_and_redrive_record_each_object_exactly_once(landing, lambda_context, move_tasks, capsys):
    handler = importlib.import_module("landing_intake.handler").handler
    keys = [GOOD_KEY, "snowflake/orders/dt=2025-01-01/orders.csv"]
    for key in keys:
        client("sqs").send_message(QueueUrl=landing.queue_url, MessageBody=json.dumps(notification(put_object(key))))
    broken = fail_calls(client("stepfunctions"), "StartExecution", "ThrottlingException")

    for _ in range(MAX_RECEIVE_COUNT):
        received, failed = deliver(landing, lambda_context, handler)
        assert len(received) == 2 and sorted(failed) == sorted(received)
    assert deliver(landing, lambda_context, handler) == ([], [])
    assert depth(landing.dlq_url) == 2 and depth(landing.queue_url) == 0
    assert set(manifest()) == set(keys)  # recorded on the first delivery, deduplicated afterwards
    assert executions(landing.state_machine_arn) == []

    broken()  # the cause is fixed
    capsys.readouterr()
    assert cli_main(["dlq", "redrive", "--env", ENV, "--yes", "--rate", "5"]) == 0
    assert "redrive started" in capsys.readouterr().out
    assert move_tasks.started[0]["MaxNumberOfMessagesPerSecond"] == 5
    assert depth(landing.dlq_url) == 0 and depth(landing.queue_url) == 2

    received, failed = deliver(landing, lambda_context, handler)
    assert len(received) == 2 and failed == []
    assert deliver(landing, lambda_context, handler) == ([], [])
    items = manifest()
    assert set(items) == set(keys) and all(item["status"] == "accepted" for item in items.values())
    assert len(executions(landing.state_machine_arn)) == 1
    assert metric_sum(m.INTAKE_ACCEPTED) == 2  # counted once, when first recorded
