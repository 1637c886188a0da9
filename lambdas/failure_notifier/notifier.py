"""Turn a failed job run or pipeline execution into one readable alert on the alert topic.

Two EventBridge rules invoke the function (asynchronously):

* ``aws.emr-serverless`` / ``EMR Serverless Job Run State Change`` with ``detail.state`` FAILED or
  CANCELLED. The event carries ``applicationId``, ``jobRunId``, ``state``, ``previousState``,
  ``createdAt``/``updatedAt`` and (newer events) ``jobRunName``; ``GetJobRun`` adds the run's name
  (``<job>-<batch id>``), ``stateDetails`` (the error) and the ``--batch-id`` entry-point argument.
* ``aws.states`` / ``Step Functions Execution Status Change`` with ``detail.status`` FAILED or TIMED_OUT.
  The event carries ``executionArn``, ``stateMachineArn``, ``name`` (the batch id), ``startDate`` and
  ``stopDate`` (epoch ms) and, in newer events, ``error``/``cause``; when both are absent
  ``DescribeExecution`` supplies them.

The message (plain text, one ``Label: value`` per line) says which environment, what failed (job or state
machine), the run id or execution, the batch id, the state, the error (trimmed), when it started and
ended, console links (job run and its CloudWatch log streams, or the execution) and the runbook to follow.

Never silently dropped: an event that is neither shape, or lacks a field the message needs, is published
as an "unrecognised event" alert carrying the raw event (truncated to fit SNS's 256 KB). A ``GetJobRun``
or ``DescribeExecution`` failure still publishes, from what the event says, and notes that details were
unavailable. Only a failure to *publish* raises: Lambda's asynchronous retries, then its dead-letter
queue, keep the event. Events of another EMR application (``APPLICATION_ID``) and states that are not
failures are ignored with a log line.

The notifier talks to AWS through the interfaces of ``repositories`` (job runs, executions, the alert
topic): :func:`notify_failure` and :func:`build_alert` take them as ``repositories``, the boto3 ones of
``aws_repositories`` by default (what the handler wires); ``fakes`` holds in-memory ones for tests.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ops_common import log as oplog
from ops_common.aws import error_code
from ops_common.job_runs import job_and_batch

from job_assets.contracts import runbooks

from .aws_repositories import aws_repositories
from .repositories import AlertPublisher, Repositories, RepositoryError

EMR_SOURCE = "aws.emr-serverless"
EMR_DETAIL_TYPE = "EMR Serverless Job Run State Change"
SFN_SOURCE = "aws.states"
SFN_DETAIL_TYPE = "Step Functions Execution Status Change"

EMR_INCIDENTS = {"FAILED": runbooks.EMR_JOB_FAILED, "CANCELLED": runbooks.EMR_JOB_CANCELLED}
SFN_INCIDENTS = {"FAILED": runbooks.PIPELINE_EXECUTION_FAILED, "TIMED_OUT": runbooks.PIPELINE_EXECUTION_TIMED_OUT}

SUBJECT_MAX_CHARS = 100
"""SNS: a subject is at most 100 printable ASCII characters, on one line."""
MESSAGE_MAX_BYTES = 262_144
"""SNS: a message is at most 256 KB of UTF-8."""
ERROR_MAX_CHARS = 2_000
"""An error or cause longer than this is cut (Step Functions causes can hold a whole job run as JSON)."""
LABEL_WIDTH = 13


@dataclass(frozen=True, kw_only=True)
class NotifierSettings:
    """What the notifier needs to know: where alerts go, what they link and name."""

    environment: str
    topic_arn: str
    runbook_base_url: str
    log_group: str
    application_id: str | None = None
    project: str = "lakehouse"
    default_region: str = ""


@dataclass(kw_only=True)
class Alert:
    """One alert: its runbook incident, subject, ``Label: value`` lines and console links."""

    incident: str
    subject: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    tail: str = ""
    """Free text after the runbook line (the raw event of an unrecognised one)."""

    def body(self, runbook: str) -> str:
        """The message text: the lines, the links, the runbook line, then the tail."""
        parts = [_block(self.lines)]
        if self.links:
            parts.append("Links\n" + _block(self.links))
        parts.append(_block([("Runbook", runbook)]))
        text = "\n\n".join(parts) + "\n"
        if self.tail:
            text += "\n" + self.tail
        return text


class IgnoredEventError(Exception):
    """The event is readable but not an alert for this function (other application, not a failure)."""

    def __init__(self, message: str, reason: str, **fields: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.fields = fields


class UnrecognisedEventError(Exception):
    """The event cannot be turned into a failure alert; the message says why."""


# -- entry point -------------------------------------------------------------------------------------------


def notify_failure(
    event: Any, settings: NotifierSettings, *, repositories: Repositories | None = None
) -> dict[str, Any]:
    """Build and publish the alert for ``event``; returns what was done (``published``, ``incident``...).

    ``repositories``: where job runs and executions are read and the alert is published (the AWS ones, on
    ``settings.topic_arn``, unless given). A failed publish raises (the AWS error itself).
    """
    repositories = repositories if repositories is not None else aws_repositories(settings.topic_arn)
    try:
        alert = build_alert(event, settings, repositories=repositories)
    except IgnoredEventError as ignored:
        oplog.info(str(ignored), reason=ignored.reason, **ignored.fields)
        return {"published": False, "reason": ignored.reason}
    except UnrecognisedEventError as bad:
        oplog.warning(
            "unrecognised event: publishing it raw", reason="unrecognised_event", problem=str(bad), event=_peek(event)
        )
        alert = unrecognised_alert(event, str(bad), settings)
    except Exception as bug:  # a shape this code did not foresee: still alert, with the raw event
        oplog.error(
            "could not build the alert: publishing the event raw",
            reason="alert_build_failed",
            error=f"{type(bug).__name__}: {bug}",
            event=_peek(event),
        )
        alert = unrecognised_alert(event, f"the notifier could not read it ({type(bug).__name__}: {bug})", settings)
    runbook = runbooks.runbook_url(settings.runbook_base_url, alert.incident)
    subject = clean_subject(alert.subject)
    message = fit_message(alert.body(runbook))
    message_id = _publish(repositories.alerts, alert.incident, subject, message)
    oplog.info("alert published", reason=alert.incident, subject=subject, message_id=message_id)
    return {
        "published": True,
        "incident": alert.incident,
        "subject": subject,
        "message": message,
        "message_id": message_id,
    }


def _publish(alerts: AlertPublisher, incident: str, subject: str, message: str) -> str | None:
    """Publish the alert: its message id. A failure is logged and raised again, the AWS error itself (not the
    :class:`RepositoryError` standing for it), so Lambda retries the event, then its dead-letter queue keeps it."""
    try:
        return alerts.publish(subject, message)
    except RepositoryError as error:
        _log_publish_failed(incident, subject, error.code, error)
        raise error.original from None
    except Exception as error:  # not an AWS error: still logged, still retried
        _log_publish_failed(incident, subject, error_code(error), error)
        raise


def _log_publish_failed(incident: str, subject: str, code: str, error: Exception) -> None:
    oplog.error(
        "could not publish the alert: raising so the event is retried (then kept by the dead-letter queue)",
        reason="publish_failed",
        incident=incident,
        subject=subject,
        error_code=code,
        error=str(error),
    )


PROMOTION_AUDIT = "promotion-audit"
"""The ``Purpose`` tag of the job runs ``lakehouse promote`` starts (lakehouse/promotion/auditors.py AwsAuditor)."""
PROMOTION_AUDIT_NAME_PREFIX = "audit-"


_REPOSITORIES: ContextVar[Repositories] = ContextVar("failure_notifier_repositories")
"""The repositories of the alert :func:`build_alert` is building. The detail readers (:func:`_get_job_run`,
:func:`_describe_execution`) take them from here, so their signatures stay the ids they read (a functional
test replaces ``_get_job_run(application_id, run_id)``)."""


@contextmanager
def _reading_through(repositories: Repositories) -> Iterator[None]:
    """Within the block, the detail readers read through ``repositories``."""
    token = _REPOSITORIES.set(repositories)
    try:
        yield
    finally:
        _REPOSITORIES.reset(token)


def build_alert(event: Any, settings: NotifierSettings, *, repositories: Repositories | None = None) -> Alert:
    """The alert for ``event``; job run and execution details are read through ``repositories`` (AWS's unless
    given). Raises :class:`IgnoredEventError` or :class:`UnrecognisedEventError`."""
    if not isinstance(event, Mapping):
        raise UnrecognisedEventError(f"the event is a {type(event).__name__}, not a JSON object")
    source, detail_type = event.get("source"), event.get("detail-type")
    detail = event.get("detail")
    with _reading_through(repositories if repositories is not None else aws_repositories(settings.topic_arn)):
        if (source, detail_type) == (EMR_SOURCE, EMR_DETAIL_TYPE):
            return _emr_alert(event, _detail(detail), settings)
        if (source, detail_type) == (SFN_SOURCE, SFN_DETAIL_TYPE):
            return _sfn_alert(event, _detail(detail), settings)
    raise UnrecognisedEventError(
        f"source {source!r} / detail-type {detail_type!r} is neither an EMR Serverless job run state change "
        "nor a Step Functions execution status change"
    )


# -- EMR Serverless ------------------------------------------------------------------------------------------


def _emr_alert(event: Mapping[str, Any], detail: Mapping[str, Any], settings: NotifierSettings) -> Alert:
    application_id, run_id, state = _required(detail, "applicationId", "jobRunId", "state")
    state = state.upper()
    if settings.application_id and application_id != settings.application_id:
        raise IgnoredEventError(
            "job run of another EMR Serverless application: ignored",
            "other_application",
            application_id=application_id,
            job_run_id=run_id,
            expected_application_id=settings.application_id,
        )
    if state not in EMR_INCIDENTS:
        raise IgnoredEventError(
            f"job run state {state} is not a failure: ignored", "not_a_failure", job_run_id=run_id, state=state
        )
    region = _region(event, detail.get("arn"), settings)
    run, unavailable = _get_job_run(application_id, run_id)
    name = _text(run.get("name")) or _text(detail.get("jobRunName"))
    tags = run.get("tags") or {}
    if tags.get("Purpose") == PROMOTION_AUDIT or (name or "").startswith(PROMOTION_AUDIT_NAME_PREFIX):
        raise IgnoredEventError(
            "promotion audit job run: `lakehouse promote` reports its outcome with the gates; no alert",
            "promotion_audit",
            job_run_id=run_id,
            state=state,
        )
    arguments = (((run.get("jobDriver") or {}).get("sparkSubmit") or {}).get("entryPointArguments")) or ()
    job, batch_id = job_and_batch(name, arguments)
    error = _text(run.get("stateDetails")) or _text(detail.get("stateDetails"))
    started = _when(run.get("startedAt") or run.get("createdAt") or detail.get("createdAt"))
    ended = _when(run.get("endedAt") or run.get("updatedAt") or detail.get("updatedAt") or event.get("time"))

    who = f"{job} job" if job else f"EMR job run {run_id}"
    what = f"EMR Serverless job {job}" if job else "EMR Serverless job run"
    what += f" (job run name {name}, application {application_id})" if name else f" (application {application_id})"
    state_text = state
    if previous := _text(detail.get("previousState")):
        state_text += f" (was {previous})"
    lines = [
        ("Environment", settings.environment),
        ("What", what),
        ("Job run id", run_id),
        ("Batch id", batch_id or "unknown"),
        ("State", state_text),
        ("Error", trim(error) if error else "no state details reported"),
        ("Started", _fmt(started)),
        ("Ended", _fmt(ended) + _duration(started, ended)),
    ]
    if unavailable:
        lines.append(("Details", f"unavailable: {unavailable}; the lines above come from the event alone"))
    links = [
        ("Job run", emr_job_run_url(region, application_id, run_id)),
        ("Logs", log_streams_url(region, settings.log_group, run_id)),
    ]
    subject = f"{_tag(settings)} {who} {state}" + (f" ({batch_id})" if batch_id else "")
    return Alert(incident=EMR_INCIDENTS[state], subject=subject, lines=lines, links=links)


def _get_job_run(application_id: str, run_id: str) -> tuple[Mapping[str, Any], str]:
    """``(jobRun, "")``, or ``({}, why)`` when GetJobRun failed (after the client's retries)."""
    try:
        return _REPOSITORIES.get().job_runs.job_run(application_id, run_id), ""
    except RepositoryError as error:
        why = _details_unavailable(
            "GetJobRun", error, reason="job_run_details_unavailable", application_id=application_id, job_run_id=run_id
        )
        return {}, why


def _details_unavailable(operation: str, error: RepositoryError, *, reason: str, **fields: str) -> str:
    """Log that ``operation`` failed (the alert goes out from the event alone); the alert's ``Details`` text."""
    code = error.code or type(error.original).__name__
    oplog.warning(
        f"{operation} failed: alerting from the event alone", reason=reason, **fields, error_code=code, error=str(error)
    )
    return f"{operation} failed ({code}: {trim(str(error), 300)})"


# -- Step Functions -----------------------------------------------------------------------------------------


def _sfn_alert(event: Mapping[str, Any], detail: Mapping[str, Any], settings: NotifierSettings) -> Alert:
    execution_arn, status = _required(detail, "executionArn", "status")
    status = status.upper()
    if status not in SFN_INCIDENTS:
        raise IgnoredEventError(
            f"execution status {status} is not a failure: ignored",
            "not_a_failure",
            execution_arn=execution_arn,
            status=status,
        )
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[2] != "states" or parts[5] != "execution":
        raise UnrecognisedEventError(f"detail.executionArn {execution_arn!r} is not a Step Functions execution ARN")
    region = _region(event, execution_arn, settings)
    machine = _text(detail.get("stateMachineArn")).split(":")[-1] or parts[6]
    name = _text(detail.get("name")) or parts[7]
    error, cause = _text(detail.get("error")), _text(detail.get("cause"))
    started, ended = _when(detail.get("startDate")), _when(detail.get("stopDate"))
    unavailable = ""
    if not error and not cause:
        described, unavailable = _describe_execution(execution_arn)
        error, cause = _text(described.get("error")), _text(described.get("cause"))
        started = started or _when(described.get("startDate"))
        ended = ended or _when(described.get("stopDate"))
    if error and cause:
        error_text = trim(f"{error}: {cause}")
    elif error or cause:
        error_text = trim(error or cause)
    else:
        error_text = "execution timed out (no error reported)" if status == "TIMED_OUT" else "no error reported"
    lines = [
        ("Environment", settings.environment),
        ("What", f"Step Functions state machine {machine}"),
        ("Execution", f"{name} ({execution_arn})"),
        ("Batch id", name),
        ("State", status),
        ("Error", error_text),
        ("Started", _fmt(started)),
        ("Ended", _fmt(ended) + _duration(started, ended)),
    ]
    if unavailable:
        lines.append(("Details", f"unavailable: {unavailable}; the lines above come from the event alone"))
    links = [("Execution", sfn_execution_url(region, execution_arn))]
    subject = f"{_tag(settings)} {machine} {status} ({name})"
    return Alert(incident=SFN_INCIDENTS[status], subject=subject, lines=lines, links=links)


def _describe_execution(execution_arn: str) -> tuple[Mapping[str, Any], str]:
    """``(DescribeExecution's answer, "")``, or ``({}, why)`` when it failed (after the client's retries)."""
    try:
        return _REPOSITORIES.get().executions.describe(execution_arn), ""
    except RepositoryError as error:
        why = _details_unavailable(
            "DescribeExecution", error, reason="execution_details_unavailable", execution_arn=execution_arn
        )
        return {}, why


# -- unrecognised events -----------------------------------------------------------------------------------


def unrecognised_alert(event: Any, problem: str, settings: NotifierSettings) -> Alert:
    """The alert for an event that cannot be read: the ``problem`` and the raw event."""
    source = event.get("source") if isinstance(event, Mapping) else None
    detail_type = event.get("detail-type") if isinstance(event, Mapping) else None
    lines = [
        ("Environment", settings.environment),
        ("What", "the failure notifier received an event it cannot read"),
        ("Problem", trim(problem)),
        ("Source", f"{source} / {detail_type}" if source or detail_type else "unknown"),
    ]
    raw = json.dumps(event, indent=2, sort_keys=True, default=str)
    return Alert(
        incident=runbooks.UNRECOGNISED_EVENT,
        subject=f"{_tag(settings)} failure notifier: unrecognised event",
        lines=lines,
        tail=f"Raw event:\n{raw}\n",
    )


# -- links -----------------------------------------------------------------------------------------------


def _console(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com"


def console_escape(text: str) -> str:
    """The CloudWatch console's fragment encoding: URL-encode twice, then ``%`` -> ``$``."""
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def emr_job_run_url(region: str, application_id: str, run_id: str) -> str:
    """The EMR console page of the job run."""
    return (
        f"{_console(region)}/emr/home?region={region}"
        f"#/serverless-applications/{quote(application_id, safe='')}/job-runs/{quote(run_id, safe='')}"
    )


def log_streams_url(region: str, log_group: str, run_id: str) -> str:
    """The application's log group, filtered to the job run's streams (their names hold the run id)."""
    return (
        f"{_console(region)}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"{console_escape(log_group)}$3FlogStreamNameFilter$3D{console_escape(run_id)}"
    )


def sfn_execution_url(region: str, execution_arn: str) -> str:
    """The Step Functions console page of the execution."""
    return f"{_console(region)}/states/home?region={region}#/v2/executions/details/{execution_arn}"


# -- text helpers ------------------------------------------------------------------------------------------


def trim(text: str, limit: int = ERROR_MAX_CHARS) -> str:
    """``text`` stripped and cut to ``limit`` characters, saying how many more there were."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()} ... [{len(text) - limit} more characters]"


_NOT_SUBJECT = re.compile(r"[^\x20-\x7e]")


def clean_subject(subject: str) -> str:
    """One line of printable ASCII, at most 100 characters (SNS rejects anything else)."""
    text = _NOT_SUBJECT.sub("?", " ".join(subject.split()))
    if len(text) > SUBJECT_MAX_CHARS:
        text = text[: SUBJECT_MAX_CHARS - 3].rstrip() + "..."
    return text or "alert"


def fit_message(message: str, limit: int = MESSAGE_MAX_BYTES) -> str:
    """``message`` cut to ``limit`` UTF-8 bytes (at a character boundary), saying it was cut."""
    data = message.encode("utf-8")
    if len(data) <= limit:
        return message
    note = f"\n... [truncated: {len(data):,} bytes did not fit SNS's {limit:,}-byte limit]\n"
    keep = limit - len(note.encode("utf-8"))
    return data[:keep].decode("utf-8", errors="ignore") + note


def _block(rows: Sequence[tuple[str, str]]) -> str:
    out = []
    indent = "\n" + " " * LABEL_WIDTH
    for label, value in rows:
        out.append(f"{label + ':':<{LABEL_WIDTH}}{indent.join(str(value).splitlines()) or '-'}")
    return "\n".join(out)


def _tag(settings: NotifierSettings) -> str:
    return f"[{settings.project}-{settings.environment}]"


def _detail(detail: Any) -> Mapping[str, Any]:
    if not isinstance(detail, Mapping):
        raise UnrecognisedEventError("the event has no detail object")
    return detail


def _required(detail: Mapping[str, Any], *names: str) -> list[str]:
    missing = [n for n in names if not _text(detail.get(n))]
    if missing:
        raise UnrecognisedEventError(f"detail lacks {', '.join(missing)}")
    return [_text(detail[n]) for n in names]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _region(event: Mapping[str, Any], arn: Any, settings: NotifierSettings) -> str:
    region = _text(event.get("region"))
    if not region and isinstance(arn, str) and arn.count(":") >= 4:
        region = arn.split(":")[3]
    return region or settings.default_region or "us-east-1"


def _when(value: Any) -> dt.datetime | None:
    """A datetime from an API datetime, epoch milliseconds (Step Functions events) or ISO-8601 text."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        moment = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    elif isinstance(value, str) and value.strip():
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _fmt(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "unknown"


def _duration(started: dt.datetime | None, ended: dt.datetime | None) -> str:
    if not started or not ended or ended < started:
        return ""
    seconds = int((ended - started).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"
    return f" (after {text})"


def _peek(event: Any) -> str:
    """A short, log-safe rendering of an event (the full one goes into the alert)."""
    return trim(json.dumps(event, default=str, sort_keys=True), 2_000)
