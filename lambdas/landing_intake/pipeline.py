"""Starting the pipeline: the pending marker, the running-writer check and the start (:func:`ensure_pipeline`;
the protocol is in ``intake``'s module docstring), and whether an ended pipeline execution was one the
single-writer guard refused (:func:`refused_by_guard`), through a
:class:`~landing_intake.repositories.PendingMarker` and a :class:`~landing_intake.repositories.PipelineStarter`
(the manifest table and Step Functions when deployed, unless given)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from ops_common import log

from landing_intake.aws_repositories import PENDING_KEY, PENDING_VERSION, DynamoPendingMarker, StepFunctionsPipeline
from landing_intake.events import WriterEnded
from landing_intake.repositories import PendingMarker, PipelineStarter, RepositoryError
from landing_intake.settings import Settings

__all__ = [
    "GUARD_REFUSED",
    "PENDING_KEY",
    "PENDING_VERSION",
    "PipelineResult",
    "batch_id",
    "clear_pending",
    "ensure_pipeline",
    "mark_pending",
    "pending_token",
    "refused_by_guard",
    "running_writer",
    "start_pipeline",
]

GUARD_REFUSED = "Lakehouse.ConcurrentExecution"
"""The error of an execution the state machines' single-writer guard failed before any job (ADR 0008)."""

# --- the pipeline -----------------------------------------------------------------------------------------


def batch_id(now: dt.datetime, *, precision: str = "minute") -> str:
    """The execution name, which every job receives as its batch id.

    The format is ``job_assets.context.new_batch_id``'s (``b%Y%m%dT%H%M%S%fZ``, sortable) at minute
    precision, so concurrent invocations in one minute name the same execution. ``precision="second"``
    is the fallback when this minute's name belongs to an execution that already finished.
    """
    now = now.astimezone(dt.UTC)
    now = now.replace(microsecond=0) if precision == "second" else now.replace(second=0, microsecond=0)
    return now.strftime("b%Y%m%dT%H%M%S%fZ")


@dataclass(frozen=True, kw_only=True)
class PipelineResult:
    ok: bool
    action: str
    """``started``, ``waiting`` (a writer runs; the marker stays), ``not_needed`` (nothing pending) or ``failed``."""
    execution_arn: str = ""


class _UnavailableError(Exception):
    """An AWS call of the pipeline start failed; logged where it happened."""


def _marker(settings: Settings, marker: PendingMarker | None) -> PendingMarker:
    return marker if marker is not None else DynamoPendingMarker(settings.manifest_table)


def _starter(settings: Settings, pipeline: PipelineStarter | None) -> PipelineStarter:
    return pipeline if pipeline is not None else StepFunctionsPipeline(settings.state_machine_arn)


def mark_pending(settings: Settings, now: dt.datetime, *, marker: PendingMarker | None = None) -> None:
    """Set the pending marker (a new token each time; ``since`` keeps the oldest waiting object's time)."""
    try:
        _marker(settings, marker).set(uuid.uuid4().hex, now.isoformat(timespec="milliseconds"))
    except RepositoryError as error:
        log.error("pending marker not set", reason="pending_mark_failed", throttled=error.throttled, error=str(error))
        raise _UnavailableError from error


def pending_token(settings: Settings, *, marker: PendingMarker | None = None) -> str | None:
    """The pending marker's token, or None when nothing waits for a run (strongly consistent read)."""
    try:
        return _marker(settings, marker).token()
    except RepositoryError as error:
        log.error("pending marker not read", reason="pending_read_failed", error=str(error))
        raise _UnavailableError from error


def clear_pending(settings: Settings, token: str, *, marker: PendingMarker | None = None) -> None:
    """Delete the marker unless an object set it again since ``token`` was read (then one more run follows)."""
    try:
        cleared = _marker(settings, marker).clear(token)
    except RepositoryError as error:
        # The run started: a marker left behind costs at most one extra run after it, never a lost object.
        log.warning("pending marker not cleared", reason="pending_clear_failed", error=str(error))
        return
    if not cleared:
        log.info("pending marker set again while starting: it stays for the next run", reason="pending_renewed")


