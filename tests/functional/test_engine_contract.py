"""The engine contract: the same cases on both table engines, and each engine on the other's tables.

Both engines run here (``make install`` fetched Delta's jars): no case may skip. A missing jar is a
failure of the set-up, not a reason to skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from job_assets.engine import DuplicateKeyError, Txn, make_engine
from job_assets.engine.base import HISTORY_KEYS, NotADeltaTableError

ENGINES = ["delta-rs", "delta-spark"]
SCHEMA = "id long, v string, ver long, deleted boolean"


@pytest.fixture(params=ENGINES)
def engine(request, spark):
    return make_engine(spark, request.param)


def rows(engine, uri, version=None):
    return sorted(tuple(r) for r in engine.read(uri, version).collect())


def df(spark, data):
    return spark.createDataFrame(data, SCHEMA)


def test_append_read_and_protocol(engine, spark, tmp_path):
    uri = str(tmp_path / "t")
    assert not engine.exists(uri)
    r = engine.append(uri, df(spark, [(1, "a", 1, False), (2, "b", 1, False)]))
    assert r.committed and r.version == 0 and r.rows_added == 2
    assert rows(engine, uri) == [(1, "a", 1, False), (2, "b", 1, False)]
    p = engine.protocol(uri)
    assert (p["min_reader_version"], p["min_writer_version"]) == (1, 2)
    assert not p["reader_features"] and not p["writer_features"]


def test_read_rows_of_a_small_table(engine, spark, tmp_path):
    """read_rows: the same dicts as a Spark collect, timestamps as naive UTC, [] without a table."""
    import datetime as dt

    uri = str(tmp_path / "t")
    assert engine.read_rows(uri, ["id"]) == []
    data = spark.createDataFrame(
        [(1, "a", dt.datetime(2025, 1, 2, 3, 4, 5, 6)), (2, None, None)], "id long, v string, ts timestamp"
    )
    engine.append(uri, data)
    got = sorted(engine.read_rows(uri, ["ts", "id"]), key=lambda r: r["id"])
    assert got == [{"ts": dt.datetime(2025, 1, 2, 3, 4, 5, 6), "id": 1}, {"ts": None, "id": 2}]
    assert got == sorted((r.asDict() for r in engine.read(uri).select("ts", "id").collect()), key=lambda r: r["id"])


def test_naive_utc_times_are_the_same_instants_on_a_host_in_another_zone(spark, tmp_path, monkeypatch):
    """PySpark converts a naive datetime as local time, Arrow as UTC: the jobs' processes run in UTC
    (job_assets.spark.utc_process, on every session), so a naive UTC time that delta-spark writes is the instant
    delta-rs reads, and both engines read it back as written, whatever the host's zone."""
    import datetime as dt
    import time

    from deltalake import DeltaTable
    from pyspark.sql.types import LongType, StructField, StructType, TimestampType

    from job_assets.spark import configure

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        configure(spark)  # what every job's session goes through
        schema = StructType([StructField("id", LongType()), StructField("ts", TimestampType())])
        when = dt.datetime(2026, 12, 5, 12, 0, 0)
        uri = str(tmp_path / "t")
        make_engine(spark, "delta-spark").append_rows(uri, [{"id": 1, "ts": when}], schema)
        stored = DeltaTable(uri).to_pyarrow_table()["ts"][0].as_py()
        assert stored.replace(tzinfo=None) == when
        for name in ENGINES:
            assert make_engine(spark, name).read_rows(uri, ["ts"]) == [{"ts": when}], name
    finally:
        monkeypatch.undo()
        time.tzset()


def test_idempotent_append_replays_are_skipped(engine, spark, tmp_path):
    """Mirror of Delta's DeltaSuite 'idempotent write': txnVersion replays change nothing."""
    uri = str(tmp_path / "t")
    data = df(spark, [(1, "a", 1, False), (2, "b", 1, False)])
    assert engine.append(uri, data, txn=Txn("job", 2)).committed
    for _ in range(3):
        r = engine.append(uri, data, txn=Txn("job", 2))
        assert not r.committed and "committed" in r.skipped_reason
    assert engine.append(uri, df(spark, [(3, "c", 1, False)]), txn=Txn("job", 3)).committed
    assert engine.version(uri) == 1  # advanced exactly twice
    assert len(rows(engine, uri)) == 3
    assert engine.transaction_version(uri, "job") == 3


