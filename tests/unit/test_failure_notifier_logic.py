"""The failure notifier's logic on in-memory repositories (``failure_notifier.fakes``): no moto, no network.

The same behaviour through boto3 on moto is tests/lambdas/test_failure_notifier.py (the functional tier); here
each decision the notifier makes from what AWS returns is checked on its own, fast: the job run's or the
execution's details, a promotion audit, details that could not be read (not found, throttled, no answer),
events that need no AWS call, and a failed publish, which raises the AWS error so Lambda retries the event.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from failure_notifier import aws_repositories as aws_module
from failure_notifier import handler as notifier_handler
from failure_notifier import notifier
from failure_notifier.fakes import FakeAws
from failure_notifier.notifier import NotifierSettings, notify_failure
from failure_notifier.repositories import Repositories, RepositoryError
from ops_common import aws as ops_aws

from job_assets.contracts import runbooks
from tests.aws_guard import refuse_aws_clients

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:lakehouse-prod-alerts"
APP = "00fakeapp0000001"
RUN = "00f1cbn5g4bb0c01"
BATCH = "b20261122T031500123456Z"
LOG_GROUP = "/aws/emr-serverless/lakehouse-prod"
RUNBOOK_BASE = "https://github.com/acme/lakehouse/blob/main/runbooks/"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:lakehouse-prod-pipeline"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:lakehouse-prod-pipeline:{BATCH}"
STARTED = dt.datetime(2026, 11, 22, 3, 15, 2, tzinfo=dt.UTC)
ENDED = dt.datetime(2026, 11, 22, 3, 27, 40, tzinfo=dt.UTC)
SPARK_ERROR = "Job failed, please check complete logs in configured logging destination. ExitCode: 1."
SETTINGS = NotifierSettings(
    environment="prod",
    topic_arn=TOPIC,
    runbook_base_url=RUNBOOK_BASE,
    log_group=LOG_GROUP,
    application_id=APP,
    default_region=REGION,
)
THROTTLED = RepositoryError("ThrottlingException: Rate exceeded", code="ThrottlingException", throttled=True)


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any boto3 client is a failure here."""

    refuse_aws_clients(monkeypatch, aws_module, ops_aws)


@pytest.fixture
def fake() -> FakeAws:
    return FakeAws(topic_arn=TOPIC)


def job_run(job: str = "silver", *, details: str | None = SPARK_ERROR, **extra: Any) -> dict[str, Any]:
    """GetJobRun's ``jobRun`` for a run of ``job`` in batch BATCH."""
    run = {
        "applicationId": APP,
        "jobRunId": RUN,
        "name": f"{job}-{BATCH}",
        "state": "FAILED",
        "createdAt": STARTED,
        "updatedAt": ENDED,
        "jobDriver": {"sparkSubmit": {"entryPointArguments": ["--env", "prod", "--batch-id", BATCH]}},
        "tags": {},
    }
    if details is not None:
        run["stateDetails"] = details
    return run | extra


def emr_event(state: str = "FAILED", *, app: str = APP, **extra: Any) -> dict[str, Any]:
    """EventBridge's EMR Serverless job run state change (the documented shape)."""
    return {
        "detail-type": "EMR Serverless Job Run State Change",
        "source": "aws.emr-serverless",
        "time": "2026-11-22T03:27:41Z",
        "region": REGION,
        "detail": {
            "jobRunId": RUN,
            "applicationId": app,
            "state": state,
            "previousState": "RUNNING",
            "createdAt": "2026-11-22T03:15:02.325900Z",
            "updatedAt": "2026-11-22T03:27:40.299487Z",
            **extra,
        },
    }


def sfn_event(status: str = "FAILED", **extra: Any) -> dict[str, Any]:
    """EventBridge's Step Functions execution status change (the documented shape)."""
    return {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "time": "2026-11-22T03:27:41Z",
        "region": REGION,
        "detail": {
            "executionArn": EXECUTION,
            "stateMachineArn": MACHINE,
            "name": BATCH,
            "status": status,
            "startDate": int(STARTED.timestamp() * 1000),
            "stopDate": int(ENDED.timestamp() * 1000),
            **extra,
        },
    }


def run(fake: FakeAws, event: Any) -> dict[str, Any]:
    return notify_failure(event, SETTINGS, repositories=fake.repositories())


