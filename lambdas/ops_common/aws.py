"""Lazily created, cached boto3 clients with adaptive retries (throttling is retried before it surfaces)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=5, read_timeout=30)
_clients: dict[tuple[str, str | None], Any] = {}


def client(service: str, region: str | None = None) -> Any:
    """One client per (service, region) per process; the first call creates it."""
    key = (service, region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    if key not in _clients:
        _clients[key] = boto3.client(service, region_name=key[1], config=RETRY_CONFIG)
    return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests start a fresh moto backend per test)."""
    _clients.clear()


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError (``""`` for anything else)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
    }
)


def is_throttling(error: BaseException) -> bool:
    return error_code(error) in THROTTLING_CODES