def test_empty_append_makes_no_commit(engine, spark, tmp_path):
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 1, False)]))
    r = engine.append(uri, df(spark, []))
    assert not r.committed and engine.version(uri) == 0


def test_overwrite_replaces_everything(engine, spark, tmp_path):
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 1, False), (2, "b", 1, False)]))
    r = engine.overwrite(uri, df(spark, [(9, "z", 1, False)]), txn=Txn("g", 1))
    assert r.committed and rows(engine, uri) == [(9, "z", 1, False)]
    assert not engine.overwrite(uri, df(spark, [(8, "y", 1, False)]), txn=Txn("g", 1)).committed
    assert rows(engine, uri, version=0) == [(1, "a", 1, False), (2, "b", 1, False)]  # time travel


def test_merge_semantics(engine, spark, tmp_path):
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 5, False), (2, "b", 5, False), (3, "c", 5, False), (4, "d", 5, False)]))
    src = df(
        spark,
        [
            (1, "A", 6, False),  # newer -> update
            (2, "B", 4, False),  # older -> untouched
            (3, None, 7, True),  # newer delete -> delete
            (5, "e", 1, False),  # new -> insert
            (6, None, 1, True),  # delete of an unknown key -> not inserted
        ],
    )
    r = engine.merge(
        uri,
        src,
        ["id"],
        update_condition="s.ver > t.ver",
        delete_condition="s.deleted AND s.ver > t.ver",
        insert_condition="NOT s.deleted",
        txn=Txn("m", 1),
    )
    assert r.committed and (r.inserted, r.updated, r.deleted) == (1, 1, 1)
    assert rows(engine, uri) == [(1, "A", 6, False), (2, "b", 5, False), (4, "d", 5, False), (5, "e", 1, False)]
    again = engine.merge(uri, src, ["id"], update_condition="s.ver > t.ver", txn=Txn("m", 1))
    assert not again.committed and engine.version(uri) == 1


def test_merge_that_changes_nothing_changes_no_rows(engine, spark, tmp_path):
    """No row changes and zero counts on both engines. delta-rs makes no commit; Delta's MERGE rewrites the
    files its ON condition matched and commits that (a documented difference, base.TableEngine.merge)."""
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 5, False)]))
    r = engine.merge(uri, df(spark, [(1, "old", 1, False)]), ["id"], update_condition="s.ver > t.ver")
    assert (r.inserted, r.updated, r.deleted) == (0, 0, 0)
    assert rows(engine, uri) == [(1, "a", 5, False)]
    if engine.name == "delta-rs":
        assert not r.committed and engine.version(uri) == 0
    else:
        assert r.committed and engine.version(uri) == 1


def test_merge_rejects_duplicate_source_keys(engine, spark, tmp_path):
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 5, False)]))
    with pytest.raises(DuplicateKeyError, match=r"several rows for key \{'id': 1\}"):
        engine.merge(uri, df(spark, [(1, "x", 6, False), (1, "y", 7, False)]), ["id"])
    with pytest.raises(DuplicateKeyError, match=r"several rows for key \{'id': 9\}"):  # not in the target
        engine.merge(uri, df(spark, [(9, "x", 6, False), (9, "y", 7, False)]), ["id"])
    assert engine.version(uri) == 0


def test_replayed_merge_reports_the_earlier_commits_counts(engine, spark, tmp_path):
    """A resumed batch accounts as the interrupted one would have: the counts of the commit that did the work."""
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 5, False), (2, "b", 5, False), (3, "c", 5, False)]))
    src = df(spark, [(1, "A", 6, False), (3, None, 7, True), (4, "d", 1, False)])
    kw = dict(update_condition="s.ver > t.ver", delete_condition="s.deleted AND s.ver > t.ver", txn=Txn("silver:b1"))
    first = engine.merge(uri, src, ["id"], **kw)
    assert first.committed and (first.inserted, first.updated, first.deleted) == (1, 1, 1)
    engine.append(uri, df(spark, [(5, "e", 1, False)]))  # a later commit: the replay must find the right one
    again = engine.merge(uri, src, ["id"], **kw)
    assert not again.committed and "silver:b1@1 committed" in again.skipped_reason
    assert (again.inserted, again.updated, again.deleted) == (1, 1, 1)
    assert again.version == engine.version(uri) == 2


