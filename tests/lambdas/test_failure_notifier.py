"""Failure notifier: EMR Serverless and Step Functions failure events -> one readable alert on the topic (moto).

The alert topic has an SQS queue subscribed, so each test reads back exactly what SNS delivered (the SNS
envelope carries the subject and the message). Job runs and executions are real moto resources; their
state, error and times are set on moto's backend (moto finishes job runs at once, with no error).
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.stub import Stubber
from failure_notifier import handler as notifier_handler
from failure_notifier import notifier
from moto.core import DEFAULT_ACCOUNT_ID
from moto.emrserverless.models import emrserverless_backends
from moto.stepfunctions.models import stepfunctions_backends
from ops_common.aws import client as cached_client

from job_assets.contracts import runbooks

REGION = "eu-west-1"
ACCOUNT = DEFAULT_ACCOUNT_ID
BATCH = "b20261122T031500123456Z"
LOG_GROUP = "/aws/emr-serverless/lakehouse-prod"
RUNBOOK_BASE = "https://github.com/acme/lakehouse/blob/main/runbooks/"
STARTED = dt.datetime(2026, 11, 22, 3, 15, 2, tzinfo=dt.UTC)
ENDED = dt.datetime(2026, 11, 22, 3, 27, 40, tzinfo=dt.UTC)
SPARK_ERROR = "Job failed, please check complete logs in configured logging destination. ExitCode: 1."


# -- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture
def topic(aws, monkeypatch):
    """The alert topic with a queue subscribed; sets the function's environment."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="lakehouse-prod-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    for name, value in {
        "ENVIRONMENT": "prod",
        "ALERT_TOPIC_ARN": topic_arn,
        "RUNBOOK_BASE_URL": RUNBOOK_BASE,
        "LOG_GROUP": LOG_GROUP,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("APPLICATION_ID", raising=False)
    monkeypatch.delenv("PROJECT", raising=False)
    return {"arn": topic_arn, "queue_url": queue_url, "sqs": sqs}


def delivered(topic) -> list[dict[str, str]]:
    """Every alert SNS delivered to the queue: ``{"subject", "message"}``."""
    out = []
    while True:
        got = topic["sqs"].receive_message(QueueUrl=topic["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        if not got.get("Messages"):
            return out
        for message in got["Messages"]:
            envelope = json.loads(message["Body"])
            out.append({"subject": envelope.get("Subject", ""), "message": envelope["Message"]})
            topic["sqs"].delete_message(QueueUrl=topic["queue_url"], ReceiptHandle=message["ReceiptHandle"])


def only_alert(topic) -> dict[str, str]:
    alerts = delivered(topic)
    assert len(alerts) == 1, alerts
    return alerts[0]


@pytest.fixture
def emr(topic, monkeypatch):
    """An EMR Serverless application (APPLICATION_ID) and a factory of job runs in a given end state."""
    client = boto3.client("emr-serverless", region_name=REGION)
    app_id = client.create_application(name="lakehouse-prod", releaseLabel="emr-7.12.0", type="SPARK")["applicationId"]
    monkeypatch.setenv("APPLICATION_ID", app_id)
    backend = emrserverless_backends[ACCOUNT][REGION]

    def run(
        job: str = "silver", *, state: str = "FAILED", details: str | None = SPARK_ERROR, name: str | None = None
    ) -> str:
        run_id = client.start_job_run(
            applicationId=app_id,
            executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/lakehouse-prod-{job}-job",
            name=name or f"{job}-{BATCH}",
            jobDriver={
                "sparkSubmit": {
                    "entryPoint": f"s3://lakehouse-prod-artifacts/jobs/abc/entrypoints/{job}.py",
                    "entryPointArguments": ["--env", "prod", "--batch-id", BATCH],
                }
            },
        )["jobRunId"]
        model = next(r for r in backend.job_runs[app_id] if r.id == run_id)
        model.state, model.state_details = state, details
        model.created_at, model.updated_at = STARTED, ENDED
        return run_id

    return {"app_id": app_id, "run": run}


def emr_event(app_id: str, run_id: str, state: str = "FAILED", **extra) -> dict:
    """The documented shape (EMR Serverless User Guide, "Automating EMR Serverless with EventBridge")."""
    return {
        "version": "0",
        "id": "00df3ec6-5da1-36e6-ab71-20f0de68f8a0",
        "detail-type": "EMR Serverless Job Run State Change",
        "source": "aws.emr-serverless",
        "account": ACCOUNT,
        "time": "2026-11-22T03:27:41Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "jobRunId": run_id,
            "applicationId": app_id,
            "arn": f"arn:aws:emr-serverless:{REGION}:{ACCOUNT}:/applications/{app_id}/jobruns/{run_id}",
            "releaseLabel": "emr-7.12.0",
            "state": state,
            "previousState": "RUNNING",
            "createdBy": f"arn:aws:sts::{ACCOUNT}:assumed-role/lakehouse-prod-pipeline/states",
            "updatedAt": "2026-11-22T03:27:40.299487Z",
            "createdAt": "2026-11-22T03:15:02.325900Z",
            **extra,
        },
    }


@pytest.fixture
def sfn(topic):
    """The pipeline state machine and a factory of executions (named by batch id) in a given end state."""
    client = boto3.client("stepfunctions", region_name=REGION)
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine_arn = client.create_state_machine(
        name="lakehouse-prod-pipeline",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/lakehouse-prod-pipeline",
    )["stateMachineArn"]
    backend = stepfunctions_backends[ACCOUNT][REGION]

    def execution(status: str, *, error: str | None = None, cause: str | None = None) -> str:
        arn = client.start_execution(stateMachineArn=machine_arn, name=BATCH)["executionArn"]
        model = backend.describe_execution(arn)
        model.status, model.error, model.cause = status, error, cause
        model.start_date, model.stop_date = STARTED, ENDED
        return arn

    return {"machine_arn": machine_arn, "execution": execution}


def sfn_event(machine_arn: str, execution_arn: str, status: str, **extra) -> dict:
    """The documented shape (Step Functions Developer Guide, "EventBridge ... execution status changes")."""
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": "2026-11-22T03:27:41Z",
        "region": REGION,
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": machine_arn,
            "name": execution_arn.rsplit(":", maxsplit=1)[-1],
            "status": status,
            "startDate": int(STARTED.timestamp() * 1000),
            "stopDate": int(ENDED.timestamp() * 1000),
            "input": "{}",
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
            **extra,
        },
    }


