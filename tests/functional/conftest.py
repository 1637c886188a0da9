"""Fixtures the functional tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.cli import main
from lakehouse.generator import generate


@pytest.fixture(scope="session")
def two_batch_lake(tmp_path_factory, spark, default_engine) -> Path:
    """A local lake that ran the pipeline twice on the default engine: a delivery, then a follow-up with new
    and changed records (orphans released, SCD2 history). Tests copy it; nobody writes to it."""
    root = tmp_path_factory.mktemp("two-batch-lake")
    generate(root, 1_000, seed=8, bad_ratio=0.03)
    assert main(["run", "--lake-root", str(root)]) == 0
    generate(root, 1_000, seed=8, bad_ratio=0.03, increment=1)
    assert main(["run", "--lake-root", str(root)]) == 0
    return root