def test_merge_into_no_table_is_one_insert_commit(engine, spark, tmp_path):
    """A first load: nothing can match, so the insert clause alone applies, in one commit that creates the
    table; its replay reports the same counts (from the commit's metrics on delta-spark, its metadata on delta-rs)."""
    uri = str(tmp_path / "t")
    src = df(spark, [(1, "a", 5, False), (2, None, 5, True), (3, "c", 5, False)])
    kw = dict(update_condition="s.ver > t.ver", insert_condition="NOT s.deleted", txn=Txn("silver:b0"))
    first = engine.merge(uri, src, ["id"], **kw)
    assert first.committed and (first.inserted, first.updated, first.deleted) == (2, 0, 0)
    assert first.version == engine.version(uri) == 0
    assert rows(engine, uri) == [(1, "a", 5, False), (3, "c", 5, False)]
    assert engine.history(uri)[0]["userMetadata"] == {"operation": "MERGE", "txn": "silver:b0@1"} | (
        {"inserted": 2} if engine.name == "delta-rs" else {}
    )
    again = engine.merge(uri, src, ["id"], **kw)
    assert not again.committed and (again.inserted, again.updated, again.deleted) == (2, 0, 0)
    assert engine.version(uri) == 0


def table_configuration(uri: str) -> dict:
    """The ``metaData.configuration`` of the table's newest metadata action, read from its log files."""
    found: dict = {}
    for path in sorted((Path(uri) / "_delta_log").glob("*.json")):
        for line in path.read_text().splitlines():
            action = json.loads(line)
            if "metaData" in action:
                found = action["metaData"]["configuration"]
    return found


@pytest.mark.parametrize("first_write", ["append", "merge", "create_if_missing", "append_rows"])
def test_declared_properties_are_set_when_a_write_creates_the_table(engine, spark, tmp_path, first_write):
    """A table is created with what was declared for it (its contract's statistics columns); a table that
    exists keeps its own properties, and statistics are kept for the declared columns only."""
    uri = str(tmp_path / "t")
    engine.declare(uri, {"delta.dataSkippingStatsColumns": "id,ver"})
    data = df(spark, [(1, "a", 5, False), (2, "b", 6, False)])
    if first_write == "append":
        engine.append(uri, data)
    elif first_write == "merge":
        engine.merge(uri, data, ["id"])
    elif first_write == "create_if_missing":
        assert engine.create_if_missing(uri, data.schema)
    else:
        engine.append_rows(uri, [{"id": 1, "v": "a", "ver": 5, "deleted": False}], data.schema)
    assert table_configuration(uri)["delta.dataSkippingStatsColumns"] == "id,ver"
    engine.declare(uri, {"delta.dataSkippingStatsColumns": "v"})  # too late: the table exists
    engine.append(uri, df(spark, [(3, "c", 7, False)]))
    assert table_configuration(uri)["delta.dataSkippingStatsColumns"] == "id,ver"
    if engine.name == "delta-spark":  # delta-rs commits Spark's Parquet files with their row count only
        stats = [
            json.loads(line)["add"]["stats"]
            for p in (Path(uri) / "_delta_log").glob("*.json")
            for line in p.read_text().splitlines()
            if '"add"' in line
        ]
        assert stats and all(set(json.loads(s)["minValues"]) <= {"id", "ver"} for s in stats if "minValues" in s)


def test_history_is_normalised(engine, spark, tmp_path):
    """Every entry has the same keys and types whichever engine asks; our commits carry their Txn."""
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 1, False)]), txn=Txn("bronze:b1"))
    engine.merge(uri, df(spark, [(1, "b", 2, False), (2, "c", 1, False)]), ["id"], txn=Txn("silver:b1"))
    history = engine.history(uri)
    assert [h["version"] for h in history] == [1, 0]
    assert engine.history(uri, 1) == history[:1]
    for h in history:
        assert tuple(h) == HISTORY_KEYS
        assert isinstance(h["timestamp"], int) and h["timestamp"] > 1.7e12
        assert all(isinstance(v, str) for v in h["operationParameters"].values())
        assert all(isinstance(v, int) for v in h["operationMetrics"].values())
    assert history[0]["userMetadata"]["txn"] == "silver:b1@1" and history[0]["userMetadata"]["operation"] == "MERGE"
    assert history[1]["userMetadata"] == {"operation": "APPEND", "txn": "bronze:b1@1", **history[1]["userMetadata"]}
    assert engine.txn_commit(uri, Txn("bronze:b1"))["version"] == 0
    assert engine.txn_commit(uri, Txn("bronze:b9")) is None


