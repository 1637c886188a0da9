"""Maintenance job: compact (optionally z-order) and vacuum every table of the lake."""

from __future__ import annotations

import logging
from typing import Dict, List, Optional

from ..context import RunContext
from ..contracts import ALL_TABLES
from .common import JobResult, Progress, TableStats

log = logging.getLogger("lakehouse.jobs.maintenance")
JOB = "maintenance"
ZORDER: Dict[str, List[str]] = {
    "silver.orders": ["customer_id", "order_date"],
    "silver.order_items": ["order_id"],
    "silver.opportunities": ["account_id"],
}


def run(
    ctx: RunContext,
    progress: Optional[Progress] = None,
    retention_hours: int = 168,
    layers=("bronze", "silver", "gold"),
) -> JobResult:
    result = JobResult(JOB, ctx.batch_id, engine=ctx.engine.name)
    tables = [t for t in ALL_TABLES if t.layer in layers and ctx.engine.exists(ctx.uri(t.name))]
    for i, t in enumerate(tables):
        if progress:
            progress(f"maintain {t.name}", i, len(tables))
        uri = ctx.uri(t.name)
        before = ctx.engine.version(uri)
        metrics = ctx.engine.optimize(uri, ZORDER.get(t.name))
        removed = ctx.engine.vacuum(uri, retention_hours=retention_hours)
        stats = TableStats(t.name, committed=ctx.engine.version(uri) != before, version=ctx.engine.version(uri))
        stats.errors = {}
        log.info("%s: optimize %s, vacuum removed %d files", t.name, metrics, len(removed))
        result.tables.append(stats)
    return result
