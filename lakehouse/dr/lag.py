"""S3 replication latency (CloudWatch ``AWS/S3`` ``ReplicationLatency``) of each replicated bucket."""

from __future__ import annotations

import datetime as dt

from .sites import LAKE_BUCKETS, Site

REPLICATION_RULE_ID = "to-dr-region"
"""The replication rule's id (``cdk/constructs/lake_bucket.py``): a dimension of the metric."""


def replication_latency(primary: Site, replica: Site, *, hours: int = 1) -> dict[str, float | None]:
    """Per layer, the largest ``ReplicationLatency`` (seconds) from ``primary``'s bucket to ``replica``'s in
    the last ``hours`` (S3 publishes it in the source region); None when S3 published none (no replication
    traffic, or replication metrics off)."""
    cloudwatch = primary.client("cloudwatch")
    end = dt.datetime.now(dt.UTC)
    found: dict[str, float | None] = {}
    for layer in LAKE_BUCKETS:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName="ReplicationLatency",
            Dimensions=[
                {"Name": "SourceBucket", "Value": primary.bucket(layer)},
                {"Name": "DestinationBucket", "Value": replica.bucket(layer)},
                {"Name": "RuleId", "Value": REPLICATION_RULE_ID},
            ],
            StartTime=end - dt.timedelta(hours=hours),
            EndTime=end,
            Period=300,
            Statistics=["Maximum"],
        )["Datapoints"]
        found[layer] = max((p["Maximum"] for p in points), default=None)
    return found
