"""Is the DR copy of every Delta table readable, and how far behind is it?

For each layer's bucket pair (source in the function's region, replica in the DR region), every table that
either bucket holds (a prefix with a ``_delta_log/``) is checked. Gold is kept per blue/green slot
(``s3://<gold bucket>/<slot>/<table>/``): for gold the tables under both slots' prefixes are checked too,
whichever slot is active (a rollback publishes the other one), as ``gold.blue/win_rates``:

1. **Consistency.** The replica's log is listed once; the newest version a reader can reconstruct from it
   (:func:`ops_common.delta_log.readable_version`: a complete checkpoint plus every later commit) is
   snapshotted, the replica's table prefix is listed once (paginated; no HEAD per file) and the two are
   diffed. The table is consistent when every live data file of that version is in the replica with the
   size the log gives (when it gives one) and no commit above that version is missing (a gap: the newest
   replicated version could not be read). A table the source holds but the replica lacks entirely is
   inconsistent; a replica log that cannot be parsed is inconsistent.
2. **Lag.** ``source latest version - replica latest version`` (never negative), and the minutes since the
   oldest source commit the replica lacks (its ``commitInfo.timestamp``; ``0`` when caught up). A table
   missing from the replica lags by all its versions (``latest + 1``).

Metrics (namespace ``Lakehouse``), per table with dimensions ``Environment`` and ``Table`` (``silver.orders``):

* ``ReplicaConsistent``: 1 or 0
* ``ReplicaMissingFiles``: files the replica should have for the checked version but does not (absent, or
  present with another size than the log says), plus commit files missing below the newest replicated one
  (0 for a table missing from the replica altogether: there is no replicated version to check)
* ``ReplicaLagVersions``, ``ReplicaLagMinutes``: as above (not published for a table whose source log could
  not be read)

and ``ReplicaConsistent`` with dimension ``Environment`` only: 0 if any table is inconsistent, 1 if every
table is consistent; not published when some replica table (or a whole layer) could not be checked and none
was found inconsistent (unknown is not "consistent"; the function then fails and its Errors alarm fires).

Intended alarm (the Ops stack builds it): the environment-wide ``ReplicaConsistent``, statistic ``Minimum``
over 5-minute periods (the verifier runs every 5 minutes), ``< 1`` for ``15 // 5 + 1 = 4`` of 4 consecutive
periods, missing data treated as missing. S3 Replication Time Control replicates 99.99 % of objects within
15 minutes and does not replicate in commit order, so a replica is routinely inconsistent for seconds to
minutes (a commit's JSON arriving before its data files); only an inconsistency that outlasts the RTC
window — every check for more than 15 minutes — alarms.

Errors that are not findings about the replica (a bucket that cannot be listed, a source log that cannot
be read, throttling past the retries) are logged naming the table, the other tables are still checked and
published, and :class:`ReplicaCheckError` is raised at the end.

The buckets and CloudWatch are reached through the interfaces of ``repositories`` (:func:`verify_replicas`'s
``repositories``: the boto3 ones of ``aws_repositories`` unless given, in-memory fakes in the unit tests);
the Delta logs are read with ``ops_common.delta_log`` on the object stores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ops_common import delta_log
from ops_common import log as oplog
from ops_common import metric_names as m
from ops_common.aws import error_code
from ops_common.delta_log import DeltaLogError, LogListing
from ops_common.metrics import Datum
from ops_common.slots import SLOTS, is_slotted, slot_prefix

from replica_verifier.aws_repositories import aws_repositories
from replica_verifier.repositories import MetricsPublisher, ObjectStore, Repositories, RepositoryError

MAX_LOGGED_FILES = 20
"""Missing or wrong-size files logged one line each per table; the rest are only counted."""

CONSISTENT = "consistent"
INCONSISTENT = "inconsistent"
ERROR = "error"

# reasons
MISSING_FROM_REPLICA = "table_missing_from_replica"
FILE_MISSING = "file_missing_in_replica"
SIZE_MISMATCH = "file_size_mismatch"
COMMIT_MISSING = "commit_missing_in_replica"
REPLICA_LOG_UNREADABLE = "replica_log_unreadable"
NOT_IN_SOURCE = "table_not_in_source"

_Issue = tuple[str, str, dict[str, Any]]
"""(reason, S3 key, extra log fields) of one missing or different replica file or commit."""


class ReplicaCheckError(RuntimeError):
    """Some table or bucket could not be checked (the rest were published); ``results`` has every table."""

    def __init__(self, message: str, results: list[TableCheck]) -> None:
        super().__init__(message)
        self.results = results


@dataclass(frozen=True, kw_only=True)
class BucketPair:
    """One layer's bucket in the function's region and its replica bucket in the DR region."""

    source: str
    replica: str


@dataclass(frozen=True, kw_only=True)
class TableCheck:
    """What was found for one table: the verdict, the versions, the file counts, the lag and any errors."""

    table: str
    """``layer.table``"""
    layer: str
    status: str
    """``consistent``, ``inconsistent`` or ``error`` (consistency unknown)"""
    reasons: tuple[str, ...] = ()
    source_version: int | None = None
    replica_version: int | None = None
    """the newest commit in the replica"""
    checked_version: int | None = None
    """the version whose files were checked (below ``replica_version`` when a commit is missing)"""
    files_checked: int = 0
    missing_files: int = 0
    """absent + wrong size + missing commits: the ``ReplicaMissingFiles`` datum"""
    absent_files: int = 0
    size_mismatches: int = 0
    missing_commits: int = 0
    lag_versions: int | None = None
    lag_minutes: float | None = None
    errors: tuple[str, ...] = field(default=())

    @property
    def consistent(self) -> bool | None:
        """True or False; None when the replica could not be checked."""
        return None if self.status == ERROR else self.status == CONSISTENT

    def as_dict(self) -> dict[str, Any]:
        """The fields and ``consistent``, JSON-ready (the handler's summary)."""
        return {**asdict(self), "consistent": self.consistent}


def minutes_since(now: dt.datetime, timestamp_ms: int) -> float:
    """Minutes from the epoch milliseconds ``timestamp_ms`` to ``now``, one decimal, never negative."""
    return round(max(now.timestamp() * 1000 - timestamp_ms, 0) / 60_000, 1)


def verify_replicas(
    *,
    environment: str,
    replica_region: str,
    bucket_pairs: Mapping[str, BucketPair],
    now: dt.datetime | None = None,
    max_logged_files: int = MAX_LOGGED_FILES,
    repositories: Repositories | None = None,
) -> list[TableCheck]:
    """Check every table of every layer, publish the metrics; raise at the end if anything could not be checked.

    ``repositories``: where the buckets and the metrics are (the AWS ones, with the replica buckets in
    ``replica_region``, unless given).
    """
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if repositories is None:
        repositories = aws_repositories(replica_region)
    source_s3, replica_s3 = repositories.source, repositories.replica
    results: list[TableCheck] = []
    failed_layers: list[str] = []
    for layer, pair in bucket_pairs.items():
        found = _layer_tables(source_s3, replica_s3, layer, pair)
        if found is None:
            failed_layers.append(layer)
            continue
        in_source, in_replica = found
        for prefix in sorted(in_source | in_replica):
            checker = _TableChecker(
                layer=layer,
                prefix=prefix,
                pair=pair,
                source_s3=source_s3 if prefix in in_source else None,
                replica_s3=replica_s3 if prefix in in_replica else None,
                now=now,
                max_logged_files=max_logged_files,
            )
            results.append(checker.check())
    env_consistent = _publish(environment, results, complete=not failed_layers, now=now, metrics=repositories.metrics)
    errored = [r.table for r in results if r.errors]
    oplog.info(
        "replica check done",
        reason="replica_check_done",
        consistent=env_consistent,
        tables=len(results),
        inconsistent=[r.table for r in results if r.status == INCONSISTENT],
        lagging=[r.table for r in results if r.lag_versions],
        failed_tables=errored,
        failed_layers=failed_layers,
    )
    if errored or failed_layers:
        parts = [f"table(s) {', '.join(errored)}"] if errored else []
        parts += [f"layer(s) {', '.join(failed_layers)}"] if failed_layers else []
        raise ReplicaCheckError(f"could not check {' and '.join(parts)} (the rest were published)", results)
    return results


def _layer_tables(
    source_s3: ObjectStore, replica_s3: ObjectStore, layer: str, pair: BucketPair
) -> tuple[set[str], set[str]] | None:
    """(table prefixes in the source bucket, in the replica bucket); ``None``, with an error line, when unlistable."""
    try:
        return set(_find_tables(source_s3, pair.source, layer)), set(_find_tables(replica_s3, pair.replica, layer))
    except Exception as error:
        oplog.error(
            "cannot list the layer's tables",
            reason="layer_unlistable",
            layer=layer,
            source=f"s3://{pair.source}/",
            replica=f"s3://{pair.replica}/",
            **_error_fields(error),
        )
        return None


def _find_tables(s3: ObjectStore, bucket: str, layer: str) -> list[str]:
    """Table prefixes at the bucket's root and, for a slotted layer (gold), under each slot (``blue/win_rates``)."""
    found = delta_log.find_tables(s3, bucket)
    if is_slotted(layer):
        for slot in SLOTS:
            found += delta_log.find_tables(s3, bucket, slot_prefix(slot))
    return found


class _TableChecker:
    def __init__(
        self,
        *,
        layer: str,
        prefix: str,
        pair: BucketPair,
        source_s3: ObjectStore | None,
        replica_s3: ObjectStore | None,
        now: dt.datetime,
        max_logged_files: int,
    ) -> None:
        self.layer = layer
        self.prefix = prefix
        self.table = f"{layer}.{prefix}"
        self.pair = pair
        self.source_s3 = source_s3
        self.replica_s3 = replica_s3
        self.now = now
        self.max_logged_files = max_logged_files
        self.errors: list[str] = []

    def _failed(self, message: str, side: str, error: BaseException) -> None:
        bucket = self.pair.source if side == "source" else self.pair.replica
        oplog.error(
            message,
            reason=f"{side}_check_failed",
            table=self.table,
            location=f"s3://{bucket}/{self.prefix}/",
            **_error_fields(error),
        )
        self.errors.append(f"{side}: {_error_type(error)}: {error}")

    def check(self) -> TableCheck:
        source = self._source_commit()
        source_failed = bool(self.errors)
        fields = self._consistency(source_empty=source is None and not source_failed)
        fields["source_version"] = None if source is None else source.version
        if self.errors:
            pass  # lag unknown: no lag datums
        elif source is None:
            fields.update(lag_versions=0, lag_minutes=0.0)  # nothing at the source to lag behind
            if self.source_s3 is None:
                oplog.warning(
                    "the replica holds a table the source does not (dropped at the source?)",
                    reason=NOT_IN_SOURCE,
                    table=self.table,
                    replica=f"s3://{self.pair.replica}/{self.prefix}/",
                )
                fields["reasons"] = (*fields.get("reasons", ()), NOT_IN_SOURCE)
        else:
            replica_version = fields.get("replica_version")
            first_lacking = 0 if replica_version is None else replica_version + 1
            try:
                lag_minutes = self._lag_minutes(first_lacking, source)
            except Exception as error:
                self._failed("cannot read the source log for the replica lag", "source", error)
            else:
                fields.update(lag_versions=max(0, source.version - first_lacking + 1), lag_minutes=lag_minutes)
        return TableCheck(table=self.table, layer=self.layer, errors=tuple(self.errors), **fields)

    def _source_commit(self) -> delta_log.Commit | None:
        if self.source_s3 is None:
            return None
        try:
            return delta_log.latest_commit(self.source_s3, self.pair.source, self.prefix)
        except Exception as error:
            self._failed("cannot read the source table's Delta log", "source", error)
            return None

    def _consistency(self, *, source_empty: bool) -> dict[str, Any]:
        """Status, reasons, the replica's versions and file counts."""
        listing = None
        if self.replica_s3 is not None:
            try:
                listing = delta_log.list_log(self.replica_s3, self.pair.replica, self.prefix)
            except Exception as error:
                self._failed("cannot list the replica table's Delta log", "replica", error)
                return {"status": ERROR}
        if listing is not None and (listing.commits or listing.checkpoints):
            return self._replicated(listing)
        if source_empty:  # neither side has a commit yet: nothing to replicate
            return {"status": CONSISTENT}
        oplog.warning(
            "table is missing from the replica",
            reason=MISSING_FROM_REPLICA,
            table=self.table,
            source=f"s3://{self.pair.source}/{self.prefix}/",
            replica=f"s3://{self.pair.replica}/{self.prefix}/",
        )
        return {"status": INCONSISTENT, "reasons": (MISSING_FROM_REPLICA,)}

    def _replicated(self, listing: LogListing) -> dict[str, Any]:
        """The consistency of a replica that holds a log: its commits, then the newest readable version's files."""
        newest = max((*listing.commits, *listing.checkpoints))
        readable = delta_log.readable_version(listing)
        start = 0 if readable is None else readable + 1
        missing_commits = [v for v in range(start, newest + 1) if v not in listing.commits]
        fields: dict[str, Any] = {
            "replica_version": newest,
            "checked_version": readable,
            "missing_commits": len(missing_commits),
        }
        issues: list[_Issue] = [
            (COMMIT_MISSING, f"{delta_log.table_prefix(self.prefix)}{delta_log.LOG_DIR}{v:020d}.json", {})
            for v in missing_commits
        ]
        if readable is not None:
            try:
                snap = delta_log.snapshot(
                    self.replica_s3, self.pair.replica, self.prefix, version=readable, listing=listing
                )
                present = self._list_objects()
            except DeltaLogError as error:
                oplog.error(
                    "the replica's Delta log cannot be read",
                    reason=REPLICA_LOG_UNREADABLE,
                    table=self.table,
                    replica=f"s3://{self.pair.replica}/{self.prefix}/",
                    **_error_fields(error),
                )
                return {**fields, "status": INCONSISTENT, "reasons": (REPLICA_LOG_UNREADABLE,)}
            except Exception as error:
                self._failed("cannot read the replica table", "replica", error)
                return {**fields, "status": ERROR}
            file_issues, counts = _file_issues(snap.files, present)
            issues += file_issues
            fields.update(counts)
        fields["missing_files"] = len(issues)
        return self._verdict(fields, issues, checked_version=readable, replica_version=newest)

    def _verdict(
        self, fields: dict[str, Any], issues: list[_Issue], *, checked_version: int | None, replica_version: int
    ) -> dict[str, Any]:
        """``fields`` with the status and reasons; the first issues and an inconsistent replica logged."""
        reasons = tuple(dict.fromkeys(reason for reason, _, _ in issues))
        if not issues:
            return {**fields, "status": CONSISTENT}
        for reason, key, extra in issues[: self.max_logged_files]:
            oplog.warning(
                "replica file missing or different",
                reason=reason,
                table=self.table,
                version=checked_version,
                replica=f"s3://{self.pair.replica}/{key}",
                **extra,
            )
        oplog.warning(
            "replica table is inconsistent",
            reason="replica_inconsistent",
            table=self.table,
            checked_version=checked_version,
            replica_version=replica_version,
            missing_files=len(issues),
            logged=min(len(issues), self.max_logged_files),
            reasons=list(reasons),
        )
        return {**fields, "status": INCONSISTENT, "reasons": reasons}

    def _list_objects(self) -> dict[str, int]:
        """Every object under the replica table's prefix (one paginated listing): key -> size."""
        present: dict[str, int] = {}
        assert self.replica_s3 is not None
        paginator = self.replica_s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.pair.replica, Prefix=delta_log.table_prefix(self.prefix)):
            for obj in page.get("Contents", []):
                present[obj["Key"]] = int(obj["Size"])
        return present

    def _lag_minutes(self, first_lacking: int, source: delta_log.Commit) -> float:
        """Minutes since the oldest source commit at or after ``first_lacking`` (0.0 when there is none)."""
        if first_lacking > source.version:
            return 0.0
        if first_lacking == source.version:
            return minutes_since(self.now, source.timestamp_ms)
        assert self.source_s3 is not None
        listing: LogListing = delta_log.list_log(
            self.source_s3, self.pair.source, self.prefix, from_version=first_lacking
        )
        versions = sorted(v for v in listing.commits if v >= first_lacking)
        if not versions:
            return 0.0
        oldest = delta_log.commit_at(self.source_s3, self.pair.source, self.prefix, listing, versions[0])
        return minutes_since(self.now, oldest.timestamp_ms)


