"""``lakehouse replication status|retry``: S3 replication of the lake buckets to the DR region.

``status``: for each layer bucket (named in the environment's deployment parameter, as
``lakehouse recover-deleted`` finds them), its replication rule and replica bucket (read from the bucket's
replication configuration, the deployed truth), and the S3 replication metrics CloudWatch keeps for the rule
(``AWS/S3`` ``OperationsFailedReplication``, ``OperationsPendingReplication``, ``ReplicationLatency``,
dimensions ``SourceBucket``/``DestinationBucket``/``RuleId``; the stacks turn them on with Replication Time
Control) over the last ``--hours``.

``retry``: re-replicate the objects under a prefix that did not make it: those whose source
``ReplicationStatus`` is ``FAILED``, and those with no replica at all (removed by a lifecycle or VACUUM race,
or written before replication was on). Each is copied in place (``CopyObject`` onto itself with
``MetadataDirective=REPLACE`` and what ``HeadObject`` gave: user metadata, content type, encoding, language,
disposition, cache control, expiry, storage class, KMS key; tags are copied; above 5 GiB boto3's managed copy
copies it in parts): S3 replicates the new version like any new write, and a Delta log is indifferent to it (the
key and the bytes are the same). Objects still ``PENDING`` are left to S3.

Why not S3 Batch Replication (``s3control create-job`` with ``S3ReplicateObject``), AWS's tool for this: it
needs a Batch Operations IAM role and a report bucket the stacks do not deploy, and moto implements no
``CreateJob``, so it could not be tested. The copy in place works with what is deployed (the operator's
write access to the bucket) and on moto; for millions of objects, Batch Replication is the better tool and
the console offers it on the bucket's replication page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from s3transfer.exceptions import S3CopyFailedError

from job_assets.contracts.layout import ZONES
from platform_model import aws_names

from ..landing.deleted import RecoverError, layer_location
from .common import OperateError, aws_client, confirmed, error_code, guarded
from .operate import _session, metric_period

METRICS = (
    ("OperationsFailedReplication", "Sum"),
    ("OperationsPendingReplication", "Maximum"),
    ("ReplicationLatency", "Maximum"),
)


@dataclass(frozen=True, kw_only=True)
class Replicated:
    """A layer bucket and where its replication rule sends its objects (``replica`` None: not replicated)."""

    layer: str
    bucket: str
    root: str
    replica: str | None = None
    rule: str = ""


def replicated(env: str, layer: str, *, project: str, region: str | None) -> Replicated:
    """The layer's bucket and its replication rule's destination, from what is deployed."""
    try:
        bucket, root = layer_location(env, layer, project=project, session=_session(region))
    except RecoverError as error:
        raise OperateError(str(error)) from error
    s3 = aws_client("s3", env, region)

    def read() -> dict[str, Any] | None:
        try:
            return s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
        except ClientError as error:
            if error_code(error) == "ReplicationConfigurationNotFoundError":
                return None
            raise

    configuration = guarded(env, f"GetBucketReplication of {bucket}", read)
    enabled = [r for r in (configuration or {}).get("Rules", []) if r.get("Status") == "Enabled"]
    if not enabled:
        return Replicated(layer=layer, bucket=bucket, root=root)
    rule = enabled[0]
    replica = rule["Destination"]["Bucket"].rsplit(":", 1)[-1]
    return Replicated(layer=layer, bucket=bucket, root=root, replica=replica, rule=rule.get("ID", ""))


def _figures(cloudwatch: Any, r: Replicated, hours: int) -> list[str]:
    end = dt.datetime.now(dt.UTC)
    dimensions = [
        {"Name": "SourceBucket", "Value": r.bucket},
        {"Name": "DestinationBucket", "Value": str(r.replica)},
        {"Name": "RuleId", "Value": r.rule},
    ]
    figures = []
    for name, statistic in METRICS:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName=name,
            Dimensions=dimensions,
            StartTime=end - dt.timedelta(hours=hours),
            EndTime=end,
            Period=metric_period(hours, 300),
            Statistics=[statistic],
        )["Datapoints"]
        values = [p[statistic] for p in points]
        total = sum(values) if statistic == "Sum" else max(values, default=None)
        figures.append("no data" if total is None else f"{total:,.4g}")
    return figures


def status(
    env: str,
    *,
    hours: int = 1,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    console: Console,
) -> int:
    """Print each layer bucket's replica and its replication metrics over the last ``hours``."""
    if hours < 1:
        raise OperateError(f"--hours {hours}: give 1 or more")
    buckets = [replicated(env, layer, project=project, region=region) for layer in ZONES]
    cloudwatch = aws_client("cloudwatch", env, region)
    table = Table(title=f"S3 replication of {aws_names.prefix(env, project)}'s lake, last {hours} h")
    for column in ("layer", "bucket", "replica (rule)", "failed operations", "pending (max)", "latency s (max)"):
        table.add_column(column, overflow="fold")
    failed = 0.0
    for r in buckets:
        if r.replica is None:
            table.add_row(r.layer, r.bucket, "not replicated", "", "", "")
            continue
        figures = guarded(env, "GetMetricStatistics", lambda r=r: _figures(cloudwatch, r, hours))
        failed += float(figures[0].replace(",", "")) if figures[0] != "no data" else 0.0
        table.add_row(r.layer, r.bucket, f"{r.replica} ({r.rule})", *figures)
    console.print(table)
    if failed:
        console.print(
            f"[bold]{failed:,.0f} failed replication operation(s)[/]: re-replicate with "
            f"`lakehouse replication retry --env {env} --bucket <layer> --prefix <prefix>`"
        )
    return 0


