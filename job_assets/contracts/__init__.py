"""Table contracts: the single source for jobs, data quality, catalog docs and lineage."""

from __future__ import annotations

from typing import Dict

from .bronze import BRONZE_TABLES
from .gold import GOLD_TABLES
from .landing import LANDING_BY_NAME, LANDING_ENTITIES
from .model import ERROR_CODES, Column, LandingEntity, LandingField, Rule, TableContract
from .ops import OPS_TABLES
from .silver import SILVER_CURRENT, SILVER_TABLES

ALL_TABLES = BRONZE_TABLES + SILVER_TABLES + GOLD_TABLES + OPS_TABLES
REGISTRY: Dict[str, TableContract] = {t.name: t for t in ALL_TABLES}


def contract(name: str) -> TableContract:
    """Look a contract up by ``layer.table``; an unknown name lists the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown table {name!r}; known tables: {known}") from None


__all__ = [
    "ALL_TABLES",
    "BRONZE_TABLES",
    "ERROR_CODES",
    "GOLD_TABLES",
    "LANDING_BY_NAME",
    "LANDING_ENTITIES",
    "OPS_TABLES",
    "REGISTRY",
    "SILVER_CURRENT",
    "SILVER_TABLES",
    "Column",
    "LandingEntity",
    "LandingField",
    "Rule",
    "TableContract",
    "contract",
]