def _file_issues(files: Mapping[str, int], present: Mapping[str, int]) -> tuple[list[_Issue], dict[str, int]]:
    """The snapshot's files the replica lacks or holds with another size than the log gives, and their counts."""
    absent = sorted(key for key in files if key not in present)
    wrong_size = sorted(key for key, size in files.items() if size >= 0 and key in present and present[key] != size)
    issues: list[_Issue] = [(FILE_MISSING, key, {"expected_size": files[key]}) for key in absent]
    issues += [(SIZE_MISMATCH, key, {"expected_size": files[key], "replica_size": present[key]}) for key in wrong_size]
    return issues, {"files_checked": len(files), "absent_files": len(absent), "size_mismatches": len(wrong_size)}


def _error_type(error: BaseException) -> str:
    """The failed call's error class (botocore's behind a :class:`RepositoryError`), as logs and results name it."""
    return error.error_type if isinstance(error, RepositoryError) else type(error).__name__


def _error_fields(error: BaseException) -> dict[str, Any]:
    """The log fields naming a failure: its class, its AWS error code (None if it has none), its message."""
    code = error.code if isinstance(error, RepositoryError) else error_code(error)
    return {"error_type": _error_type(error), "error_code": code or None, "error": str(error)}


def _publish(
    environment: str, results: list[TableCheck], *, complete: bool, now: dt.datetime, metrics: MetricsPublisher
) -> bool | None:
    """Per-table datums for what is known, then the environment-wide figure; returns that figure."""
    datums: list[Datum] = []
    for result in results:
        dims = {m.ENVIRONMENT: environment, m.TABLE: result.table}
        if result.consistent is not None:
            datums.append(
                Datum(name=m.REPLICA_CONSISTENT, value=int(result.consistent), dimensions=dims, timestamp=now)
            )
            datums.append(
                Datum(
                    name=m.REPLICA_MISSING_FILES,
                    value=result.missing_files,
                    unit="Count",
                    dimensions=dims,
                    timestamp=now,
                )
            )
        if result.lag_versions is not None and result.lag_minutes is not None:
            datums.append(
                Datum(
                    name=m.REPLICA_LAG_VERSIONS, value=result.lag_versions, unit="Count", dimensions=dims, timestamp=now
                )
            )
            datums.append(Datum(name=m.REPLICA_LAG_MINUTES, value=result.lag_minutes, dimensions=dims, timestamp=now))
    if any(r.consistent is False for r in results):
        env_consistent: bool | None = False
    elif complete and all(r.consistent for r in results):
        env_consistent = True
    else:
        env_consistent = None  # something could not be checked and nothing was found wrong: unknown
    if env_consistent is not None:
        datums.append(
            Datum(
                name=m.REPLICA_CONSISTENT,
                value=int(env_consistent),
                dimensions={m.ENVIRONMENT: environment},
                timestamp=now,
            )
        )
    metrics.publish(datums, namespace=m.namespace(environment))
    return env_consistent
