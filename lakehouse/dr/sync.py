"""Copy back to the primary region what the DR region wrote while it served (``lakehouse dr failback``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from .replica import TableState, table_paths
from .sites import Site

ABANDONED = "_recovery/abandoned"
"""Where failback sets aside, inside a table's prefix, the primary's commits the DR region never had."""


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


def set_aside_abandoned(primary: Site, tables: Iterable[TableState], failback_id: str) -> list[str]:
    """Move each table's commits beyond the DR region's newest (and any checkpoint of them, and a
    ``_last_checkpoint`` naming one) to ``<table>/_recovery/abandoned/<failback_id>/``: copied, then deleted
    (a versioned bucket keeps them anyway). Returns the keys moved."""
    where = {name: (layer, key) for name, layer, key in table_paths()}
    s3, moved = primary.client("s3"), []
    for state in tables:
        layer, prefix = where[state.table]
        bucket = primary.bucket(layer)
        log = f"{prefix}/_delta_log/"
        for item in list(_objects_under(s3, bucket, log)):
            if _abandoned(s3, bucket, item["Key"], log, state):
                target = f"{prefix}/{ABANDONED}/{failback_id}/_delta_log/{item['Key'][len(log) :]}"
                s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": item["Key"]})
                s3.delete_object(Bucket=bucket, Key=item["Key"])
                moved.append(f"s3://{bucket}/{item['Key']}")
    return moved


def _objects_under(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        yield from page.get("Contents", [])


def _abandoned(s3: Any, bucket: str, key: str, log: str, state: TableState) -> bool:
    """A log file of a version beyond the DR region's newest (``state.source_version``)."""
    name = key[len(log) :]
    newest = int(state.source_version or 0)
    if name == "_last_checkpoint":
        import json

        named = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).get("version", -1)
        return int(named) > newest
    head = name.split(".", 1)[0]
    return head.isdigit() and int(head) > newest
