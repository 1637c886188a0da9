"""What the notifier asks of AWS, one small interface per concern, so its logic runs on any implementation.

* :class:`JobRunReader`: an EMR Serverless job run's details (``GetJobRun``).
* :class:`ExecutionReader`: a Step Functions execution's details (``DescribeExecution``).
* :class:`AlertPublisher`: the alert topic (``Publish``).

:class:`Repositories` bundles the three. The boto3 implementations, which the handler wires, are in
``aws_repositories``; in-memory fakes with the same semantics, for tests of the logic, are in ``fakes``.
A failed call raises :class:`RepositoryError`, chained (``raise ... from``) to the AWS error it stands for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ops_common import repositories as shared

RepositoryError = shared.RepositoryError
"""A failed AWS call (``ops_common.repositories.RepositoryError``, shared by the functions)."""


class JobRunReader(Protocol):
    """EMR Serverless job runs."""

    def job_run(self, application_id: str, run_id: str) -> Mapping[str, Any]:
        """The job run ``run_id`` of application ``application_id`` (GetJobRun's ``jobRun``).

        A run that does not exist raises :class:`RepositoryError` (code ``ResourceNotFoundException``).
        """
        ...


class ExecutionReader(Protocol):
    """Step Functions executions."""

    def describe(self, execution_arn: str) -> Mapping[str, Any]:
        """DescribeExecution's answer for ``execution_arn`` (``status``, ``error``, ``cause``, dates...).

        An execution that does not exist raises :class:`RepositoryError` (code ``ExecutionDoesNotExist``).
        """
        ...


class AlertPublisher(Protocol):
    """The alert topic (one per publisher)."""

    def publish(self, subject: str, message: str) -> str | None:
        """Publish one alert; the message id SNS gave it (None if SNS named none)."""
        ...


@dataclass(frozen=True, kw_only=True)
class Repositories:
    """Everything the notifier asks of AWS."""

    job_runs: JobRunReader
    executions: ExecutionReader
    alerts: AlertPublisher
