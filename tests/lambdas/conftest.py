"""Operational Lambda tests: moto for AWS, the function code imported as Lambda imports it.

The Lambda code asset's root is ``lambdas/`` (``ops_common`` and one package per function are top-level
there) plus ``job_assets/contracts``; tests see the same import roots. X-Ray is disabled here (no segment
outside Lambda) except in the test that checks subsegments with a local emitter.
(No ``__init__.py`` in this folder: test modules are named uniquely instead.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
for root in (REPO_ROOT / "lambdas", REPO_ROOT):
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))

os.environ["AWS_XRAY_SDK_ENABLED"] = "false"
os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = "eu-west-1"
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
    os.environ[_name] = "testing"
os.environ.pop("AWS_PROFILE", None)

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402
from ops_common.aws import reset_clients  # noqa: E402

REGION = "eu-west-1"


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account for one test; cached clients are dropped before and after."""
    reset_clients()
    with mock_aws():
        yield
    reset_clients()


class LambdaContext:
    """The parts of Lambda's context object the handlers use."""

    def __init__(self, remaining_ms: int = 60_000, name: str = "test-function") -> None:
        self.remaining_ms = remaining_ms
        self.function_name = name
        self.aws_request_id = "req-0001"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