def test_history_timestamps_are_the_commits_own(engine, spark, tmp_path):
    """``timestamp`` is each commit's ``commitInfo.timestamp`` (what restore --timestamp and the Lambdas read), not
    its file's modification time (what DESCRIBE HISTORY would list, and on S3 set by S3's clock)."""
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 1, False)]))
    engine.append(uri, df(spark, [(2, "b", 1, False)]))
    log = tmp_path / "t" / "_delta_log"
    own = {}
    for v in (0, 1):
        commit = log / f"{v:020d}.json"
        info = next(json.loads(line)["commitInfo"] for line in commit.read_text().splitlines() if "commitInfo" in line)
        own[v] = info["timestamp"]
        os.utime(commit, (own[v] / 1000 + 3600 * (v + 1),) * 2)  # stored an hour or two after it was written
    assert {h["version"]: h["timestamp"] for h in engine.history(uri)} == own


def test_a_folder_of_other_files_is_refused(engine, spark, tmp_path):
    """Bad input: a table path holding someone else's files is named, and nothing is written there."""
    from job_assets.engine import TableNotFoundError

    uri = tmp_path / "t"
    uri.mkdir()
    (uri / "export.csv").write_text("id\n1\n")
    with pytest.raises(TableNotFoundError, match=f"no Delta table at {uri}"):
        engine.read(str(uri))
    with pytest.raises(NotADeltaTableError, match=f"{uri} is not a Delta table .* export.csv"):
        engine.append(str(uri), df(spark, [(1, "a", 1, False)]))
    with pytest.raises(NotADeltaTableError):
        engine.merge(str(uri), df(spark, [(1, "a", 1, False)]), ["id"])
    schema = df(spark, [(1, "a", 1, False)]).schema
    with pytest.raises(NotADeltaTableError, match=f"{uri} is not a Delta table"):
        engine.create_if_missing(str(uri), schema)
    for rows_ in ([{"id": 1, "v": "a", "ver": 1, "deleted": False}], []):
        with pytest.raises(NotADeltaTableError, match=f"{uri} is not a Delta table"):
            engine.append_rows(str(uri), rows_, schema)
    assert sorted(p.name for p in uri.iterdir()) == ["export.csv"]


def test_appending_no_rows_creates_a_missing_table_and_commits_nothing_to_one_that_exists(engine, spark, tmp_path):
    """append_rows([]): the table exists afterwards (empty, the Txn recorded), and a second call commits nothing."""
    uri = str(tmp_path / "t")
    schema = df(spark, [(1, "a", 1, False)]).schema
    first = engine.append_rows(uri, [], schema, txn=Txn("ops", 1))
    assert first.committed and engine.version(uri) == 0 and rows(engine, uri) == []
    assert engine.committed(uri, Txn("ops", 1))
    again = engine.append_rows(uri, [], schema, txn=Txn("ops", 2))
    assert not again.committed and engine.version(uri) == 0


def test_history_restore_optimize_vacuum(engine, spark, tmp_path):
    uri = str(tmp_path / "t")
    for i in range(3):
        engine.append(uri, df(spark, [(i, str(i), 1, False)]))
    assert [h["version"] for h in engine.history(uri)] == [2, 1, 0]
    engine.restore(uri, 0)
    assert rows(engine, uri) == [(0, "0", 1, False)]
    engine.append(uri, df(spark, [(7, "7", 1, False)]))
    engine.optimize(uri)
    assert rows(engine, uri) == [(0, "0", 1, False), (7, "7", 1, False)]
    before = rows(engine, uri)
    engine.vacuum(uri, retention_hours=0)
    assert rows(engine, uri) == before  # vacuum never removes live files


def test_classic_checkpoint_every_ten_commits(engine, spark, tmp_path):
    uri = str(tmp_path / "t")
    for i in range(11):
        engine.append(uri, df(spark, [(i, "x", 1, False)]))
    log = Path(uri) / "_delta_log"
    last = json.loads((log / "_last_checkpoint").read_text())
    # delta-rs checkpoints after the 10th commit (version 9), delta-spark at version 10: both classic
    assert last["version"] in (9, 10) and "v2Checkpoint" not in last
    assert (log / f"{last['version']:020d}.checkpoint.parquet").exists()
    assert not list(log.glob("*.checkpoint.*.parquet"))  # no multi-part / V2 checkpoints
    assert len(rows(engine, uri)) == 11


