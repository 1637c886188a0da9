"""Publish custom CloudWatch metrics (``PutMetricData``, batched at the API's limit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ops_common.aws import client

MAX_DATUMS_PER_CALL = 1000


@dataclass(frozen=True, kw_only=True)
class Datum:
    name: str
    value: float
    unit: str = "None"
    dimensions: Mapping[str, str] = field(default_factory=dict)
    timestamp: dt.datetime | None = None

    def to_api(self) -> dict[str, object]:
        datum: dict[str, object] = {
            "MetricName": self.name,
            "Value": float(self.value),
            "Unit": self.unit,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions.items()],
        }
        if self.timestamp is not None:
            datum["Timestamp"] = self.timestamp
        return datum


def put_metrics(datums: Sequence[Datum], *, namespace: str) -> int:
    """Publish every datum under ``namespace`` (ours: ``metric_names.namespace(env)``); returns how many were sent."""
    cloudwatch = client("cloudwatch")
    for start in range(0, len(datums), MAX_DATUMS_PER_CALL):
        chunk = datums[start : start + MAX_DATUMS_PER_CALL]
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[d.to_api() for d in chunk])
    return len(datums)
