"""Minutes since each monitored table's last Delta commit, published as ``FreshnessMinutes``.

For every table of :func:`monitored_tables` (silver and gold contracts with a freshness SLO) the newest
commit is read from the table's Delta log on S3 (``s3://<layer bucket>/<table>/_delta_log/``) and

    FreshnessMinutes = (now - commit timestamp) / 60 s, rounded to 0.1 (never negative)

is published with dimensions ``Environment`` and ``Table`` (``silver.orders``). The commit timestamp is the
commit's ``commitInfo.timestamp`` (else the log file's S3 LastModified). The stack alarms per table when
the maximum over a period exceeds the contract's ``freshness_slo_minutes``.

* A table with no Delta log yet: a warning line (``reason: no_delta_log``) and no datum; the alarm treats
  missing data as missing, so a table that was never written does not page as stale.
* A log that cannot be read (corrupt commit, access denied): an error line naming the table, the other
  tables are still checked and published, and then :class:`FreshnessCheckError` is raised so the
  function's Errors alarm fires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ops_common import delta_log
from ops_common import log as oplog
from ops_common import metric_names as m
from ops_common.aws import client, error_code
from ops_common.metrics import Datum, put_metrics

from . import MONITORED_LAYERS, MonitoredTable, monitored_tables

__all__ = [
    "MONITORED_LAYERS",
    "FreshnessCheckError",
    "MonitoredTable",
    "TableFreshness",
    "check_freshness",
    "freshness_minutes",
    "monitored_tables",
]

OK = "ok"
NO_LOG = "no_delta_log"
ERROR = "unreadable_log"


class FreshnessCheckError(RuntimeError):
    """At least one table's log could not be read (the others were published); ``results`` has every table."""

    def __init__(self, message: str, results: list[TableFreshness]) -> None:
        super().__init__(message)
        self.results = results


@dataclass(frozen=True, kw_only=True)
class TableFreshness:
    table: str
    layer: str
    slo_minutes: int
    status: str
    """``ok``, ``no_delta_log`` or ``unreadable_log``"""
    version: int | None = None
    committed_at: str | None = None
    freshness_minutes: float | None = None
    breached: bool | None = None
    """``freshness_minutes > slo_minutes`` (what the alarm evaluates)"""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
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
    tables: Iterable[MonitoredTable] | None = None,
    now: dt.datetime | None = None,
) -> list[TableFreshness]:
    """Read every table's last commit, publish ``FreshnessMinutes``; raise after publishing if any log failed."""
    now = _utc(now)
    tables = monitored_tables() if tables is None else tuple(tables)
    unknown = sorted({t.layer for t in tables} - set(layer_buckets))
    if unknown:
        raise ValueError(f"no bucket for layer(s) {', '.join(unknown)}; buckets are given for {sorted(layer_buckets)}")
    s3 = client("s3")
    results: list[TableFreshness] = []
    datums: list[Datum] = []
    for table in tables:
        bucket = layer_buckets[table.layer]
        where = f"s3://{bucket}/{table.prefix}/"
        try:
            commit = delta_log.latest_commit(s3, bucket, table.prefix)
        except Exception as error:  # one table's broken log must not hide the others
            oplog.error(
                "cannot read the table's Delta log",
                reason=ERROR,
                table=table.name,
                location=where,
                error_type=type(error).__name__,
                error_code=error_code(error) or None,
                error=str(error),
            )
            results.append(_result(table, status=ERROR, error=f"{type(error).__name__}: {error}"))
            continue
        if commit is None:
            oplog.warning(
                "table has no Delta log yet: no freshness datum",
                reason=NO_LOG,
                table=table.name,
                location=where,
            )
            results.append(_result(table, status=NO_LOG))
            continue
        minutes = freshness_minutes(now, commit.timestamp_ms)
        committed_at = dt.datetime.fromtimestamp(commit.timestamp_ms / 1000, dt.UTC)
        result = _result(
            table,
            status=OK,
            version=commit.version,
            committed_at=committed_at.isoformat(timespec="milliseconds"),
            freshness_minutes=minutes,
            breached=minutes > table.slo_minutes,
        )
        results.append(result)
        datums.append(
            Datum(
                name=m.FRESHNESS_MINUTES,
                value=minutes,
                dimensions={m.ENVIRONMENT: environment, m.TABLE: table.name},
                timestamp=now,
            )
        )
        log_line = oplog.warning if result.breached else oplog.info
        log_line(
            "table freshness",
            reason="freshness_slo_breached" if result.breached else "freshness_measured",
            table=table.name,
            version=commit.version,
            committed_at=result.committed_at,
            freshness_minutes=minutes,
            slo_minutes=table.slo_minutes,
        )
    put_metrics(datums, namespace=m.namespace(environment))
    failed = [r.table for r in results if r.status == ERROR]
    oplog.info(
        "freshness check done",
        reason="freshness_check_done",
        published=len(datums),
        no_log=[r.table for r in results if r.status == NO_LOG],
        breached=[r.table for r in results if r.breached],
        failed=failed,
    )
    if failed:
        raise FreshnessCheckError(
            f"could not read the Delta log of {len(failed)} table(s): {', '.join(failed)} "
            f"(the other {len(datums)} freshness datum(s) were published)",
            results,
        )
    return results


def _result(table: MonitoredTable, **fields: Any) -> TableFreshness:
    return TableFreshness(table=table.name, layer=table.layer, slo_minutes=table.slo_minutes, **fields)
