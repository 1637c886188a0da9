"""`lakehouse rebuild --from bronze` on a real local lake of two batches (a delivery, then a follow-up with
new and changed records and orphans released): the rebuild replays bronze through the same jobs, proves an
intact lake equal (and changes nothing), brings lost tables back equal to what they held, refuses to
replace a table that differs unless told to, and refuses bad input before it starts Spark.

The CLI runs in-process on the session's Spark, as the other recovery tests do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from job_assets.context import LakeLocations
from lakehouse.cli import main
from lakehouse.recovery import journal
from lakehouse.recovery.rebuild import STAGING

from .lake_checks import table

pytestmark = pytest.mark.spark
DATA = ("silver.orders", "silver.customers", "silver.accounts_history", "gold.revenue_attribution")


@pytest.fixture
def lake(two_batch_lake, tmp_path) -> Path:
    root = tmp_path / "lake"
    shutil.copytree(two_batch_lake, root)
    return root


def rows(root: Path, name: str) -> list[tuple]:
    return sorted((tuple(r.values()) for r in table(root, name).to_pylist()), key=repr)


def version(engine, root: Path, name: str) -> int | None:
    return engine.version(LakeLocations.for_root(str(root)).table_uri(name))


def rebuild(root: Path, *extra: str) -> list[str]:
    return ["rebuild", "--from", "bronze", "--lake-root", str(root), *extra]


def no_staging_left(root: Path) -> bool:
    return not any(root.rglob(STAGING))


@pytest.mark.slow  # the default suite: the runbook harness rebuilds an intact lake (equal: kept, 0 written)
def test_an_intact_lake_is_proved_equal_and_nothing_is_written(lake, default_engine, capsys) -> None:
    before = {name: version(default_engine, lake, name) for name in DATA}
    capsys.readouterr()
    assert main(rebuild(lake)) == 0
    out = capsys.readouterr().out
    assert "bronze: " in out and "tables check whole" in out
    assert "silver.orders" in out and "equal: kept" in out and "missing" not in out and "different" not in out
    assert "0 written" in out
    assert {name: version(default_engine, lake, name) for name in DATA} == before  # no commit anywhere
    assert no_staging_left(lake)
    (entry,) = journal.read(lake)
    assert entry["operation"] == "REBUILD" and entry["table"] == "silver,gold" and entry["written"] == {}
    assert set(entry["verdicts"].values()) == {"equal"}


@pytest.mark.slow  # the default suite: the lost-silver drill (tests/functional/test_drills.py) loses every silver table
def test_lost_tables_come_back_holding_what_they_held(lake, capsys) -> None:
    before = {name: rows(lake, name) for name in DATA}
    shutil.rmtree(lake / "silver" / "orders")
    shutil.rmtree(lake / "silver" / "run_summary")  # the run history went with it
    shutil.rmtree(lake / "gold" / "blue" / "revenue_attribution")
    capsys.readouterr()
    assert main(rebuild(lake, "--yes")) == 0
    out = capsys.readouterr().out
    assert "missing: install" in out
    for name in DATA:
        assert rows(lake, name) == before[name], name
    assert (lake / "silver" / "run_summary" / "_delta_log").is_dir()  # installed: the next run goes on from it
    written = journal.read(lake)[-1]["written"]
    assert set(written) == {"silver.orders", "silver.run_summary", "gold.revenue_attribution"}
    assert no_staging_left(lake)
    assert main(["run", "--lake-root", str(lake)]) == 0  # and the pipeline runs on from the rebuilt lake
    assert rows(lake, "silver.orders") == before["silver.orders"]


def test_a_table_that_differs_is_refused_then_replaced_when_told(lake, default_engine, capsys) -> None:
    """Gold alone (rebuilt from the live silver, seconds): the same decision code as silver's, which the slow
    tier and the lost-silver drill exercise."""
    name = "gold.customer_segments"
    uri = LakeLocations.for_root(str(lake)).table_uri(name)
    before, good = rows(lake, name), version(default_engine, lake, name)
    damaged = default_engine.read(uri).limit(10)  # a bad manual write: the table overwritten with 10 rows
    default_engine.overwrite(uri, damaged.localCheckpoint())
    bad = version(default_engine, lake, name)
    capsys.readouterr()

    assert main(rebuild(lake, "--layers", "gold", "--yes")) == 2
    err = capsys.readouterr().err
    assert f"differs from the live tables: {name}" in err and "--replace-different" in err
    assert version(default_engine, lake, name) == bad and no_staging_left(lake)  # nothing changed

    assert main(rebuild(lake, "--layers", "gold", "--replace-different", "--yes")) == 0
    assert "different: replace" in capsys.readouterr().out
    assert rows(lake, name) == before
    assert version(default_engine, lake, name) == bad + 1 > good  # one commit, which table restore can undo


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--from", "silver"], "--from silver: a rebuild starts from bronze"),
        (["--from", "bronze", "--layers", "bronze"], "--layers bronze: bronze cannot be rebuilt"),
        (["--from", "bronze", "--layers", "silver,platinum"], "platinum cannot be rebuilt"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, argv, message, capsys) -> None:
    assert main(["rebuild", *argv, "--lake-root", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_an_empty_or_damaged_bronze_is_refused_before_anything_is_built(lake, tmp_path, capsys) -> None:
    assert main(rebuild(tmp_path / "empty")) == 2
    assert "bronze holds no table" in capsys.readouterr().err
    log = lake / "bronze" / "snowflake_orders" / "_delta_log"
    next(log.glob("*0.json")).unlink()  # a commit of bronze lost
    assert main(rebuild(lake, "--yes")) == 2
    err = capsys.readouterr().err
    assert "bronze.snowflake_orders: bronze is damaged" in err and "repair it first" in err
    assert no_staging_left(lake)


def test_the_second_engine_rebuilds_a_lost_gold_table(lake, capsys) -> None:
    """delta-rs (`--engine delta-rs`) on the lake delta-spark wrote: gold alone, rebuilt from the live silver."""
    before = rows(lake, "gold.win_rates")
    shutil.rmtree(lake / "gold" / "blue" / "win_rates")
    capsys.readouterr()
    assert main(rebuild(lake, "--layers", "gold", "--engine", "delta-rs", "--yes")) == 0
    out = capsys.readouterr().out
    assert "gold.win_rates" in out and "missing: install" in out and "silver." not in out
    assert rows(lake, "gold.win_rates") == before
    assert journal.read(lake)[-1]["engine"] == "delta-rs" and no_staging_left(lake)


def test_the_comparison_counts_rows_as_multisets_like_except_all(spark, default_engine, tmp_path) -> None:
    """One job a table (lakehouse.recovery.rebuild.compare) gives what ``exceptAll`` both ways would:
    duplicates count, nulls match nulls, and a row the other side holds fewer times is counted once per copy."""
    from types import SimpleNamespace

    from lakehouse.recovery.rebuild import compare

    live_rows = [(1, "a"), (1, "a"), (2, None), (3, "c"), (4, "d")]
    rebuilt_rows = [(1, "a"), (2, None), (3, "x"), (5, "e"), (5, "e")]
    uris = {}
    for name, rows in (("live", live_rows), ("rebuilt", rebuilt_rows)):
        uris[name] = str(tmp_path / name)
        spark.createDataFrame(rows, "k bigint, v string").write.format("delta").save(uris[name])
    c = SimpleNamespace(name="t.t", table="t", column_names=("k", "v"))
    got = compare(default_engine, uris["live"], uris["rebuilt"], c)
    live, rebuilt = (spark.createDataFrame(r, "k bigint, v string") for r in (live_rows, rebuilt_rows))
    assert (got.live_rows, got.rebuilt_rows) == (5, 5)
    assert got.only_live == live.exceptAll(rebuilt).count() == 3  # (1, a) once more, (3, c), (4, d)
    assert got.only_rebuilt == rebuilt.exceptAll(live).count() == 3  # (3, x), (5, e) twice
    same = compare(default_engine, uris["live"], uris["live"], c)
    assert (same.only_live, same.only_rebuilt, same.live_rows) == (0, 0, 5)
    missing = compare(default_engine, str(tmp_path / "nowhere"), uris["rebuilt"], c)
    assert (missing.live_rows, missing.rebuilt_rows) == (None, 5)
