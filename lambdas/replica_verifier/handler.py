"""Lambda entry point (``replica_verifier.handler.handler``), run on a schedule: see ``verifier.py``."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops_common.tracing import annotate, init_tracing, traced_handler

from .aws_repositories import aws_repositories
from .verifier import BucketPair, verify_replicas

init_tracing()

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class SettingsError(ValueError):
    """An environment variable is missing or invalid (the message names it)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The function's configuration, from its environment variables."""

    environment: str
    """``ENVIRONMENT``: the metrics' ``Environment`` dimension"""
    replica_region: str
    """``REPLICA_REGION``: the DR region the replica buckets live in"""
    bucket_pairs: Mapping[str, BucketPair]
    """``BUCKET_PAIRS``: JSON ``{"<layer>": {"source": "<bucket>", "replica": "<bucket>"}}``"""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and check the variables; :class:`SettingsError` names the first one missing or invalid."""
        environment = _required(environ, "ENVIRONMENT")
        region = _required(environ, "REPLICA_REGION")
        if not _REGION.match(region):
            raise SettingsError(f"environment variable REPLICA_REGION is not an AWS region: {region!r}")
        raw = _required(environ, "BUCKET_PAIRS")
        try:
            pairs = json.loads(raw)
        except json.JSONDecodeError as bad:
            raise SettingsError(f"environment variable BUCKET_PAIRS is not valid JSON: {bad.msg}") from None
        if not isinstance(pairs, dict) or not pairs:
            raise SettingsError(
                "environment variable BUCKET_PAIRS must be a non-empty JSON object "
                '{"<layer>": {"source": "<bucket>", "replica": "<bucket>"}}'
            )
        parsed: dict[str, BucketPair] = {}
        for layer, pair in pairs.items():
            if not isinstance(pair, dict):
                raise SettingsError(f"environment variable BUCKET_PAIRS[{layer!r}] must be an object")
            for side in ("source", "replica"):
                if not isinstance(pair.get(side), str) or not pair[side].strip():
                    raise SettingsError(f"environment variable BUCKET_PAIRS[{layer!r}] has no {side!r} bucket")
            parsed[layer] = BucketPair(source=pair["source"].strip(), replica=pair["replica"].strip())
        return cls(environment=environment, replica_region=region, bucket_pairs=parsed)


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is missing or empty")
    return value


@traced_handler("replica-verifier")
def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Verify every replica through the AWS repositories: the summary (ReplicaCheckError if some were not checked)."""
    settings = Settings.from_env(os.environ)
    results = verify_replicas(
        environment=settings.environment,
        replica_region=settings.replica_region,
        bucket_pairs=settings.bucket_pairs,
        repositories=aws_repositories(settings.replica_region),
    )
    consistent = all(r.consistent for r in results)
    annotate(tables=len(results), consistent=consistent)
    return {
        "environment": settings.environment,
        "replica_region": settings.replica_region,
        "consistent": consistent,
        "tables": [r.as_dict() for r in results],
    }
