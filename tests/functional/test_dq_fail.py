"""A `fail`-severity rule stops the job and leaves the table unchanged; the batch is retried next run."""

from __future__ import annotations

import pytest

from job_assets.context import LakeLocations, RunContext
from job_assets.dq import DataQualityError
from job_assets.jobs import bronze, silver
from lakehouse.cli import main as cli_main
from lakehouse.generator import generate

from .lake_checks import version

pytestmark = pytest.mark.spark


def test_negative_fx_rate_fails_silver_and_changes_nothing(tmp_path, spark, rs_engine):
    root = tmp_path / "lake"
    generate(root, 1_000, seed=5, bad_ratio=0.0)
    loc = LakeLocations.for_root(str(root))
    ctx = RunContext(spark, rs_engine, loc, "good")
    bronze.run(ctx)
    silver.run(ctx)
    fx_version = version(root, "silver.fx_rates")
    orders_version = version(root, "silver.orders")

    bad = root / "landing" / "reference" / "fx_rates" / "dt=2099-01-01"
    bad.mkdir(parents=True)
    (bad / "fx_fix.csv").write_text("CURRENCY,RATE_TO_USD,VALID_FROM\nEUR,-1.05,2099-01-01\n")
    ctx = RunContext(spark, rs_engine, loc, "bad")
    bronze.run(ctx)
    with pytest.raises(DataQualityError, match=r"silver\.fx_rates.*rate_positive.*1 of 1 rows"):
        silver.run(ctx)
    assert version(root, "silver.fx_rates") == fx_version  # the table is unchanged
    assert version(root, "silver.orders") == orders_version  # and nothing after it ran
    assert "bad" in silver.pending_batches(ctx)  # not marked done: the next run retries it
    with pytest.raises(DataQualityError):
        silver.run(ctx)
    assert version(root, "silver.fx_rates") == fx_version


def test_cli_exits_non_zero_on_a_data_quality_failure(tmp_path, capsys):
    root = tmp_path / "lake"
    generate(root, 1_000, seed=6, bad_ratio=0.0)
    bad = root / "landing" / "reference" / "fx_rates" / "dt=2099-01-01"
    bad.mkdir(parents=True)
    (bad / "fx.csv").write_text("CURRENCY,RATE_TO_USD,VALID_FROM\nGBP,0,2099-01-01\n")
    assert cli_main(["run", "--lake-root", str(root), "--layers", "bronze,silver"]) == 1
    out = capsys.readouterr().out
    assert "data quality failure in silver.fx_rates" in out
