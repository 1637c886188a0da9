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

    session = local_session("lakehouse-tests", cores=2, shuffle_partitions=2, long_lived=True)
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


@pytest.fixture(scope="session")
def aws_server():
    """moto's server on 127.0.0.1 (a free port) for the whole session; tests use their own bucket names."""
    from tests.aws_server import AwsServer

    server = AwsServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_spark(spark, aws_server):
    """The session's Spark with s3a (and s3://) pointed at :func:`aws_server`."""
    from tests.aws_server import point_spark_at

    point_spark_at(spark, aws_server.endpoint)
    return spark