def only_alert(fake: FakeAws) -> tuple[str, list[str]]:
    """The one alert published: its subject and its message's lines."""
    assert len(fake.alerts.published) == 1, fake.alerts.published
    subject, message = fake.alerts.published[0]
    return subject, message.splitlines()


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def details_line(lines: list[str]) -> str:
    return next((line for line in lines if line.startswith("Details:")), "")


# --- EMR Serverless job runs ------------------------------------------------------------------------------


def test_a_failed_job_run_is_published_with_the_job_runs_details(fake: FakeAws, capsys) -> None:
    fake.job_runs.runs[(APP, RUN)] = job_run("silver")

    result = run(fake, emr_event())

    assert fake.job_runs.calls == [(APP, RUN)]
    subject, lines = only_alert(fake)
    assert subject == f"[lakehouse-prod] silver job FAILED ({BATCH})"
    assert result == {
        "published": True,
        "incident": runbooks.EMR_JOB_FAILED,
        "subject": subject,
        "message": fake.alerts.published[0][1],
        "message_id": "fake-message-1",
    }
    assert f"What:        EMR Serverless job silver (job run name silver-{BATCH}, application {APP})" in lines
    assert f"Batch id:    {BATCH}" in lines and f"Error:       {SPARK_ERROR}" in lines
    assert "Ended:       2026-11-22 03:27:40 UTC (after 12m 38s)" in lines
    assert not details_line(lines)
    assert lines[-1] == f"Runbook:     {RUNBOOK_BASE}emr-job-failed.md"
    [published] = [line for line in log_lines(capsys) if line["message"] == "alert published"]
    assert (published["reason"], published["message_id"]) == (runbooks.EMR_JOB_FAILED, "fake-message-1")


def test_the_job_runs_own_error_and_times_win_over_the_events(fake: FakeAws) -> None:
    fake.job_runs.runs[(APP, RUN)] = job_run(
        "gold",
        details="Job run timed out after 120 minutes",
        startedAt=dt.datetime(2026, 11, 22, 3, 16, tzinfo=dt.UTC),
        endedAt=dt.datetime(2026, 11, 22, 5, 16, tzinfo=dt.UTC),
    )

    run(fake, emr_event("CANCELLED", stateDetails="the event's error"))

    subject, lines = only_alert(fake)
    assert subject == f"[lakehouse-prod] gold job CANCELLED ({BATCH})"
    assert "Error:       Job run timed out after 120 minutes" in lines
    assert "Ended:       2026-11-22 05:16:00 UTC (after 2h 00m 00s)" in lines
    assert lines[-1] == f"Runbook:     {RUNBOOK_BASE}emr-job-cancelled.md"


def test_a_job_run_without_state_details_falls_back_to_the_event_then_says_none(fake: FakeAws) -> None:
    fake.job_runs.runs[(APP, RUN)] = job_run(details=None)

    run(fake, emr_event(stateDetails="OOM from the event"))
    run(fake, emr_event())

    assert fake.alerts.published[0][1].splitlines()[5] == "Error:       OOM from the event"
    assert fake.alerts.published[1][1].splitlines()[5] == "Error:       no state details reported"


@pytest.mark.parametrize(
    "audit",
    [
        job_run("gold", tags={"Purpose": "promotion-audit"}),
        job_run("gold", name="audit-gold-audit-prom-20261130T100000000Z-abc123"),
    ],
    ids=["tag", "name"],
)
def test_a_promotion_audit_run_is_ignored(fake: FakeAws, audit: dict[str, Any], capsys) -> None:
    fake.job_runs.runs[(APP, RUN)] = audit

    assert run(fake, emr_event()) == {"published": False, "reason": "promotion_audit"}

    assert fake.alerts.published == []
    assert log_lines(capsys)[-1]["reason"] == "promotion_audit"


