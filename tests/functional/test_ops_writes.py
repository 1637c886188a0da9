"""Commits a job makes side by side keep their order where it matters.

- ``write_ops`` (job_assets/jobs/common.py): the DQ results' commit runs beside the job's own last commits, and the
  run summary, which marks the batch done, is written after both, or not at all.
- Bronze's claim (the write-ahead log) is committed on its own thread while the landing files are parsed: no
  bronze table is written before it, and a failed claim writes nothing.
"""

from __future__ import annotations

import time

import pytest

from job_assets.context import LakeLocations, RunContext
from job_assets.contracts import contract
from job_assets.dq.rules import RuleStat
from job_assets.engine import Txn
from job_assets.jobs import bronze
from job_assets.jobs.common import JobResult, TableStats, write_ops
from lakehouse.generator import generate

pytestmark = pytest.mark.spark


def _result() -> JobResult:
    orders = contract("silver.orders")
    result = JobResult("silver", "b1", engine="any")
    result.tables = [TableStats("silver.orders", rows_in=10, rows_out=9, rows_quarantined=1)]
    result.tables[0].dq = [RuleStat("silver.orders", orders.rules[0], 10, 1)]
    return result


def test_the_summary_is_written_after_the_commits_beside_the_dq_results(tmp_path, spark, default_engine) -> None:
    ctx = RunContext(spark, default_engine, LakeLocations.for_root(str(tmp_path)), "b1")
    done: list = []

    def alongside() -> None:  # the job's own last commit (a scratch table here)
        ctx.engine.append_rows(str(tmp_path / "beside"), [{"n": 1}], _scratch_schema(), txn=Txn("silver:b1:beside", 1))
        done.append(time.time())

    write_ops(ctx, "silver", _result(), "b1", alongside=alongside)
    assert done and ctx.engine.exists(str(tmp_path / "beside"))
    summary = ctx.engine.read_rows(ctx.uri("silver.run_summary"), ("table_name", "status", "rows_in"))
    assert sorted((r["table_name"], r["status"], r["rows_in"]) for r in summary) == [
        ("*", "succeeded", 10),
        ("silver.orders", "skipped", 10),
    ]
    assert len(ctx.engine.read_rows(ctx.uri("silver.dq_results"), ("rule",))) == 1
    committed_ms = ctx.engine.history(ctx.uri("silver.run_summary"), limit=1)[0]["timestamp"]
    assert committed_ms >= int(done[0] * 1000) - 5  # the summary's commit came after the commit beside it


def test_no_summary_when_a_commit_beside_the_dq_results_fails(tmp_path, spark, default_engine) -> None:
    ctx = RunContext(spark, default_engine, LakeLocations.for_root(str(tmp_path)), "b1")

    def failing() -> None:
        raise RuntimeError("the quarantine's commit failed")

    with pytest.raises(RuntimeError, match="quarantine's commit failed"):
        write_ops(ctx, "silver", _result(), "b1", alongside=failing)
    assert not ctx.engine.exists(ctx.uri("silver.run_summary"))  # the batch is not marked done
    # the DQ results' commit, tagged with the batch, may stand: the re-run's is skipped by its app transaction
    write_ops(ctx, "silver", _result(), "b1")
    assert len(ctx.engine.read_rows(ctx.uri("silver.dq_results"), ("rule",))) == 1
    assert ctx.engine.exists(ctx.uri("silver.run_summary"))


def _scratch_schema():
    from pyspark.sql.types import LongType, StructField, StructType

    return StructType([StructField("n", LongType())])


def _claim_wrapped(monkeypatch, engine, on_claim) -> list:
    """Wrap ``engine``: ``on_claim(original)`` makes the claim's commit; every other append is recorded (uri, when)."""
    appends: list = []
    append_rows, append = engine.append_rows, engine.append

    def rows(uri, data, schema, *, txn=None):
        if txn is not None and txn.app_id.endswith(":claim"):
            return on_claim(lambda: append_rows(uri, data, schema, txn=txn))
        appends.append((uri, time.time()))
        return append_rows(uri, data, schema, txn=txn)

    def frames(uri, df, *, txn=None):
        appends.append((uri, time.time()))
        return append(uri, df, txn=txn)

    monkeypatch.setattr(engine, "append_rows", rows)
    monkeypatch.setattr(engine, "append", frames)
    return appends


def test_bronze_writes_nothing_before_its_claim_is_committed(tmp_path, spark, default_engine, monkeypatch) -> None:
    generate(tmp_path, 1_000, seed=11, bad_ratio=0.05)
    claimed: list = []

    def slow_claim(commit):  # a claim slower than parsing: the writes must still wait for it
        time.sleep(3)
        done = commit()
        claimed.append(time.time())
        return done

    appends = _claim_wrapped(monkeypatch, default_engine, slow_claim)
    result = bronze.run(RunContext(spark, default_engine, LakeLocations.for_root(str(tmp_path)), "b1"))
    assert result.status == "succeeded" and claimed and appends
    assert all(when >= claimed[0] for _, when in appends), "a bronze write started before the claim was committed"
    assert any(uri.endswith("crm_accounts") for uri, _ in appends)


def test_a_failed_claim_fails_bronze_and_writes_nothing(tmp_path, spark, default_engine, monkeypatch) -> None:
    generate(tmp_path, 1_000, seed=11, bad_ratio=0.05)

    def failing_claim(commit):
        raise RuntimeError("the claim's commit failed")

    appends = _claim_wrapped(monkeypatch, default_engine, failing_claim)
    loc = LakeLocations.for_root(str(tmp_path))
    with pytest.raises(RuntimeError, match="claim's commit failed"):
        bronze.run(RunContext(spark, default_engine, loc, "b1"))
    assert appends == []
    assert not any(default_engine.exists(loc.table_uri(t)) for t in ("bronze.ingestion_log", "bronze.crm_accounts"))
