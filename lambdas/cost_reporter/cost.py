"""Price each successful EMR Serverless job run; publish ``JobCostUSD`` and ``CostPerMillionRecords``.

Invoked (asynchronously) by EventBridge for ``aws.emr-serverless`` / ``EMR Serverless Job Run State Change``
events with ``detail.state`` SUCCESS:

1. ``GetJobRun`` gives the run's name (``<job>-<batch id>``), its ``--batch-id`` entry-point argument and
   ``billedResourceUtilization`` (``vCPUHour``, ``memoryGBHour``, ``storageGBHour``: what AWS bills, with
   the one-minute minimum and the free 20 GB of storage per worker already applied).
2. ``JobCostUSD = vCPUHour * vcpu_hour + memoryGBHour * memory_gb_hour + storageGBHour * storage_gb_hour``
   with the region's list prices from ``PRICES``, in ``Decimal``, rounded half-up to 6 decimals.
3. Records: the ``rows_in`` of the job's row for that batch in ``<layer>.run_summary`` (the Delta table at
   ``s3://<layer bucket>/run_summary``, layer = the job's name: bronze, silver, gold; gold is kept per
   blue/green slot, so gold's is ``s3://<gold bucket>/<active slot>/run_summary``, the active slot read
   from the SSM slots parameter, see ``ops_common.slots``): the job-total row (``table_name = '*'``) when
   there is one, else the sum over the per-table rows. Read from the table's Delta log and Parquet files
   (:func:`ops_common.delta_log.read_rows`).
4. ``CostPerMillionRecords = cost / (records / 1e6)``, rounded the same way; skipped with a log line when
   the job keeps no run summary (maintenance), the batch has no row, or it read 0 records.

Both are published with dimensions ``Environment`` and ``Job``, timestamped at the job run's end.

Bad input (not a SUCCESS job run state change, a missing field, another application) is logged with the
reason and nothing is published. ``GetJobRun`` and S3 errors, and a slots parameter that is missing or
names no ``blue``/``green`` active slot (a gold job run; :class:`ops_common.slots.SlotsParameterError` names
the parameter and what is wrong), raise *before* anything is published, so Lambda's asynchronous retries
(then the dead-letter queue) publish each figure once.

The logic asks AWS through the interfaces of ``repositories`` (the job run, the active slot, the run summary
rows, the metrics; a failed call raises :class:`~cost_reporter.repositories.RepositoryError`): the boto3
implementations of ``aws_repositories`` unless :func:`report_cost` is given others (the in-memory fakes of
``fakes`` in tests of the logic).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ops_common import log as oplog
from ops_common import metric_names as m
from ops_common.job_runs import job_and_batch
from ops_common.metrics import Datum
from ops_common.slots import ACTIVE_SLOT_UNKNOWN, SlotsParameterError, is_slotted, table_location

from cost_reporter.aws_repositories import aws_repositories
from cost_reporter.repositories import (
    JobRunReader,
    MetricsPublisher,
    Repositories,
    RepositoryError,
    RunSummaryReader,
    SlotReader,
)
from job_assets.contracts.ops import RUN_SUMMARY_COLUMNS

EMR_SOURCE = "aws.emr-serverless"
EMR_DETAIL_TYPE = "EMR Serverless Job Run State Change"
RUN_SUMMARY_PREFIX = "run_summary"
"""``<layer>.run_summary`` lives at ``s3://<layer bucket>/run_summary`` (``LakeLocations.table_uri``), gold's
at ``s3://<gold bucket>/<slot>/run_summary`` (:func:`ops_common.slots.table_location`)."""
SUMMARY_COLUMNS = ("table_name", "status", "rows_in", "ended_ts")
FILTER_COLUMNS = ("batch_id", "job")
JOB_TOTAL = "*"
"""``table_name`` of the job-total row ``write_ops`` writes last (its ``rows_in`` is the sum of the tables')."""
SIX_PLACES = Decimal("0.000001")
MAX_METRIC_AGE = dt.timedelta(days=14)
"""CloudWatch refuses data points older than two weeks: an older job run is published at "now"."""
UTILIZATION_KEYS = ("vCPUHour", "memoryGBHour", "storageGBHour")


