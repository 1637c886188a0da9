"""Read a Delta table's transaction log straight from S3: versions, commit times, the live file set.

Enough of the Delta protocol (classic checkpoints) for monitoring, without Spark or delta-rs:
``_last_checkpoint`` says where to start, the newest ``NNNNNNNNNNNNNNNNNNNN.json`` is the latest version, and
the live files are the checkpoint's ``add`` actions with the later commits' ``add`` and ``remove`` actions
applied (each commit's removes before its adds: a deletion vector's commit removes a file and adds it back
with its vector). A table with deletion vectors (reader 3) lists their files among its live files, so a
replica is checked for them too; :func:`read_rows` refuses such a table rather than misread it.
:func:`latest_commit` is the newest commit of any kind (a replica must hold every one);
:func:`latest_data_commit` skips the commits that changed no data (OPTIMIZE, VACUUM, table properties), which
is what a table's freshness is measured from (:func:`changes_data`). Only
:func:`snapshot` reads Parquet (a checkpoint), so only it imports pyarrow (shipped to the functions that
need it as a layer).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

LOG_DIR = "_delta_log/"
_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$")


class DeltaLogError(RuntimeError):
    """The log is not readable as a Delta table (names the table and what is wrong)."""


@dataclass(frozen=True, kw_only=True)
class LogListing:
    commits: dict[int, str]
    """version -> key of ``<version>.json``"""
    checkpoints: dict[int, tuple[str, ...]]
    """version -> keys of its checkpoint part(s), complete sets only"""
    last_modified: dict[int, float]
    """version -> epoch seconds the commit file was written (S3 LastModified)"""


@dataclass(frozen=True, kw_only=True)
class Commit:
    table: str
    version: int
    timestamp_ms: int
    """``commitInfo.timestamp`` (writer clock), else the log file's S3 LastModified."""


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    table: str
    version: int
    files: dict[str, int]
    """live data files and the deletion-vector files they use: S3 key -> size in bytes (``-1`` when the log does
    not say; always for a deletion-vector file, which may hold several vectors)"""
    with_deletion_vectors: frozenset[str] = frozenset()
    """the live data files (keys) whose rows a deletion vector masks in part"""


Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
"""ZeroMQ's Z85 alphabet (RFC 32/Z85), which Delta uses for a deletion vector file's UUID"""


def z85_decode(text: str) -> bytes:
    """Z85-decode ``text`` (a multiple of 5 characters) into 4 bytes per 5 characters."""
    if len(text) % 5:
        raise DeltaLogError(f"{text!r} is not Z85: its length is not a multiple of 5")
    out = bytearray()
    for i in range(0, len(text), 5):
        value = 0
        for char in text[i : i + 5]:
            digit = Z85.find(char)
            if digit < 0:
                raise DeltaLogError(f"{text!r} is not Z85: {char!r}")
            value = value * 85 + digit
        if value >= 1 << 32:
            raise DeltaLogError(f"{text!r} is not Z85: a group overflows 32 bits")
        out += value.to_bytes(4, "big")
    return bytes(out)


def deletion_vector_key(prefix: str, descriptor: dict[str, Any], bucket: str) -> str | None:
    """The S3 key of the file that holds the deletion vector ``descriptor`` (an ``add``'s ``deletionVector``);
    None for an inline one (``storageType`` ``i``). ``u``: ``<random prefix><Z85 UUID, 20 characters>``, the
    file ``<table>/<random prefix>/deletion_vector_<uuid>.bin``; ``p``: an absolute path (Delta protocol,
    "Deletion Vector Descriptor Schema")."""
    import uuid

    kind, where = descriptor.get("storageType"), str(descriptor.get("pathOrInlineDv", ""))
    if kind == "i":
        return None
    if kind == "p":
        return _data_key(prefix, where, bucket)
    if kind != "u" or len(where) < 20:
        raise DeltaLogError(f"deletion vector {descriptor!r} of {table_prefix(prefix)} is not one this reader knows")
    name = f"deletion_vector_{uuid.UUID(bytes=z85_decode(where[-20:]))}.bin"
    return f"{table_prefix(prefix)}{where[:-20] + '/' if where[:-20] else ''}{name}"


def table_prefix(prefix: str) -> str:
    return prefix.strip("/") + "/" if prefix.strip("/") else ""


def _version_key(prefix: str, version: int, suffix: str = ".json") -> str:
    return f"{table_prefix(prefix)}{LOG_DIR}{version:020d}{suffix}"


