"""What the verifier asks of AWS, one small interface per concern, so its logic runs on any implementation.

* :class:`ObjectStore`: one region's S3 buckets, read only: the Delta logs and the replica's objects.
* :class:`MetricsPublisher`: the verifier's CloudWatch data points.

:class:`Repositories` bundles the source store (the function's region), the replica store (the DR region) and
the metrics. The boto3 implementations, which the handler wires, are in ``aws_repositories``; in-memory fakes
with the same semantics, for tests of the logic, are in ``fakes``.

Why the object store has the shape of an S3 client: the verifier reads every Delta log through
``ops_common.delta_log``, which takes an S3 client and calls exactly ``get_paginator("list_objects_v2")``,
``list_objects_v2``, ``get_object`` and ``exceptions.NoSuchKey``. :class:`ObjectStore` is that subset, so the
shared reader runs unchanged on the fake too, and the logic is tested together with the reader it depends on
(a checkpoint, a gap in the commits, an unparseable log) instead of on a fake of the reader that could drift
from it. Parameters and responses are S3's (``Bucket``, ``Prefix``, ``Contents``, ...).

A failed read raises :class:`RepositoryError` (a missing key: :class:`ObjectMissingError`, which the store
also names ``exceptions.NoSuchKey``, where ``delta_log`` catches it). A failed publish is not handled by the
logic: it fails the run with whatever the publisher raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ops_common import repositories as shared

LIST_OBJECTS = "list_objects_v2"
"""The one paginated operation an :class:`ObjectStore` offers."""


RepositoryError = shared.RepositoryError
"""A failed AWS call (``ops_common.repositories.RepositoryError``, shared by the functions)."""
MetricsPublisher = shared.MetricsPublisher
"""CloudWatch custom metrics (``ops_common.repositories.MetricsPublisher``)."""


class ObjectMissingError(RepositoryError):
    """The key is not in the bucket (S3's ``NoSuchKey``)."""


class StoreExceptions:
    """The errors an :class:`ObjectStore` names, as a boto3 client's ``exceptions`` does."""

    NoSuchKey = ObjectMissingError


class Paginator(Protocol):
    """S3's ``list_objects_v2`` paginator."""

    def paginate(self, **params: Any) -> Iterable[Mapping[str, Any]]:
        """Every page of ``list_objects_v2(**params)``, following the continuation tokens."""
        ...


class ObjectStore(Protocol):
    """One region's S3 buckets, read only (the subset of an S3 client that ``ops_common.delta_log`` calls)."""

    @property
    def exceptions(self) -> type[StoreExceptions]:
        """``exceptions.NoSuchKey``: what :meth:`get_object` raises for a missing key."""
        ...

    def get_paginator(self, operation_name: str) -> Paginator:
        """The paginator of ``list_objects_v2`` (the only operation offered)."""
        ...

    def list_objects_v2(self, **params: Any) -> Mapping[str, Any]:
        """One page: ``Bucket``, ``Prefix``, ``Delimiter``, ``StartAfter``, ``MaxKeys``, ``ContinuationToken`` in;
        ``Contents`` (``Key``, ``Size``, ``LastModified``), ``CommonPrefixes``, ``KeyCount``, ``IsTruncated``,
        ``NextContinuationToken`` out."""
        ...

    def get_object(self, **params: Any) -> Mapping[str, Any]:
        """``Bucket`` and ``Key`` in; ``Body`` (with ``read()``) out. A missing key: :class:`ObjectMissingError`."""
        ...


@dataclass(frozen=True, kw_only=True)
class Repositories:
    """Everything the verifier asks of AWS."""

    source: ObjectStore
    """the source buckets, in the function's region"""
    replica: ObjectStore
    """the replica buckets, in the DR region"""
    metrics: MetricsPublisher