def invoke(event, lambda_context):
    return notifier_handler.handler(event, lambda_context)


def logs_link(run_id: str) -> str:
    return (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#logsV2:log-groups/log-group/"
        f"$252Faws$252Femr-serverless$252Flakehouse-prod$3FlogStreamNameFilter$3D{run_id}"
    )


# -- EMR Serverless job runs ----------------------------------------------------------------------------------


def test_failed_job_run_alert_says_what_failed_with_links_and_runbook(emr, topic, lambda_context):
    app_id = emr["app_id"]
    run_id = emr["run"]("silver")

    result = invoke(emr_event(app_id, run_id), lambda_context)

    alert = only_alert(topic)
    assert result["published"] is True and result["incident"] == runbooks.EMR_JOB_FAILED
    assert alert["subject"] == f"[lakehouse-prod] silver job FAILED ({BATCH})"
    assert alert["message"] == (
        "Environment: prod\n"
        f"What:        EMR Serverless job silver (job run name silver-{BATCH}, application {app_id})\n"
        f"Job run id:  {run_id}\n"
        f"Batch id:    {BATCH}\n"
        "State:       FAILED (was RUNNING)\n"
        f"Error:       {SPARK_ERROR}\n"
        "Started:     2026-11-22 03:15:02 UTC\n"
        "Ended:       2026-11-22 03:27:40 UTC (after 12m 38s)\n"
        "\n"
        "Links\n"
        f"Job run:     https://{REGION}.console.aws.amazon.com/emr/home?region={REGION}"
        f"#/serverless-applications/{app_id}/job-runs/{run_id}\n"
        f"Logs:        {logs_link(run_id)}\n"
        "\n"
        "Runbook:     https://github.com/acme/lakehouse/blob/main/runbooks/emr-job-failed.md\n"
    )


def test_cancelled_job_run_links_the_cancelled_runbook(emr, topic, lambda_context):
    run_id = emr["run"]("gold", state="CANCELLED", details="Job run timed out after 120 minutes")

    invoke(emr_event(emr["app_id"], run_id, state="CANCELLED"), lambda_context)

    alert = only_alert(topic)
    assert alert["subject"] == f"[lakehouse-prod] gold job CANCELLED ({BATCH})"
    lines = alert["message"].splitlines()
    assert "State:       CANCELLED (was RUNNING)" in lines
    assert "Error:       Job run timed out after 120 minutes" in lines
    assert f"Batch id:    {BATCH}" in lines
    assert f"Job run id:  {run_id}" in lines
    assert "Runbook:     https://github.com/acme/lakehouse/blob/main/runbooks/emr-job-cancelled.md" in lines


