"""The monthly cost of one environment at a number of landing records a day, by component.

Every figure is ``quantity x unit price``: quantities come from the environment's settings in ``cdk.json``
(:mod:`.settings`), the measured figures and stated assumptions of ``measured.json`` and the records a day;
unit prices from ``prices.json`` for the region the resource lives in (:mod:`.data`). The model itself is
written out in docs/guides/COST_OPTIMIZATION.md ("How the estimate is computed"). GB are 2^30 bytes, TB 2^40,
a month is 365/12 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .data import Measured, PriceTable
from .settings import EnvSettings

GB = 2**30
TB = 2**40
JOBS = ("bronze", "silver", "gold")
REPLICATED_LAYERS = ("landing", "bronze", "silver", "gold")
REPLICATION_METRICS_PER_RULE = 3
"""S3 replication metrics per rule: bytes pending, operations pending, replication latency."""
IA_MINIMUM_DAYS = 30
GLACIER_MINIMUM_DAYS = 90
ATHENA_MINIMUM_BYTES = 10 * 2**20


@dataclass(frozen=True)
class Line:
    """One priced quantity: ``usd = quantity x unit_usd`` (``unit_usd`` per one ``unit``)."""

    item: str
    quantity: float
    unit: str
    price: str
    unit_usd: float

    @property
    def usd(self) -> float:
        """Monthly USD of this line."""
        return self.quantity * self.unit_usd


@dataclass(frozen=True)
class Component:
    """One row of the breakdown (EMR Serverless, S3 storage, ...) and the lines it adds up."""

    name: str
    lines: tuple[Line, ...]

    @property
    def usd(self) -> float:
        """Monthly USD of the component."""
        return sum(line.usd for line in self.lines)


@dataclass(frozen=True)
class Estimate:
    """The monthly estimate of one environment at ``records_per_day``, and what it rests on."""

    env: str
    region: str
    dr_region: str
    records_per_day: int
    history_days: int
    components: tuple[Component, ...]
    records_per_month: float
    landing_bytes_per_month: float
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Monthly USD of every component."""
        return sum(c.usd for c in self.components)

    @property
    def per_million_records(self) -> float:
        """Monthly USD per million landing records of the month."""
        return self.total / (self.records_per_month / 1e6)

    @property
    def per_tb_processed(self) -> float:
        """Monthly USD per TB of landing files processed in the month."""
        return self.total / (self.landing_bytes_per_month / TB)


@dataclass(frozen=True)
class Inputs:
    """Everything one estimate reads, and the unit prices of its primary and DR regions."""

    env: EnvSettings
    prices: PriceTable
    measured: Measured
    records_per_day: int
    history_days: int
    athena_queries_per_day: float

    @property
    def days(self) -> float:
        """Days in a month."""
        return float(self.measured.assumed("days_per_month"))

    @property
    def records_per_run(self) -> float:
        """Landing records of one pipeline run (the day's records split over the day's runs)."""
        return self.records_per_day / self.env.pipeline_runs_per_day

    def line(self, item: str, quantity: float, unit: str, price: str, *, dr: bool = False) -> Line:
        """A line priced in the primary region (``dr``: the DR region)."""
        region = self.env.dr_region if dr else self.env.region
        return Line(item, quantity, unit, f"{region}:{price}", self.prices.unit_price(region, price))

    def daily_bytes(self) -> dict[str, float]:
        """Bytes a day's records add to each layer."""
        per_million = self.measured.layer_bytes_per_million()
        return {layer: b * self.records_per_day / 1e6 for layer, b in per_million.items()}

    def landing_objects_per_run(self) -> int:
        """Landing files of one run: as many per million records as measured at 1M, no fewer than at 100k."""
        at_1m = self.measured.raw["storage"]["landing_bytes_per_million"]["files"]
        at_100k = self.measured.raw["storage"]["lake_100k"]["landing_files"]
        return max(at_100k, math.ceil(at_1m * self.records_per_run / 1e6))
