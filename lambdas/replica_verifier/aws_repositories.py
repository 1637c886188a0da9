"""The repositories on AWS (boto3): the source and the replica buckets in S3, the metrics in CloudWatch
(:func:`aws_repositories` wires them for the DR region).

No client is created at import or construction: each call takes ``ops_common.aws.client``'s cached client
(adaptive retries: throttling is retried before it surfaces). Each call is passed to that client as it is
(same operation, same parameters, so the same requests in the same order as when the verifier held the
clients itself); botocore errors become :class:`RepositoryError` with the AWS error code and the botocore
class name, which the verifier logs as before.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from ops_common.aws import client
from ops_common.aws_repositories import CloudWatchMetrics, aws_call

from replica_verifier.repositories import (
    LIST_OBJECTS,
    ObjectMissingError,
    Repositories,
    StoreExceptions,
)

MISSING_KEY_CODES = frozenset({"NoSuchKey", "404"})
"""AWS error codes of a GetObject whose key is not there (S3 answers ``404`` on some paths)."""
MISSING_KEY = MappingProxyType(dict.fromkeys(MISSING_KEY_CODES, ObjectMissingError))
"""GetObject's error classes (``aws_call``'s ``error_classes``): a missing key is an :class:`ObjectMissingError`."""


class S3ObjectStore:
    """The S3 buckets of one region (``None``: the function's own), through the cached client of that region."""

    exceptions = StoreExceptions

    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def get_paginator(self, operation_name: str) -> _S3ListPaginator:
        """The ``list_objects_v2`` paginator (S3's own, under the error conversion)."""
        if operation_name != LIST_OBJECTS:
            raise ValueError(f"only {LIST_OBJECTS} is paginated here, not {operation_name!r}")
        return _S3ListPaginator(self.region)

    def list_objects_v2(self, **params: Any) -> Mapping[str, Any]:
        """ListObjectsV2, one page."""
        with aws_call():
            return client("s3", self.region).list_objects_v2(**params)  # type: ignore[no-any-return]

    def get_object(self, **params: Any) -> Mapping[str, Any]:
        """GetObject; the body is read here (a failed read is a failed call) and returned as ``io.BytesIO``."""
        with aws_call(error_classes=MISSING_KEY):
            response = client("s3", self.region).get_object(**params)
            body = response["Body"].read()
        return {**response, "Body": io.BytesIO(body)}


class _S3ListPaginator:
    """S3's ``list_objects_v2`` paginator of ``region``; errors while paging become :class:`RepositoryError`."""

    def __init__(self, region: str | None) -> None:
        self.region = region

    def paginate(self, **params: Any) -> Iterator[Mapping[str, Any]]:
        """ListObjectsV2 page after page, as S3's paginator pages."""
        with aws_call():
            yield from client("s3", self.region).get_paginator(LIST_OBJECTS).paginate(**params)


def aws_repositories(replica_region: str) -> Repositories:
    """The repositories the deployed function uses: its region's buckets, ``replica_region``'s, CloudWatch.

    The metrics' errors are not converted: the verifier does not handle a failed publish, which fails the
    invocation with botocore's error, as before this interface.
    """
    return Repositories(
        source=S3ObjectStore(), replica=S3ObjectStore(replica_region), metrics=CloudWatchMetrics(convert_errors=False)
    )
