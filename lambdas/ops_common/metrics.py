"""Publish custom CloudWatch metrics (``PutMetricData``, batched at the API's limit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from job_assets.contracts import metrics as catalog
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


def check_against_catalog(datum: Datum) -> None:
    """``ValueError`` unless the datum is a catalog metric of ours with exactly its dimensions and unit.

    Alarms and dashboards query the catalog's dimension sets: a data point with another set would be a
    series nobody watches, so it fails loudly here (and in every Lambda test) instead.
    """
    specs = [m for m in catalog.METRICS if m.ours and m.name == datum.name]
    if not specs:
        raise ValueError(f"metric {datum.name!r} is not in the metric catalog (job_assets/contracts/metrics.py)")
    dims = set(datum.dimensions)
    if not any(set(m.dimensions) == dims and m.unit == datum.unit for m in specs):
        known = "; ".join(f"{', '.join(m.dimensions)} in {m.unit}" for m in specs)
        raise ValueError(
            f"metric {datum.name} with dimensions {sorted(dims)} in {datum.unit} matches no catalog entry ({known})"
        )


def put_metrics(datums: Sequence[Datum], *, namespace: str) -> int:
    """Publish every datum under ``namespace`` (ours: ``metric_names.namespace(env)``); returns how many were sent."""
    for datum in datums:
        check_against_catalog(datum)
    cloudwatch = client("cloudwatch")
    for start in range(0, len(datums), MAX_DATUMS_PER_CALL):
        chunk = datums[start : start + MAX_DATUMS_PER_CALL]
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[d.to_api() for d in chunk])
    return len(datums)
