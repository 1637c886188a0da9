"""Freshness monitor: minutes since every silver and gold table's last Delta commit, against its SLO.

:func:`monitored_tables` lives here, not in ``freshness.py``, so the CDK stack can import it (as
``lambdas.freshness_monitor``) to create one alarm per table without importing the Lambda's runtime
modules: it needs only the pure-Python contracts.
"""

from __future__ import annotations

from typing import NamedTuple

from job_assets.contracts import GOLD_TABLES, SILVER_TABLES

MONITORED_LAYERS = ("silver", "gold")


class MonitoredTable(NamedTuple):
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