@pytest.mark.parametrize(
    ("event", "reason"),
    [(emr_event(app="00otherapp000001"), "other_application"), (emr_event("SUCCESS"), "not_a_failure")],
)
def test_events_that_are_no_alert_read_nothing_and_publish_nothing(fake: FakeAws, event, reason) -> None:
    assert run(fake, event) == {"published": False, "reason": reason}

    assert fake.job_runs.calls == [] and fake.alerts.published == []


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (None, "ResourceNotFoundException"),  # the fake has no such run
        (THROTTLED, "ThrottlingException"),
        (RepositoryError("Read timeout on endpoint URL"), "RepositoryError"),
    ],
    ids=["not-found", "throttled", "no-answer"],
)
def test_unreadable_job_run_details_still_alert_from_the_event(
    fake: FakeAws, capsys, error: RepositoryError | None, code: str
) -> None:
    fake.job_runs.error = error

    result = run(fake, emr_event(jobRunName=f"silver-{BATCH}"))

    assert result["published"] is True
    subject, lines = only_alert(fake)
    assert subject == f"[lakehouse-prod] silver job FAILED ({BATCH})"  # the event's jobRunName
    assert "Started:     2026-11-22 03:15:02 UTC" in lines  # the event's createdAt
    assert details_line(lines).startswith(f"Details:     unavailable: GetJobRun failed ({code}: ")
    assert details_line(lines).endswith("; the lines above come from the event alone")
    [warning] = [line for line in log_lines(capsys) if line["level"] == "WARNING"]
    assert warning["reason"] == "job_run_details_unavailable"
    assert (warning["application_id"], warning["job_run_id"], warning["error_code"]) == (APP, RUN, code)


def test_a_call_that_got_no_answer_is_named_by_the_botocore_error(fake: FakeAws) -> None:
    no_answer = RepositoryError("Could not connect to the endpoint URL")
    no_answer.__cause__ = EndpointConnectionError(endpoint_url="https://emr-serverless.eu-west-1.amazonaws.com")
    fake.job_runs.error = no_answer

    run(fake, emr_event())

    _, lines = only_alert(fake)
    assert "GetJobRun failed (EndpointConnectionError: Could not connect to the endpoint URL)" in details_line(lines)


def test_a_job_run_of_an_unforeseen_shape_is_published_raw(fake: FakeAws, capsys) -> None:
    fake.job_runs.runs[(APP, RUN)] = {"jobDriver": ["unexpected"]}

    result = run(fake, emr_event())

    assert result["incident"] == runbooks.UNRECOGNISED_EVENT
    subject, lines = only_alert(fake)
    assert subject == "[lakehouse-prod] failure notifier: unrecognised event"
    assert any(line.startswith("Problem:     the notifier could not read it (AttributeError:") for line in lines)
    assert log_lines(capsys)[0]["reason"] == "alert_build_failed"


# --- Step Functions executions ----------------------------------------------------------------------------


def test_an_error_in_the_event_needs_no_describe_execution(fake: FakeAws) -> None:
    result = run(fake, sfn_event("TIMED_OUT", error="States.Timeout", cause="took too long"))

    assert fake.executions.calls == []
    assert result["incident"] == runbooks.PIPELINE_EXECUTION_TIMED_OUT
    subject, lines = only_alert(fake)
    assert subject == f"[lakehouse-prod] lakehouse-prod-pipeline TIMED_OUT ({BATCH})"
    assert "Error:       States.Timeout: took too long" in lines


def test_without_an_error_in_the_event_describe_execution_supplies_it(fake: FakeAws) -> None:
    fake.executions.executions[EXECUTION] = {
        "executionArn": EXECUTION,
        "status": "FAILED",
        "error": "States.TaskFailed",
        "cause": "boom",
        "startDate": dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC),
        "stopDate": ENDED,
    }
    event = sfn_event()
    del event["detail"]["startDate"]  # taken from DescribeExecution; the event's stopDate is kept

    result = run(fake, event)

    assert fake.executions.calls == [EXECUTION]
    assert result["incident"] == runbooks.PIPELINE_EXECUTION_FAILED
    _, lines = only_alert(fake)
    assert "Error:       States.TaskFailed: boom" in lines
    assert "Started:     2026-11-22 03:00:00 UTC" in lines
    assert "Ended:       2026-11-22 03:27:40 UTC (after 27m 40s)" in lines
    assert not details_line(lines)


