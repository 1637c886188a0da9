"""Stand-ins for what moto 5.2.5 does not implement, installed on the server side only: the code under test
calls the real API through botocore."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError


class _BeforeCall:
    """Answers some operations of one service in place of moto, inside moto (botocore ``before-call``).

    While installed, every client of ``service`` that botocore creates gets ``before-parameter-build`` and
    ``before-call`` handlers for ``operations`` (the mechanism botocore's Stubber uses); the code under
    test calls the real API through botocore. Subclasses answer in ``_answer``.
    """

    service = ""
    event_name = ""
    """The service's name in botocore's event names (its hyphenized service id), when not ``service``."""
    operations: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._create_client = botocore.session.Session.create_client

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Any:
        original, filler = self._create_client, self

        def create_client(session: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
            made = original(session, service_name, *args, **kwargs)
            if service_name == filler.service:
                filler.attach(made)
            return made

        monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
        return self

    def attach(self, made: Any) -> None:
        events, name = made.meta.events, self.event_name or self.service
        for operation in self.operations:
            events.register(f"before-parameter-build.{name}.{operation}", self._keep_params)
            events.register(f"before-call.{name}.{operation}", self._answer)

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["gap_filler_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        raise NotImplementedError


class MessageMoveTasks(_BeforeCall):
    """moto gap filler: SQS ``StartMessageMoveTask`` and ``ListMessageMoveTasks`` (moto 5.2.5 has neither).

    While installed, every SQS client botocore creates gets ``before-call`` handlers for these two
    operations that answer in place of AWS (the mechanism botocore's Stubber uses). The code under test
    calls the real API through botocore; only the server side is filled in, inside moto:

    * StartMessageMoveTask checks the source is a dead-letter queue (some queue's RedrivePolicy targets it)
      and the destination exists, like SQS; then moves every message at once (receive, send the body to
      the destination, delete) and records a ``COMPLETED`` task. Returns ``{"TaskHandle": ...}``.
    * ListMessageMoveTasks returns the recorded tasks of a source, newest first, shaped like the real
      API's ``Results`` (a task handle only for a running task, as SQS does).

    ``started`` holds the request parameters of every StartMessageMoveTask call.
    """

    service = "sqs"
    operations = ("StartMessageMoveTask", "ListMessageMoveTasks")

    def __init__(self) -> None:
        super().__init__()
        self.started: list[dict[str, Any]] = []
        self.tasks: dict[str, list[dict[str, Any]]] = {}

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = context["gap_filler_params"]
        try:
            start = model.name == "StartMessageMoveTask"
            body = self._start(params) if start else {"Results": self._list(params)}
        except _SqsError as error:
            parsed = {"Error": {"Code": error.code, "Message": str(error)}, "ResponseMetadata": {"HTTPStatusCode": 400}}
            return AWSResponse("https://sqs.amazonaws.com/", 400, {}, None), parsed
        body["ResponseMetadata"] = {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())}
        return AWSResponse("https://sqs.amazonaws.com/", 200, {}, None), body

    def _moto(self, arn: str) -> Any:
        region = arn.split(":")[3]
        return self._create_client(botocore.session.get_session(), "sqs", region_name=region)

    def _url(self, sqs: Any, arn: str) -> str:
        try:
            return sqs.get_queue_url(QueueName=arn.rsplit(":", maxsplit=1)[-1])["QueueUrl"]
        except ClientError as error:
            if error.response["Error"]["Code"] not in {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"}:
                raise
            raise _SqsError("ResourceNotFoundException", f"The resource {arn} does not exist") from None

    def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        self.started.append(params)
        source_arn = params["SourceArn"]
        sqs = self._moto(source_arn)
        source = self._url(sqs, source_arn)
        sources = []
        for url in sqs.list_queues().get("QueueUrls", []):
            policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
            if json.loads(policy.get("RedrivePolicy", "{}")).get("deadLetterTargetArn") == source_arn:
                sources.append(url)
        if not sources:
            raise _SqsError("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
        destination = self._url(sqs, params["DestinationArn"]) if "DestinationArn" in params else sources[0]
        moved = 0
        while batch := sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        ):
            for message in batch:
                sqs.send_message(QueueUrl=destination, MessageBody=message["Body"])
                sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        handle = f"{uuid.uuid4()}"
        task = {
            "TaskHandle": handle,
            "Status": "COMPLETED",
            "SourceArn": source_arn,
            "ApproximateNumberOfMessagesMoved": moved,
            "ApproximateNumberOfMessagesToMove": moved,
            "StartedTimestamp": int(time.time() * 1000),
        }
        if "DestinationArn" in params:
            task["DestinationArn"] = params["DestinationArn"]
        if "MaxNumberOfMessagesPerSecond" in params:
            task["MaxNumberOfMessagesPerSecond"] = params["MaxNumberOfMessagesPerSecond"]
        self.tasks.setdefault(source_arn, []).insert(0, task)
        return {"TaskHandle": handle}

    def _list(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        sqs = self._moto(params["SourceArn"])
        self._url(sqs, params["SourceArn"])
        tasks = self.tasks.get(params["SourceArn"], [])[: params.get("MaxResults", 1)]
        return [{k: v for k, v in t.items() if k != "TaskHandle" or t["Status"] == "RUNNING"} for t in tasks]


class _SqsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ExecutionRedrive(_BeforeCall):
    """moto gap filler: Step Functions ``RedriveExecution`` (moto 5.2.5 does not implement it), and
    ``GetExecutionHistory`` of a FAILED execution (moto answers the same succeeding history for every
    execution unless ``SF_EXECUTION_HISTORY_TYPE=FAILURE``, which also makes every new execution FAILED).

    Like Step Functions: an execution that does not exist is ``ExecutionDoesNotExist``; one that did not end
    FAILED, TIMED_OUT or ABORTED is ``ExecutionNotRedrivable``; otherwise it is RUNNING again under the same
    name and ARN (moto's execution, so DescribeExecution and ListExecutions see it). The history of an
    execution that failed (it has an error, kept after a redrive) is moto's failure history
    (``ExecutionStarted``, ``FailStateEntered``, ``ExecutionFailed``), honouring ``reverseOrder`` and
    ``maxResults``; any other execution's goes to moto as usual (which ignores ``reverseOrder``).
    ``redriven`` holds the ARNs redriven.
    """

    service = "stepfunctions"
    event_name = "sfn"
    operations = ("RedriveExecution", "GetExecutionHistory")

    def __init__(self) -> None:
        super().__init__()
        self.redriven: list[str] = []

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        params = context["gap_filler_params"]
        execution = moto_execution(params["executionArn"])
        if model.name == "GetExecutionHistory":
            return self._history(execution, params)
        url = "https://states.amazonaws.com/"
        if execution is None or execution.status not in ("FAILED", "TIMED_OUT", "ABORTED"):
            code = "ExecutionDoesNotExist" if execution is None else "ExecutionNotRedrivable"
            error = {"Code": code, "Message": params["executionArn"]}
            return AWSResponse(url, 400, {}, None), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        execution.status, execution.stop_date = "RUNNING", None
        self.redriven.append(params["executionArn"])
        body = {"redriveDate": dt.datetime.now(dt.UTC), "ResponseMetadata": {"HTTPStatusCode": 200}}
        return AWSResponse(url, 200, {}, None), body

    @staticmethod
    def _history(execution: Any, params: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]] | None:
        if execution is None or not execution.error:
            return None  # moto answers
        with _environ(SF_EXECUTION_HISTORY_TYPE="FAILURE"):
            events = execution.get_execution_history("arn:aws:iam::123456789012:role/sfn")
        events = events[::-1] if params.get("reverseOrder") else events
        events = events[: params.get("maxResults", 1000)]
        body = {"events": events, "ResponseMetadata": {"HTTPStatusCode": 200}}
        return AWSResponse("https://states.amazonaws.com/", 200, {}, None), body


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def moto_execution(arn: str) -> Any:
    """moto's record of a Step Functions execution (None when there is none)."""
    from moto.stepfunctions.models import stepfunctions_backends

    region, account = arn.split(":")[3:5]
    backend = stepfunctions_backends[account][region]
    for state_machine in backend.state_machines:
        for execution in state_machine.executions:
            if execution.execution_arn == arn:
                return execution
    return None


def fail_execution(arn: str, *, error: str, cause: str) -> None:
    """End a running execution FAILED with ``error`` and ``cause``: moto's executions only succeed or stop
    unless its state-machine interpreter runs them (with :class:`ExecutionRedrive` installed, its history
    ends with an ``ExecutionFailed`` event)."""
    from moto.core.utils import utcnow

    execution = moto_execution(arn)
    execution.status, execution.error, execution.cause = "FAILED", error, cause
    execution.stop_date = utcnow()


def set_job_run_state(application_id: str, run_id: str, state: str, *, region: str = "eu-west-1") -> None:
    """Put an EMR Serverless job run in ``state``: moto's job runs are SUCCESS from the start and never move."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.emrserverless.models import emrserverless_backends

    for run in emrserverless_backends[DEFAULT_ACCOUNT_ID][region].job_runs[application_id]:
        if run.id == run_id:
            run.state = state


class TraceSummaries(_BeforeCall):
    """moto gap filler: X-Ray ``GetTraceSummaries`` with a ``FilterExpression`` (moto 5.2.5 refuses any).

    Understands the one expression ``service("<name>")``: the summaries moto computes for the time range
    (from the segments sent with PutTraceSegments), kept when a segment of the trace is named ``<name>``,
    with ``ServiceIds`` naming it. Any other expression is an ``InvalidRequestException``.
    """

    service = "xray"
    operations = ("GetTraceSummaries",)

    def _answer(self, model: Any, context: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        import re

        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.xray.models import xray_backends

        params = context["gap_filler_params"]
        url = "https://xray.amazonaws.com/"
        match = re.fullmatch(r'service\("([^"]+)"\)', params.get("FilterExpression", ""))
        if not match:
            parsed = {"Error": {"Code": "InvalidRequestException", "Message": "unsupported filter expression"}}
            return AWSResponse(url, 400, {}, None), {**parsed, "ResponseMetadata": {"HTTPStatusCode": 400}}
        region = kwargs["request_signer"].region_name
        collection = xray_backends[DEFAULT_ACCOUNT_ID][region]._segment_collection
        naive = [params[k].astimezone().replace(tzinfo=None) for k in ("StartTime", "EndTime")]
        summary = collection.summary(*naive)
        kept = [
            {**s, "ServiceIds": [{"Name": match.group(1)}]}
            for s in summary["TraceSummaries"]
            if any(segment.name == match.group(1) for segment in collection._traces[s["Id"]]["segments"])
        ]
        body = {"TraceSummaries": kept, "ApproximateTime": time.time(), "TracesProcessedCount": len(kept)}
        return AWSResponse(url, 200, {}, None), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


class BackupJobs(_BeforeCall):
    """moto gap filler: AWS Backup ``ListBackupJobs``, ``ListCopyJobs`` and ``ListRestoreJobs`` (moto 5.2.5 has
    none), answered from the jobs a test records with :meth:`add`, filtered like the API (``ByCreatedAfter``,
    ``ByBackupVaultName``, ``BySourceBackupVaultName``)."""

    service = "backup"
    OPERATIONS = {"ListBackupJobs": "BackupJobs", "ListCopyJobs": "CopyJobs", "ListRestoreJobs": "RestoreJobs"}
    operations = tuple(OPERATIONS)

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, list[dict[str, Any]]] = {key: [] for key in self.OPERATIONS.values()}

    def add(self, kind: str, **job: Any) -> None:
        """Record a job of ``kind`` (``BackupJobs``, ``CopyJobs``, ``RestoreJobs``) as the API lists it."""
        self.jobs[kind].append(job)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = context["gap_filler_params"]
        kind = self.OPERATIONS[model.name]
        after = params.get("ByCreatedAfter")
        vault = params.get("ByBackupVaultName") or params.get("BySourceBackupVaultName")
        found = [
            j
            for j in self.jobs[kind]
            if (after is None or j["CreationDate"] >= after)
            and (vault is None or vault in (j.get("BackupVaultName"), j.get("SourceBackupVaultArn", "").split(":")[-1]))
        ]
        body = {kind: found, "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())}}
        return AWSResponse("https://backup.amazonaws.com/", 200, {}, None), body
