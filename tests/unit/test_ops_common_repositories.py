"""What the functions' repositories share (``ops_common.repositories``, ``aws_repositories``, ``fakes``).

The error a failed AWS call raises, the botocore conversion (:func:`aws_call`), the CloudWatch publisher with
and without that conversion, and the fakes' error injection and ``FakeMetrics``; and that each function's
package still names these under its own modules (one class, not a copy). No moto, no network.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lambdas") not in sys.path:  # the Lambda code asset's root: its packages are top-level there
    sys.path.insert(0, str(ROOT / "lambdas"))

from ops_common import metric_names as m  # noqa: E402
from ops_common import metrics as ops_metrics  # noqa: E402
from ops_common.aws_repositories import AwsCall, CloudWatchMetrics, aws_call, repository_error  # noqa: E402
from ops_common.fakes import FailingFake, FakeMetrics  # noqa: E402
from ops_common.repositories import MetricsPublisher, RepositoryError  # noqa: E402

FUNCTIONS = ("landing_intake", "freshness_monitor", "cost_reporter", "failure_notifier", "replica_verifier")
ENV = "prod"
DATUM = ops_metrics.Datum(name=m.FRESHNESS_MINUTES, value=1.0, dimensions={m.ENVIRONMENT: ENV, m.TABLE: "silver.t"})
UNKNOWN = ops_metrics.Datum(name="NotACatalogMetric", value=1.0)


def client_error(code: str, operation: str = "GetObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "it failed"}}, operation)


class MissingError(RepositoryError):
    """A subclass raised for one AWS error code."""


# --- RepositoryError ------------------------------------------------------------------------------------


def test_a_repository_error_raised_directly_names_its_own_class_and_stands_for_itself() -> None:
    error = RepositoryError("it failed")

    assert (str(error), error.code, error.throttled, error.error_type) == ("it failed", "", False, "RepositoryError")
    assert error.original is error
    assert MissingError("gone").error_type == "MissingError"


def test_a_repository_error_raised_from_botocore_stands_for_the_botocore_error() -> None:
    cause = client_error("SlowDown")
    try:
        raise RepositoryError("slow", code="SlowDown", throttled=True, error_type="ClientError") from cause
    except RepositoryError as raised:
        error = raised

    assert (error.code, error.throttled, error.error_type, error.original) == ("SlowDown", True, "ClientError", cause)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_names_the_shared_classes(function: str) -> None:
    repositories = importlib.import_module(f"{function}.repositories")

    assert repositories.RepositoryError is RepositoryError
    if function != "failure_notifier":  # the notifier publishes no metrics
        assert repositories.MetricsPublisher is MetricsPublisher


# --- aws_call ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "throttled"),
    [
        (client_error("ThrottlingException"), "ThrottlingException", True),
        (client_error("AccessDenied"), "AccessDenied", False),
        (EndpointConnectionError(endpoint_url="https://s3.eu-west-1.amazonaws.com"), "", False),
    ],
    ids=["throttled", "client-error", "no-answer"],
)
def test_aws_call_turns_botocore_errors_into_repository_errors_from_them(
    error: Exception, code: str, throttled: bool
) -> None:
    with pytest.raises(RepositoryError) as raised, aws_call():
        raise error

    assert type(raised.value) is RepositoryError and raised.value.__cause__ is error
    assert (str(raised.value), raised.value.code, raised.value.throttled) == (str(error), code, throttled)
    assert raised.value.error_type == type(error).__name__


def test_aws_call_leaves_other_errors_as_they_are() -> None:
    with pytest.raises(ValueError, match="not AWS"), aws_call():
        raise ValueError("not AWS")


def test_the_expected_error_code_is_an_outcome_of_the_call_not_an_error() -> None:
    with aws_call("ConditionalCheckFailedException") as call:
        raise client_error("ConditionalCheckFailedException", "PutItem")
    assert call == AwsCall(expected_error=True)

    with aws_call("ConditionalCheckFailedException") as call:
        pass
    assert not call.expected_error

    with pytest.raises(RepositoryError) as raised, aws_call("ConditionalCheckFailedException"):
        raise client_error("ValidationException", "PutItem")
    assert raised.value.code == "ValidationException"


def test_aws_call_raises_the_class_given_for_an_error_code() -> None:
    classes = {"NoSuchKey": MissingError}

    with pytest.raises(RepositoryError) as raised, aws_call(error_classes=classes):
        raise client_error("NoSuchKey")
    assert type(raised.value) is MissingError and raised.value.error_type == "ClientError"

    with pytest.raises(RepositoryError) as raised, aws_call(error_classes=classes):
        raise client_error("AccessDenied")
    assert type(raised.value) is RepositoryError

    with pytest.raises(RepositoryError) as raised, aws_call(error_classes=classes):
        raise EndpointConnectionError(endpoint_url="https://s3")
    assert type(raised.value) is RepositoryError


def test_repository_error_builds_the_error_of_a_botocore_error_without_raising() -> None:
    error = repository_error(client_error("SlowDown"), MissingError)

    assert (type(error), error.code, error.throttled, error.__cause__) == (MissingError, "SlowDown", True, None)


# --- CloudWatchMetrics ---------------------------------------------------------------------------------


class StubCloudWatch:
    """What ``client("cloudwatch")`` returns: records each PutMetricData, or raises ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **params: Any) -> None:
        if self.error is not None:
            raise self.error
        self.calls.append(params)


