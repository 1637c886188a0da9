"""X-Ray: the handlers' AWS calls are subsegments, and annotations work inside Lambda's facade segment.

The SDK is enabled for these tests only (the suite disables it), the recorder sends to an in-memory emitter
instead of the UDP daemon, and everything (SDK flag, recorder settings, the botocore patch) is restored.
Inside Lambda the SDK sees the function's segment as a ``FacadeSegment`` built from ``_X_AMZN_TRACE_ID``;
:func:`in_lambda` recreates exactly that (the SDK's own ``LambdaContext``), so an annotation written on the
facade would raise here as it does in AWS.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.client
import botocore.endpoint
import pytest
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import patcher, xray_recorder
from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter
from aws_xray_sdk.core.lambda_launcher import LambdaContext
from aws_xray_sdk.core.models.facade_segment import FacadeSegment
from ops_common import tracing
from test_failure_notifier import (
    sfn,  # noqa: F401  (fixture: moto state machine and executions)
    sfn_event,
    topic,  # noqa: F401  (fixture: alert topic with a queue subscribed; sfn uses it)
)
from test_landing_intake import (
    GOOD_KEY,
    landing,  # noqa: F401  (fixture: moto bucket, manifest, state machine)
    notification,
    put_object,
    sqs_event,
)

HANDLERS = {
    "landing_intake": "landing-intake",
    "failure_notifier": "failure-notifier",
    "cost_reporter": "cost-reporter",
    "freshness_monitor": "freshness-monitor",
    "replica_verifier": "replica-verifier",
}
TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
LAMBDA_SEGMENT = "53995c3f42cd8ad8"


class CapturingEmitter(UDPEmitter):
    """Keeps every entity the recorder would send, serialized as the daemon would get it; no socket."""

    def __init__(self) -> None:  # no super().__init__(): no UDP socket
        self.sent: list[dict[str, Any]] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address: str | None) -> None:
        pass


def _unpatch_botocore() -> None:
    """Undo ``aws_xray_sdk.ext.botocore.patch`` (wrapt wrappers keep the original as ``__wrapped__``)."""
    for owner, name in (
        (botocore.client.BaseClient, "_make_api_call"),
        (botocore.endpoint.Endpoint, "prepare_request"),
    ):
        wrapper = owner.__dict__[name]
        if hasattr(wrapper, "__wrapped__"):
            setattr(owner, name, wrapper.__wrapped__)
    if hasattr(botocore.client, "_xray_enabled"):
        delattr(botocore.client, "_xray_enabled")
    patcher._PATCHED_MODULES.discard("botocore")


@pytest.fixture
def xray(monkeypatch) -> Iterator[CapturingEmitter]:
    """X-Ray on for one test with a capturing emitter; the previous state comes back afterwards."""

    was_patched = hasattr(botocore.client, "_xray_enabled")
    was_enabled = global_sdk_config.sdk_enabled()
    env = os.environ.pop(global_sdk_config.XRAY_ENABLED_KEY, None)  # the variable would override the flag
    saved = (
        xray_recorder.emitter,
        xray_recorder.sampling,
        xray_recorder.context.context_missing,
        xray_recorder.streaming_threshold,
    )
    emitter = CapturingEmitter()
    try:
        global_sdk_config.set_sdk_enabled(True)
        xray_recorder.configure(emitter=emitter, sampling=False, context_missing="LOG_ERROR", streaming_threshold=1000)
        yield emitter
    finally:
        xray_recorder.clear_trace_entities()
        (
            xray_recorder.emitter,
            xray_recorder.sampling,
            xray_recorder.context.context_missing,
            xray_recorder.streaming_threshold,
        ) = saved
        if not was_patched:
            _unpatch_botocore()
        if env is not None:
            os.environ[global_sdk_config.XRAY_ENABLED_KEY] = env
        global_sdk_config.set_sdk_enabled(was_enabled)


@pytest.fixture
def in_lambda(xray, monkeypatch) -> Iterator[CapturingEmitter]:
    """The recorder as in a Lambda invocation with active tracing: a sampled facade segment, streamed subsegments."""
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ROOT};Parent={LAMBDA_SEGMENT};Sampled=1")
    saved = xray_recorder.context
    xray_recorder.configure(context=LambdaContext(), streaming_threshold=0)
    try:
        yield xray
    finally:
        xray_recorder.clear_trace_entities()
        xray_recorder.configure(context=saved)


def handler_subsegment(sent: list[dict[str, Any]], function: str) -> dict[str, Any]:
    [document] = [doc for doc in sent if doc.get("name") == f"## {function}"]
    return document


def aws_calls(entity: dict[str, Any]) -> list[tuple[str, str]]:
    """(subsegment name, aws.operation) of every ``aws`` subsegment under ``entity``, in order."""
    found = []
    for sub in entity.get("subsegments", []):
        if sub.get("namespace") == "aws":
            found.append((sub["name"], sub.get("aws", {}).get("operation", "")))
        found.extend(aws_calls(sub))
    return found


@pytest.mark.usefixtures("landing")
def test_intake_handler_records_a_subsegment_per_aws_call(xray, lambda_context):
    handler = importlib.reload(importlib.import_module("landing_intake.handler"))  # its import runs init_tracing
    assert hasattr(botocore.client, "_xray_enabled") and "botocore" in patcher._PATCHED_MODULES
    body = notification(put_object(GOOD_KEY))  # before the segment: only the handler's calls are traced

    segment = xray_recorder.begin_segment("landing-intake")
    try:
        response = handler.handler(sqs_event(body), lambda_context)
    finally:
        xray_recorder.end_segment()

    assert response == {"batchItemFailures": []}
    [document] = [doc for doc in xray.sent if doc.get("id") == segment.id]
    [work] = document["subsegments"]
    assert work["name"] == "## landing-intake"
    assert work["annotations"] == {"accepted": 1, "rejected": 0, "failed": 0, "pipeline": "started"}
    calls = aws_calls(document)
    assert calls == [
        ("dynamodb", "PutItem"),  # the object
        ("dynamodb", "UpdateItem"),  # the pending marker
        ("dynamodb", "GetItem"),
        ("states", "ListExecutions"),  # the pipeline, then maintenance: no writer runs
        ("states", "ListExecutions"),
        ("states", "StartExecution"),
        ("dynamodb", "DeleteItem"),  # the marker, now the run is started
        ("monitoring", "PutMetricData"),
    ]
    put_item = next(sub for sub in work["subsegments"] if sub["name"] == "dynamodb")
    assert put_item["aws"]["table_name"] == "lakehouse-test-landing-intake-manifest"
    assert put_item["aws"]["region"] == "eu-west-1" and "error" not in put_item


def test_every_handler_runs_inside_its_own_subsegment():
    for package, function in HANDLERS.items():
        entry = importlib.import_module(f"{package}.handler").handler
        source = importlib.import_module(f"{package}.handler").__file__
        assert hasattr(entry, "__wrapped__"), f"{package}.handler.handler is not decorated with traced_handler"
        assert f'@traced_handler("{function}")' in Path(source).read_text(encoding="utf-8")


def test_annotations_never_touch_the_facade_segment(in_lambda):
    entity = xray_recorder.get_trace_entity()
    assert isinstance(entity, FacadeSegment) and entity.trace_id == TRACE_ROOT
    with pytest.raises(Exception, match="FacadeSegments cannot be mutated"):
        entity.put_annotation("what", "the SDK refuses")  # the failure this module guards against
    tracing.annotate(what="nothing")  # outside a handler subsegment: ignored, no exception


def test_failure_notifier_inside_lambda_annotates_its_subsegment(in_lambda, request, lambda_context):
    handler = importlib.reload(importlib.import_module("failure_notifier.handler"))
    machines = request.getfixturevalue("sfn")
    execution = machines["execution"]("FAILED", error="States.TaskFailed", cause="boom")

    result = handler.handler(sfn_event(machines["machine_arn"], execution, "FAILED"), lambda_context)

    assert result["published"] is True
    work = handler_subsegment(in_lambda.sent, "failure-notifier")
    assert work["trace_id"] == TRACE_ROOT and work["parent_id"] == LAMBDA_SEGMENT
    assert work["annotations"] == {"published": True, "incident": result["incident"]}
    streamed = [doc for doc in in_lambda.sent if doc.get("parent_id") == work["id"]]  # sent as they closed
    assert ("sns", "Publish") in [(doc["name"], doc["aws"]["operation"]) for doc in streamed]
    assert "fault" not in work and "error" not in work


@pytest.mark.usefixtures("landing")
def test_intake_inside_lambda_annotates_and_a_failure_is_recorded_on_its_subsegment(
    in_lambda, lambda_context, monkeypatch
):
    handler = importlib.reload(importlib.import_module("landing_intake.handler"))
    body = notification(put_object(GOOD_KEY))

    assert handler.handler(sqs_event(body), lambda_context) == {"batchItemFailures": []}
    work = handler_subsegment(in_lambda.sent, "landing-intake")
    assert work["annotations"]["pipeline"] == "started" and work["parent_id"] == LAMBDA_SEGMENT

    in_lambda.sent.clear()
    monkeypatch.delenv("MANIFEST_TABLE")
    with pytest.raises(ValueError, match="MANIFEST_TABLE"):  # SettingsError
        handler.handler(sqs_event(body), lambda_context)
    failed = handler_subsegment(in_lambda.sent, "landing-intake")
    assert failed["fault"] is True
    [exception] = failed["cause"]["exceptions"]
    assert exception["type"] == "SettingsError" and "MANIFEST_TABLE" in exception["message"]