@pytest.mark.parametrize(
    ("status", "text"),
    [("TIMED_OUT", "execution timed out (no error reported)"), ("FAILED", "no error reported")],
)
def test_an_execution_that_reports_no_error_says_so(fake: FakeAws, status: str, text: str) -> None:
    fake.executions.executions[EXECUTION] = {"executionArn": EXECUTION, "status": status}

    run(fake, sfn_event(status))

    _, lines = only_alert(fake)
    assert f"Error:       {text}" in lines and not details_line(lines)


@pytest.mark.parametrize(
    ("error", "code"),
    [(None, "ExecutionDoesNotExist"), (THROTTLED, "ThrottlingException")],
    ids=["not-found", "throttled"],
)
def test_unreadable_execution_details_still_alert_from_the_event(
    fake: FakeAws, capsys, error: RepositoryError | None, code: str
) -> None:
    fake.executions.error = error

    assert run(fake, sfn_event())["published"] is True

    _, lines = only_alert(fake)
    assert "Error:       no error reported" in lines
    assert "Started:     2026-11-22 03:15:02 UTC" in lines  # the event's startDate (epoch ms)
    assert details_line(lines).startswith(f"Details:     unavailable: DescribeExecution failed ({code}: ")
    [warning] = [line for line in log_lines(capsys) if line["level"] == "WARNING"]
    assert (warning["reason"], warning["execution_arn"], warning["error_code"]) == (
        "execution_details_unavailable",
        EXECUTION,
        code,
    )


def test_a_status_that_is_not_a_failure_reads_nothing(fake: FakeAws) -> None:
    assert run(fake, sfn_event("SUCCEEDED")) == {"published": False, "reason": "not_a_failure"}
    assert fake.executions.calls == [] and fake.alerts.published == []


# --- unrecognised events: published raw, within what SNS accepts ------------------------------------------


def test_an_unrecognised_event_is_published_raw_and_reads_nothing(fake: FakeAws) -> None:
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "x"}}}

    assert run(fake, event)["incident"] == runbooks.UNRECOGNISED_EVENT

    _, lines = only_alert(fake)
    assert "Source:      aws.s3 / Object Created" in lines
    assert fake.job_runs.calls == [] and fake.executions.calls == []


def test_a_huge_event_and_a_long_subject_fit_what_sns_accepts(fake: FakeAws) -> None:
    """The fake topic refuses what SNS refuses: the alerts below are accepted only if cut to fit."""
    long_machine = "very-long-state-machine-name-" * 5
    huge = sfn_event(error="é" * 300_000)
    huge["detail"]["stateMachineArn"] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{long_machine}"

    run(fake, huge)
    run(fake, {"source": "custom.test", "detail-type": "Blob", "detail": {"blob": "é" * 200_000}})

    assert len(fake.alerts.published) == 2
    assert fake.alerts.published[0][0].endswith("...")
    assert fake.alerts.published[1][1].rstrip().endswith("did not fit SNS's 262,144-byte limit]")


# --- a failed publish: logged and raised, so Lambda retries the event -------------------------------------


def _client_error() -> ClientError:
    return ClientError({"Error": {"Code": "NotFound", "Message": "Topic does not exist"}}, "Publish")


def test_a_failed_publish_raises_the_aws_error_itself(fake: FakeAws, capsys) -> None:
    aws_error = _client_error()
    wrapped = RepositoryError(str(aws_error), code="NotFound")
    wrapped.__cause__ = aws_error
    fake.alerts.error = wrapped

    with pytest.raises(ClientError) as raised:
        run(fake, sfn_event(error="States.TaskFailed"))

    assert raised.value is aws_error  # not the RepositoryError: Lambda records the AWS error
    line = log_lines(capsys)[-1]
    assert (line["level"], line["reason"], line["error_code"]) == ("ERROR", "publish_failed", "NotFound")
    assert line["incident"] == runbooks.PIPELINE_EXECUTION_FAILED and line["error"] == str(aws_error)


@pytest.mark.parametrize(
    ("error", "code"),
    [(THROTTLED, "ThrottlingException"), (RepositoryError("Could not connect to the endpoint URL"), "")],
    ids=["throttled", "no-answer"],
)
def test_a_publish_refused_by_a_repository_is_logged_and_raised(fake: FakeAws, capsys, error, code) -> None:
    fake.alerts.error = error

    with pytest.raises(RepositoryError) as raised:
        run(fake, sfn_event(error="States.TaskFailed"))

    assert raised.value is error
    line = log_lines(capsys)[-1]
    assert (line["reason"], line["error_code"], line["error"]) == ("publish_failed", code, str(error))