def test_cloudwatch_metrics_put_the_data_under_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    stub = StubCloudWatch()
    monkeypatch.setattr(ops_metrics, "client", lambda service: stub)

    CloudWatchMetrics().publish([DATUM], namespace=m.namespace(ENV))

    assert stub.calls == [{"Namespace": m.namespace(ENV), "MetricData": [DATUM.to_api()]}]


def test_cloudwatch_metrics_convert_errors_unless_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    error = client_error("ThrottlingException", "PutMetricData")
    monkeypatch.setattr(ops_metrics, "client", lambda service: StubCloudWatch(error))

    with pytest.raises(RepositoryError) as raised:
        CloudWatchMetrics().publish([DATUM], namespace=m.namespace(ENV))
    assert raised.value.__cause__ is error and raised.value.throttled

    with pytest.raises(ClientError) as unconverted:
        CloudWatchMetrics(convert_errors=False).publish([DATUM], namespace=m.namespace(ENV))
    assert unconverted.value is error


def test_cloudwatch_metrics_refuse_a_datum_not_in_the_catalog_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    stub = StubCloudWatch()
    monkeypatch.setattr(ops_metrics, "client", lambda service: stub)

    with pytest.raises(ValueError, match="not in the metric catalog"):
        CloudWatchMetrics().publish([UNKNOWN], namespace=m.namespace(ENV))
    assert stub.calls == []


# --- fakes ---------------------------------------------------------------------------------------------


def test_a_failing_fake_raises_the_error_of_the_operation_or_of_its_target() -> None:
    everywhere, one_key = RepositoryError("any key"), RepositoryError("that key")
    fake = FailingFake(errors={"get_object": everywhere, "get_object:k1": one_key})

    for target, expected in ((None, everywhere), ("k1", one_key), ("k2", everywhere)):
        with pytest.raises(RepositoryError) as raised:
            fake._maybe_fail("get_object", target)
        assert raised.value is expected
    fake._maybe_fail("list_objects_v2")  # no error for it

    fake.errors.clear()
    fake._maybe_fail("get_object", "k1")


def test_fake_metrics_check_the_catalog_then_fail_or_record() -> None:
    metrics = FakeMetrics()
    metrics.publish([DATUM], namespace="ns")
    assert metrics.published == [("ns", DATUM)]

    with pytest.raises(ValueError, match="not in the metric catalog"):
        metrics.publish([UNKNOWN], namespace="ns")

    metrics.errors["publish"] = RepositoryError("down")
    with pytest.raises(RepositoryError, match="down"):
        metrics.publish([DATUM], namespace="ns")
    assert metrics.published == [("ns", DATUM)]
