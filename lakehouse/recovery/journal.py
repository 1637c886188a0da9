"""The recovery journal: one JSON line per restore or repair that changed a table.

A local lake keeps it in ``<lake>/_control/recovery.jsonl`` (beside ``promotions.jsonl``). On a deployed
environment the table's own log is the record: a restore's commit carries ``userMetadata`` naming the
operation, the operator and the reason (delta-spark, the default engine); ``lakehouse history TABLE --env E``
shows it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from .writer_guard import CONTROL_DIR, operator

JOURNAL_FILE = "recovery.jsonl"


def entry(operation: str, table: str, **details: Any) -> dict[str, Any]:
    """A journal entry: when, what, on which table, by whom, and the operation's details."""
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return {"at": at, "operation": operation, "table": table, "operator": operator(), **details}


def record(root: Path | None, doc: dict[str, Any]) -> Path | None:
    """Append ``doc`` to a local lake's journal (its path), or nothing for an S3 lake (None)."""
    if root is None:
        return None
    path = root / CONTROL_DIR / JOURNAL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(doc, sort_keys=True) + "\n")
    return path


def read(root: Path) -> list[dict[str, Any]]:
    """The local journal's entries, oldest first ([] when there is none)."""
    path = root / CONTROL_DIR / JOURNAL_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
