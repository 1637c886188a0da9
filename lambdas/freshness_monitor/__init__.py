"""Freshness monitor: minutes since every silver and gold table's last data commit (not maintenance), against
its SLO.

Which tables it checks comes from the contracts (``job_assets.contracts.freshness``), the list the Ops
stack also creates one alarm per table from.
"""

from __future__ import annotations

from job_assets.contracts.freshness import MONITORED_LAYERS, MonitoredTable, monitored_tables

__all__ = ["MONITORED_LAYERS", "MonitoredTable", "monitored_tables"]
