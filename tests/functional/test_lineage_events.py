"""The entrypoint emits START then COMPLETE or FAIL to <lake>/_lineage, valid OpenLineage, never failing a job.

Spark is not started: ``build_context`` is replaced by a context with the lake's locations (what the events
need); the job functions are stand-ins returning a JobResult or raising.
"""

from __future__ import annotations

import pytest

from job_assets import lineage as ol
from job_assets.context import LakeLocations
from job_assets.contracts import GOLD_TABLES
from job_assets.dq import DataQualityError
from job_assets.entrypoints import main as entry
from job_assets.jobs import pipeline
from job_assets.jobs.common import JobResult, TableStats
from tests.unit.test_lineage import validate_event


class FakeEngine:
    name = "fake"


@pytest.fixture
def lake(tmp_path, monkeypatch):
    for name in ("LAKEHOUSE_LINEAGE", "OPENLINEAGE_URL", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)

    class Ctx:
        def __init__(self, args):
            self.locations = LakeLocations.for_root(args.lake_root)
            self.batch_id, self.env, self.engine = args.batch_id, args.env, FakeEngine()
            self.spark = None  # no Spark: the driver's Spark metrics come back None (spark_metrics never raises)

    monkeypatch.setattr(entry, "build_context", Ctx)
    (tmp_path / "landing").mkdir()  # a lake: the entrypoint refuses a --lake-root without one
    return tmp_path


def argv(lake, *extra):
    return ["--lake-root", str(lake), "--batch-id", "b42", "--env", "local", *extra]


def run(monkeypatch, job, fn, args):
    """The entrypoint, with ``fn`` standing in for ``job`` in the one pipeline driver."""
    monkeypatch.setitem(pipeline.JOBS, job, fn)
    return entry.main(job, args)


def gold_run(ctx, progress=None):
    r = JobResult("gold", ctx.batch_id)
    r.tables = [TableStats(c.name, rows_in=5, rows_out=5, committed=True) for c in GOLD_TABLES]
    return r


def test_complete_run_writes_valid_events(lake, monkeypatch):
    assert run(monkeypatch, "gold", gold_run, argv(lake)) == 0
    events = ol.read_events(str(lake / "_lineage"))
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for e in events:
        validate_event(e)
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"] == ol.run_id("gold", "b42", "local")
    outputs = {d["facets"]["lakehouse_table"]["table"]: d for d in events[1]["outputs"]}
    assert outputs["gold.win_rates"]["outputFacets"]["outputStatistics"]["rowCount"] == 5
    assert set(ol.logical_tables(events[1]["inputs"])) == {"silver.orders", "silver.customers", "silver.opportunities"}


def test_dq_failure_emits_fail_and_keeps_exit_code(lake, monkeypatch):
    def refuse(ctx, progress=None):
        raise DataQualityError("gold.win_rates", [])

    assert run(monkeypatch, "gold", refuse, argv(lake)) == 2
    events = ol.read_events(str(lake / "_lineage"))
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    validate_event(events[1])


def test_crash_emits_fail_and_reraises(lake, monkeypatch):
    def crash(ctx, progress=None):
        raise RuntimeError("executor lost")

    with pytest.raises(RuntimeError):
        run(monkeypatch, "silver", crash, argv(lake))
    events = ol.read_events(str(lake / "_lineage"))
    assert (
        events[-1]["eventType"] == "FAIL" and "executor lost" in events[-1]["run"]["facets"]["errorMessage"]["message"]
    )


def test_lineage_none_and_broken_transports_do_not_matter(lake, monkeypatch):
    assert run(monkeypatch, "gold", gold_run, argv(lake, "--lineage", "none")) == 0
    assert not (lake / "_lineage").exists()
    assert run(monkeypatch, "gold", gold_run, argv(lake, "--lineage", "bogus")) == 0  # warned, not failed
    (lake / "blocked").write_text("a file where the folder should be")
    assert run(monkeypatch, "gold", gold_run, argv(lake, "--lineage", f"file:{lake / 'blocked'}")) == 0


def test_one_driver_runs_jobs_in_pipeline_order_each_with_its_events(lake, monkeypatch):
    """run_pipeline (what the CLI, the EMR entrypoints and the tests call): pipeline order whatever the order
    asked, START and COMPLETE per job, and a failing job stops the run after its FAIL event."""
    from types import SimpleNamespace

    ran: list[str] = []

    def stand_in(job):
        def run_(ctx, progress=None):
            ran.append(job)
            if job == ctx.fail:
                raise DataQualityError(f"{job}.x", [])
            return JobResult(job, ctx.batch_id)

        return run_

    for job in ("bronze", "silver", "gold"):
        monkeypatch.setitem(pipeline.JOBS, job, stand_in(job))
    # spark=None: no Spark here, the driver's Spark metrics come back None (spark_metrics never raises)
    ctx = SimpleNamespace(
        locations=LakeLocations.for_root(str(lake)), batch_id="b7", env="local", fail=None, spark=None
    )
    finished: list[str] = []
    transport = ol.FileTransport(str(lake / "_lineage"))
    results = pipeline.run_pipeline(ctx, ["gold", "bronze", "silver"], transport=transport, finished=finished.append)
    assert ran == [r.job for r in results] == ["bronze", "silver", "gold"] == [r.job for r in finished]
    events = [(e["job"]["name"], e["eventType"]) for e in ol.read_events(str(lake / "_lineage"))]
    assert events == [(j, t) for j in ("bronze", "silver", "gold") for t in ("START", "COMPLETE")]

    ran.clear()
    ctx.fail = "silver"
    with pytest.raises(DataQualityError):
        pipeline.run_pipeline(ctx, transport=transport)
    assert ran == ["bronze", "silver"]
    assert [(e["job"]["name"], e["eventType"]) for e in ol.read_events(str(lake / "_lineage"))][-3:] == [
        ("bronze", "COMPLETE"),
        ("silver", "START"),
        ("silver", "FAIL"),
    ]
    with pytest.raises(ValueError, match="unknown job"):
        pipeline.run_pipeline(ctx, ["platinum"])
