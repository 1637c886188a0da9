"""In-memory repositories with the semantics of the AWS ones (``aws_repositories``), for tests of the logic.

:class:`FakeObjectStore` holds one region's buckets as plain bytes and answers the S3 calls that
``ops_common.delta_log`` and the verifier make as S3 does: keys listed in lexical order, ``Prefix``,
``Delimiter`` (``CommonPrefixes``), ``StartAfter``, ``MaxKeys``, pages with continuation tokens (``page_size``
makes them small, so paging is exercised), ``NoSuchBucket`` and ``NoSuchKey``. :class:`FakeMetrics` keeps the
published data points. They make no AWS call and need no credentials.

Each can be told to fail: ``errors`` maps an operation to the :class:`RepositoryError` its next calls raise.
For the store, the operation is ``get_object``, ``list_objects_v2`` (a page asked for directly) or
``paginate`` (a page of a paginated listing), alone (every such call) or as ``operation:Key-or-Prefix`` (the
calls for that exact ``Key`` or ``Prefix`` only, e.g. ``get_object:orders/_delta_log/00000000000000000004.json``);
for the metrics it is ``publish``.

They ship with the function because they implement its interfaces (``repositories``): a change to an
interface and to its fake is one change in one package. The handler never imports this module.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ops_common import fakes as shared
from ops_common import metric_names as m

from replica_verifier.repositories import (
    LIST_OBJECTS,
    ObjectMissingError,
    Repositories,
    RepositoryError,
    StoreExceptions,
)

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""The default ``LastModified`` of a stored object."""
S3_MAX_KEYS = 1000


@dataclass(frozen=True)
class StoredObject:
    """One object: its bytes and when it was written."""

    body: bytes
    last_modified: dt.datetime


def _no_such_bucket(operation: str) -> RepositoryError:
    message = (
        f"An error occurred (NoSuchBucket) when calling the {operation} operation: The specified bucket does not exist"
    )
    return RepositoryError(message, code="NoSuchBucket", error_type="NoSuchBucket")


def _entries(keys: Sequence[str], prefix: str, delimiter: str) -> list[tuple[str, bool]]:
    """The listing's entries in order, (name, is a common prefix): the keys under ``prefix``, rolled up to their
    common prefixes where the rest of the key holds the delimiter."""
    entries: list[tuple[str, bool]] = []
    for key in keys:
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        cut = rest.find(delimiter) if delimiter else -1
        entry = (key, False) if cut < 0 else (prefix + rest[: cut + len(delimiter)], True)
        if not entries or entries[-1] != entry:
            entries.append(entry)
    return entries


