"""Stand-ins for what moto 5.2.5 does not implement, installed on the server side only: the code under test
calls the real API through botocore."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError


class MessageMoveTasks:
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

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.tasks: dict[str, list[dict[str, Any]]] = {}
        self._create_client = botocore.session.Session.create_client

    def install(self, monkeypatch: pytest.MonkeyPatch) -> MessageMoveTasks:
        original, filler = self._create_client, self

        def create_client(session: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
            made = original(session, service_name, *args, **kwargs)
            if service_name == "sqs":
                filler.attach(made)
            return made

        monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
        return self

    def attach(self, sqs: Any) -> None:
        events = sqs.meta.events
        for operation in ("StartMessageMoveTask", "ListMessageMoveTasks"):
            events.register(f"before-parameter-build.sqs.{operation}", self._keep_params)
            events.register(f"before-call.sqs.{operation}", self._answer)

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["gap_filler_params"] = dict(params)

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


class BackupJobs:
    """moto gap filler: AWS Backup ``ListBackupJobs``, ``ListCopyJobs`` and ``ListRestoreJobs`` (moto 5.2.5 has
    none), answered from the jobs a test records with :meth:`add`, filtered like the API (``ByCreatedAfter``,
    ``ByBackupVaultName``, ``BySourceBackupVaultName``), installed like :class:`MessageMoveTasks`."""

    OPERATIONS = {"ListBackupJobs": "BackupJobs", "ListCopyJobs": "CopyJobs", "ListRestoreJobs": "RestoreJobs"}

    def __init__(self) -> None:
        self.jobs: dict[str, list[dict[str, Any]]] = {key: [] for key in self.OPERATIONS.values()}
        self._create_client = botocore.session.Session.create_client

    def install(self, monkeypatch: pytest.MonkeyPatch) -> BackupJobs:
        original, filler = self._create_client, self

        def create_client(session: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
            made = original(session, service_name, *args, **kwargs)
            if service_name == "backup":
                for operation in filler.OPERATIONS:
                    made.meta.events.register(
                        f"before-parameter-build.backup.{operation}", MessageMoveTasks._keep_params
                    )
                    made.meta.events.register(f"before-call.backup.{operation}", filler._answer)
            return made

        monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
        return self

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