class CostReportError(RuntimeError):
    """The job run cannot be priced (e.g. no billed utilization): raised so the event is retried."""


@dataclass(frozen=True, kw_only=True)
class Prices:
    """USD list prices of EMR Serverless in one region for the application's architecture."""

    vcpu_hour: Decimal
    memory_gb_hour: Decimal
    storage_gb_hour: Decimal

    @classmethod
    def of(cls, vcpu_hour: float | str, memory_gb_hour: float | str, storage_gb_hour: float | str) -> Prices:
        return cls(
            vcpu_hour=Decimal(str(vcpu_hour)),
            memory_gb_hour=Decimal(str(memory_gb_hour)),
            storage_gb_hour=Decimal(str(storage_gb_hour)),
        )


@dataclass(frozen=True, kw_only=True)
class Records:
    count: int | None
    """records the job read for the batch; ``None`` when unknown"""
    reason: str
    """why ``count`` is what it is (a log ``reason``)"""
    detail: str


def job_cost(utilization: Mapping[str, Any], prices: Prices) -> Decimal:
    """The billed utilization priced: USD rounded half-up to 6 decimals."""
    vcpu, memory, storage = (Decimal(str(utilization.get(key) or 0)) for key in UTILIZATION_KEYS)
    total = vcpu * prices.vcpu_hour + memory * prices.memory_gb_hour + storage * prices.storage_gb_hour
    return total.quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def cost_per_million(cost: Decimal, records: int) -> Decimal:
    return (cost * Decimal(1_000_000) / Decimal(records)).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def batch_records(
    summaries: RunSummaryReader, bucket: str, job: str, batch_id: str, *, prefix: str = RUN_SUMMARY_PREFIX
) -> Records:
    """What ``job`` read in ``batch_id``, from the run summary ``s3://<bucket>/<prefix>`` (read from ``summaries``)."""
    where = f"s3://{bucket}/{prefix}"
    rows = summaries.rows(bucket, prefix, SUMMARY_COLUMNS, {"batch_id": batch_id, "job": job})
    if rows is None:
        return Records(count=None, reason="no_run_summary_table", detail=f"{where} holds no Delta table yet")
    if not rows:
        return Records(
            count=None, reason="no_run_summary_rows", detail=f"{where} has no row for job {job} batch {batch_id}"
        )
    totals = [r for r in rows if r["table_name"] == JOB_TOTAL]
    if totals:
        newest = max(totals, key=_ended)
        count = int(newest["rows_in"] or 0)
        detail = f"job-total row of {where} (status {newest['status']})"
    else:
        per_table: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=_ended):
            per_table[row["table_name"]] = row
        count = sum(int(r["rows_in"] or 0) for r in per_table.values())
        detail = f"sum of {len(per_table)} per-table rows of {where} (no job-total row)"
    if count <= 0:
        return Records(count=0, reason="zero_records", detail=detail)
    return Records(count=count, reason="records_read", detail=detail)


def _ended(row: Mapping[str, Any]) -> tuple[bool, Any]:
    ended = row.get("ended_ts")
    return (ended is not None, ended if ended is not None else 0)


