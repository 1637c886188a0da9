"""Unit tests of the Lambdas' logic run on fakes: any boto3 client requested is a failure."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest


def refuse_aws_clients(monkeypatch: pytest.MonkeyPatch, *modules: ModuleType) -> None:
    """Make ``boto3.client`` and the ``client`` factory each of ``modules`` imported raise AssertionError."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"an AWS client was requested in a unit test: {args} {kwargs}")

    for module in modules:
        monkeypatch.setattr(module, "client", refuse)
    monkeypatch.setattr("boto3.client", refuse)
