"""What every job receives: where the lake lives, which engine writes it, and which batch this is."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Dict, Optional

from pyspark.sql import SparkSession

from .engine import TableEngine

LAYERS = ("landing", "bronze", "silver", "gold")


@dataclass(frozen=True)
class LakeLocations:
    """One URI per layer: locally ``<root>/<layer>``; on AWS one bucket per layer."""

    landing: str
    bronze: str
    silver: str
    gold: str

    @classmethod
    def for_root(cls, root: str) -> LakeLocations:
        root = root.rstrip("/") if "://" in root else os.path.abspath(root)
        return cls(**{layer: f"{root}/{layer}" for layer in LAYERS})

    def layer(self, layer: str) -> str:
        if layer not in LAYERS:
            raise KeyError(f"unknown layer {layer!r}; layers are {', '.join(LAYERS)}")
        return str(getattr(self, layer)).rstrip("/")

    def table_uri(self, name: str) -> str:
        """``bronze.crm_accounts`` -> ``<bronze>/crm_accounts``."""
        layer, table = name.split(".", 1)
        return f"{self.layer(layer)}/{table}"


@dataclass
class RunContext:
    spark: SparkSession
    engine: TableEngine
    locations: LakeLocations
    batch_id: str
    env: str = "local"
    flags: Dict[str, str] = field(default_factory=dict)
    now: Optional[dt.datetime] = None

    def uri(self, table: str) -> str:
        return self.locations.table_uri(table)

    def timestamp(self) -> dt.datetime:
        return self.now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_batch_id(now: Optional[dt.datetime] = None) -> str:
    """Sortable batch ids: ``b20261122T031500Z``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("b%Y%m%dT%H%M%S%fZ")
