"""Last runs of ``lakehouse lineage graph``: each table's last run from a local lake's lineage events."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from job_assets import lineage as events_lib

# --- last runs from the lake's lineage events ---------------------------------------------------------------------


def last_runs(lake_root: Path | str | None) -> dict[str, dict[str, Any]]:
    """table -> its last COMPLETE event's figures (``job``, ``eventTime``, ``rowCount``), from the local lake's
    ``_lineage/events.jsonl``; empty when there is none."""
    if lake_root is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for event in events_lib.read_events(os.path.join(str(lake_root), events_lib.LINEAGE_DIR)):
        if event.get("eventType") != "COMPLETE":
            continue
        for d in event.get("outputs", []):
            stats = d.get("outputFacets", {}).get("outputStatistics")
            table = d.get("facets", {}).get("lakehouse_table", {}).get("table")
            if table and stats is not None:
                out[table] = {
                    "job": event.get("job", {}).get("name", ""),
                    "eventTime": event.get("eventTime", ""),
                    "rowCount": stats.get("rowCount"),
                }
    return out
