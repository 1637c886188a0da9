"""A `fail`-severity rule stops the job and leaves the table unchanged; the batch is retried next run.

The job logic runs on delta-rs here (fast; the rules do not depend on the engine); the EMR entrypoint and
the CLI run the default engine, delta-spark. The entrypoint's other refusals (an input that is wrong) are here
too: one line naming it, exit 1."""

from __future__ import annotations

import json

import pytest

from job_assets.context import LakeLocations, RunContext
from job_assets.dq import DataQualityError
from job_assets.jobs import bronze, silver
from lakehouse.cli import main as cli_main
from lakehouse.generator import generate

from .lake_checks import version

pytestmark = pytest.mark.spark


def test_emr_entrypoint_names_a_wrong_input_in_one_line(tmp_path, spark, default_engine, capsys):
    """A folder of someone else's files where a table of ours belongs: exit 1 and one JSON line naming the
    folder and the file, no traceback, and nothing written there."""
    from job_assets.entrypoints.main import main

    root = tmp_path / "lake"
    generate(root, 1_000, seed=5, bad_ratio=0.0)
    log = LakeLocations.for_root(str(root)).table_uri("bronze.ingestion_log")
    (root / "bronze" / "ingestion_log").mkdir(parents=True)
    (root / "bronze" / "ingestion_log" / "export.csv").write_text("a\n1\n")
    capsys.readouterr()
    argv = ["--lake-root", str(root), "--batch-id", "b1", "--env", "dev", "--lineage", "none"]
    assert main("bronze", argv) == 1
    line = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(line)
    assert summary["status"] == "failed" and "is not a Delta table" in summary["error"], line
    assert log.rstrip("/").split("://")[-1] in summary["error"] and "export.csv" in summary["error"]
    assert sorted(p.name for p in (root / "bronze" / "ingestion_log").iterdir()) == ["export.csv"]


# slow (default suite under 15 minutes): a fail rule refusing silver with nothing written and the batch retried
# stays covered there by test_emr_entrypoint_publishes_the_refused_runs_dq_score (negative rate, exit 2) and
# test_a_failing_gold_table_leaves_every_gold_table_as_it_was (tables unchanged, the retry succeeds).
@pytest.mark.slow
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


def test_emr_entrypoint_publishes_the_refused_runs_dq_score(tmp_path, spark, default_engine, monkeypatch, capsys):
    """On EMR (`--metrics cloudwatch`) a run stopped by a fail rule still sends its DQ score and duration."""
    from job_assets import run_metrics
    from job_assets.entrypoints.main import main

    root = tmp_path / "lake"
    generate(root, 1_000, seed=5, bad_ratio=0.0)
    bad = root / "landing" / "reference" / "fx_rates" / "dt=2099-01-01"
    bad.mkdir(parents=True)
    (bad / "fx_fix.csv").write_text("CURRENCY,RATE_TO_USD,VALID_FROM\nEUR,-1.05,2099-01-01\n")
    bronze.run(RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "b1"))
    sent = []
    monkeypatch.setattr(run_metrics, "send", lambda data, env, client=None: sent.append((env, data)) or True)
    argv = ["--lake-root", str(root), "--batch-id", "b1", "--env", "dev", "--engine", "auto"]

    assert main("silver", [*argv, "--metrics", "cloudwatch"]) == 2
    [(env, data)] = sent
    by = {d["MetricName"]: d for d in data}
    assert env == "dev" and set(by) == {"DQScore", "JobDurationSeconds"}
    assert [x["Value"] for x in by["DQScore"]["Dimensions"]] == ["dev", "silver", "silver.fx_rates"]
    assert 0 < by["DQScore"]["Value"] < 1
    assert '"status": "failed"' in capsys.readouterr().out
    sent.clear()
    assert main("silver", argv) == 2  # locally (no --metrics): nothing is sent
    assert sent == []


# slow (default suite under 15 minutes): the entrypoint's exit on a fail rule is in the default suite
# (test_emr_entrypoint_publishes_the_refused_runs_dq_score); this is the CLI's wording of it.
@pytest.mark.slow
def test_cli_exits_non_zero_on_a_data_quality_failure(tmp_path, capsys):
    root = tmp_path / "lake"
    generate(root, 1_000, seed=6, bad_ratio=0.0)
    bad = root / "landing" / "reference" / "fx_rates" / "dt=2099-01-01"
    bad.mkdir(parents=True)
    (bad / "fx.csv").write_text("CURRENCY,RATE_TO_USD,VALID_FROM\nGBP,0,2099-01-01\n")
    assert cli_main(["run", "--lake-root", str(root), "--layers", "bronze,silver"]) == 1
    out = capsys.readouterr().out
    assert "data quality failure in silver.fx_rates" in out
    assert "engine delta-spark" in " ".join(out.split())  # the header names the engine `auto` picked


def test_a_failing_gold_table_leaves_every_gold_table_as_it_was(tmp_path, spark, rs_engine, monkeypatch):
    """Gold tables are computed side by side and written only when all pass their fail rules."""
    from pyspark.sql import functions as F

    from job_assets.contracts import GOLD_TABLES
    from job_assets.jobs import gold
    from job_assets.transforms import gold as G

    root = tmp_path / "lake"
    generate(root, 1_000, seed=6, bad_ratio=0.0)
    loc = LakeLocations.for_root(str(root))
    ctx = RunContext(spark, rs_engine, loc, "first")
    for job in (bronze, silver, gold):
        job.run(ctx)
    before = {c.name: version(root, c.name) for c in GOLD_TABLES}

    generate(root, 1_000, seed=6, bad_ratio=0.0, increment=1)  # silver moves on: gold must rebuild
    ctx = RunContext(spark, rs_engine, loc, "second")
    bronze.run(ctx)
    silver.run(ctx)
    real = G.win_rates
    # the LAST table built breaks its fail rule; the four before it pass theirs
    monkeypatch.setattr(G, "win_rates", lambda opps: real(opps).withColumn("win_rate", F.lit(1.5)))
    with pytest.raises(DataQualityError, match=r"gold\.win_rates.*win_rate_in_range"):
        gold.run(ctx)
    assert {c.name: version(root, c.name) for c in GOLD_TABLES} == before
    monkeypatch.setattr(G, "win_rates", real)
    assert gold.run(ctx).status == "succeeded"  # the next run builds every table
    assert all(version(root, c.name) == before[c.name] + 1 for c in GOLD_TABLES)
