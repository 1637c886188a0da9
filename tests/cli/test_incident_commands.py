"""The incident commands the runbooks use, against moto: `lakehouse logs`, `pipeline describe|history|redrive`,
`emr runs|cancel`, `intake manifest`, `events rules|failed`, `replication status|retry`, `landing sync`.

Each on what the stacks deploy (names from platform_model.aws_names), seeded with the incident it is for;
bad input is one line, exit 2, nothing changed. moto's gaps (RedriveExecution, failing an execution, job
run states) are filled in tests/moto_gaps.py. The seeding functions are shared with the runbook harness.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from ops_common.aws import client
from test_recover_deleted import BUCKETS, FILES
from test_recover_deleted import ENV as LAKE_ENV
from test_recover_deleted import deploy as deploy_lake

from lakehouse.cli import main
from lakehouse.ops import replication
from platform_model import aws_names
from tests.moto_gaps import (
    ExecutionRedrive,
    TraceSummaries,
    _BeforeCall,
    fail_execution,
    moto_execution,
    set_job_run_state,
)

ENV = "inc"
REGION = "eu-west-1"
DR_REGION = "eu-central-1"
FAILED = "b20261201T020000000000Z"
"""The failed pipeline execution (its name is the batch id)."""
ROLE = "arn:aws:iam::123456789012:role/lakehouse"


def emr_application_id(env: str) -> str:
    """The id of the environment's EMR application when seeded (seed_emr), else ``app1``."""
    name = aws_names.emr_application_name(env)
    apps = client("emr-serverless").list_applications()["applications"]
    return next((a["id"] for a in apps if a["name"] == name), "app1")


def seed_logs(env: str, run_id: str = "00fabc123") -> None:
    """The EMR application's and three functions' log groups, with the lines of a failure in each (the job
    runs' streams under the seeded application's id: `lakehouse logs --job-run` finds its streams by it)."""
    logs = client("logs")
    now = int(time.time() * 1000)
    app, app_id = aws_names.emr_application_name(env), emr_application_id(env)
    streams = {
        aws_names.emr_log_group_name(env): {
            f"{app}/applications/{app_id}/jobs/{run_id}/SPARK_DRIVER/stderr": [
                "INFO starting silver",
                "ERROR DataQualityError: silver.orders rule order_total_non_negative failed",
            ],
            f"{app}/applications/{app_id}/jobs/00fother/SPARK_DRIVER/stderr": ["ERROR another run's line"],
        },
        aws_names.function_log_group_name(env, "landing-intake"): {
            "2026/12/06/[$LATEST]a": ['{"level": "ERROR", "message": "start failed", "reason": "ThrottlingException"}']
        },
        aws_names.function_log_group_name(env, "replica-verifier"): {
            "2026/12/06/[$LATEST]b": ['{"message": "file_missing_in_replica", "table": "silver.orders"}']
        },
        aws_names.function_log_group_name(env, "failure-notifier"): {
            "2026/12/06/[$LATEST]c": ['{"message": "unrecognised event", "reason": "unrecognised_event"}']
        },
    }
    for group, by_stream in streams.items():
        logs.create_log_group(logGroupName=group)
        for stream, lines in by_stream.items():
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            events = [{"timestamp": now - 60_000 + i, "message": line} for i, line in enumerate(lines)]
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def seed_traces(env: str) -> None:
    """X-Ray segments of the landing intake: one good invocation, one with a fault; and another function's."""
    xray = client("xray")
    now = time.time() - 120
    documents = []
    for i, (function, fault) in enumerate(
        (("landing-intake", False), ("landing-intake", True), ("cost-reporter", False))
    ):
        document = {
            "name": aws_names.function_name(env, function),
            "id": f"{i + 1:016x}",
            "trace_id": f"1-{int(now):08x}-{i + 1:024x}",
            "start_time": now + i,
            "end_time": now + i + 0.5,
        }
        documents.append(json.dumps({**document, "fault": True} if fault else document))
    xray.put_trace_segments(TraceSegmentDocuments=documents)


@pytest.fixture
def trace_summaries(aws, monkeypatch) -> TraceSummaries:
    return TraceSummaries().install(monkeypatch)


