"""Shared fixtures: one local SparkSession for the whole session (2 cores, 2 shuffle partitions, no UI, Delta's
jars), the default engine (delta-spark) and the second engine (delta-rs); a fresh moto account per test
(``aws``) and moto's server for s3a (``aws_server``).

The tests' layout follows the packages and the tiers:

- ``unit/``: no Spark, no network, no moto (fakes where logic talks to AWS);
- ``functional/``: local Spark and Delta tables, moto's server for the S3 lake;
- ``cdk/``: the synthesized app (``cdk/`` and ``stacks/``): template assertions, snapshots, cdk-nag, cfn-lint,
  and the state machine executed by moto;
- ``lambdas/``: the operational Lambdas' handlers and logic on moto, imported as Lambda imports them;
- ``cli/``: the operator CLI's AWS commands (``lakehouse.ops``, ``lakehouse.promotion``) and the runbooks'
  commands, against moto;
- slow tests (kill trials, maintenance runs, volumes) carry ``@pytest.mark.slow``: ``make test-slow``.

No test reads the user's AWS configuration: fixed fake credentials and one region are set here, before any
boto3 client exists. The Lambdas' code is importable as on Lambda (``ops_common`` and one package per
function at the top level), which the Lambda and CLI tests use to build moto clients (``ops_common.aws``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

for _root in (ROOT / "lambdas", ROOT):
    if str(_root) not in sys.path:
        sys.path.insert(0, str(_root))
os.environ["AWS_XRAY_SDK_ENABLED"] = "false"  # no segment outside Lambda; the X-Ray test turns it on itself
os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = "eu-west-1"
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
    os.environ[_name] = "testing"
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account for one test; the Lambdas' cached clients are dropped before and after."""
    from moto import mock_aws
    from ops_common.aws import reset_clients

    reset_clients()
    with mock_aws():
        yield
    reset_clients()


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


HEAVY_FIRST = (
    "tests/cdk/test_pipeline_execution.py",
    "tests/functional/test_promotion.py",
    "tests/cli/test_runbook_commands.py",
    "tests/functional/test_pipeline_e2e.py",
    "tests/functional/test_drills.py",
    "tests/functional/test_dq_fail.py",
    "tests/functional/test_s3_lake.py",
    "tests/functional/test_rebuild.py",
    "tests/functional/test_notebooks.py",
)
"""The default suite's longest modules, measured (--durations), longest first. `make test` hands whole
modules to its two workers (--dist loadscope) in collection order: starting the longest ones first keeps a
long module from starting last and running on alone while the other worker idles."""


def pytest_collection_modifyitems(session, config, items) -> None:
    """Move HEAVY_FIRST's modules to the front, in its order; every other test keeps its place (stable sort)."""
    rank = {path: i for i, path in enumerate(HEAVY_FIRST)}
    root = Path(str(config.rootpath))
    items.sort(key=lambda item: rank.get(Path(str(item.path)).relative_to(root).as_posix(), len(rank)))


SHARED_WORKER = {
    "tests/functional/test_drills.py": "two_batch_lake",
    "tests/functional/test_rebuild.py": "two_batch_lake",
    "tests/functional/test_quick_start.py": "two_batch_lake",
    "tests/functional/test_promotion.py": "two_batch_lake",
    "tests/functional/test_load_checks.py": "two_batch_lake",
}
"""Modules that share an expensive session fixture (the name is the fixture's): `make test` runs them on one
worker, which builds the fixture once (two pipeline runs, about two minutes) instead of once per worker."""


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadscope` with the modules of SHARED_WORKER as one work unit (xdist's scheduler otherwise)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SHARED_WORKER.get(nodeid.split("::", 1)[0], super()._split_scope(nodeid))

    return SharedFixtureScheduling(config, log)
