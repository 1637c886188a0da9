"""The landing intake's batch logic on in-memory repositories (``landing_intake.fakes``): no moto, no network.

The same behaviour through boto3 on moto is tests/lambdas/test_landing_intake.py (the functional tier); here
each rule of the logic is checked on its own, fast: the manifest write, duplicates, the pending marker, one
pipeline start per batch, a running writer, and failed AWS calls reported as batch item failures.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.aws_guard import refuse_aws_clients

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lambdas") not in sys.path:  # the Lambda code asset's root: its packages are top-level there
    sys.path.insert(0, str(ROOT / "lambdas"))

from landing_intake import aws_repositories as aws_module  # noqa: E402
from landing_intake import intake  # noqa: E402
from landing_intake.fakes import FakeAws  # noqa: E402
from landing_intake.intake import RepositoryError, Settings, batch_id, process_batch  # noqa: E402
from ops_common import metric_names as m  # noqa: E402
from ops_common import metrics as ops_metrics  # noqa: E402

ENV = "test"
BUCKET = "lakehouse-test-landing"
PIPELINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:lakehouse-test-pipeline"
MAINTENANCE = "arn:aws:states:eu-west-1:123456789012:stateMachine:lakehouse-test-maintenance"
NOW = dt.datetime(2026, 11, 22, 3, 15, 42, 123456, tzinfo=dt.UTC)
STAMP = NOW.isoformat(timespec="milliseconds")
GOOD_KEY = "crm/accounts/dt=2025-01-01/accounts-001.jsonl"
OTHER_KEY = "crm/contacts/dt=2025-01-01/c.jsonl"
SETTINGS = Settings(
    environment=ENV,
    manifest_table="lakehouse-test-landing-intake-manifest",
    state_machine_arn=PIPELINE,
    landing_bucket=BUCKET,
    writer_state_machine_arns=(PIPELINE, MAINTENANCE),
)
THROTTLED = RepositoryError("ThrottlingException: Rate exceeded", code="ThrottlingException", throttled=True)


class Context:
    """The part of Lambda's context the intake reads."""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Any boto3 client is a failure here; X-Ray annotations are collected instead of sent."""

    refuse_aws_clients(monkeypatch, aws_module, ops_metrics)
    annotations: list[dict[str, Any]] = []
    monkeypatch.setattr(intake, "annotate", lambda **values: annotations.append(values))
    yield annotations


@pytest.fixture
def fake() -> FakeAws:
    return FakeAws(state_machine_arn=PIPELINE)


def object_created(key: str, *, size: int = 12, version: str = "v1", bucket: str = BUCKET) -> dict[str, Any]:
    """The EventBridge ``Object Created`` event S3 sends (the key URL-encoded, as S3 does)."""
    return {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "time": "2026-11-22T03:15:40Z",
        "detail": {
            "bucket": {"name": bucket},
            "object": {"key": key.replace("=", "%3D"), "size": size, "etag": "e", "version-id": version},
        },
    }


def writer_ended(state_machine_arn: str, name: str = "run-1") -> dict[str, Any]:
    """The EventBridge event of an ended execution of ``state_machine_arn``."""
    execution = f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
    return {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {"executionArn": execution, "stateMachineArn": state_machine_arn, "status": "SUCCEEDED"},
    }


def sqs_event(*bodies: Any) -> dict[str, Any]:
    """An SQS batch; message ids ``m0``, ``m1``, ...; a non-str body is JSON-encoded."""
    return {
        "Records": [
            {"messageId": f"m{i}", "body": body if isinstance(body, str) else json.dumps(body), "attributes": {}}
            for i, body in enumerate(bodies)
        ]
    }


def run(fake: FakeAws, *bodies: Any, now: dt.datetime = NOW) -> list[str]:
    """Process one batch on the fakes; the messages reported failed."""
    response = process_batch(sqs_event(*bodies), Context(), SETTINGS, now=now, repositories=fake.repositories())
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


# --- the manifest -----------------------------------------------------------------------------------------


