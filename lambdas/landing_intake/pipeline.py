"""Starting the pipeline: the pending marker (a manifest item), the running-writer check and the start
(:func:`ensure_pipeline`; the protocol is in ``intake``'s module docstring)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from ops_common import log
from ops_common.aws import client, error_code, is_throttling

from landing_intake.settings import Settings

PENDING_KEY = "#pipeline-pending"
"""The pending marker's ``object_key``: no landing object has it (landing keys start with a source name)."""
PENDING_VERSION = "-"

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


def _pending_item_key() -> dict[str, dict[str, str]]:
    return {"object_key": {"S": PENDING_KEY}, "object_version": {"S": PENDING_VERSION}}


def mark_pending(settings: Settings, now: dt.datetime) -> None:
    """Set the pending marker (a new token each time; ``since`` keeps the oldest waiting object's time)."""
    stamp = now.isoformat(timespec="milliseconds")
    try:
        client("dynamodb").update_item(
            TableName=settings.manifest_table,
            Key=_pending_item_key(),
            UpdateExpression="SET pending_token = :token, updated_at = :now, since = if_not_exists(since, :now)",
            ExpressionAttributeValues={":token": {"S": uuid.uuid4().hex}, ":now": {"S": stamp}},
        )
    except (ClientError, BotoCoreError) as error:
        log.error(
            "pending marker not set",
            reason="pending_mark_failed",
            throttled=is_throttling(error),
            error=str(error),
        )
        raise _UnavailableError from error


def pending_token(settings: Settings) -> str | None:
    """The pending marker's token, or None when nothing waits for a run (strongly consistent read)."""
    try:
        item = (
            client("dynamodb")
            .get_item(TableName=settings.manifest_table, Key=_pending_item_key(), ConsistentRead=True)
            .get("Item")
        )
    except (ClientError, BotoCoreError) as error:
        log.error("pending marker not read", reason="pending_read_failed", error=str(error))
        raise _UnavailableError from error
    return item["pending_token"]["S"] if item and "pending_token" in item else None


def clear_pending(settings: Settings, token: str) -> None:
    """Delete the marker unless an object set it again since ``token`` was read (then one more run follows)."""
    try:
        client("dynamodb").delete_item(
            TableName=settings.manifest_table,
            Key=_pending_item_key(),
            ConditionExpression="pending_token = :token",
            ExpressionAttributeValues={":token": {"S": token}},
        )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            log.info("pending marker set again while starting: it stays for the next run", reason="pending_renewed")
            return
        # The run started: a marker left behind costs at most one extra run after it, never a lost object.
        log.warning("pending marker not cleared", reason="pending_clear_failed", error=str(error))
    except BotoCoreError as error:
        log.warning("pending marker not cleared", reason="pending_clear_failed", error=str(error))


def running_writer(settings: Settings) -> str | None:
    """The ARN of a RUNNING execution of any lake writer, or None."""
    sfn = client("stepfunctions")
    for arn in settings.writer_state_machine_arns:
        try:
            running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1)["executions"]
        except (ClientError, BotoCoreError) as error:
            log.error(
                "pipeline not started: cannot list running executions",
                reason="pipeline_list_failed",
                throttled=is_throttling(error),
                error=str(error),
                state_machine=arn,
            )
            raise _UnavailableError from error
        if running:
            return str(running[0]["executionArn"])
    return None


def start_pipeline(settings: Settings, now: dt.datetime) -> str:
    """Start the pipeline under this minute's batch id (or this second's); the execution ARN."""
    arn = settings.state_machine_arn
    for precision in ("minute", "second"):
        name = batch_id(now, precision=precision)
        try:
            response = client("stepfunctions").start_execution(stateMachineArn=arn, name=name, input="{}")
        except ClientError as error:
            if error_code(error) == "ExecutionAlreadyExists":
                # Same name and input while RUNNING is the same execution (StartExecution succeeds), so this
                # name belongs to an execution that already finished: it may have missed these objects.
                log.warning(
                    "an execution with this name already finished; trying a new name",
                    reason="execution_name_taken",
                    batch_id=name,
                )
                continue
            log.error(
                "pipeline not started",
                reason="pipeline_start_failed",
                throttled=is_throttling(error),
                error=str(error),
                batch_id=name,
            )
            raise _UnavailableError from error
        except BotoCoreError as error:
            log.error("pipeline not started", reason="pipeline_start_failed", error=str(error), batch_id=name)
            raise _UnavailableError from error
        log.info("pipeline started", reason="pending_objects", batch_id=name, execution=response["executionArn"])
        return str(response["executionArn"])
    log.error("pipeline not started: both execution names are taken", reason="pipeline_start_failed")
    raise _UnavailableError


def ensure_pipeline(settings: Settings, now: dt.datetime, *, new_objects: bool) -> PipelineResult:
    """Make sure a pipeline run will ingest every accepted object (see the module docstring).

    ``new_objects``: this batch accepted objects (set the marker first); otherwise a writer ended and the
    pipeline starts only if the marker is set. ``failed``: the caller reports the messages for retry.
    """
    try:
        if new_objects:
            mark_pending(settings, now)
        token = pending_token(settings)
        if token is None:
            log.info("no objects wait for a run", reason="nothing_pending")
            return PipelineResult(ok=True, action="not_needed")
        execution = running_writer(settings)
        if execution is not None:
            log.info(
                "a lake writer is running: the pipeline starts when it ends",
                reason="writer_running",
                execution=execution,
            )
            return PipelineResult(ok=True, action="waiting", execution_arn=execution)
        execution = start_pipeline(settings, now)
    except _UnavailableError:
        return PipelineResult(ok=False, action="failed")
    clear_pending(settings, token)
    return PipelineResult(ok=True, action="started", execution_arn=execution)