@dataclass(kw_only=True)
class FakeObjectStore(shared.FailingFake):
    """One region's buckets: ``buckets`` maps a bucket to its objects (key -> :class:`StoredObject`).

    ``calls``: (operation, parameters) of every call, in order (``paginate`` once per page).
    """

    exceptions: ClassVar[type[StoreExceptions]] = StoreExceptions
    buckets: dict[str, dict[str, StoredObject]] = field(default_factory=dict)
    page_size: int = S3_MAX_KEYS
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def create_bucket(self, bucket: str) -> None:
        """An empty bucket (kept if it exists)."""
        self.buckets.setdefault(bucket, {})

    def put(self, bucket: str, key: str, body: bytes, *, last_modified: dt.datetime = EPOCH) -> None:
        """Write ``key`` (the bucket is created if needed)."""
        self.buckets.setdefault(bucket, {})[key] = StoredObject(body, last_modified)

    def delete(self, bucket: str, key: str) -> None:
        """Delete ``key`` if it is there."""
        self.buckets.get(bucket, {}).pop(key, None)

    def get_paginator(self, operation_name: str) -> _FakePaginator:
        """The ``list_objects_v2`` paginator."""
        if operation_name != LIST_OBJECTS:
            raise ValueError(f"only {LIST_OBJECTS} is paginated here, not {operation_name!r}")
        return _FakePaginator(self)

    def list_objects_v2(self, **params: Any) -> Mapping[str, Any]:
        """One page, as S3 answers it."""
        return self._page("list_objects_v2", params)

    def _page(self, operation: str, params: dict[str, Any]) -> Mapping[str, Any]:
        self.calls.append((operation, dict(params)))
        self._maybe_fail(operation, params.get("Prefix", ""))
        bucket = params["Bucket"]
        if bucket not in self.buckets:
            raise _no_such_bucket("ListObjectsV2")
        objects = self.buckets[bucket]
        after = max(params.get("StartAfter", ""), params.get("ContinuationToken", ""))
        keys = sorted(key for key in objects if key > after)
        entries = _entries(keys, params.get("Prefix", ""), params.get("Delimiter", ""))
        token = params.get("ContinuationToken")
        if (token, True) in entries:  # the previous page ended on a common prefix: its keys sort after it
            entries = entries[entries.index((token, True)) + 1 :]
        page = entries[: min(params.get("MaxKeys", S3_MAX_KEYS), self.page_size)]
        contents = [
            {"Key": name, "Size": len(objects[name].body), "LastModified": objects[name].last_modified}
            for name, is_prefix in page
            if not is_prefix
        ]
        common = [{"Prefix": name} for name, is_prefix in page if is_prefix]
        response: dict[str, Any] = {"KeyCount": len(page), "IsTruncated": len(page) < len(entries)}
        if contents:
            response["Contents"] = contents
        if common:
            response["CommonPrefixes"] = common
        if response["IsTruncated"]:
            response["NextContinuationToken"] = page[-1][0]
        return response

    def get_object(self, **params: Any) -> Mapping[str, Any]:
        """The object's body; ``NoSuchBucket``, or :class:`ObjectMissingError` for a missing key."""
        self.calls.append(("get_object", dict(params)))
        bucket, key = params["Bucket"], params["Key"]
        self._maybe_fail("get_object", key)
        if bucket not in self.buckets:
            raise _no_such_bucket("GetObject")
        stored = self.buckets[bucket].get(key)
        if stored is None:
            message = (
                "An error occurred (NoSuchKey) when calling the GetObject operation: The specified key does not exist."
            )
            raise ObjectMissingError(message, code="NoSuchKey", error_type="NoSuchKey")
        return {"Body": io.BytesIO(stored.body), "ContentLength": len(stored.body)}


@dataclass(frozen=True)
class _FakePaginator:
    """The store's ``list_objects_v2`` paginator."""

    store: FakeObjectStore

    def paginate(self, **params: Any) -> Iterator[Mapping[str, Any]]:
        """Page after page until the listing is not truncated."""
        page = self.store._page("paginate", dict(params))
        yield page
        while page.get("IsTruncated"):
            page = self.store._page("paginate", {**params, "ContinuationToken": page["NextContinuationToken"]})
            yield page


class FakeMetrics(shared.FakeMetrics):
    """``published``: (namespace, datum) of every data point, each checked against the metric catalog
    (``ops_common.fakes.FakeMetrics``), and what this function's tests ask of them."""

    def values(self, name: str, table: str | None = None) -> list[float]:
        """The published values of metric ``name`` for ``table`` (``None``: the environment-wide series)."""
        return [
            datum.value for _, datum in self.published if datum.name == name and datum.dimensions.get(m.TABLE) == table
        ]


@dataclass(kw_only=True)
class FakeAws:
    """One fake of each repository (source and replica regions, metrics); :meth:`repositories` is what the logic
    takes."""

    source: FakeObjectStore = field(default_factory=FakeObjectStore)
    replica: FakeObjectStore = field(default_factory=FakeObjectStore)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)

    def repositories(self) -> Repositories:
        """The three fakes as the logic takes them."""
        return Repositories(source=self.source, replica=self.replica, metrics=self.metrics)
