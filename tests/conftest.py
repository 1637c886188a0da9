"""Shared fixtures: one local SparkSession for the whole session (2 cores, 2 shuffle partitions, no UI)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    from job_assets.spark import local_session

    session = local_session("lakehouse-tests", cores=2, shuffle_partitions=2)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def rs_engine(spark):
    from job_assets.engine import make_engine

    return make_engine(spark, "delta-rs")