def report_cost(
    event: Any,
    *,
    environment: str,
    prices: Prices,
    layer_buckets: Mapping[str, str],
    slots_parameter: str,
    application_id: str | None = None,
    now: dt.datetime | None = None,
    repositories: Repositories | None = None,
) -> dict[str, Any]:
    """Price the job run of ``event`` and publish its metrics; returns what was published (and why not).

    ``slots_parameter``: the SSM parameter naming the active slot, read (once) only for a gold job run.
    ``repositories``: where the job run, the slots parameter, the run summaries and the metrics are (the AWS
    ones unless given).
    """
    problem = _malformed(event)
    if problem:
        oplog.warning("not a job run state change: nothing published", reason="malformed_event", problem=problem)
        return {"published": {}, "reason": "malformed_event", "problem": problem}
    detail = event["detail"]
    app, run_id, state = (detail[k].strip() for k in ("applicationId", "jobRunId", "state"))
    ignored = _not_to_price(app, run_id, state, application_id)
    if ignored is not None:
        return ignored

    repositories = repositories if repositories is not None else aws_repositories()
    run, utilization = _billed_run(app, run_id, repositories.job_runs)
    name, job, batch_id = _job_of(run, detail)
    cost = job_cost(utilization, prices)
    slot, records = _records(
        layer_buckets, slots_parameter, repositories, job=job, batch_id=batch_id, job_run_name=name, job_run_id=run_id
    )
    when = _metric_time(run, now)
    published, skipped = _publish(
        cost,
        records,
        repositories.metrics,
        environment=environment,
        job=job,
        batch_id=batch_id,
        job_run_id=run_id,
        when=when,
    )
    result = {
        "job": job,
        "batch_id": batch_id,
        "job_run_id": run_id,
        "slot": slot,
        "utilization": {k: utilization.get(k, 0) for k in UTILIZATION_KEYS},
        "cost_usd": float(cost),
        "records": records.count,
        "records_source": records.detail,
        "published": published,
        "skipped": skipped,
    }
    oplog.info("job run priced", reason="job_cost_published", **{k: v for k, v in result.items() if k != "skipped"})
    return result


def _not_to_price(app: str, run_id: str, state: str, application_id: str | None) -> dict[str, Any] | None:
    """The result (with its log line) for a job run of another application or not SUCCESS; ``None`` to price it."""
    if application_id and app != application_id:
        oplog.info(
            "job run of another EMR Serverless application: ignored",
            reason="other_application",
            application_id=app,
            job_run_id=run_id,
            expected_application_id=application_id,
        )
        return {"published": {}, "reason": "other_application"}
    if state.upper() != "SUCCESS":
        oplog.info(f"job run state {state} is not SUCCESS: nothing to price", reason="not_success", job_run_id=run_id)
        return {"published": {}, "reason": "not_success"}
    return None


def _billed_run(app: str, run_id: str, job_runs: JobRunReader) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """``GetJobRun``'s job run and its billed utilization; an error line and a raise when either is missing."""
    try:
        run = job_runs.job_run(app, run_id)
    except Exception as error:  # any failure (a RepositoryError: AWS's): logged, then raised for the retry
        oplog.error(
            "GetJobRun failed: raising so the event is retried",
            reason="get_job_run_failed",
            application_id=app,
            job_run_id=run_id,
            error_code=error.code if isinstance(error, RepositoryError) else "",
            error=str(error),
        )
        raise
    utilization = run.get("billedResourceUtilization")
    if not isinstance(utilization, Mapping) or not any(k in utilization for k in UTILIZATION_KEYS):
        oplog.error("the job run has no billed utilization", reason="no_billed_utilization", job_run_id=run_id)
        raise CostReportError(f"job run {run_id} of application {app} has no billedResourceUtilization yet")
    return run, utilization


def _job_of(run: Mapping[str, Any], detail: Mapping[str, Any]) -> tuple[str, str, str]:
    """(the job run's name, its job, ``unknown`` when the name does not tell, and its batch id)."""
    name = (run.get("name") or detail.get("jobRunName") or "").strip()
    arguments = ((run.get("jobDriver") or {}).get("sparkSubmit") or {}).get("entryPointArguments") or ()
    job, batch_id = job_and_batch(name, arguments)
    return name, job or "unknown", batch_id


