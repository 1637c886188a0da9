"""Minutes since each monitored table's last Delta commit that changed data, published as ``FreshnessMinutes``.

For every table of :func:`monitored_tables` (silver and gold contracts with a freshness SLO) the newest
commit that changed data is read from the table's Delta log on S3 (``s3://<layer bucket>/<table>/_delta_log/``;
gold is kept per blue/green slot, so a gold table is read from the *active* slot:
``s3://<gold bucket>/<slot>/<table>/``, the slot named by the SSM slots parameter, read once per check, see
``ops_common.slots``) and

    FreshnessMinutes = (now - commit timestamp) / 60 s, rounded to 0.1 (never negative)

is published with dimensions ``Environment`` and ``Table`` (``silver.orders``). The commit timestamp is the
commit's ``commitInfo.timestamp`` (else the log file's S3 LastModified). Maintenance does not refresh a
table: OPTIMIZE rewrites files without changing data (``dataChange: false``) and VACUUM commits hold no
files, so both are skipped (``ops_common.delta_log.latest_data_commit``). The stack alarms per table when
the maximum over a period exceeds the contract's ``freshness_slo_minutes``.

* A table with no Delta log yet: a warning line (``reason: no_delta_log``) and no datum; the alarm treats
  missing data as missing, so a table that was never written does not page as stale.
* A log that cannot be read (corrupt commit, access denied): an error line naming the table, the other
  tables are still checked and published, and then :class:`FreshnessCheckError` is raised so the
  function's Errors alarm fires.
* A slots parameter that is missing, unreadable or names no ``blue``/``green`` active slot: an error line
  naming the parameter and what is wrong, every gold table gets status ``active_slot_unknown`` and **no**
  datum (no slot is guessed: the inactive slot could make stale gold look fresh), silver is still checked
  and published, and then :class:`FreshnessCheckError` is raised (the Errors alarm fires).
* Data points that cannot be published: the AWS error is raised (no summary line).

The logic reads and publishes through the repositories it is given (``repositories``: the Delta logs, the
slots parameter, the metrics), the AWS ones (``aws_repositories``) by default; ``fakes`` has in-memory ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ops_common import delta_log
from ops_common import log as oplog
from ops_common import metric_names as m
from ops_common.aws import error_code
from ops_common.metrics import Datum
from ops_common.slots import ACTIVE_SLOT_UNKNOWN, SlotsParameterError, is_slotted, read_active_slot, table_location

from . import MONITORED_LAYERS, MonitoredTable, monitored_tables
from .aws_repositories import aws_repositories
from .repositories import DeltaLogReader, MetricsPublisher, Repositories, RepositoryError, SlotsParameter

__all__ = [
    "MONITORED_LAYERS",
    "FreshnessCheckError",
    "MonitoredTable",
    "Repositories",
    "RepositoryError",
    "TableFreshness",
    "check_freshness",
    "freshness_minutes",
    "monitored_tables",
]

OK = "ok"
NO_LOG = "no_delta_log"
ERROR = "unreadable_log"
SLOT_UNKNOWN = ACTIVE_SLOT_UNKNOWN


class FreshnessCheckError(RuntimeError):
    """At least one table's log (or the active slot) could not be read (the others were published);
    ``results`` has every table."""

    def __init__(self, message: str, results: list[TableFreshness]) -> None:
        super().__init__(message)
        self.results = results


@dataclass(frozen=True, kw_only=True)
class TableFreshness:
    """One table's check: where it was read, its newest commit and freshness, or why it has none."""

    table: str
    layer: str
    slo_minutes: int
    status: str
    """``ok``, ``no_delta_log``, ``unreadable_log`` or ``active_slot_unknown`` (gold only)"""
    location: str | None = None
    """``s3://<bucket>/<prefix>/`` read (``None`` when the active slot was unknown)"""
    slot: str | None = None
    """the active slot read, for a table of a slotted layer (gold)"""
    version: int | None = None
    committed_at: str | None = None
    freshness_minutes: float | None = None
    breached: bool | None = None
    """``freshness_minutes > slo_minutes`` (what the alarm evaluates)"""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain values (what the handler returns, as JSON)."""
        return asdict(self)


def freshness_minutes(now: dt.datetime, timestamp_ms: int) -> float:
    """Minutes from a commit (epoch milliseconds) to ``now``, one decimal; a commit in the future is 0.0."""
    elapsed_ms = now.timestamp() * 1000 - timestamp_ms
    return round(max(elapsed_ms, 0) / 60_000, 1)


def _utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def check_freshness(
    *,
    environment: str,
    layer_buckets: Mapping[str, str],
    slots_parameter: str,
    tables: Iterable[MonitoredTable] | None = None,
    now: dt.datetime | None = None,
    repositories: Repositories | None = None,
) -> list[TableFreshness]:
    """Read every table's last commit, publish ``FreshnessMinutes``; raise after publishing if any log failed.

    ``slots_parameter``: the SSM parameter naming the active slot; read once, when a gold table is checked.
    ``repositories``: where the logs, the slots parameter and the metrics are (the AWS ones unless given;
    their slots parameter is read with this module's ``read_active_slot``, looked up at each check).
    """
    repositories = repositories if repositories is not None else aws_repositories(read_slot=read_active_slot)
    now = _utc(now)
    tables = monitored_tables() if tables is None else tuple(tables)
    unknown = sorted({t.layer for t in tables} - set(layer_buckets))
    if unknown:
        raise ValueError(f"no bucket for layer(s) {', '.join(unknown)}; buckets are given for {sorted(layer_buckets)}")
    slot, slot_problem = _active_slot(repositories.slots, slots_parameter, tables)
    results: list[TableFreshness] = []
    datums: list[Datum] = []
    for table in tables:
        bucket = layer_buckets[table.layer]
        result = _check_table(repositories.logs, table, bucket, slot=slot, slot_problem=slot_problem, now=now)
        results.append(result)
        if result.freshness_minutes is not None:  # measured (status ok): one datum
            datums.append(
                Datum(
                    name=m.FRESHNESS_MINUTES,
                    value=result.freshness_minutes,
                    dimensions={m.ENVIRONMENT: environment, m.TABLE: table.name},
                    timestamp=now,
                )
            )
    _publish(repositories.metrics, datums, namespace=m.namespace(environment))
    _conclude(results, published=len(datums), slot=slot, slot_problem=slot_problem)
    return results


def _check_table(
    logs: DeltaLogReader,
    table: MonitoredTable,
    bucket: str,
    *,
    slot: str | None,
    slot_problem: str | None,
    now: dt.datetime,
) -> TableFreshness:
    """One table's freshness from its newest commit in ``bucket`` (the active slot's copy for gold), logged."""
    slotted = is_slotted(table.layer)
    if slotted and slot is None:
        return _result(table, status=SLOT_UNKNOWN, error=slot_problem)
    prefix = table_location(table.layer, table.prefix, slot)
    where = f"s3://{bucket}/{prefix}/"
    located: dict[str, Any] = {"location": where, "slot": slot if slotted else None}
    try:
        commit = logs.latest_commit(bucket, prefix)
    except Exception as error:  # one table's broken log must not hide the others
        error_type = type(_as_raised(error)).__name__
        oplog.error(
            "cannot read the table's Delta log",
            reason=ERROR,
            table=table.name,
            location=where,
            error_type=error_type,
            error_code=_error_code(error),
            error=str(error),
        )
        return _result(table, status=ERROR, error=f"{error_type}: {error}", **located)
    if commit is None:
        oplog.warning(
            "table has no Delta log yet: no freshness datum",
            reason=NO_LOG,
            table=table.name,
            location=where,
        )
        return _result(table, status=NO_LOG, **located)
    return _measured(table, commit, located, now)


def _measured(
    table: MonitoredTable, commit: delta_log.Commit, located: Mapping[str, Any], now: dt.datetime
) -> TableFreshness:
    """The ``ok`` result of a table whose newest commit was read, with its log line (a warning when breached)."""
    minutes = freshness_minutes(now, commit.timestamp_ms)
    committed_at = dt.datetime.fromtimestamp(commit.timestamp_ms / 1000, dt.UTC)
    result = _result(
        table,
        status=OK,
        **located,
        version=commit.version,
        committed_at=committed_at.isoformat(timespec="milliseconds"),
        freshness_minutes=minutes,
        breached=minutes > table.slo_minutes,
    )
    log_line = oplog.warning if result.breached else oplog.info
    log_line(
        "table freshness",
        reason="freshness_slo_breached" if result.breached else "freshness_measured",
        table=table.name,
        location=located["location"],
        version=commit.version,
        committed_at=result.committed_at,
        freshness_minutes=minutes,
        slo_minutes=table.slo_minutes,
    )
    return result


def _conclude(results: list[TableFreshness], *, published: int, slot: str | None, slot_problem: str | None) -> None:
    """The summary line, then :class:`FreshnessCheckError` if a log or the active slot could not be read."""
    failed = [r.table for r in results if r.status == ERROR]
    unslotted = [r.table for r in results if r.status == SLOT_UNKNOWN]
    oplog.info(
        "freshness check done",
        reason="freshness_check_done",
        published=published,
        active_slot=slot,
        no_log=[r.table for r in results if r.status == NO_LOG],
        breached=[r.table for r in results if r.breached],
        failed=failed,
        active_slot_unknown=unslotted,
    )
    if failed or unslotted:
        problems = []
        if unslotted:
            problems.append(f"{len(unslotted)} gold table(s) not checked: {slot_problem}")
        if failed:
            problems.append(f"could not read the Delta log of {len(failed)} table(s): {', '.join(failed)}")
        raise FreshnessCheckError(
            f"{'; '.join(problems)} (the other {published} freshness datum(s) were published)",
            results,
        )


def _active_slot(
    slots: SlotsParameter, slots_parameter: str, tables: Iterable[MonitoredTable]
) -> tuple[str | None, str | None]:
    """(the active slot, None), or (None, what is wrong) with an error line; (None, None) when no table needs it."""
    if not any(is_slotted(t.layer) for t in tables):
        return None, None
    try:
        slot = slots.active_slot(slots_parameter)
    except SlotsParameterError as error:
        oplog.error(
            "cannot tell the active slot: gold tables are not checked and get no freshness datum",
            reason=SLOT_UNKNOWN,
            parameter=slots_parameter,
            error_code=_error_code(error.__cause__) if error.__cause__ else None,
            error=str(error),
        )
        return None, str(error)
    oplog.info("active slot read", reason="active_slot_read", parameter=slots_parameter, active_slot=slot)
    return slot, None


def _publish(metrics: MetricsPublisher, datums: list[Datum], *, namespace: str) -> None:
    """Publish the data points; a failed call raises the AWS error itself (the function fails, as it always did)."""
    failed: BaseException | None = None
    try:
        metrics.publish(datums, namespace=namespace)
    except RepositoryError as error:
        failed = _as_raised(error)
    if failed is not None:
        raise failed  # outside the except clause: the error as AWS raised it, with no chained context


def _as_raised(error: BaseException) -> BaseException:
    """The error as AWS raised it: the botocore error a :class:`RepositoryError` wraps, else ``error`` itself."""
    if isinstance(error, RepositoryError) and error.__cause__ is not None:
        return error.__cause__
    return error


def _error_code(error: BaseException) -> str | None:
    """The AWS error code of a failed call (a :class:`RepositoryError`'s or botocore's); None when it has none."""
    code = error.code if isinstance(error, RepositoryError) else error_code(error)
    return code or None


def _result(table: MonitoredTable, **fields: Any) -> TableFreshness:
    return TableFreshness(table=table.name, layer=table.layer, slo_minutes=table.slo_minutes, **fields)
