"""Shared fixtures: one local SparkSession for the whole session (2 cores, 2 shuffle partitions, no UI, Delta's
jars), the default engine (delta-spark) and the second engine (delta-rs)."""

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


@pytest.fixture(scope="session")
def default_engine(spark):
    """What `--engine auto` picks on a local session (and on EMR): delta-spark, with the jars make install fetched."""
    from job_assets.engine import make_engine

    engine = make_engine(spark, "auto")
    assert engine.name == "delta-spark", "local sessions must carry Delta's jars (make install)"
    return engine
