"""The boto3 side the functions' repositories share: botocore errors to :class:`RepositoryError`, CloudWatch.

:func:`aws_call` wraps one AWS call: a botocore ``ClientError`` or ``BotoCoreError`` raised inside becomes a
:class:`RepositoryError` raised ``from`` it (anything else passes unchanged), except an expected AWS error
code (a conditional write's outcome), which is an outcome of the call, not an error. :class:`CloudWatchMetrics`
is the :class:`~ops_common.repositories.MetricsPublisher` on ``PutMetricData``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from types import MappingProxyType

from botocore.exceptions import BotoCoreError, ClientError

from ops_common.aws import error_code, is_throttling
from ops_common.metrics import Datum, put_metrics
from ops_common.repositories import RepositoryError

ErrorClasses = Mapping[str, type[RepositoryError]]
"""AWS error code -> the :class:`RepositoryError` (sub)class raised for it."""
NO_ERROR_CLASSES: ErrorClasses = MappingProxyType({})


def repository_error(
    error: ClientError | BotoCoreError, error_class: type[RepositoryError] = RepositoryError
) -> RepositoryError:
    """The ``error_class`` of a botocore error: its message, AWS error code, throttling and class name."""
    if isinstance(error, ClientError):
        return error_class(
            str(error), code=error_code(error), throttled=is_throttling(error), error_type=type(error).__name__
        )
    return error_class(str(error), error_type=type(error).__name__)


@dataclass
class AwsCall:
    """One AWS call inside :func:`aws_call`: whether it failed with the expected error code."""

    expected_error: bool = False


@contextmanager
def aws_call(expected: str = "", *, error_classes: ErrorClasses = NO_ERROR_CLASSES) -> Iterator[AwsCall]:
    """botocore errors -> :class:`RepositoryError` (``from`` the botocore error); anything else as it is.

    The AWS error code ``expected`` (e.g. a conditional write's ``ConditionalCheckFailedException``) is not an
    error: it sets the call's ``expected_error``. ``error_classes`` names a subclass to raise for an AWS error
    code (e.g. a missing key's).
    """
    call = AwsCall()
    try:
        yield call
    except ClientError as error:
        code = error_code(error)
        if expected and code == expected:
            call.expected_error = True
            return
        raise repository_error(error, error_classes.get(code, RepositoryError)) from error
    except BotoCoreError as error:
        raise repository_error(error) from error


@dataclass(frozen=True, kw_only=True)
class CloudWatchMetrics:
    """``PutMetricData`` (``ops_common.metrics.put_metrics``: every datum checked against the catalog).

    ``convert_errors``: botocore errors become :class:`RepositoryError` (:func:`aws_call`); False leaves them as
    botocore raised them, for a function whose logic does not handle a failed publish (the replica verifier:
    it fails the invocation with botocore's error, as before its repositories).
    """

    convert_errors: bool = True

    def publish(self, data: Sequence[Datum], *, namespace: str) -> None:
        """PutMetricData, batched at the API's limit."""
        with aws_call() if self.convert_errors else nullcontext():
            put_metrics(data, namespace=namespace)