def test_job_run_without_state_details_says_none_were_reported(emr, topic, lambda_context):
    run_id = emr["run"]("bronze", details=None)
    invoke(emr_event(emr["app_id"], run_id), lambda_context)
    assert "Error:       no state details reported" in only_alert(topic)["message"].splitlines()


def test_get_job_run_not_found_still_alerts_from_the_event(emr, topic, lambda_context, capsys):
    event = emr_event(emr["app_id"], "00nosuchjobrun01", jobRunName=f"silver-{BATCH}")

    invoke(event, lambda_context)

    alert = only_alert(topic)
    assert alert["subject"] == f"[lakehouse-prod] silver job FAILED ({BATCH})"
    lines = alert["message"].splitlines()
    assert "Job run id:  00nosuchjobrun01" in lines
    assert f"Batch id:    {BATCH}" in lines
    assert "Started:     2026-11-22 03:15:02 UTC" in lines  # the event's createdAt
    details = next(line for line in lines if line.startswith("Details:"))
    assert "unavailable: GetJobRun failed (ResourceNotFoundException" in details
    assert "the lines above come from the event alone" in details
    assert logs_link("00nosuchjobrun01") in lines[-3]
    assert '"reason": "job_run_details_unavailable"' in capsys.readouterr().out


def test_get_job_run_throttled_still_alerts_and_says_details_were_unavailable(emr, topic, lambda_context):
    run_id = emr["run"]("silver")
    emr_client = cached_client("emr-serverless")
    with Stubber(emr_client) as stub:
        stub.add_client_error("get_job_run", service_error_code="ThrottlingException", service_message="Rate exceeded")
        invoke(emr_event(emr["app_id"], run_id), lambda_context)
    lines = only_alert(topic)["message"].splitlines()
    assert "Batch id:    unknown" in lines  # no name in the event, none from GetJobRun
    assert "Error:       no state details reported" in lines
    assert any(line.startswith("Details:") and "GetJobRun failed (ThrottlingException" in line for line in lines)
    assert f"Job run id:  {run_id}" in lines


def test_job_runs_of_another_application_are_ignored_with_a_log_line(emr, topic, lambda_context, capsys):
    result = invoke(emr_event("00otherapp000001", "00f1cbn5g4bb0c01"), lambda_context)
    assert result == {"published": False, "reason": "other_application"}
    assert delivered(topic) == []
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["reason"] == "other_application" and line["application_id"] == "00otherapp000001"


def test_a_state_that_is_not_a_failure_is_ignored(emr, topic, lambda_context):
    run_id = emr["run"]("silver", state="SUCCESS", details=None)
    assert invoke(emr_event(emr["app_id"], run_id, state="SUCCESS"), lambda_context)["reason"] == "not_a_failure"
    assert delivered(topic) == []


def test_a_failed_promotion_audit_is_not_an_incident(emr, topic, lambda_context, capsys):
    """`lakehouse promote` starts audit runs and reports their outcome as gates; on-call is not paged."""
    run_id = emr["run"]("gold", name="audit-gold-audit-prom-20261130T100000000Z-abc123")
    result = invoke(emr_event(emr["app_id"], run_id), lambda_context)
    assert result == {"published": False, "reason": "promotion_audit"}
    assert delivered(topic) == []
    regular = emr["run"]("gold")  # the pipeline's own gold run still alerts
    assert invoke(emr_event(emr["app_id"], regular), lambda_context)["published"] is True


# -- Step Functions executions ----------------------------------------------------------------------------------


def test_failed_execution_alert_gets_the_error_from_describe_execution(sfn, topic, lambda_context):
    cause = json.dumps({"JobRunId": "00f1cbn5g4bb0c01", "Name": f"silver-{BATCH}", "StateDetails": SPARK_ERROR})
    execution_arn = sfn["execution"]("FAILED", error="States.TaskFailed", cause=cause)

    result = invoke(sfn_event(sfn["machine_arn"], execution_arn, "FAILED"), lambda_context)

    assert result["incident"] == runbooks.PIPELINE_EXECUTION_FAILED
    alert = only_alert(topic)
    assert alert["subject"] == f"[lakehouse-prod] lakehouse-prod-pipeline FAILED ({BATCH})"
    assert alert["message"] == (
        "Environment: prod\n"
        "What:        Step Functions state machine lakehouse-prod-pipeline\n"
        f"Execution:   {BATCH} ({execution_arn})\n"
        f"Batch id:    {BATCH}\n"
        "State:       FAILED\n"
        f"Error:       States.TaskFailed: {cause}\n"
        "Started:     2026-11-22 03:15:02 UTC\n"
        "Ended:       2026-11-22 03:27:40 UTC (after 12m 38s)\n"
        "\n"
        "Links\n"
        f"Execution:   https://{REGION}.console.aws.amazon.com/states/home?region={REGION}"
        f"#/v2/executions/details/{execution_arn}\n"
        "\n"
        "Runbook:     https://github.com/acme/lakehouse/blob/main/runbooks/pipeline-execution-failed.md\n"
    )


