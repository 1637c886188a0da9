"""S3 replication latency (CloudWatch ``AWS/S3`` ``ReplicationLatency``) of each replicated bucket."""

from __future__ import annotations

import datetime as dt

from .sites import LAKE_BUCKETS, Site, bucket_of

REPLICATION_RULE_ID = "to-dr-region"
"""The replication rule's id (``cdk/constructs/lake_bucket.py``): a dimension of the metric."""


def replication_latency(primary: Site, *, hours: int = 1) -> dict[str, float | None]:
    """Per layer, the largest ``ReplicationLatency`` (seconds) of the last ``hours``; None when S3 published
    none (no replication traffic, or replication metrics off)."""
    from platform_model import aws_names

    cloudwatch = primary.client("cloudwatch")
    account = primary.client("sts").get_caller_identity()["Account"]
    end = dt.datetime.now(dt.UTC)
    found: dict[str, float | None] = {}
    for layer in LAKE_BUCKETS:
        replica = aws_names.replica_bucket_name(
            primary.setup.env, layer, account=account, dr_region=primary.setup.dr_region, project=primary.setup.project
        )
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName="ReplicationLatency",
            Dimensions=[
                {"Name": "SourceBucket", "Value": bucket_of(f"s3://{primary.bucket(layer)}/")},
                {"Name": "DestinationBucket", "Value": replica},
                {"Name": "RuleId", "Value": REPLICATION_RULE_ID},
            ],
            StartTime=end - dt.timedelta(hours=hours),
            EndTime=end,
            Period=300,
            Statistics=["Maximum"],
        )["Datapoints"]
        found[layer] = max((p["Maximum"] for p in points), default=None)
    return found