def _records(
    layer_buckets: Mapping[str, str],
    slots_parameter: str,
    repositories: Repositories,
    *,
    job: str,
    batch_id: str,
    job_run_name: str,
    job_run_id: str,
) -> tuple[str | None, Records]:
    """(the active slot read, if any; what the job read for the batch) from its layer's run summary."""
    bucket = layer_buckets.get(job)
    if bucket is None:
        return None, Records(
            count=None,
            reason="no_run_summary_for_job",
            detail=f"job {job} keeps no run summary (no layer bucket for it in LAYER_BUCKETS)",
        )
    if not batch_id:
        return None, Records(
            count=None, reason="no_batch_id", detail=f"job run name {job_run_name!r} holds no batch id"
        )
    slot: str | None = None
    if is_slotted(job):
        slot = _active_slot(slots_parameter, repositories.slots, job=job, batch_id=batch_id, job_run_id=job_run_id)
    prefix = table_location(job, RUN_SUMMARY_PREFIX, slot)
    # S3 errors raise: nothing published yet
    return slot, batch_records(repositories.run_summaries, bucket, job, batch_id, prefix=prefix)


def _publish(
    cost: Decimal,
    records: Records,
    metrics: MetricsPublisher,
    *,
    environment: str,
    job: str,
    batch_id: str,
    job_run_id: str,
    when: dt.datetime,
) -> tuple[dict[str, float], dict[str, str]]:
    """Publish ``JobCostUSD`` and, when the records are known, ``CostPerMillionRecords``: (published, skipped)."""
    dimensions = {m.ENVIRONMENT: environment, m.JOB: job}
    datums = [Datum(name=m.JOB_COST_USD, value=float(cost), dimensions=dimensions, timestamp=when)]
    published: dict[str, float] = {m.JOB_COST_USD: float(cost)}
    skipped: dict[str, str] = {}
    if records.count:
        per_million = cost_per_million(cost, records.count)
        datums.append(
            Datum(name=m.COST_PER_MILLION_RECORDS, value=float(per_million), dimensions=dimensions, timestamp=when)
        )
        published[m.COST_PER_MILLION_RECORDS] = float(per_million)
    else:
        skipped[m.COST_PER_MILLION_RECORDS] = records.reason
        oplog.info(
            f"{m.COST_PER_MILLION_RECORDS} skipped: {records.detail}",
            reason=records.reason,
            job=job,
            batch_id=batch_id,
            job_run_id=job_run_id,
        )
    metrics.publish(datums, namespace=m.namespace(environment))
    return published, skipped


def _active_slot(slots_parameter: str, slots: SlotReader, **context: str) -> str:
    """The active slot, or an error line and :class:`SlotsParameterError` (raised before anything is published)."""
    try:
        return slots.active_slot(slots_parameter)
    except SlotsParameterError as error:
        oplog.error(
            "cannot tell the active slot, so not which run summary to read: raising so the event is retried",
            reason=ACTIVE_SLOT_UNKNOWN,
            parameter=slots_parameter,
            error_code=(error.__cause__.code or None) if isinstance(error.__cause__, RepositoryError) else None,
            error=str(error),
            **context,
        )
        raise


def _malformed(event: Any) -> str:
    if not isinstance(event, Mapping):
        return f"the event is a {type(event).__name__}, not a JSON object"
    if (event.get("source"), event.get("detail-type")) != (EMR_SOURCE, EMR_DETAIL_TYPE):
        return f"source {event.get('source')!r} / detail-type {event.get('detail-type')!r} is not {EMR_DETAIL_TYPE}"
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return "the event has no detail object"
    missing = [k for k in ("applicationId", "jobRunId", "state") if not str(detail.get(k) or "").strip()]
    if missing or not all(isinstance(detail[k], str) for k in ("applicationId", "jobRunId", "state")):
        return f"detail lacks {', '.join(missing) or 'string fields'}"
    return ""


def _metric_time(run: Mapping[str, Any], now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    ended = run.get("endedAt") or run.get("updatedAt")
    if isinstance(ended, dt.datetime):
        ended = ended if ended.tzinfo else ended.replace(tzinfo=dt.UTC)
        if now - MAX_METRIC_AGE < ended <= now + dt.timedelta(minutes=5):
            return ended
    return now


def contract_columns_missing() -> list[str]:
    """Columns this module reads that ``RUN_SUMMARY_COLUMNS`` lacks (empty: the contract still matches)."""
    names = {c.name for c in RUN_SUMMARY_COLUMNS}
    return [c for c in (*SUMMARY_COLUMNS, *FILTER_COLUMNS) if c not in names]