# --- retry -----------------------------------------------------------------------------------------------------

KEPT_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires", "StorageClass")
"""What HeadObject returns (when set) and the copy in place gives the new version, besides the user metadata,
``ContentType`` and the KMS key: ``MetadataDirective=REPLACE`` keeps only what the request names."""
MAX_COPY_OBJECT = 5 * 1024**3
"""The largest object one CopyObject copies (5 GiB); a larger one is copied in parts."""


def _objects(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from (o["Key"] for o in page.get("Contents", []))


def _has_replica(replica_s3: Any, replica: str, key: str) -> bool:
    try:
        replica_s3.head_object(Bucket=replica, Key=key)
    except ClientError as error:
        if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def unreplicated(s3: Any, replica_s3: Any, r: Replicated, prefix: str) -> tuple[list[str], list[str]]:
    """(keys to re-replicate, keys still PENDING) under ``prefix`` of the layer's root."""
    retry, pending = [], []
    for key in _objects(s3, r.bucket, r.root + prefix):
        state = s3.head_object(Bucket=r.bucket, Key=key).get("ReplicationStatus", "")
        if state == "PENDING":
            pending.append(key)
        elif state == "FAILED" or not _has_replica(replica_s3, str(r.replica), key):
            retry.append(key)
    return retry, pending


def _copy_in_place(s3: Any, bucket: str, key: str) -> None:
    """Copy the object onto itself with its own metadata, headers, storage class and encryption key.

    boto3's managed copy: one CopyObject up to 5 GiB (what CopyObject takes), a multipart copy above it.
    """
    head = s3.head_object(Bucket=bucket, Key=key)
    source = {"Bucket": bucket, "Key": key, **({"VersionId": head["VersionId"]} if "VersionId" in head else {})}
    extra: dict[str, Any] = {
        "MetadataDirective": "REPLACE",
        "TaggingDirective": "COPY",
        "Metadata": head.get("Metadata", {}),
        "ContentType": head.get("ContentType", "binary/octet-stream"),
        **{name: head[name] for name in KEPT_HEADERS if head.get(name)},
    }
    if head.get("SSEKMSKeyId"):
        extra |= {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": head["SSEKMSKeyId"]}
    try:
        s3.copy(source, bucket, key, ExtraArgs=extra, Config=TransferConfig(multipart_threshold=MAX_COPY_OBJECT))
    except S3CopyFailedError as error:  # the object changed during a multipart copy
        raise OperateError(f"s3://{bucket}/{key}: the copy in place failed: {error}") from error


def retry(
    env: str,
    layer: str,
    prefix: str,
    *,
    yes: bool = False,
    project: str = aws_names.DEFAULT_PROJECT,
    region: str | None = None,
    console: Console,
    confirm: Any = None,
) -> int:
    """Copy in place, after confirmation, the objects under ``prefix`` that failed or lack a replica."""
    if layer not in ZONES:
        raise OperateError(f"--bucket {layer!r}: unknown layer; one of {', '.join(ZONES)}")
    r = replicated(env, layer, project=project, region=region)
    if r.replica is None:
        raise OperateError(f"--bucket {layer}: {r.bucket} is not replicated (features.replication is off for {env})")
    s3 = aws_client("s3", env, region)
    where = guarded(env, f"GetBucketLocation of {r.replica}", lambda: s3.get_bucket_location(Bucket=r.replica))
    replica_s3 = aws_client("s3", env, where.get("LocationConstraint") or "us-east-1")
    keys, pending = guarded(env, f"listing {r.bucket}", lambda: unreplicated(s3, replica_s3, r, prefix))
    if pending:
        console.print(f"{len(pending)} object(s) still PENDING replication: left to S3")
    if not keys:
        console.print(
            f"s3://{r.bucket}/{r.root}{prefix}: every object has its replica in {r.replica}: nothing to retry"
        )
        return 0
    for key in keys[:20]:
        console.print(f"  no replica: {escape(key)}")
    question = f"Re-replicate {len(keys)} object(s) of s3://{r.bucket}/{r.root}{prefix} (a copy in place each)?"
    hint = f"lakehouse replication retry --env {env} --bucket {layer} --prefix {prefix}"
    if not confirmed(question, yes=yes, console=console, flag_hint=hint, confirm=confirm):
        console.print("retry cancelled: nothing copied")
        return 1
    for key in keys:
        guarded(env, f"CopyObject of {key}", lambda key=key: _copy_in_place(s3, r.bucket, key))
    console.print(f"re-replicating {len(keys)} object(s) to {r.replica}: a new version of each was written")
    console.print(f"check in a few minutes: `lakehouse replication status --env {env}`")
    return 0