def _read(s3: Any, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def last_checkpoint_version(s3: Any, bucket: str, prefix: str) -> int | None:
    try:
        body = _read(s3, bucket, f"{table_prefix(prefix)}{LOG_DIR}_last_checkpoint")
    except s3.exceptions.NoSuchKey:
        return None
    except Exception as error:  # moto/S3 raise ClientError 404 for a missing key on some paths
        if getattr(error, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    try:
        return int(json.loads(body)["version"])
    except (ValueError, KeyError, TypeError) as bad:
        raise DeltaLogError(
            f"s3://{bucket}/{table_prefix(prefix)}{LOG_DIR}_last_checkpoint is not valid: {bad}"
        ) from None


def list_log(s3: Any, bucket: str, prefix: str, *, from_version: int = 0) -> LogListing:
    """Commit and checkpoint files at or after ``from_version`` (S3 lists keys in lexical = version order)."""
    log_prefix = f"{table_prefix(prefix)}{LOG_DIR}"
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": log_prefix}
    if from_version > 0:
        kwargs["StartAfter"] = f"{log_prefix}{from_version - 1:020d}.zzzz"
    commits: dict[int, str] = {}
    modified: dict[int, float] = {}
    parts: dict[int, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(log_prefix) :]
            if m := _COMMIT.match(name):
                version = int(m.group(1))
                commits[version] = obj["Key"]
                modified[version] = obj["LastModified"].timestamp()
            elif m := _CHECKPOINT.match(name):
                version = int(m.group(1))
                entry = parts.setdefault(version, {"total": int(m.group(3) or 1), "keys": []})
                entry["keys"].append(obj["Key"])
    checkpoints = {v: tuple(sorted(e["keys"])) for v, e in parts.items() if len(e["keys"]) == e["total"]}
    return LogListing(commits=commits, checkpoints=checkpoints, last_modified=modified)


def find_tables(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    """Table prefixes directly under ``prefix`` that hold a ``_delta_log/`` (sorted)."""
    tables = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=table_prefix(prefix), Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            candidate = common["Prefix"]
            probe = s3.list_objects_v2(Bucket=bucket, Prefix=f"{candidate}{LOG_DIR}", MaxKeys=1)
            if probe.get("KeyCount", 0) > 0:
                tables.append(candidate.rstrip("/"))
    return sorted(tables)


def _actions(body: bytes, where: str) -> list[dict[str, Any]]:
    actions = []
    for number, line in enumerate(body.decode("utf-8").splitlines(), start=1):
        if line.strip():
            try:
                actions.append(json.loads(line))
            except json.JSONDecodeError as bad:
                raise DeltaLogError(f"{where} line {number} is not JSON: {bad.msg}") from None
    return actions


def latest_commit(s3: Any, bucket: str, prefix: str) -> Commit | None:
    """The newest version and when it was committed; ``None`` when the prefix holds no Delta log.

    Every commit counts, maintenance included: see :func:`latest_data_commit` for the newest data change.
    """
    start = last_checkpoint_version(s3, bucket, prefix) or 0
    listing = list_log(s3, bucket, prefix, from_version=start)
    if not listing.commits and start:
        listing = list_log(s3, bucket, prefix)  # a stale _last_checkpoint: list everything
    if not listing.commits:
        return None
    return commit_at(s3, bucket, prefix, listing, max(listing.commits))


DATA_OPERATIONS = frozenset(
    {
        "WRITE",
        "STREAMING UPDATE",
        "MERGE",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "RESTORE",
        "CREATE TABLE AS SELECT",
        "REPLACE TABLE AS SELECT",
        "CREATE OR REPLACE TABLE AS SELECT",
    }
)
"""``commitInfo.operation`` values of commits that write data (delta-spark's and delta-rs's names): such a
commit counts as a data change even when it added and removed nothing (a MERGE that matched no row)."""

MAX_DATA_COMMIT_SCAN = 100
""":func:`latest_data_commit` reads at most this many commits, newest first."""


def changes_data(actions: list[dict[str, Any]]) -> bool:
    """Whether a commit's ``actions`` changed the table's data (the Delta protocol's ``dataChange``).

    True for an ``add`` or ``remove`` whose ``dataChange`` is not false, or a ``commitInfo`` of one of
    :data:`DATA_OPERATIONS`. False for OPTIMIZE (its files are rewritten with ``dataChange: false``), for
    VACUUM START/END (a ``commitInfo`` alone) and for metadata commits (table properties, schema, protocol).
    """
    for action in actions:
        for kind in ("add", "remove"):
            change = action.get(kind)
            if isinstance(change, dict) and change.get("dataChange", True) is not False:
                return True
        info = action.get("commitInfo")
        if isinstance(info, dict) and info.get("operation") in DATA_OPERATIONS:
            return True
    return False


def latest_data_commit(s3: Any, bucket: str, prefix: str, *, max_commits: int = MAX_DATA_COMMIT_SCAN) -> Commit | None:
    """The newest commit that changed the table's data (:func:`changes_data`); ``None`` without a Delta log.

    Commits are read newest first: those after the last checkpoint, then (only if none of them changed data)
    the older ones the log still lists. When none of the commits read changed data (a table created empty,
    or whose data commits the log no longer holds, or more than ``max_commits`` maintenance commits), the
    oldest commit read: the data is at least that old.
    """
    start = last_checkpoint_version(s3, bucket, prefix) or 0
    listing = list_log(s3, bucket, prefix, from_version=start)
    oldest: Commit | None = None
    read = 0
    while True:
        below = oldest.version if oldest else None
        for version in sorted((v for v in listing.commits if below is None or v < below), reverse=True):
            if read == max_commits:
                return oldest
            oldest, actions = _read_commit(s3, bucket, prefix, listing, version)
            read += 1
            if changes_data(actions):
                return oldest
        if not start:
            return oldest
        start, listing = 0, list_log(s3, bucket, prefix)  # the commits before the checkpoint


def commit_at(s3: Any, bucket: str, prefix: str, listing: LogListing, version: int) -> Commit:
    """When ``version`` (a commit of ``listing``) was committed: its ``commitInfo.timestamp``, else LastModified."""
    return _read_commit(s3, bucket, prefix, listing, version)[0]


def _read_commit(
    s3: Any, bucket: str, prefix: str, listing: LogListing, version: int
) -> tuple[Commit, list[dict[str, Any]]]:
    """``version``'s :class:`Commit` (as :func:`commit_at`) and its actions."""
    key = listing.commits[version]
    timestamp_ms = int(listing.last_modified[version] * 1000)
    actions = _actions(_read(s3, bucket, key), f"s3://{bucket}/{key}")
    for action in actions:
        info = action.get("commitInfo")
        if info and isinstance(info.get("timestamp"), int):
            timestamp_ms = info["timestamp"]
            break
    return Commit(table=table_prefix(prefix).rstrip("/"), version=version, timestamp_ms=timestamp_ms), actions


def readable_version(listing: LogListing) -> int | None:
    """The newest version a reader can reconstruct from ``listing``: a complete checkpoint, or a commit whose
    predecessors back to the nearest complete checkpoint (or to version 0) are all present. ``None`` when no
    version is. Below the newest commit when a commit is missing (e.g. a replica mid-replication)."""
    readable: set[int] = set()
    for version in sorted(set(listing.commits) | set(listing.checkpoints)):
        if version in listing.checkpoints or version == 0 or version - 1 in readable:
            readable.add(version)
    return max(readable) if readable else None


def _data_key(prefix: str, path: str, bucket: str) -> str:
    if "://" in path:
        parsed = urlparse(path)
        if parsed.netloc != bucket:
            raise DeltaLogError(f"file {path} lives outside bucket {bucket}")
        return unquote(parsed.path.lstrip("/"))
    return f"{table_prefix(prefix)}{unquote(path)}"


def _size(action: dict[str, Any]) -> int:
    size = action.get("size")
    return -1 if size is None else int(size)


_Live = dict[str, tuple[int, str | None]]
"""live data file key -> (size, key of its deletion vector's file or None)"""


def _live_entry(prefix: str, add: dict[str, Any], bucket: str) -> tuple[str, tuple[int, str | None]]:
    dv = add.get("deletionVector")
    return _data_key(prefix, add["path"], bucket), (_size(add), deletion_vector_key(prefix, dv, bucket) if dv else None)


def _checkpoint_files(s3: Any, bucket: str, prefix: str, keys: tuple[str, ...]) -> _Live:
    """Every ``add`` in a checkpoint's part files."""
    import pyarrow.parquet as pq  # only here: the verifier's layer ships pyarrow

    files: _Live = {}
    for key in keys:
        table = pq.read_table(io.BytesIO(_read(s3, bucket, key)), columns=["add"])
        for add in table.column("add").to_pylist():
            if add and add.get("path"):
                data_key, entry = _live_entry(prefix, add, bucket)
                files[data_key] = entry
    return files


def _apply(live: _Live, actions: list[dict[str, Any]], prefix: str, bucket: str) -> None:
    """One commit's actions on ``live``: its removes, then its adds (a file can be removed and added back with a
    deletion vector in one commit, in either order)."""
    for action in actions:
        if remove := action.get("remove"):
            live.pop(_data_key(prefix, remove["path"], bucket), None)
    for action in actions:
        if add := action.get("add"):
            data_key, entry = _live_entry(prefix, add, bucket)
            live[data_key] = entry


def snapshot(
    s3: Any, bucket: str, prefix: str, *, version: int | None = None, listing: LogListing | None = None
) -> Snapshot:
    """The live data files at ``version`` (default: the newest version the log holds), with the files of their
    deletion vectors.

    ``listing``: a full :func:`list_log` of the table already made by the caller (saves listing it again).
    """
    where = f"s3://{bucket}/{table_prefix(prefix)}{LOG_DIR}"
    listing = list_log(s3, bucket, prefix) if listing is None else listing
    if not listing.commits and not listing.checkpoints:
        raise DeltaLogError(f"{where} holds no Delta log")
    target = max(listing.commits or listing.checkpoints) if version is None else version
    usable = [v for v in listing.checkpoints if v <= target]
    base = max(usable) if usable else -1
    missing = [v for v in range(base + 1, target + 1) if v not in listing.commits]
    if missing:
        raise DeltaLogError(
            f"{where} cannot be read at version {target}: commit {missing[0]:020d}.json is missing "
            f"and no checkpoint covers it"
        )
    live = _checkpoint_files(s3, bucket, prefix, listing.checkpoints[base]) if base >= 0 else {}
    for v in range(base + 1, target + 1):
        key = listing.commits[v]
        _apply(live, _actions(_read(s3, bucket, key), f"s3://{bucket}/{key}"), prefix, bucket)
    files = {data_key: size for data_key, (size, _) in live.items()}
    files.update({dv: -1 for _, dv in live.values() if dv})
    masked = frozenset(data_key for data_key, (_, dv) in live.items() if dv)
    return Snapshot(table=table_prefix(prefix).rstrip("/"), version=target, files=files, with_deletion_vectors=masked)


def read_rows(
    s3: Any,
    bucket: str,
    prefix: str,
    columns: list[str] | tuple[str, ...],
    filters: dict[str, Any] | None = None,
    *,
    version: int | None = None,
    listing: LogListing | None = None,
) -> list[dict[str, Any]]:
    """``columns`` of the table's rows at ``version`` (default: the newest) that match ``filters``.

    ``filters``: column -> value; a row is kept when every one is equal (a null never matches). The live
    files come from :func:`snapshot`; each is read with pyarrow (only the needed columns). A file that lacks
    a filter column has no matching row; a missing projected column reads as ``None`` (a column added
    later). Meant for small operational tables: partition columns (not stored in the Parquet files) are not
    supported, and a table with deletion vectors (reader 3) is refused (``DeltaLogError``): its files hold rows
    the vectors mask. Rows come file by file, in key order.
    """
    import pyarrow as pa  # only here, like snapshot(): the functions that read Parquet get the pyarrow layer
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    filters = dict(filters or {})
    wanted = list(dict.fromkeys([*columns, *filters]))
    rows: list[dict[str, Any]] = []
    snap = snapshot(s3, bucket, prefix, version=version, listing=listing)
    if snap.with_deletion_vectors:
        raise DeltaLogError(
            f"s3://{bucket}/{table_prefix(prefix)} has deletion vectors on {len(snap.with_deletion_vectors)} "
            f"file(s) at version {snap.version}: this reader does not apply them; read it with delta-rs or Spark"
        )
    for key in sorted(snap.files):  # no deletion vector: data files only
        try:
            parquet = pq.ParquetFile(io.BytesIO(_read(s3, bucket, key)))
        except pa.ArrowException as bad:
            raise DeltaLogError(f"s3://{bucket}/{key} is not a readable Parquet file: {bad}") from None
        names = set(parquet.schema_arrow.names)
        if any(name not in names for name in filters):
            continue
        table = parquet.read(columns=[c for c in wanted if c in names])
        for name in columns:
            if name not in names:
                table = table.append_column(name, pa.nulls(table.num_rows))
        mask = None
        for name, value in filters.items():
            equal = pc.fill_null(pc.equal(table.column(name), pa.scalar(value)), False)
            mask = equal if mask is None else pc.and_(mask, equal)
        if mask is not None:
            table = table.filter(mask)
        rows.extend(table.select(list(columns)).to_pylist())
    return rows
