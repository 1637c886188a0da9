"""What every job receives: where the lake lives, which engine writes it, and which batch this is."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from typing import Dict, Optional

from pyspark.sql import SparkSession

from .contracts import REGISTRY
from .contracts.layout import SLOTS, ZONES
from .contracts.model import TableContract
from .engine import TableEngine

__all__ = ["SLOTS", "ZONES"]  # re-exported for the jobs and the CLI
CONTROL_DIR = "_control"
SLOTS_FILE = "slots.json"


def active_slot(root: str) -> str:
    """The published gold slot of a local lake: ``<root>/_control/slots.json`` (the stand-in for the SSM
    parameter ``/lakehouse/<env>/slots``), ``blue`` when nobody has promoted yet."""
    path = os.path.join(root, CONTROL_DIR, SLOTS_FILE)
    if not os.path.exists(path):
        return SLOTS[0]
    try:
        with open(path, encoding="utf-8") as fh:
            active = json.load(fh)["active"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a slots document ({error})") from error
    if active not in SLOTS:
        raise ValueError(f"{path}: active slot {active!r} is not one of {', '.join(SLOTS)}")
    return str(active)


@dataclass(frozen=True)
class LakeLocations:
    """One URI per layer: locally ``<root>/<layer>``; on AWS one bucket per layer."""

    landing: str
    bronze: str
    silver: str
    gold: str

    @classmethod
    def for_root(cls, root: str, gold_slot: Optional[str] = None) -> LakeLocations:
        """Every layer under one folder; gold is the published slot's folder ``<root>/gold/<slot>``
        (``gold_slot`` picks another one, e.g. the audit's shadow slot)."""
        root = root.rstrip("/") if "://" in root else os.path.abspath(root)
        if gold_slot is None:
            gold_slot = SLOTS[0] if "://" in root else active_slot(root)
        if gold_slot not in SLOTS:
            raise ValueError(f"unknown gold slot {gold_slot!r}; slots are {', '.join(SLOTS)}")
        uris = {layer: f"{root}/{layer}" for layer in ZONES}
        uris["gold"] = f"{root}/gold/{gold_slot}"
        return cls(**uris)

    def layer(self, layer: str) -> str:
        if layer not in ZONES:
            raise KeyError(f"unknown layer {layer!r}; layers are {', '.join(ZONES)}")
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
        """Where ``table`` (``layer.table``) lives; the engine learns the properties a first write gives it."""
        uri = self.locations.table_uri(table)
        if table in REGISTRY:
            self.engine.declare(uri, table_properties(REGISTRY[table]))
        return uri

    def timestamp(self) -> dt.datetime:
        return self.now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def table_properties(c: TableContract) -> Dict[str, str]:
    """The Delta table properties a table of contract ``c`` is created with (either engine): statistics on
    the columns rows are matched and selected by only (:attr:`TableContract.stats_columns`), and the change
    data feed where the contract asks for it (:attr:`TableContract.change_feed`)."""
    properties = {"delta.dataSkippingStatsColumns": ",".join(c.stats_columns)}
    if c.change_feed:  # protocol 1/4, the lowest with the feed and no table features (docs/adr/0011)
        properties.update({"delta.enableChangeDataFeed": "true", "delta.minWriterVersion": "4"})
    return properties


def new_batch_id(now: Optional[dt.datetime] = None) -> str:
    """Sortable batch ids: ``b20261122T031500Z``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("b%Y%m%dT%H%M%S%fZ")
