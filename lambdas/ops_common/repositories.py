"""What every function's repositories share: the error a failed AWS call raises and the metrics interface.

Each function declares what it asks of AWS in its own ``repositories`` module, one small interface per
concern, and re-binds the names below there (``RepositoryError = shared.RepositoryError``), so its logic,
fakes and tests import them from the function's package as before. The boto3 side shared by the functions
(:func:`ops_common.aws_repositories.aws_call`, ``CloudWatchMetrics``) is in ``aws_repositories``; the fakes'
shared parts (error injection, ``FakeMetrics``) are in ``fakes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ops_common.metrics import Datum


class RepositoryError(Exception):
    """A call to AWS failed (after the client's retries); the message is the AWS error's.

    ``code`` is the AWS error code, ``""`` when AWS gave no answer (a connection or client-side error);
    ``throttled`` says whether AWS throttled the call. ``error_type`` is the class name of the error the call
    raised (botocore's ``ClientError``, ``NoSuchBucket``, ``EndpointConnectionError``...; this class's own name
    when raised directly or given none). The AWS implementations raise it ``from`` the botocore error, which
    :attr:`original` gives back (the logic reports that error's type, as the functions did before the
    repositories).
    """

    def __init__(self, message: str, *, code: str = "", throttled: bool = False, error_type: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.throttled = throttled
        self.error_type = error_type or type(self).__name__

    @property
    def original(self) -> BaseException:
        """The AWS (botocore) error this one stands for: its ``__cause__``, or itself when it has none."""
        return self.__cause__ if self.__cause__ is not None else self


class MetricsPublisher(Protocol):
    """CloudWatch custom metrics (every datum a catalog metric)."""

    def publish(self, data: Sequence[Datum], *, namespace: str) -> None:
        """Publish ``data`` under ``namespace``."""
        ...
