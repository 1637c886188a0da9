"""The landing intake's AWS calls are X-Ray subsegments: patched by ``init_tracing``, captured locally.

The SDK is enabled for this test only (the suite disables it), the recorder sends to an in-memory emitter
instead of the UDP daemon, and everything (SDK flag, recorder settings, the botocore patch) is restored.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from typing import Any

import botocore.client
import botocore.endpoint
import pytest
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import patcher, xray_recorder
from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter
from test_landing_intake import (
    GOOD_KEY,
    landing,  # noqa: F401  (fixture: moto bucket, manifest, state machine)
    notification,
    put_object,
    sqs_event,
)


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
    calls = aws_calls(document)
    assert calls == [
        ("dynamodb", "PutItem"),
        ("states", "ListExecutions"),
        ("states", "StartExecution"),
        ("monitoring", "PutMetricData"),
    ]
    put_item = next(sub for sub in document["subsegments"] if sub["name"] == "dynamodb")
    assert put_item["aws"]["table_name"] == "lakehouse-test-landing-intake-manifest"
    assert put_item["aws"]["region"] == "eu-west-1" and "error" not in put_item