def test_a_publisher_bug_is_logged_and_raised_too(capsys) -> None:
    class BrokenTopic:
        def publish(self, subject: str, message: str) -> str | None:
            raise TypeError("not an AWS error")

    fake = FakeAws(topic_arn=TOPIC)
    broken = Repositories(job_runs=fake.job_runs, executions=fake.executions, alerts=BrokenTopic())

    with pytest.raises(TypeError, match="not an AWS error"):
        notify_failure(sfn_event(error="States.TaskFailed"), SETTINGS, repositories=broken)

    line = log_lines(capsys)[-1]
    assert (line["reason"], line["error_code"], line["error"]) == ("publish_failed", "", "not an AWS error")


# --- wiring -----------------------------------------------------------------------------------------------


def test_each_alert_reads_through_its_own_repositories() -> None:
    first, second = FakeAws(topic_arn=TOPIC), FakeAws(topic_arn=TOPIC)
    first.job_runs.runs[(APP, RUN)] = job_run("silver")
    second.job_runs.runs[(APP, RUN)] = job_run("gold")

    run(first, emr_event())
    run(second, emr_event())

    assert first.alerts.published[0][0].startswith("[lakehouse-prod] silver job")
    assert second.alerts.published[0][0].startswith("[lakehouse-prod] gold job")
    assert notifier._REPOSITORIES.get(None) is None  # nothing left behind between invocations


def test_the_aws_repositories_are_the_default_and_create_no_client_until_called() -> None:
    repositories = aws_module.aws_repositories(TOPIC)

    assert repositories.alerts.topic_arn == TOPIC  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="AWS client was requested"):
        repositories.executions.describe(EXECUTION)
    with pytest.raises(AssertionError, match="AWS client was requested"):
        notify_failure(sfn_event(error="States.TaskFailed"), SETTINGS)  # publishes through the AWS topic


class _Failing:
    """Stands for a boto3 client whose every operation raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, operation: str) -> Any:
        def call(**kwargs: Any) -> Any:
            raise self.error

        return call


@pytest.mark.parametrize(
    ("error", "code", "throttled"),
    [
        (
            ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetJobRun"),
            "ThrottlingException",
            True,
        ),
        (
            ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no run"}}, "GetJobRun"),
            "ResourceNotFoundException",
            False,
        ),
        (EndpointConnectionError(endpoint_url="https://emr-serverless.eu-west-1.amazonaws.com"), "", False),
    ],
    ids=["throttled", "client-error", "no-answer"],
)
def test_the_aws_repositories_turn_botocore_errors_into_repository_errors(
    monkeypatch: pytest.MonkeyPatch, error: Exception, code: str, throttled: bool
) -> None:
    monkeypatch.setattr(aws_module, "client", lambda service: _Failing(error))
    repositories = aws_module.aws_repositories(TOPIC)

    for call in (
        lambda: repositories.job_runs.job_run(APP, RUN),
        lambda: repositories.executions.describe(EXECUTION),
        lambda: repositories.alerts.publish("subject", "message"),
    ):
        with pytest.raises(RepositoryError) as raised:
            call()
        assert (raised.value.code, raised.value.throttled, str(raised.value)) == (code, throttled, str(error))
        assert raised.value.original is error


def test_the_handler_wires_the_aws_repositories_of_its_topic(fake: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    wired: list[str] = []

    def repositories_of(topic_arn: str) -> Any:
        wired.append(topic_arn)
        return fake.repositories()

    monkeypatch.setattr(notifier_handler, "aws_repositories", repositories_of)
    for name, value in {
        "ENVIRONMENT": "prod",
        "ALERT_TOPIC_ARN": TOPIC,
        "RUNBOOK_BASE_URL": RUNBOOK_BASE,
        "LOG_GROUP": LOG_GROUP,
        "APPLICATION_ID": APP,
    }.items():
        monkeypatch.setenv(name, value)

    result = notifier_handler.handler(sfn_event(error="States.TaskFailed"), None)

    assert wired == [TOPIC]
    assert result["published"] is True and "message" not in result
    assert result["message_id"] == "fake-message-1" and len(fake.alerts.published) == 1
