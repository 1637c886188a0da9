"""Lambda entry point (``freshness_monitor.handler.handler``), run on a schedule: see ``freshness.py``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops_common.tracing import annotate, init_tracing, traced_handler

from . import MONITORED_LAYERS
from .aws_repositories import aws_repositories
from .freshness import check_freshness

init_tracing()


class SettingsError(ValueError):
    """An environment variable is missing or invalid (the message names it)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The function's environment variables, checked."""

    environment: str
    """``ENVIRONMENT``: the metrics' ``Environment`` dimension (dev, staging, prod)"""
    layer_buckets: Mapping[str, str]
    """``LAYER_BUCKETS``: JSON ``{"silver": "<bucket>", "gold": "<bucket>"}``"""
    slots_parameter: str
    """``SLOTS_PARAMETER``: the SSM parameter naming the active blue/green slot (``/<project>/<env>/slots``)"""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings of ``environ``; :class:`SettingsError` naming the first variable missing or invalid."""
        environment = environ.get("ENVIRONMENT", "").strip()
        if not environment:
            raise SettingsError("environment variable ENVIRONMENT is missing or empty")
        raw = environ.get("LAYER_BUCKETS", "").strip()
        if not raw:
            raise SettingsError("environment variable LAYER_BUCKETS is missing or empty")
        try:
            buckets = json.loads(raw)
        except json.JSONDecodeError as bad:
            raise SettingsError(f"environment variable LAYER_BUCKETS is not valid JSON: {bad.msg}") from None
        if not isinstance(buckets, dict):
            raise SettingsError('environment variable LAYER_BUCKETS must be a JSON object {"<layer>": "<bucket>"}')
        for layer in MONITORED_LAYERS:
            bucket = buckets.get(layer)
            if not isinstance(bucket, str) or not bucket.strip():
                raise SettingsError(f"environment variable LAYER_BUCKETS has no bucket for layer {layer!r}")
        slots_parameter = environ.get("SLOTS_PARAMETER", "").strip()
        if not slots_parameter:
            raise SettingsError("environment variable SLOTS_PARAMETER is missing or empty")
        return cls(
            environment=environment,
            layer_buckets={layer: buckets[layer].strip() for layer in MONITORED_LAYERS},
            slots_parameter=slots_parameter,
        )


@traced_handler("freshness-monitor")
def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Check every monitored table on the AWS repositories; the summary (every table's result) as JSON values."""
    settings = Settings.from_env(os.environ)
    results = check_freshness(
        environment=settings.environment,
        layer_buckets=settings.layer_buckets,
        slots_parameter=settings.slots_parameter,
        repositories=aws_repositories(),
    )
    slots = {r.slot for r in results if r.slot is not None}
    summary = {
        "environment": settings.environment,
        "active_slot": slots.pop() if slots else None,
        "tables": [r.as_dict() for r in results],
        "published": sum(1 for r in results if r.freshness_minutes is not None),
        "breached": [r.table for r in results if r.breached],
    }
    annotate(tables=len(results), breached=len(summary["breached"]))
    return summary