def test_a_new_object_is_recorded_in_the_manifest(fake: FakeAws) -> None:
    assert run(fake, object_created(GOOD_KEY, size=12, version="v7")) == []

    item = fake.manifest.items[GOOD_KEY]
    assert (item["object_version"], item["status"], item["size"]) == ("v7", "accepted", 12)
    assert (item["source"], item["entity"], item["dt"]) == ("crm", "accounts", "2025-01-01")
    assert item["message_id"] == "m0" and item["recorded_at"] == STAMP
    assert item["event_name"] == "Object Created" and "reason_code" not in item
    assert fake.metrics.total(m.INTAKE_ACCEPTED) == 1 and fake.metrics.total(m.INTAKE_REJECTED) == 0
    assert {namespace for namespace, _ in fake.metrics.published} == {m.namespace(ENV)}


def test_an_object_that_can_never_be_valid_is_recorded_rejected_and_starts_nothing(fake: FakeAws) -> None:
    key = "crm/leads/dt=2025-01-01/leads.jsonl"

    assert run(fake, object_created(key)) == []

    item = fake.manifest.items[key]
    assert (item["status"], item["reason_code"]) == ("rejected", "unknown_entity")
    assert fake.pending.sets == 0 and fake.pipeline.start_calls == 0
    assert fake.metrics.total(m.INTAKE_REJECTED) == 1 and fake.metrics.total(m.INTAKE_ACCEPTED) == 0


def test_a_duplicate_delivery_is_recorded_once_and_counted_once(fake: FakeAws, capsys) -> None:
    body = object_created(GOOD_KEY)

    assert run(fake, body, body) == []  # twice in one batch
    assert run(fake, body) == []  # and redelivered

    assert list(fake.manifest.items) == [GOOD_KEY] and fake.manifest.items[GOOD_KEY]["message_id"] == "m0"
    assert fake.metrics.total(m.INTAKE_ACCEPTED) == 1
    assert sum(line["reason"] == "duplicate" for line in log_lines(capsys)) == 2
    assert fake.pipeline.started == [batch_id(NOW)]  # the redelivery's start is the same execution


def test_a_throttled_manifest_write_fails_only_that_message(fake: FakeAws, capsys) -> None:
    fake.manifest.failing_keys[OTHER_KEY] = THROTTLED

    failed = run(fake, object_created(GOOD_KEY), object_created(OTHER_KEY))

    assert failed == ["m1"]
    assert set(fake.manifest.items) == {GOOD_KEY}
    line = next(line for line in log_lines(capsys) if line["level"] == "ERROR")
    assert (line["reason"], line["message_id"], line["key"]) == ("manifest_throttled", "m1", OTHER_KEY)


# --- the pending marker and the pipeline start ------------------------------------------------------------


def test_accepted_objects_set_the_pending_marker_and_the_start_clears_it(fake: FakeAws, no_aws) -> None:
    assert run(fake, object_created(GOOD_KEY)) == []

    assert fake.pending.sets == 1
    assert fake.pending.item is None  # the run started: nothing waits any more
    assert no_aws[-1] == {"accepted": 1, "rejected": 0, "failed": 0, "pipeline": "started"}


def test_the_pipeline_starts_once_per_batch(fake: FakeAws, capsys) -> None:
    keys = [f"crm/accounts/dt=2025-01-01/a{i}.jsonl" for i in range(4)]

    assert run(fake, *(object_created(k) for k in keys)) == []

    assert fake.pipeline.start_calls == 1 and fake.pipeline.started == [batch_id(NOW)]
    assert fake.pending.sets == 1
    [started] = [line for line in log_lines(capsys) if line["reason"] == "pending_objects"]
    assert started["batch_id"] == batch_id(NOW)


@pytest.mark.parametrize("writer", [PIPELINE, MAINTENANCE])
def test_a_running_writer_leaves_the_marker_until_it_ends(fake: FakeAws, writer: str, capsys) -> None:
    running = f"{writer.replace(':stateMachine:', ':execution:')}:scheduled"
    fake.pipeline.running[writer] = running

    assert run(fake, object_created(GOOD_KEY)) == []

    assert fake.pipeline.start_calls == 0
    assert fake.pending.item is not None and fake.pending.item["since"] == STAMP
    assert next(line for line in log_lines(capsys) if line["reason"] == "writer_running")["execution"] == running

    del fake.pipeline.running[writer]
    later = NOW + dt.timedelta(minutes=20)
    assert run(fake, writer_ended(writer), now=later) == []

    assert fake.pipeline.started == [batch_id(later)]
    assert fake.pending.item is None


