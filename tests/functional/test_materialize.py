"""Materialized frames (job_assets.spark.materialize): computed once, their blocks held until the job that made
them is over, then dropped (release / release_materialized), on real local Spark."""

from __future__ import annotations

import pytest
from py4j.protocol import Py4JJavaError

from job_assets.spark import materialize, release, release_materialized

from .lake_checks import held_rdds

pytestmark = pytest.mark.spark


def test_a_materialized_frame_holds_its_blocks_until_released(spark) -> None:
    before = held_rdds(spark)
    df = materialize(spark.range(50_000).selectExpr("id", "cast(id AS string) AS s"))
    assert len(held_rdds(spark) - before) == 1
    df.unpersist()  # not in Spark's cache: this keeps the blocks, which is why release exists
    assert len(held_rdds(spark) - before) == 1
    assert df.count() == 50_000

    release(df)

    assert held_rdds(spark) - before == set()
    with pytest.raises(Py4JJavaError, match="Checkpoint block"):
        df.count()  # the blocks are gone, and a checkpoint has no lineage to recompute them from


def test_release_materialized_drops_every_frame_since_the_last_call_and_nothing_else(spark) -> None:
    release_materialized(spark)  # what earlier tests of this session left
    cached = spark.range(1_000).cache()
    assert cached.count() == 1_000
    before = held_rdds(spark)
    frames = [materialize(spark.range(n * 1_000)) for n in (1, 2, 3)]
    assert [f.count() for f in frames] == [1_000, 2_000, 3_000]
    assert len(held_rdds(spark) - before) == 3

    assert release_materialized(spark) == 3

    assert held_rdds(spark) == before  # the cached frame is still there: not ours to drop
    assert cached.count() == 1_000
    assert release_materialized(spark) == 0
    cached.unpersist()


def test_a_job_run_without_spark_has_nothing_to_release() -> None:
    assert release_materialized(None) == 0  # the lineage tests' jobs run on a context without a session