def seed_failed_execution(env: str) -> str:
    """A pipeline execution that FAILED in its silver job (the two writers' machines are created unless they
    exist)."""
    sfn = client("stepfunctions")
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    for name in (aws_names.pipeline_state_machine_name(env), aws_names.maintenance_state_machine_name(env)):
        if name not in machines:
            machines[name] = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)["stateMachineArn"]
    arn = machines[aws_names.pipeline_state_machine_name(env)]
    execution = sfn.start_execution(stateMachineArn=arn, name=FAILED)["executionArn"]
    fail_execution(execution, error="States.TaskFailed", cause="EMR job run 00fabc123 (silver) FAILED")
    return execution


def seed_emr(env: str) -> tuple[str, str]:
    """The environment's Spark application and a job run still RUNNING: (application id, job run id)."""
    emr = client("emr-serverless")
    app = emr.create_application(
        name=aws_names.emr_application_name(env),
        releaseLabel="emr-7.12.0",
        type="SPARK",
        maximumCapacity={"cpu": "64 vCPU", "memory": "256 GB"},
    )["applicationId"]
    driver = {"sparkSubmit": {"entryPoint": "s3://artifacts/jobs/v1/silver.py"}}
    run = emr.start_job_run(applicationId=app, executionRoleArn=ROLE, jobDriver=driver, name="silver")["jobRunId"]
    set_job_run_state(app, run, "RUNNING")
    return app, run


def seed_manifest(env: str) -> None:
    """The intake manifest table with an accepted object, a rejected one and the pending marker."""
    dynamodb = client("dynamodb")
    table = aws_names.intake_manifest_table_name(env)
    dynamodb.create_table(
        TableName=table,
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
    items = [
        {
            "object_key": "crm/accounts/dt=2026-12-05/a.jsonl",
            "object_version": "v1",
            "status": "accepted",
            "recorded_at": "2026-12-05T02:00:00.000+00:00",
            "size": "120",
        },
        {
            "object_key": "crm/accounts/bad-key.jsonl",
            "object_version": "v1",
            "status": "rejected",
            "recorded_at": "2026-12-05T03:00:00.000+00:00",
            "reason_code": "no_partition",
            "reason": "no dt= part",
        },
        {"object_key": "#pipeline-pending", "object_version": "-", "since": "2026-12-05T03:00:00.000+00:00"},
    ]
    for item in items:
        dynamodb.put_item(TableName=table, Item={k: {"S": v} for k, v in item.items()})


def seed_events(env: str) -> None:
    """The failure notifier's rules with their targets, and an event waiting in the failed-events queue."""
    events = client("events")
    prefix = aws_names.prefix(env)
    target = f"arn:aws:lambda:{REGION}:123456789012:function:{aws_names.function_name(env, 'failure-notifier')}"
    patterns = {
        f"{prefix}-job-run-failed": {
            "source": ["aws.emr-serverless"],
            "detail-type": ["EMR Serverless Job Run State Change"],
        },
        f"{prefix}-execution-failed": {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
        },
    }
    for name, pattern in patterns.items():
        events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=name, Targets=[{"Id": "notifier", "Arn": target}])
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=aws_names.failed_events_queue_name(env))["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"source": "aws.states", "detail": {"status": "FAILED"}}),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "TooManyRequestsException"},
            "RULE_ARN": {
                "DataType": "String",
                "StringValue": f"arn:aws:events:{REGION}:1:rule/{prefix}-execution-failed",
            },
        },
    )


def seed_replication(env: str, buckets: dict[str, str]) -> str:
    """The landing bucket replicated to a replica in the DR region (holding one of its objects), with failed
    replication operations in CloudWatch. Returns the replica bucket's name."""
    s3 = client("s3")
    replica = aws_names.replica_bucket_name(env, "landing", account="123456789012", dr_region=DR_REGION)
    dr = client("s3", DR_REGION)
    dr.create_bucket(Bucket=replica, CreateBucketConfiguration={"LocationConstraint": DR_REGION})
    dr.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    rule = {
        "ID": "to-dr-region",
        "Status": "Enabled",
        "Priority": 1,
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{replica}"},
    }
    s3.put_bucket_replication(Bucket=buckets["landing"], ReplicationConfiguration={"Role": ROLE, "Rules": [rule]})
    listed = s3.list_objects_v2(Bucket=buckets["landing"]).get("Contents", [])
    if listed:  # one object did replicate
        body = s3.get_object(Bucket=buckets["landing"], Key=listed[0]["Key"])["Body"].read()
        dr.put_object(Bucket=replica, Key=listed[0]["Key"], Body=body)
    dimensions = [
        {"Name": "SourceBucket", "Value": buckets["landing"]},
        {"Name": "DestinationBucket", "Value": replica},
        {"Name": "RuleId", "Value": "to-dr-region"},
    ]
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    client("cloudwatch").put_metric_data(
        Namespace="AWS/S3",
        MetricData=[
            {"MetricName": "OperationsFailedReplication", "Dimensions": dimensions, "Value": 7, "Timestamp": when},
            {"MetricName": "ReplicationLatency", "Dimensions": dimensions, "Value": 1234, "Timestamp": when},
        ],
    )
    return replica


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def bad(capsys, argv: list[str], *expected: str) -> None:
    """Bad input: exit 2 and one line naming the input and what is wrong."""
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    line = " ".join(err.split())
    assert len(err.strip().splitlines()) <= 2 and all(e in line for e in expected), err


