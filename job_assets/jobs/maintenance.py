"""Maintenance job: compact (optionally z-order) and vacuum every table of the lake."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

from ..context import RunContext
from ..contracts import ALL_TABLES
from .bronze import parallelism
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
    """Compact then vacuum every table, several tables at once (``TABLES_AT_ONCE``): tables are independent,
    and most of the work is Delta's driver-side planning and object-store listing, not executor time."""
    result = JobResult(JOB, ctx.batch_id, engine=ctx.engine.name)
    tables = [t for t in ALL_TABLES if t.layer in layers and ctx.engine.exists(ctx.uri(t.name))]
    done: List[str] = []
    lock = threading.Lock()

    def maintain(name: str) -> TableStats:
        uri = ctx.uri(name)
        before = ctx.engine.version(uri)
        metrics = ctx.engine.optimize(uri, ZORDER.get(name))
        removed = ctx.engine.vacuum(uri, retention_hours=retention_hours)
        after = ctx.engine.version(uri)
        log.info("%s: optimize %s, vacuum removed %d files", name, metrics, len(removed))
        with lock:
            done.append(name)
            if progress:
                progress(f"maintained {name}", len(done), len(tables))
        return TableStats(name, committed=after != before, version=after, errors={})

    with ThreadPoolExecutor(max_workers=parallelism(len(tables)), thread_name_prefix="maint") as pool:
        result.tables = list(pool.map(maintain, [t.name for t in tables]))  # contract order, whatever finishes first
    return result
