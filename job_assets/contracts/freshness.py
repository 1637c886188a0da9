"""Which tables carry a freshness SLO: the freshness monitor Lambda checks them, the Ops stack alarms on them.

Derived from the contracts (``freshness_slo_minutes``), so the function and its alarms always cover the
same tables.
"""

from __future__ import annotations

from typing import NamedTuple

from .gold import GOLD_TABLES
from .silver import SILVER_TABLES

MONITORED_LAYERS = ("silver", "gold")


class MonitoredTable(NamedTuple):
    """A table whose freshness the freshness monitor measures against its contract's SLO."""

    name: str
    """``layer.table``, e.g. ``silver.orders`` (the metric's ``Table`` dimension)"""
    layer: str
    slo_minutes: int
    """the contract's ``freshness_slo_minutes``: the alarm threshold"""

    @property
    def prefix(self) -> str:
        """Where the table lives in its layer's bucket: ``silver.orders`` -> ``orders``."""
        return self.name.split(".", 1)[1]


def monitored_tables() -> tuple[MonitoredTable, ...]:
    """Every silver and gold table whose contract declares a freshness SLO, in contract order."""
    return tuple(
        MonitoredTable(contract.name, contract.layer, int(contract.freshness_slo_minutes))
        for contract in (*SILVER_TABLES, *GOLD_TABLES)
        if contract.freshness_slo_minutes is not None
    )


__all__ = ["MONITORED_LAYERS", "MonitoredTable", "monitored_tables"]