def running_writer(
    settings: Settings, *, pipeline: PipelineStarter | None = None, ended: Collection[str] = ()
) -> str | None:
    """The ARN of a RUNNING execution of any lake writer, or None.

    ``ended``: executions whose end events this batch holds. The listing may still show them RUNNING for a
    moment (it is eventually consistent); they are not counted, or their own end would be answered "waiting"
    and no later end event would come to start the pipeline.
    """
    starter = _starter(settings, pipeline)
    for arn in settings.writer_state_machine_arns:
        try:
            running = starter.running_execution(arn, ended)
        except RepositoryError as error:
            log.error(
                "pipeline not started: cannot list running executions",
                reason="pipeline_list_failed",
                throttled=error.throttled,
                error=str(error),
                state_machine=arn,
            )
            raise _UnavailableError from error
        if running:
            return running
    return None


def refused_by_guard(settings: Settings, ended: WriterEnded, *, pipeline: PipelineStarter | None = None) -> bool:
    """Whether ``ended`` is a pipeline execution the single-writer guard failed (:data:`GUARD_REFUSED`).

    Such a run listed no landing object, yet the intake that started it cleared the pending marker: the
    objects it was started for still wait. The event's ``error`` says so; an event with neither error nor
    cause (older events) is answered by DescribeExecution. :class:`RepositoryError` when that call fails.
    """
    if ended.state_machine_arn != settings.state_machine_arn or ended.status != "FAILED":
        return False
    error = ended.error
    if not error and not ended.cause:
        error = _starter(settings, pipeline).execution_error(ended.execution_arn)
    return error == GUARD_REFUSED


def start_pipeline(settings: Settings, now: dt.datetime, *, pipeline: PipelineStarter | None = None) -> str:
    """Start the pipeline under this minute's batch id (or this second's); the execution ARN."""
    starter = _starter(settings, pipeline)
    for precision in ("minute", "second"):
        name = batch_id(now, precision=precision)
        try:
            execution = starter.start(name)
        except RepositoryError as error:
            throttled = {"throttled": error.throttled} if error.code else {}  # AWS answered
            log.error(
                "pipeline not started", reason="pipeline_start_failed", **throttled, error=str(error), batch_id=name
            )
            raise _UnavailableError from error
        if execution is None:
            # Same name and input while RUNNING is the same execution (the start succeeds), so this name
            # belongs to an execution that already finished: it may have missed these objects.
            log.warning(
                "an execution with this name already finished; trying a new name",
                reason="execution_name_taken",
                batch_id=name,
            )
            continue
        log.info("pipeline started", reason="pending_objects", batch_id=name, execution=execution)
        return execution
    log.error("pipeline not started: both execution names are taken", reason="pipeline_start_failed")
    raise _UnavailableError


def ensure_pipeline(
    settings: Settings,
    now: dt.datetime,
    *,
    new_objects: bool,
    ended: Collection[str] = (),
    marker: PendingMarker | None = None,
    pipeline: PipelineStarter | None = None,
) -> PipelineResult:
    """Make sure a pipeline run will ingest every accepted object (see the module docstring).

    ``new_objects``: this batch accepted objects, or holds the end of a pipeline run the guard refused (set
    the marker first); otherwise a writer ended and the pipeline starts only if the marker is set. ``ended``:
    the executions whose end events the batch holds (not counted as running). ``failed``: the caller reports
    the messages for retry.
    """
    marker, pipeline = _marker(settings, marker), _starter(settings, pipeline)
    try:
        if new_objects:
            mark_pending(settings, now, marker=marker)
        token = pending_token(settings, marker=marker)
        if token is None:
            log.info("no objects wait for a run", reason="nothing_pending")
            return PipelineResult(ok=True, action="not_needed")
        execution = running_writer(settings, pipeline=pipeline, ended=ended)
        if execution is not None:
            log.info(
                "a lake writer is running: the pipeline starts when it ends",
                reason="writer_running",
                execution=execution,
            )
            return PipelineResult(ok=True, action="waiting", execution_arn=execution)
        execution = start_pipeline(settings, now, pipeline=pipeline)
    except _UnavailableError:
        return PipelineResult(ok=False, action="failed")
    clear_pending(settings, token, marker=marker)
    return PipelineResult(ok=True, action="started", execution_arn=execution)
