"""Session fixtures: every environment is synthesized once, with the compliance packs, and shared.

Synth is the expensive part (JSII + three cdk-nag packs over 14 templates), so every test reads the
same cloud assembly. An unacknowledged cdk-nag finding makes ``app.synth()`` raise: the ``lakehouse``
fixture erroring is the compliance gate failing.
"""

from __future__ import annotations

from typing import Any

import pytest
from cdk_testkit import Synthesized, cdk_context, synthesize_all

from cdk.config import EnvironmentConfig


@pytest.fixture(scope="session")
def lakehouse(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize_all(tmp_path_factory.mktemp("cdk.out"), tmp_path_factory.mktemp("job-assets"))


@pytest.fixture(scope="session")
def env_config(lakehouse: Synthesized) -> dict[str, EnvironmentConfig]:
    return dict(lakehouse.config.environments)


@pytest.fixture
def raw_config() -> dict[str, Any]:
    return cdk_context()["lakehouse"]