def test_timed_out_execution_without_an_error_says_it_timed_out(sfn, topic, lambda_context):
    execution_arn = sfn["execution"]("TIMED_OUT")

    invoke(sfn_event(sfn["machine_arn"], execution_arn, "TIMED_OUT"), lambda_context)

    alert = only_alert(topic)
    assert alert["subject"] == f"[lakehouse-prod] lakehouse-prod-pipeline TIMED_OUT ({BATCH})"
    lines = alert["message"].splitlines()
    assert "State:       TIMED_OUT" in lines
    assert "Error:       execution timed out (no error reported)" in lines
    assert not any(line.startswith("Details:") for line in lines)
    assert (
        lines[-1] == "Runbook:     https://github.com/acme/lakehouse/blob/main/runbooks/pipeline-execution-timed-out.md"
    )


def test_error_and_cause_in_the_event_are_used_as_they_are_and_trimmed(sfn, topic, lambda_context):
    # No such execution in moto: had DescribeExecution been called, a "Details: unavailable" line would appear.
    execution_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:lakehouse-prod-maintenance:{BATCH}"
    machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:lakehouse-prod-maintenance"
    cause = "x" * 5_000
    event = sfn_event(machine_arn, execution_arn, "TIMED_OUT", error="States.Timeout", cause=cause)

    invoke(event, lambda_context)

    alert = only_alert(topic)
    assert alert["subject"] == f"[lakehouse-prod] lakehouse-prod-maintenance TIMED_OUT ({BATCH})"
    lines = alert["message"].splitlines()
    error = next(line for line in lines if line.startswith("Error:"))
    assert error.startswith("Error:       States.Timeout: xxx")
    assert error.endswith(f" ... [{len('States.Timeout: ') + 5_000 - notifier.ERROR_MAX_CHARS} more characters]")
    assert not any(line.startswith("Details:") for line in lines)


def test_describe_execution_failure_still_alerts(topic, lambda_context):
    execution_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:lakehouse-prod-pipeline:{BATCH}"
    machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:lakehouse-prod-pipeline"

    invoke(sfn_event(machine_arn, execution_arn, "FAILED"), lambda_context)

    lines = only_alert(topic)["message"].splitlines()
    assert "Error:       no error reported" in lines
    assert "Started:     2026-11-22 03:15:02 UTC" in lines  # from the event's startDate (epoch ms)
    assert any(
        line.startswith("Details:") and "DescribeExecution failed (ExecutionDoesNotExist" in line for line in lines
    )


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "x"}}}, "source 'aws.s3'"),
        (
            {"source": "aws.emr-serverless", "detail-type": "EMR Serverless Job Run State Change", "detail": {}},
            "detail lacks applicationId, jobRunId, state",
        ),
        (
            {"source": "aws.states", "detail-type": "Step Functions Execution Status Change", "detail": "FAILED"},
            "the event has no detail object",
        ),
        (["not", "an", "object"], "the event is a list, not a JSON object"),
    ],
)
def test_unrecognised_events_are_published_raw_never_dropped(topic, lambda_context, capsys, event, problem):
    result = invoke(event, lambda_context)

    assert result["incident"] == runbooks.UNRECOGNISED_EVENT
    alert = only_alert(topic)
    assert alert["subject"] == "[lakehouse-prod] failure notifier: unrecognised event"
    message = alert["message"]
    assert message.startswith("Environment: prod\nWhat:        the failure notifier received an event it cannot read\n")
    assert problem in message
    assert "Runbook:     https://github.com/acme/lakehouse/blob/main/runbooks/unrecognised-event.md" in message
    assert message.split("Raw event:\n", 1)[1] == json.dumps(event, indent=2, sort_keys=True) + "\n"
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["reason"] for line in logged] == ["unrecognised_event", "unrecognised_event"]