def _answered(url: str, body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse(url, 200, {}, None), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _page(items: list[Any], params: dict[str, Any], page_size: int) -> tuple[list[Any], dict[str, str]]:
    """The page of ``items`` a request's ``nextToken`` (an offset here) asks for, and the token of the next one."""
    first = int(params.get("nextToken", "0"))
    following = {"nextToken": str(first + page_size)} if first + page_size < len(items) else {}
    return items[first : first + page_size], following


class LogEventPages(_BeforeCall):
    """moto gap filler: CloudWatch Logs ``FilterLogEvents`` as AWS answers it (moto 5.2.5 ignores
    ``logStreamNamePrefix`` and orders the events stream by stream): the streams named or under the prefix,
    their events oldest first across streams, ``page_size`` a page with a ``nextToken`` (AWS: up to 10,000
    events or 1 MB a page). Every request is kept in ``requests``."""

    service = "logs"
    event_name = "cloudwatch-logs"
    operations = ("FilterLogEvents",)

    def __init__(self, page_size: int) -> None:
        super().__init__()
        self.page_size = page_size
        self.requests: list[dict[str, Any]] = []

    def _answer(self, model: Any, context: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.logs.models import logs_backends

        params = context["gap_filler_params"]
        self.requests.append(params)
        group = logs_backends[DEFAULT_ACCOUNT_ID][kwargs["request_signer"].region_name].groups[params["logGroupName"]]
        names = params.get("logStreamNames") or list(group.streams)
        prefix = params.get("logStreamNamePrefix", "")
        events = sorted(
            (
                event
                for name, stream in group.streams.items()
                if name in names and name.startswith(prefix)
                for event in stream.filter_log_events(
                    params.get("startTime"), params.get("endTime"), params.get("filterPattern")
                )
            ),
            key=lambda e: e["timestamp"],
        )
        page, following = _page(events, params, self.page_size)
        return _answered(
            "https://logs.eu-west-1.amazonaws.com/", {"events": page, "searchedLogStreams": [], **following}
        )


class JobRunPages(_BeforeCall):
    """moto gap filler: EMR Serverless ``ListJobRuns`` in pages of ``page_size`` runs with a ``nextToken`` (AWS: at
    most 50; moto 5.2.5 answers every run in one page), the runs created after
    ``createdAtAfter`` only, in ``order``: ``newest`` first, ``oldest`` first, or by ``state`` (as AWS groups a
    listing of several states). AWS documents no order, so a command must find the newest runs in any of them.
    Every request is kept in ``requests``."""

    service = "emr-serverless"
    operations = ("ListJobRuns",)
    ORDERS = {
        "newest": lambda r: -r.created_at.timestamp(),
        "oldest": lambda r: r.created_at.timestamp(),
        "state": lambda r: (r.state, -r.created_at.timestamp()),
    }

    def __init__(self, page_size: int, order: str = "newest") -> None:
        super().__init__()
        self.page_size = page_size
        self.order = self.ORDERS[order]
        self.requests: list[dict[str, Any]] = []

    def _answer(self, model: Any, context: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.emrserverless.models import emrserverless_backends

        params = context["gap_filler_params"]
        self.requests.append(params)
        backend = emrserverless_backends[DEFAULT_ACCOUNT_ID][kwargs["request_signer"].region_name]
        found = backend.list_job_runs(params["applicationId"], None, None, params.get("states"))
        after = params.get("createdAtAfter")
        found = [r for r in found if after is None or r.created_at.replace(tzinfo=dt.UTC) > after]
        page, following = _page(sorted(found, key=self.order), params, self.page_size)
        summaries = [
            {
                "applicationId": r.application_id,
                "id": r.id,
                "name": r.name,
                "arn": r.arn,
                "createdBy": r.created_by,
                "createdAt": r.created_at.replace(tzinfo=dt.UTC),
                "updatedAt": r.updated_at.replace(tzinfo=dt.UTC),
                "executionRole": r.execution_role_arn,
                "state": r.state,
                "stateDetails": r.state_details or "",
                "releaseLabel": r.release_label,
                "type": "SPARK",
            }
            for r in page
        ]
        return _answered("https://emr-serverless.eu-west-1.amazonaws.com/", {"jobRuns": summaries, **following})


def job_runs_created(application_id: str, created: dict[str, dt.datetime], region: str = REGION) -> None:
    """Give moto's job runs these creation times (moto stamps every run with the day's midnight)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.emrserverless.models import emrserverless_backends

    for r in emrserverless_backends[DEFAULT_ACCOUNT_ID][region].job_runs[application_id]:
        if r.id in created:
            r.created_at = r.updated_at = created[r.id].replace(tzinfo=None)


# --- logs -------------------------------------------------------------------------------------------------------


def test_logs_of_a_job_run_a_function_and_a_pattern(aws, monkeypatch, capsys) -> None:
    LogEventPages(page_size=10_000).install(monkeypatch)
    seed_emr(ENV)
    seed_logs(ENV)
    code, out, _ = run(capsys, "logs", "--env", ENV, "--job-run", "00fabc123", "--since", "2h")
    assert code == 0 and "DataQualityError" in out and "starting silver" in out
    assert "another run's line" not in out and "00fabc123/SPARK_DRIVER/stderr" in out
    code, out, _ = run(capsys, "logs", "--env", ENV, "--emr", "--filter", "ERROR")
    assert code == 0 and "another run's line" in out and "starting silver" not in out
    code, out, _ = run(capsys, "logs", "--env", ENV, "--function", "landing-intake", "--filter", '"reason"')
    assert code == 0 and "ThrottlingException" in out and "/aws/lambda/lakehouse-inc-landing-intake" in out
    code, out, _ = run(capsys, "logs", "--env", ENV, "--function", "landing-intake", "--filter", "nothing-matches")
    assert code == 0 and "no log lines in the last 1h" in out


def test_logs_show_the_newest_lines_read_from_every_page(aws, monkeypatch, capsys) -> None:
    pages = LogEventPages(page_size=3).install(monkeypatch)
    logs, group = client("logs"), aws_names.function_log_group_name(ENV, "cost-reporter")
    logs.create_log_group(logGroupName=group)
    now = int(time.time() * 1000) - 60_000
    for stream in ("2026/12/06/[$LATEST]a", "2026/12/06/[$LATEST]b"):  # two streams: the lines interleave
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        lines = [i for i in range(10) if (i % 2 == 0) == stream.endswith("a")]
        events = [{"timestamp": now + 10 * i, "message": f"line {i:02}"} for i in lines]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    code, out, _ = run(capsys, "logs", "--env", ENV, "--function", "cost-reporter", "--limit", "4")
    assert code == 0 and "showing the newest 4 of 10 line(s) in the last 1h" in out
    assert all(f"line {i:02}" in out for i in range(6, 10)) and "line 05" not in out and "line 00" not in out
    assert out.index("line 06") < out.index("line 09")  # oldest first
    assert len(pages.requests) == 4  # the 4 pages of 3, 3, 3 and 1 lines: every one read
    code, out, _ = run(capsys, "logs", "--env", ENV, "--function", "cost-reporter", "--limit", "10")
    assert code == 0 and "cost-reporter: 10 line(s) in the last 1h" in out and "showing" not in out


def test_logs_of_a_job_run_with_more_than_100_streams(aws, monkeypatch, capsys) -> None:
    pages = LogEventPages(page_size=50).install(monkeypatch)
    app_id, run_id = seed_emr(ENV)
    seed_logs(ENV, run_id)  # its driver's stream, and another run's
    logs, group = client("logs"), aws_names.emr_log_group_name(ENV)
    prefix = f"{aws_names.emr_application_name(ENV)}/applications/{app_id}/jobs/{run_id}/"
    now = int(time.time() * 1000) - 30_000
    for executor in range(1, 121):
        stream = f"{prefix}SPARK_EXECUTOR/{executor}/stderr"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        line = {"timestamp": now + executor, "message": f"executor {executor:03} done"}
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[line])
    code, out, _ = run(capsys, "logs", "--env", ENV, "--job-run", run_id, "--since", "2h", "--limit", "500")
    assert code == 0 and f"job run {run_id}: 122 line(s) in the last 2h" in out
    assert "executor 001 done" in out and "executor 120 done" in out and "DataQualityError" in out
    assert "another run's line" not in out
    assert pages.requests and all(
        r["logStreamNamePrefix"] == prefix and "logStreamNames" not in r for r in pages.requests
    )


def test_logs_bad_input(aws, capsys) -> None:
    seed_emr(ENV)
    seed_logs(ENV)
    bad(capsys, ["logs", "--env", "nope", "--emr"], "--env nope", "/aws/emr-serverless/lakehouse-nope")
    bad(capsys, ["logs", "--env", ENV, "--function", "emailer"], "--function 'emailer'", "landing-intake")
    bad(capsys, ["logs", "--env", ENV, "--emr", "--since", "yesterday"], "--since 'yesterday'")
    bad(capsys, ["logs", "--env", ENV, "--job-run", "00fmissing"], "--job-run 00fmissing", "no log streams")


# --- traces ----------------------------------------------------------------------------------------------------


def test_traces_of_a_function(trace_summaries, capsys) -> None:
    seed_logs(ENV)
    seed_traces(ENV)
    code, out, _ = run(capsys, "traces", "--env", ENV, "--function", "landing-intake")
    assert code == 0 and "lakehouse-inc-landing-intake: 2 trace(s) in the last 1h, 1 failing" in out
    # the trace ids' last field (the timestamp field before it is the clock's: it may end in any hex digit)
    assert "-000000000000000000000002" in out and "-000000000000000000000001" in out
    assert "-000000000000000000000003" not in out  # another function's trace
    code, out, _ = run(capsys, "traces", "--env", ENV, "--function", "landing-intake", "--errors")
    assert code == 0 and "000000000000000000000002" in out and "000000000000000000000001" not in out
    code, out, _ = run(capsys, "traces", "--env", ENV, "--function", "failure-notifier")
    assert code == 0 and "0 trace(s) in the last 1h, 0 failing" in out


def test_traces_bad_input(trace_summaries, capsys) -> None:
    seed_logs(ENV)
    bad(
        capsys, ["traces", "--env", "nope", "--function", "landing-intake"], "no function lakehouse-nope-landing-intake"
    )
    bad(capsys, ["traces", "--env", ENV, "--function", "emailer"], "--function 'emailer'")
    bad(capsys, ["traces", "--env", ENV, "--function", "landing-intake", "--since", "3d"], "--since 3d", "24h or less")
    bad(capsys, ["traces", "--env", ENV, "--function", "landing-intake", "--since", "soon"], "--since 'soon'")


# --- pipeline describe | history | redrive ---------------------------------------------------------------------


@pytest.fixture
def redrives(aws, monkeypatch) -> ExecutionRedrive:
    return ExecutionRedrive().install(monkeypatch)


def test_describe_history_and_redrive_a_failed_execution(redrives, capsys) -> None:
    arn = seed_failed_execution(ENV)
    code, out, _ = run(capsys, "pipeline", "describe", FAILED, "--env", ENV)
    assert code == 0 and "FAILED" in out and "States.TaskFailed" in out and "00fabc123 (silver)" in out
    code, out, _ = run(capsys, "pipeline", "history", "--latest-failed", "--env", ENV)
    assert code == 0 and "ExecutionFailed" in out and "FailStateEntered" in out and FAILED in out
    code, out, _ = run(capsys, "pipeline", "redrive", arn, "--env", ENV, "--yes")
    assert code == 0 and f"redriven execution {FAILED}" in out
    assert redrives.redriven == [arn] and moto_execution(arn).status == "RUNNING"


def test_redrive_refuses_without_yes_and_a_running_execution(redrives, capsys) -> None:
    arn = seed_failed_execution(ENV)
    bad(capsys, ["pipeline", "redrive", FAILED, "--env", ENV], "needs --yes", "nothing changed")
    assert moto_execution(arn).status == "FAILED" and not redrives.redriven
    sfn = client("stepfunctions")
    machines = sfn.list_state_machines()["stateMachines"]
    maintenance = next(m["stateMachineArn"] for m in machines if m["name"].endswith("-maintenance"))
    running = sfn.start_execution(stateMachineArn=maintenance, name="m1")["executionArn"]
    bad(capsys, ["pipeline", "redrive", FAILED, "--env", ENV, "--yes"], "maintenance execution m1 is running")
    assert moto_execution(arn).status == "FAILED" and not redrives.redriven
    sfn.stop_execution(executionArn=running)
    run(capsys, "pipeline", "redrive", FAILED, "--env", ENV, "--yes")
    bad(capsys, ["pipeline", "redrive", FAILED, "--env", ENV, "--yes"], f"execution {FAILED} is RUNNING")
    assert redrives.redriven == [arn]


def test_execution_bad_input(redrives, capsys) -> None:
    seed_failed_execution(ENV)
    bad(capsys, ["pipeline", "describe", "b20200101T000000000000Z", "--env", ENV], "no execution b2020")
    bad(capsys, ["pipeline", "history", "--env", ENV], "give an execution")
    bad(
        capsys,
        ["pipeline", "describe", "--latest-failed", "--env", ENV, "--machine", "maintenance"],
        "lakehouse-inc-maintenance has no execution that ended FAILED or TIMED_OUT",
    )
    bad(capsys, ["pipeline", "history", "--latest-failed", "--env", "nope"], "no state machine lakehouse-nope-pipeline")
    bad(capsys, ["pipeline", "history", FAILED, "--env", ENV, "--limit", "0"], "--limit 0")


# --- emr runs | cancel -----------------------------------------------------------------------------------------


def test_emr_runs_and_cancel(aws, capsys) -> None:
    _, run_id = seed_emr(ENV)
    code, out, _ = run(capsys, "emr", "runs", "--env", ENV, "--state", "RUNNING")
    assert code == 0 and run_id in out and "RUNNING" in out and "64 vCPU" in out
    code, out, _ = run(capsys, "emr", "cancel", run_id, "--env", ENV, "--yes")
    assert code == 0 and f"cancelled job run {run_id}" in out
    code, out, _ = run(capsys, "emr", "runs", "--env", ENV, "--state", "RUNNING")
    assert code == 0 and "no job runs in state RUNNING" in out


@pytest.mark.parametrize("order", sorted(JobRunPages.ORDERS))
def test_emr_runs_shows_the_newest_runs_whatever_order_aws_lists_them_in(aws, monkeypatch, capsys, order) -> None:
    pages = JobRunPages(page_size=2, order=order).install(monkeypatch)
    app, first = seed_emr(ENV)
    driver = {"sparkSubmit": {"entryPoint": "s3://artifacts/jobs/v1/gold.py"}}
    emr = client("emr-serverless")
    runs = [first] + [
        emr.start_job_run(applicationId=app, executionRoleArn=ROLE, jobDriver=driver, name=f"gold-{i}")["jobRunId"]
        for i in range(5)
    ]  # oldest first: 40 days ago, 6, 5 and 3 days ago, then 5 hours and 1 hour ago
    now = dt.datetime.now(dt.UTC)
    ages = (dt.timedelta(days=40), *(dt.timedelta(days=d) for d in (6, 5, 3)), *(dt.timedelta(hours=h) for h in (5, 1)))
    job_runs_created(app, {r: now - age for r, age in zip(runs, ages, strict=True)})

    def shown(*args: str) -> tuple[str, list[int]]:
        """The command's output, and how many days back each of its ListJobRuns requests looked (None: all)."""
        pages.requests.clear()
        code, out, _ = run(capsys, "emr", "runs", "--env", ENV, *args)
        assert code == 0, out
        after = [r.get("createdAtAfter") for r in pages.requests]
        return out, [None if a is None else round((now - a).total_seconds() / 86400) for a in after]

    out, windows = shown("--limit", "5")
    assert "5 job run(s), newest first" in out and all(r in out for r in runs[1:]) and runs[0] not in out
    assert [out.index(r) for r in reversed(runs[1:])] == sorted(out.index(r) for r in runs[1:])  # newest first
    assert windows == [1, 7, 7, 7]  # the day's 2 runs (one page), then every page of the week's 5
    out, windows = shown("--limit", "2")
    assert runs[5] in out and runs[4] in out and runs[3] not in out and windows == [1]
    out, windows = shown("--limit", "6")  # the month holds 5: the year's listing finds the sixth
    assert all(r in out for r in runs) and windows == [1, 7, 7, 7, 31, 31, 31, 365, 365, 365]
    for r in runs[:3]:
        set_job_run_state(app, r, "FAILED")
    set_job_run_state(app, runs[5], "RUNNING")
    out, windows = shown("--state", "FAILED", "--state", "RUNNING", "--limit", "2")
    assert runs[5] in out and runs[2] in out and runs[1] not in out and runs[0] not in out
    assert pages.requests[-1]["states"] == ["FAILED", "RUNNING"] and windows == [1, 7, 7]  # one listing of both


def test_emr_bad_input(aws, capsys) -> None:
    app, run_id = seed_emr(ENV)
    bad(capsys, ["emr", "runs", "--env", "nope"], "no EMR Serverless application lakehouse-nope-spark")
    bad(capsys, ["emr", "runs", "--env", ENV, "--state", "DONE"], "--state DONE")
    bad(capsys, ["emr", "cancel", "00fnothere", "--env", ENV, "--yes"], "no job run 00fnothere")
    bad(capsys, ["emr", "cancel", run_id, "--env", ENV], "needs --yes")
    assert client("emr-serverless").get_job_run(applicationId=app, jobRunId=run_id)["jobRun"]["state"] == "RUNNING"
    set_job_run_state(app, run_id, "SUCCESS")
    bad(capsys, ["emr", "cancel", run_id, "--env", ENV, "--yes"], "already ended SUCCESS")


# --- intake manifest -------------------------------------------------------------------------------------------


def test_intake_manifest(aws, capsys) -> None:
    seed_manifest(ENV)
    code, out, _ = run(capsys, "intake", "manifest", "--env", ENV)
    assert code == 0 and "pending marker set since 2026-12-05T03:00" in out
    assert out.index("bad-key.jsonl") < out.index("dt=2026-12-05/a.jsonl")  # newest first
    code, out, _ = run(capsys, "intake", "manifest", "--env", ENV, "--status", "rejected")
    assert code == 0 and "no_partition" in out and "a.jsonl" not in out
    bad(
        capsys,
        ["intake", "manifest", "--env", "nope"],
        "no intake manifest table lakehouse-nope-landing-intake-manifest",
    )
    bad(capsys, ["intake", "manifest", "--env", ENV, "--limit", "0"], "--limit 0")


def test_intake_manifest_reads_the_pending_marker_whatever_the_status(aws, capsys) -> None:
    seed_manifest(ENV)
    code, out, _ = run(capsys, "intake", "manifest", "--env", ENV, "--status", "accepted")
    assert code == 0 and "pending marker set since 2026-12-05T03:00" in out
    assert "a.jsonl" in out and "bad-key.jsonl" not in out and "#pipeline-pending" not in out
    marker = {"object_key": {"S": "#pipeline-pending"}, "object_version": {"S": "-"}}
    client("dynamodb").delete_item(TableName=aws_names.intake_manifest_table_name(ENV), Key=marker)
    code, out, _ = run(capsys, "intake", "manifest", "--env", ENV, "--status", "accepted")
    assert code == 0 and "no pending marker" in out and "a.jsonl" in out


# --- events rules | failed -------------------------------------------------------------------------------------


def test_events_rules_and_failed(aws, capsys) -> None:
    seed_events(ENV)
    code, out, _ = run(capsys, "events", "rules", "--env", ENV)
    assert code == 0 and "lakehouse-inc-job-run-failed" in out and "aws.emr-serverless" in out
    assert "lakehouse-inc-failure-notifier" in out and "ENABLED" in out
    code, out, _ = run(capsys, "events", "failed", "--env", ENV)
    assert code == 0 and "TooManyRequestsException" in out and "execution-failed" in out
    code, again, _ = run(capsys, "events", "failed", "--env", ENV)
    assert "TooManyRequestsException" in again  # peeked, not taken
    bad(capsys, ["events", "rules", "--env", "nope"], "no EventBridge rules named lakehouse-nope-*")
    bad(capsys, ["events", "failed", "--env", "nope"], "no queue lakehouse-nope-ops-failed-events")


# --- replication status | retry --------------------------------------------------------------------------------


def versions(key: str) -> int:
    listed = client("s3").list_object_versions(Bucket=BUCKETS["landing"], Prefix=key)
    return len(listed.get("Versions", []))


def test_replication_status_and_retry(aws, capsys) -> None:
    deploy_lake()
    replica = seed_replication(LAKE_ENV, BUCKETS)
    code, out, _ = run(capsys, "replication", "status", "--env", LAKE_ENV)
    assert code == 0 and replica in out and "to-dr-region" in out and "not replicated" in out
    assert "7" in out.split(replica)[1] and "failed replication operation(s)" in out
    keys = sorted(FILES)
    before = {k: versions(k) for k in keys}
    code, out, _ = run(
        capsys, "replication", "retry", "--env", LAKE_ENV, "--bucket", "landing", "--prefix", "crm/", "--yes"
    )
    assert code == 0 and "re-replicating 2 object(s)" in out
    after = {k: versions(k) for k in keys}
    assert sum(after[k] - before[k] for k in keys) == 2  # the replicated one was left alone
    for key in keys:
        assert client("s3").get_object(Bucket=BUCKETS["landing"], Key=key)["Body"].read() == FILES[key]


HEADERS = {
    "ContentType": "application/x-ndjson",
    "ContentEncoding": "gzip",
    "ContentLanguage": "en",
    "ContentDisposition": 'attachment; filename="d.jsonl.gz"',
    "CacheControl": "no-cache",
    "Expires": dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    "StorageClass": "STANDARD_IA",
    "Metadata": {"producer": "crm"},
}


@pytest.mark.parametrize("size", [100, 6 * 1024**2], ids=["CopyObject", "multipart copy"])
def test_replication_retry_keeps_the_headers(aws, monkeypatch, capsys, size) -> None:
    monkeypatch.setattr(replication, "MAX_COPY_OBJECT", 5 * 1024**2)  # the 6 MiB object is copied in parts
    deploy_lake()
    seed_replication(LAKE_ENV, BUCKETS)
    s3, key = client("s3"), "crm/accounts/dt=2026-12-03/d.jsonl.gz"
    body = bytes(range(256)) * (size // 256 + 1)
    s3.put_object(Bucket=BUCKETS["landing"], Key=key, Body=body[:size], **HEADERS)
    argv = ["replication", "retry", "--env", LAKE_ENV, "--bucket", "landing", "--prefix", "crm/accounts/dt=2026-12-03/"]
    code, out, _ = run(capsys, *argv, "--yes")
    assert code == 0 and "re-replicating 1 object(s)" in out and versions(key) == 2
    head = s3.head_object(Bucket=BUCKETS["landing"], Key=key)
    assert {name: head.get(name) for name in HEADERS} == HEADERS
    assert head["ETag"].endswith('-1"') == (size > replication.MAX_COPY_OBJECT)  # a multipart ETag: "<md5>-<parts>"
    assert s3.get_object(Bucket=BUCKETS["landing"], Key=key)["Body"].read() == body[:size]


def test_replication_bad_input(aws, capsys) -> None:
    deploy_lake()
    bad(capsys, ["replication", "status", "--env", "nope"], "--env nope")
    bad(
        capsys,
        ["replication", "retry", "--env", LAKE_ENV, "--bucket", "landing", "--prefix", "crm/", "--yes"],
        "is not replicated",
    )
    seed_replication(LAKE_ENV, BUCKETS)
    bad(
        capsys,
        ["replication", "retry", "--env", LAKE_ENV, "--bucket", "platinum", "--prefix", "x/"],
        "--bucket 'platinum'",
    )
    before = {k: versions(k) for k in FILES}
    bad(capsys, ["replication", "retry", "--env", LAKE_ENV, "--bucket", "landing", "--prefix", "crm/"], "needs --yes")
    assert {k: versions(k) for k in FILES} == before


# --- landing sync ----------------------------------------------------------------------------------------------


def test_landing_sync_downloads_a_day(aws, capsys, tmp_path: Path) -> None:
    deploy_lake()
    argv = ["landing", "sync", "--env", LAKE_ENV, "--day", "2026-12-01", "--source", "crm", "--entity", "accounts"]
    code, out, _ = run(capsys, *argv, "--lake-root", str(tmp_path))
    local = tmp_path / "landing" / "crm" / "accounts" / "dt=2026-12-01" / "a.jsonl"
    assert code == 0 and local.read_bytes() == FILES["crm/accounts/dt=2026-12-01/a.jsonl"] and "1 downloaded" in out
    assert not (tmp_path / "landing" / "crm" / "contacts").exists()
    code, out, _ = run(capsys, *argv, "--lake-root", str(tmp_path))
    assert code == 0 and "1 already there" in out


def test_landing_sync_bad_input(aws, capsys, tmp_path: Path) -> None:
    deploy_lake()
    base = [
        "landing",
        "sync",
        "--env",
        LAKE_ENV,
        "--source",
        "crm",
        "--entity",
        "accounts",
        "--lake-root",
        str(tmp_path),
    ]
    bad(capsys, [*base, "--day", "01/12/2026"], "--day '01/12/2026'")
    bad(
        capsys,
        [*base, "--day", "2026-11-01"],
        "no landing objects under s3://lakehouse-rec-landing-bucket/crm/accounts/dt=2026-11-01/",
    )
    bad(capsys, [*base[:2], "--env", "nope", *base[4:], "--day", "2026-12-01"], "--env nope")
    assert not any(tmp_path.iterdir())
