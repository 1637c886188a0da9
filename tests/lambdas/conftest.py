"""Operational Lambda tests: moto for AWS (the ``aws`` fixture of tests/conftest.py), the function code imported
as Lambda imports it.

The Lambda code asset's root is ``lambdas/`` (``ops_common`` and one package per function are top-level
there) plus ``job_assets/contracts``; tests/conftest.py puts the same import roots on the path and disables
X-Ray (no segment outside Lambda) except in the test that checks subsegments with a local emitter.
(No ``__init__.py`` in this folder: test modules are named uniquely instead.)
"""

from __future__ import annotations

import pytest

REGION = "eu-west-1"


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
