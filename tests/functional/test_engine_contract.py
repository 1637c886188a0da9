"""The engine contract: the same cases on every table engine available here.

delta-spark needs Delta's JVM classes (EMR ships them; Maven Central is unreachable here), so its
cases skip with that reason instead of silently passing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from job_assets.engine import EngineUnavailableError, Txn, make_engine

ENGINES = ["delta-rs", "delta-spark"]
SCHEMA = "id long, v string, ver long, deleted boolean"


@pytest.fixture(params=ENGINES)
def engine(request, spark):
    try:
        return make_engine(spark, request.param)
    except EngineUnavailableError as exc:
        pytest.skip(str(exc))


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


def test_merge_that_changes_nothing_makes_no_commit(engine, spark, tmp_path):
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 5, False)]))
    r = engine.merge(uri, df(spark, [(1, "old", 1, False)]), ["id"], update_condition="s.ver > t.ver")
    assert not r.committed and engine.version(uri) == 0


def test_merge_rejects_duplicate_source_keys(engine, spark, tmp_path):
    uri = str(tmp_path / "t")
    engine.append(uri, df(spark, [(1, "a", 5, False)]))
    with pytest.raises(Exception, match=r"several rows|multiple source rows"):
        engine.merge(uri, df(spark, [(1, "x", 6, False), (1, "y", 7, False)]), ["id"])


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
    """`auto` must tell "Delta is absent" from "the probe is broken": probe a class that surely loads."""
    from job_assets.engine.delta_spark import delta_classes_loadable, jvm_class_loadable

    assert jvm_class_loadable(spark, "org.apache.spark.sql.SparkSession")
    assert not jvm_class_loadable(spark, "io.delta.tables.NoSuchClass")
    expected = "delta-spark" if delta_classes_loadable(spark) else "delta-rs"
    assert make_engine(spark, "auto").name == expected
    with pytest.raises(ValueError, match="unknown table engine"):
        make_engine(spark, "iceberg")
