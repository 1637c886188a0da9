"""One JSON object per log line, so CloudWatch Logs Insights can filter on any field."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any


def log(level: str, message: str, **fields: Any) -> dict[str, Any]:
    """Write ``{"ts", "level", "message", **fields}`` to stdout and return it (tests read it back)."""
    record = {
        "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "level": level.upper(),
        "message": message,
        **fields,
    }
    sys.stdout.write(json.dumps(record, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()
    return record


def info(message: str, **fields: Any) -> dict[str, Any]:
    return log("INFO", message, **fields)


def warning(message: str, **fields: Any) -> dict[str, Any]:
    return log("WARNING", message, **fields)


def error(message: str, **fields: Any) -> dict[str, Any]:
    return log("ERROR", message, **fields)
