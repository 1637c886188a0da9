"""In-memory repositories with the semantics of the AWS ones (``aws_repositories``), for tests of the logic.

Each keeps its state in plain Python values, records its calls and can be told to fail: ``error`` is the
:class:`RepositoryError` every call raises (until set back to None). A job run or an execution that is not
there raises AWS's not-found error; the alert topic refuses what SNS refuses (a subject that is not one line
of at most 100 printable ASCII characters, an empty message or one over 256 KB). They make no AWS call and
need no credentials.

They ship with the function because they implement its interfaces (``repositories``): a change to an
interface and to its fake is one change in one package. The handler never imports this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .repositories import Repositories, RepositoryError

SNS_SUBJECT = re.compile(r"^[\x20-\x7e]{1,100}$")
"""What SNS accepts as a subject: one line of 1 to 100 printable ASCII characters."""
SNS_MESSAGE_MAX_BYTES = 262_144


def _not_found(code: str, operation: str, what: str) -> RepositoryError:
    """The error AWS answers for a resource that is not there (botocore's message format)."""
    return RepositoryError(f"An error occurred ({code}) when calling the {operation} operation: {what}", code=code)


@dataclass(kw_only=True)
class FakeJobRuns:
    """``runs``: (application id, job run id) -> the job run (GetJobRun's ``jobRun``). ``calls``: every read."""

    runs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    error: RepositoryError | None = None

    def job_run(self, application_id: str, run_id: str) -> Mapping[str, Any]:
        """From ``runs``; an unknown run raises ``ResourceNotFoundException``, as GetJobRun does."""
        self.calls.append((application_id, run_id))
        if self.error is not None:
            raise self.error
        if (application_id, run_id) not in self.runs:
            raise _not_found("ResourceNotFoundException", "GetJobRun", f"Job run {run_id} does not exist")
        return self.runs[(application_id, run_id)]


@dataclass(kw_only=True)
class FakeExecutions:
    """``executions``: execution ARN -> DescribeExecution's answer. ``calls``: every read."""

    executions: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    error: RepositoryError | None = None

    def describe(self, execution_arn: str) -> Mapping[str, Any]:
        """From ``executions``; an unknown ARN raises ``ExecutionDoesNotExist``, as DescribeExecution does."""
        self.calls.append(execution_arn)
        if self.error is not None:
            raise self.error
        if execution_arn not in self.executions:
            raise _not_found(
                "ExecutionDoesNotExist", "DescribeExecution", f"Execution Does Not Exist: '{execution_arn}'"
            )
        return self.executions[execution_arn]


@dataclass(kw_only=True)
class FakeAlertTopic:
    """The topic ``topic_arn``. ``published``: (subject, message) of every alert it accepted, in order."""

    topic_arn: str
    published: list[tuple[str, str]] = field(default_factory=list)
    error: RepositoryError | None = None

    def publish(self, subject: str, message: str) -> str | None:
        """Accepted as SNS accepts it (``InvalidParameter`` otherwise); the message id ``fake-message-<n>``."""
        if self.error is not None:
            raise self.error
        if not SNS_SUBJECT.match(subject):
            raise RepositoryError(f"Invalid parameter: Subject {subject!r}", code="InvalidParameter")
        if not message or len(message.encode("utf-8")) > SNS_MESSAGE_MAX_BYTES:
            raise RepositoryError("Invalid parameter: Message too long or empty", code="InvalidParameter")
        self.published.append((subject, message))
        return f"fake-message-{len(self.published)}"


@dataclass(kw_only=True)
class FakeAws:
    """One fake of each repository; :meth:`repositories` is what the notifier takes."""

    topic_arn: str
    job_runs: FakeJobRuns = field(default_factory=FakeJobRuns)
    executions: FakeExecutions = field(default_factory=FakeExecutions)
    alerts: FakeAlertTopic = field(init=False)

    def __post_init__(self) -> None:
        self.alerts = FakeAlertTopic(topic_arn=self.topic_arn)

    def repositories(self) -> Repositories:
        """The three fakes as the notifier takes them."""
        return Repositories(job_runs=self.job_runs, executions=self.executions, alerts=self.alerts)