def test_unreferenced_files_are_invisible_and_vacuumed(engine, spark, tmp_path):
    """What a job killed between writing Parquet and committing leaves behind never shows."""
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 1, False)]))
    stray = tmp_path / "t" / "w-killed"
    df(spark, [(666, "ghost", 1, False)]).write.parquet(str(stray))
    assert rows(engine, uri) == [(1, "a", 1, False)]
    old = os.path.getmtime(next(stray.glob("*.parquet"))) - 10 * 24 * 3600
    for f in stray.glob("*.parquet"):
        os.utime(f, (old, old))
    removed = engine.vacuum(uri, retention_hours=168)
    assert any("w-killed" in p for p in removed)
    assert not list(stray.glob("*.parquet"))


def test_auto_detection_asks_the_jvm(spark):
    """`auto` must tell "Delta is absent" from "the probe is broken": probe a class that surely loads.
    Local sessions carry Delta's jars (make install), so auto is delta-spark here as on EMR."""
    from job_assets.engine.delta_spark import delta_classes_loadable, jvm_class_loadable

    assert jvm_class_loadable(spark, "org.apache.spark.sql.SparkSession")
    assert not jvm_class_loadable(spark, "io.delta.tables.NoSuchClass")
    assert delta_classes_loadable(spark)
    assert make_engine(spark, "auto").name == "delta-spark"
    with pytest.raises(ValueError, match="unknown table engine"):
        make_engine(spark, "iceberg")


@pytest.mark.parametrize(("writer", "other"), [("delta-rs", "delta-spark"), ("delta-spark", "delta-rs")])
def test_each_engine_carries_on_the_others_table(writer, other, spark, tmp_path):
    """A table one engine wrote is read, replayed, merged, checkpointed, optimized and vacuumed by the other,
    and the first engine then reads all of that: tables move between local runs and EMR in both directions."""
    w, o = make_engine(spark, writer), make_engine(spark, other)
    uri = str(tmp_path / "t")
    w.append(uri, df(spark, [(1, "a", 1, False), (2, "b", 1, False), (3, "c", 1, False)]), txn=Txn("bronze:b1"))
    src = df(spark, [(1, "A", 2, False), (2, None, 2, True), (4, "d", 1, False)])
    merge = dict(update_condition="s.ver > t.ver", delete_condition="s.deleted AND s.ver > t.ver")
    first = w.merge(uri, src, ["id"], txn=Txn("silver:b1"), **merge)
    assert (first.inserted, first.updated, first.deleted) == (1, 1, 1)

    assert rows(o, uri) == rows(w, uri) == [(1, "A", 2, False), (3, "c", 1, False), (4, "d", 1, False)]
    assert o.transaction_version(uri, "bronze:b1") == 1 and o.committed(uri, Txn("silver:b1"))
    replay = o.merge(uri, src, ["id"], txn=Txn("silver:b1"), **merge)  # the other engine's replay accounts alike
    assert not replay.committed and (replay.inserted, replay.updated, replay.deleted) == (1, 1, 1)
    assert not o.append(uri, df(spark, [(9, "z", 1, False)]), txn=Txn("bronze:b1")).committed

    later = o.merge(uri, df(spark, [(3, "C", 5, False), (5, "e", 1, False)]), ["id"], txn=Txn("silver:b2"), **merge)
    assert later.committed and (later.inserted, later.updated, later.deleted) == (1, 1, 0)
    for i in range(6, 14):  # past the 10th commit: the other engine writes the checkpoint
        o.append(uri, df(spark, [(i, str(i), 1, False)]))
    log = Path(uri) / "_delta_log"
    last = json.loads((log / "_last_checkpoint").read_text())
    assert last["version"] >= 9 and (log / f"{last['version']:020d}.checkpoint.parquet").exists()
    expected = rows(o, uri)
    o.optimize(uri)
    o.vacuum(uri, retention_hours=0)
    assert rows(o, uri) == expected and len(expected) == 12

    assert rows(w, uri) == expected  # and back: the writer reads the other's checkpoint, compaction, vacuum
    assert w.version(uri) == o.version(uri)
    assert [h["version"] for h in w.history(uri)] == [h["version"] for h in o.history(uri)]
    assert w.txn_commit(uri, Txn("silver:b2"))["version"] == o.txn_commit(uri, Txn("silver:b2"))["version"]
    p = w.protocol(uri)
    assert (p["min_reader_version"], p["min_writer_version"]) == (1, 2) and not p["writer_features"]
    assert w.merge(uri, df(spark, [(4, "D", 9, False)]), ["id"], **merge).updated == 1
    assert rows(o, uri) == sorted([*[r for r in expected if r[0] != 4], (4, "D", 9, False)])
