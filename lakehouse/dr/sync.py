"""Copy back to the primary region what the DR region wrote while it served (``lakehouse dr failback``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from .sites import Site


def _objects(s3: Any, bucket: str) -> Iterator[dict[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        yield from page.get("Contents", [])


def _since(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def copy_back(source: Site, target: Site, layers: Iterable[str], *, since: str) -> int:
    """Copy every object of ``source``'s ``layers`` buckets that ``target``'s lacks, holds with another size,
    or that ``source`` wrote at or after ``since`` (the failover: the DR region's own commits and files win
    over what the primary held and never replicated). Nothing is deleted. Returns the objects copied."""
    cutoff = _since(since)
    source_s3, target_s3 = source.client("s3"), target.client("s3")
    copied = 0
    for layer in layers:
        source_bucket, target_bucket = source.bucket(layer), target.bucket(layer)
        present = {o["Key"]: int(o["Size"]) for o in _objects(target_s3, target_bucket)}
        for item in _objects(source_s3, source_bucket):
            key = item["Key"]
            newer = cutoff is not None and item["LastModified"] >= cutoff
            if key in present and present[key] == int(item["Size"]) and not newer:
                continue
            target_s3.copy({"Bucket": source_bucket, "Key": key}, target_bucket, key, SourceClient=source_s3)
            copied += 1
    return copied
