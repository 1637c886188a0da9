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

    monkeypatch.setattr(entry, "build_context", Ctx)
    return tmp_path


def argv(lake, *extra):
    return ["--lake-root", str(lake), "--batch-id", "b42", "--env", "local", *extra]


def gold_run(ctx):
    r = JobResult("gold", ctx.batch_id)
    r.tables = [TableStats(c.name, rows_in=5, rows_out=5, committed=True) for c in GOLD_TABLES]
    return r


def test_complete_run_writes_valid_events(lake):
    assert entry.main("gold", gold_run, argv(lake)) == 0
    events = ol.read_events(str(lake / "_lineage"))
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for e in events:
        validate_event(e)
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"] == ol.run_id("gold", "b42", "local")
    outputs = {d["facets"]["lakehouse_table"]["table"]: d for d in events[1]["outputs"]}
    assert outputs["gold.win_rates"]["outputFacets"]["outputStatistics"]["rowCount"] == 5
    assert set(ol.logical_tables(events[1]["inputs"])) == {"silver.orders", "silver.customers", "silver.opportunities"}


def test_dq_failure_emits_fail_and_keeps_exit_code(lake):
    def refuse(ctx):
        raise DataQualityError("gold.win_rates", [])

    assert entry.main("gold", refuse, argv(lake)) == 2
    events = ol.read_events(str(lake / "_lineage"))
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    validate_event(events[1])


def test_crash_emits_fail_and_reraises(lake):
    def crash(ctx):
        raise RuntimeError("executor lost")

    with pytest.raises(RuntimeError):
        entry.main("silver", crash, argv(lake))
    events = ol.read_events(str(lake / "_lineage"))
    assert (
        events[-1]["eventType"] == "FAIL" and "executor lost" in events[-1]["run"]["facets"]["errorMessage"]["message"]
    )


def test_lineage_none_and_broken_transports_do_not_matter(lake, monkeypatch):
    assert entry.main("gold", gold_run, argv(lake, "--lineage", "none")) == 0
    assert not (lake / "_lineage").exists()
    assert entry.main("gold", gold_run, argv(lake, "--lineage", "bogus")) == 0  # warned, not failed
    (lake / "blocked").write_text("a file where the folder should be")
    assert entry.main("gold", gold_run, argv(lake, "--lineage", f"file:{lake / 'blocked'}")) == 0
