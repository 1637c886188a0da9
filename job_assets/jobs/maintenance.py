"""Maintenance job: compact and vacuum every table of the lake."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional

from ..context import RunContext
from ..contracts import ALL_TABLES
from .bronze import parallelism
from .common import JobResult, Progress, TableStats

log = logging.getLogger("lakehouse.jobs.maintenance")
JOB = "maintenance"


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
        # compaction only, no Z-order: gold reads silver whole and the merges match on the keys, so no selective
        # filter would use it, and delta-spark refuses to Z-order on columns without statistics (a table keeps
        # them on its contract's stats_columns only)
        metrics = ctx.engine.optimize(uri)
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