def test_a_huge_unrecognised_event_is_cut_to_fit_sns(topic, lambda_context):
    event = {"source": "custom.test", "detail-type": "Blob", "detail": {"blob": "é" * 200_000}}

    invoke(event, lambda_context)

    message = only_alert(topic)["message"]
    assert len(message.encode("utf-8")) <= notifier.MESSAGE_MAX_BYTES
    assert "Raw event:\n{" in message
    assert message.rstrip().endswith("did not fit SNS's 262,144-byte limit]")


def test_a_publish_failure_raises_so_lambda_retries(topic, lambda_context, monkeypatch):
    monkeypatch.setenv("ALERT_TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic")
    event = {"source": "custom.test", "detail-type": "Anything", "detail": {}}
    with pytest.raises(Exception, match=r"(?i)not ?found|does not exist"):
        invoke(event, lambda_context)


# -- settings and text helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ENVIRONMENT", "", "ENVIRONMENT is missing"),
        ("ALERT_TOPIC_ARN", "", "ALERT_TOPIC_ARN is missing"),
        ("ALERT_TOPIC_ARN", "lakehouse-prod-alerts", "ALERT_TOPIC_ARN is not an SNS topic ARN"),
        ("RUNBOOK_BASE_URL", "runbooks/", "RUNBOOK_BASE_URL is not an http(s) URL"),
        ("LOG_GROUP", " ", "LOG_GROUP is missing"),
        ("APPLICATION_ID", "Not An Id", "APPLICATION_ID is not an EMR Serverless application id"),
    ],
)
def test_settings_name_the_bad_variable(name, value, message):
    environ = {
        "ENVIRONMENT": "prod",
        "ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:lakehouse-prod-alerts",
        "RUNBOOK_BASE_URL": RUNBOOK_BASE,
        "LOG_GROUP": LOG_GROUP,
        name: value,
    }
    with pytest.raises(notifier_handler.SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        notifier_handler.Settings.from_env(environ)


def test_subjects_fit_sns_rules():
    long = notifier.clean_subject("[lakehouse-prod] " + "very-long-state-machine-name-" * 5 + " FAILED\n(é)")
    assert len(long) == notifier.SUBJECT_MAX_CHARS and long.endswith("...")
    assert notifier.clean_subject("a\nb\tc é") == "a b c ?"


def test_job_and_batch_prefers_the_batch_id_argument():
    assert notifier.job_and_batch(f"silver-{BATCH}", ["--batch-id", BATCH]) == ("silver", BATCH)
    uuid = "3f1c2d4e-aaaa-bbbb-cccc-123456789012"
    assert notifier.job_and_batch(f"gold-{uuid}", ["--env", "prod", f"--batch-id={uuid}"]) == ("gold", uuid)
    assert notifier.job_and_batch(f"gold-{uuid}") == ("gold", uuid)
    assert notifier.job_and_batch("adhoc") == ("adhoc", "")
    assert notifier.job_and_batch("") == ("", "")


def test_every_runbook_incident_has_a_stable_markdown_file():
    assert runbooks.RUNBOOKS[runbooks.EMR_JOB_FAILED] == "emr-job-failed.md"
    assert runbooks.RUNBOOKS[runbooks.PIPELINE_EXECUTION_FAILED] == "pipeline-execution-failed.md"
    assert all(name.endswith(".md") and name == name.lower() for name in runbooks.RUNBOOKS.values())
    assert runbooks.runbook_url("https://x/runbooks", runbooks.JOB_COST) == "https://x/runbooks/job-cost.md"
    assert runbooks.runbook_url("https://x/runbooks/", runbooks.JOB_COST) == "https://x/runbooks/job-cost.md"
    with pytest.raises(KeyError, match="no runbook for incident 'nope'"):
        runbooks.runbook_url("https://x", "nope")


def test_an_unforeseen_shape_still_alerts_with_the_raw_event(emr, topic, lambda_context, monkeypatch):
    run_id = emr["run"]("silver")
    # GetJobRun answering with an unexpected shape (jobDriver as a list) must not lose the alert
    monkeypatch.setattr(notifier, "_get_job_run", lambda app, run: ({"jobDriver": ["unexpected"]}, ""))

    result = invoke(emr_event(emr["app_id"], run_id), lambda_context)

    assert result["incident"] == runbooks.UNRECOGNISED_EVENT
    message = only_alert(topic)["message"]
    assert "Problem:     the notifier could not read it (AttributeError:" in message
    assert f'"jobRunId": "{run_id}"' in message
