"""The cost model's committed inputs: the dated price table (``prices.json``) and the measured figures and
stated assumptions (``measured.json``), both next to this module."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

HERE = Path(__file__).resolve().parent
PRICES_FILE = HERE / "prices.json"
MEASURED_FILE = HERE / "measured.json"
_DIVISORS = {"_per_1000": 1_000, "_per_10000": 10_000, "_per_million": 1_000_000}


def read_json(path: Path) -> dict[str, Any]:
    """A committed JSON input of the model; a missing or broken file is one clear line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: cannot read the cost model's input ({error})") from None


@dataclass(frozen=True)
class PriceTable:
    """``prices.json``: USD list prices per region, each with its source page and whether it was verified."""

    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceTable:
        """The committed price table."""
        return cls(read_json(path))

    @property
    def as_of(self) -> str:
        """The date the prices were written down."""
        return str(self.raw["as_of"])

    def entry(self, region: str, key: str) -> dict[str, Any]:
        """One price of one region; a region the table lacks is bad input."""
        regions = self.raw["regions"]
        if region not in regions:
            raise UsageError(f"region {region}: no prices in {PRICES_FILE.name}; add a {region!r} block")
        return regions[region][key]

    def unit_price(self, region: str, key: str) -> float:
        """USD per single unit: a ``*_per_1000`` price is divided by 1,000 (likewise 10,000 and a million)."""
        divisor = next((d for suffix, d in _DIVISORS.items() if key.endswith(suffix)), 1)
        return float(self.entry(region, key)["usd"]) / divisor

    def unverified(self, regions: tuple[str, ...]) -> list[str]:
        """``region:key`` of every price of ``regions`` not checked against its source page."""
        return [
            f"{region}:{key}"
            for region in regions
            for key, entry in self.raw["regions"][region].items()
            if not entry.get("verified", False)
        ]


@dataclass(frozen=True)
class Measured:
    """``measured.json``: figures measured in this repository (with engine, date, source) and assumptions."""

    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path = MEASURED_FILE) -> Measured:
        """The committed measurements."""
        return cls(read_json(path))

    def value(self, section: str, key: str) -> Any:
        """``raw[section][key]["value"]``."""
        return self.raw[section][key]["value"]

    def assumed(self, key: str) -> Any:
        """An assumption's value (or its whole entry when it has no single value)."""
        entry = self.raw["assumed"][key]
        return entry.get("value", entry)

    def inventory(self, env: str) -> dict[str, Any]:
        """What the environment's synthesized stacks hold (keys, alarms, dashboards, functions, endpoints)."""
        return self.raw["inventory"][env]

    def layer_bytes_per_million(self) -> dict[str, float]:
        """Bytes each layer holds per million landing records: landing measured at 1M, the table layers in the
        proportion to landing measured on the 100k lake."""
        landing = float(self.value("storage", "landing_bytes_per_million"))
        lake = self.value("storage", "lake_100k")
        return {layer: landing * lake[layer] / lake["landing"] for layer in ("landing", "bronze", "silver", "gold")}