def test_a_writer_that_ends_with_nothing_pending_starts_nothing(fake: FakeAws, capsys) -> None:
    assert run(fake, writer_ended(MAINTENANCE)) == []

    assert fake.pipeline.start_calls == 0
    assert any(line["reason"] == "nothing_pending" for line in log_lines(capsys))


def test_the_marker_set_again_during_the_start_stays_for_one_more_run(fake: FakeAws) -> None:
    fake.pipeline.before_start = lambda: fake.pending.set("another-invocation", "2026-11-22T03:15:43.000")

    assert run(fake, object_created(GOOD_KEY)) == []

    assert fake.pipeline.started == [batch_id(NOW)]
    assert fake.pending.item is not None and fake.pending.item["pending_token"] == "another-invocation"


def test_the_name_of_an_ended_execution_falls_back_to_seconds(fake: FakeAws) -> None:
    fake.pipeline.ended.add(batch_id(NOW))

    assert run(fake, object_created(GOOD_KEY)) == []

    assert fake.pipeline.started == [batch_id(NOW, precision="second")]


# --- failed AWS calls: the messages are retried -----------------------------------------------------------


def test_a_throttled_start_reports_the_accepted_and_writer_messages_failed(fake: FakeAws, capsys) -> None:
    fake.pipeline.errors["start"] = THROTTLED
    rejected = object_created("crm/leads/dt=2025-01-01/l.jsonl")

    failed = run(fake, rejected, "{oops", object_created(GOOD_KEY), writer_ended(MAINTENANCE))

    assert failed == ["m1", "m2", "m3"]  # the poison message, then those the start was for; not the rejection
    assert fake.manifest.items[GOOD_KEY]["status"] == "accepted"  # recorded: the retry is a duplicate
    assert fake.pending.item is not None  # the marker stays: the object still waits
    line = next(line for line in log_lines(capsys) if line.get("reason") == "pipeline_start_failed")
    assert line["throttled"] is True


def test_a_start_that_failed_without_an_aws_answer_logs_no_throttling(fake: FakeAws, capsys) -> None:
    fake.pipeline.errors["start"] = RepositoryError("Could not connect to the endpoint URL")

    assert run(fake, object_created(GOOD_KEY)) == ["m0"]

    line = next(line for line in log_lines(capsys) if line.get("reason") == "pipeline_start_failed")
    assert "throttled" not in line and line["error"] == "Could not connect to the endpoint URL"


@pytest.mark.parametrize(
    ("repository", "operation", "reason"),
    [
        ("pending", "set", "pending_mark_failed"),
        ("pending", "token", "pending_read_failed"),
        ("pipeline", "running_execution", "pipeline_list_failed"),
    ],
)
def test_an_unavailable_marker_or_writer_check_retries_the_messages(
    fake: FakeAws, capsys, repository: str, operation: str, reason: str
) -> None:
    getattr(fake, repository).errors[operation] = THROTTLED

    assert run(fake, object_created(GOOD_KEY), writer_ended(MAINTENANCE)) == ["m0", "m1"]

    assert fake.pipeline.start_calls == 0
    assert any(line["reason"] == reason for line in log_lines(capsys))


def test_a_marker_that_cannot_be_cleared_does_not_fail_the_started_run(fake: FakeAws, capsys) -> None:
    fake.pending.errors["clear"] = THROTTLED

    assert run(fake, object_created(GOOD_KEY)) == []

    assert fake.pipeline.started == [batch_id(NOW)] and fake.pending.item is not None
    assert any(line["reason"] == "pending_clear_failed" for line in log_lines(capsys))


def test_unpublished_metrics_do_not_fail_the_batch(fake: FakeAws, capsys) -> None:
    fake.metrics.errors["publish"] = THROTTLED

    assert run(fake, object_created(GOOD_KEY)) == []

    assert fake.manifest.items[GOOD_KEY]["status"] == "accepted"
    assert any(line["reason"] == "metrics_failed" for line in log_lines(capsys))


def test_the_aws_repositories_create_no_client_until_called() -> None:
    """Wiring the boto3 repositories (what the handler does) calls no AWS API: the fixture would fail it."""
    repositories = aws_module.aws_repositories(SETTINGS)

    assert repositories.manifest.table == SETTINGS.manifest_table  # type: ignore[attr-defined]
    assert repositories.pipeline.state_machine_arn == PIPELINE  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="AWS client was requested"):
        repositories.pending.token()
