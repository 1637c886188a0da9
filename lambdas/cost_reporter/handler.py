"""Lambda entry point (``cost_reporter.handler.handler``), invoked by EventBridge: see ``cost.py``."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops_common.tracing import annotate, init_tracing, traced_handler

from .aws_repositories import aws_repositories
from .cost import Prices, report_cost

init_tracing()

PRICE_KEYS = ("vcpu_hour", "memory_gb_hour", "storage_gb_hour")
_APPLICATION_ID = re.compile(r"^[0-9a-z]{1,64}$")


class SettingsError(ValueError):
    """An environment variable is missing or invalid (the message names it)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str
    """``ENVIRONMENT``: the metrics' ``Environment`` dimension (dev, staging, prod)"""
    prices: Prices
    """``PRICES``: JSON ``{"vcpu_hour": 0.04210, "memory_gb_hour": 0.00462, "storage_gb_hour": 0.000111}``"""
    layer_buckets: Mapping[str, str]
    """``LAYER_BUCKETS``: JSON ``{"bronze": "<bucket>", "silver": "<bucket>", "gold": "<bucket>"}``"""
    slots_parameter: str
    """``SLOTS_PARAMETER``: the SSM parameter naming the active blue/green slot (gold's run summary is per slot)"""
    application_id: str | None = None
    """``APPLICATION_ID`` (optional): job runs of any other EMR Serverless application are ignored"""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        environment = _required(environ, "ENVIRONMENT")
        raw_prices = _json_object(
            environ, "PRICES", '{"vcpu_hour": ..., "memory_gb_hour": ..., "storage_gb_hour": ...}'
        )
        values: dict[str, float] = {}
        for key in PRICE_KEYS:
            value = raw_prices.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise SettingsError(
                    f"environment variable PRICES needs {key!r} as a non-negative number, got {value!r}"
                )
            values[key] = value
        buckets = _json_object(environ, "LAYER_BUCKETS", '{"<layer>": "<bucket>"}')
        if not buckets:
            raise SettingsError("environment variable LAYER_BUCKETS names no layer bucket")
        for layer, bucket in buckets.items():
            if not isinstance(bucket, str) or not bucket.strip():
                raise SettingsError(f"environment variable LAYER_BUCKETS has no bucket for layer {layer!r}")
        slots_parameter = _required(environ, "SLOTS_PARAMETER")
        application_id = environ.get("APPLICATION_ID", "").strip() or None
        if application_id is not None and not _APPLICATION_ID.match(application_id):
            raise SettingsError(
                f"environment variable APPLICATION_ID is not an EMR Serverless application id: {application_id!r}"
            )
        return cls(
            environment=environment,
            prices=Prices.of(**values),
            layer_buckets={layer: bucket.strip() for layer, bucket in buckets.items()},
            slots_parameter=slots_parameter,
            application_id=application_id,
        )


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is missing or empty")
    return value


def _json_object(environ: Mapping[str, str], name: str, shape: str) -> dict[str, Any]:
    raw = _required(environ, name)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as bad:
        raise SettingsError(f"environment variable {name} is not valid JSON: {bad.msg}") from None
    if not isinstance(value, dict):
        raise SettingsError(f"environment variable {name} must be a JSON object {shape}")
    return value


@traced_handler("cost-reporter")
def handler(event: Any, context: Any) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    result = report_cost(
        event,
        environment=settings.environment,
        prices=settings.prices,
        layer_buckets=settings.layer_buckets,
        slots_parameter=settings.slots_parameter,
        application_id=settings.application_id,
        repositories=aws_repositories(),
    )
    annotate(published=len(result.get("published", {})), job=str(result.get("job", "")))
    return result
