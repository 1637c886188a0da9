"""Profiling: figures equal an independent computation (pyarrow + Python over the same Delta table), the
gold job stores a profile per run, and an injected anomaly becomes a `profile:*` warning, never a failure."""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import itertools
import json
import math
import random
import statistics
from collections import Counter

import pytest
from deltalake import DeltaTable
from rich.console import Console

from job_assets import profiling as P
from job_assets.context import LakeLocations, RunContext
from job_assets.contracts import GOLD_TABLES, contract
from job_assets.contracts.model import Column, TableContract
from job_assets.contracts.spark_schema import schema_of
from job_assets.jobs import bronze, gold, silver
from lakehouse.generator import generate

from .lake_checks import table_path

pytestmark = pytest.mark.spark

WIDE = TableContract(
    "gold.profiling_probe",
    "every column type profiling handles",
    "tests",
    "one row per id",
    (
        Column("id", "bigint"),
        Column("label", "string"),
        Column("score", "double"),
        Column("amount", "decimal(18,2)"),
        Column("qty", "int"),
        Column("day", "date"),
        Column("seen_ts", "timestamp"),
        Column("flag", "boolean"),
        Column("empty", "string"),
    ),
)


def _probe_rows(n: int) -> list[tuple]:
    rnd = random.Random(42)
    out = []
    for i in range(n):
        out.append(
            (
                i,
                rnd.choice([None, "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"]),
                None if i % 7 == 0 else rnd.random() * 1e6,
                decimal.Decimal(rnd.randint(-50_000, 50_000)) / 100,
                None if i % 5 == 0 else rnd.randint(0, 9),
                dt.date(2024, 1, 1) + dt.timedelta(days=rnd.randint(0, 60)),
                None if i % 11 == 0 else dt.datetime(2024, 1, 1) + dt.timedelta(microseconds=rnd.randint(0, 10**13)),
                rnd.choice([True, False, None]),
                None,
            )
        )
    return out


def _parse(text: str | None, type_name: str):
    """A profile's value (Spark's cast to string) back to the column's Python type."""
    if text is None:
        return None
    if type_name in ("bigint", "int"):
        return int(text)
    if type_name == "double":
        return float(text)
    if type_name.startswith("decimal"):
        return decimal.Decimal(text)
    if type_name == "date":
        return dt.date.fromisoformat(text)
    if type_name == "timestamp":
        return dt.datetime.fromisoformat(text)
    if type_name == "boolean":
        return {"true": True, "false": False}[text]
    return text


def assert_profile_matches(stats: list[dict], uri: str, c: TableContract) -> None:
    """Each stat row against the same Delta table read with delta-rs (pyarrow) and computed in plain Python."""
    data = DeltaTable(uri).to_pyarrow_table().to_pydict()
    n = len(next(iter(data.values()))) if data else 0
    by_column = {s["column_name"]: s for s in stats}
    assert list(by_column) == list(c.column_names)
    for col in c.columns:
        s, values = by_column[col.name], data[col.name]
        # delta-rs reads timestamps as UTC-aware; Spark's session time zone is UTC
        present = [v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in values if v is not None]
        where = f"{c.name}.{col.name}"
        assert s["row_count"] == n, where
        assert s["null_count"] == n - len(present), where
        assert s["null_pct"] == (pytest.approx(100.0 * (n - len(present)) / n) if n else None), where
        assert s["distinct_count"] == len(set(present)), where  # exact, by design
        assert _parse(s["min_value"], col.type) == (min(present) if present else None), where
        assert _parse(s["max_value"], col.type) == (max(present) if present else None), where
        numeric = col.type in ("bigint", "int", "double") or col.type.startswith("decimal")
        if numeric and present:
            # a decimal's mean is Spark's decimal average: 4 more decimal places than the column (here 6)
            slack = 10.0 ** -(int(col.type.split(",")[1].rstrip(")")) + 4) if col.type.startswith("decimal") else 0
            mean = statistics.fmean(float(v) for v in present)
            assert s["mean_value"] == pytest.approx(mean, rel=1e-9, abs=slack), where
        else:
            assert s["mean_value"] is None, where
        ordered = sorted(present)
        for q in P.QUANTILES:
            got = _parse(s[f"p{round(q * 100):02d}"], col.type)
            if not (numeric or col.type in ("date", "timestamp")) or not ordered:
                assert got is None, where
                continue
            # percentile_approx: an actual value whose rank is within n / accuracy of the inverted-CDF rank
            k = max(0, math.ceil(q * len(ordered)) - 1)
            slack = len(ordered) // P.QUANTILE_ACCURACY
            lo, hi = ordered[max(0, k - slack)], ordered[min(len(ordered) - 1, k + slack)]
            assert lo <= got <= hi and got in set(ordered), (where, q, got, ordered[k])
        counts = Counter(present)
        top = json.loads(s["top_values"])
        assert [t["count"] for t in top] == sorted(counts.values(), reverse=True)[: P.TOP_VALUES], where
        for t in top:
            assert counts[_parse(t["value"], col.type)] == t["count"], (where, t)


def test_profile_figures_equal_a_direct_computation(tmp_path, spark, rs_engine):
    uri = str(tmp_path / "probe")
    rs_engine.overwrite(uri, spark.createDataFrame(_probe_rows(600), schema_of(WIDE)))
    stats = P.profile(rs_engine.read(uri), WIDE)
    assert_profile_matches(stats, uri, WIDE)
    label = next(s for s in stats if s["column_name"] == "label")
    top = json.loads(label["top_values"])
    assert len(top) == P.TOP_VALUES and all(  # ties: the smaller value first
        (a["count"], b["value"]) >= (b["count"], a["value"]) for a, b in itertools.pairwise(top)
    )
    empty = next(s for s in stats if s["column_name"] == "empty")
    assert (empty["null_pct"], empty["distinct_count"], empty["top_values"]) == (100.0, 0, "[]")

    none = str(tmp_path / "none")
    rs_engine.overwrite(none, spark.createDataFrame([], schema_of(WIDE)))
    for s in P.profile(rs_engine.read(none), WIDE):
        assert (s["row_count"], s["null_pct"], s["distinct_count"], s["min_value"], s["p50"]) == (
            0,
            None,
            0,
            None,
            None,
        )


def test_columns_with_too_many_distinct_values_get_no_top_values(tmp_path, spark, rs_engine, monkeypatch):
    uri = str(tmp_path / "probe")
    rs_engine.overwrite(uri, spark.createDataFrame(_probe_rows(300), schema_of(WIDE)))
    data = DeltaTable(uri).to_pyarrow_table().to_pydict()
    distinct = {c: len({v for v in data[c] if v is not None}) for c in WIDE.column_names}
    cap = sorted(set(distinct.values()))[len(set(distinct.values())) // 2]  # some columns above, some below
    monkeypatch.setattr(P, "TOP_VALUES_MAX_DISTINCT", cap)
    stats = {s["column_name"]: s for s in P.profile(rs_engine.read(uri), WIDE)}
    above = [c for c, d in distinct.items() if d > cap]
    below = [c for c, d in distinct.items() if 0 < d <= cap]
    assert above and below
    for c in above:  # no ranking, still an exact distinct count
        assert (stats[c]["top_values"], stats[c]["distinct_count"]) == ("[]", distinct[c]), c
    for c in below:
        assert json.loads(stats[c]["top_values"]) and stats[c]["distinct_count"] == distinct[c], c


@pytest.fixture(scope="module")
def lake(tmp_path_factory, spark, rs_engine):
    root = tmp_path_factory.mktemp("profiling") / "lake"
    generate(root, 1_000, seed=13, bad_ratio=0.0)
    ctx = RunContext(spark, rs_engine, LakeLocations.for_root(str(root)), "b1")
    bronze.run(ctx)
    silver.run(ctx)
    first = gold.run(ctx)
    return {"root": root, "ctx": ctx, "first": first}


def _profiles(root) -> list[dict]:
    return DeltaTable(table_path(root, "gold.profiles")).to_pyarrow_table().to_pylist()


def _dq(root) -> list[dict]:
    return DeltaTable(table_path(root, "gold.dq_results")).to_pyarrow_table().to_pylist()


def test_gold_job_stores_a_profile_of_every_gold_table(lake):
    root = lake["root"]
    assert lake["first"].status == "succeeded"
    stored = [r for r in _profiles(root) if r["batch_id"] == "b1"]
    assert {r["source"] for r in stored} == {"gold job"}
    for c in GOLD_TABLES:
        rows = [r for r in stored if r["table_name"] == c.name]
        assert_profile_matches(rows, table_path(root, c.name), c)
    assert not [r for r in _dq(root) if r["rule"].startswith("profile:")]  # a first profile flags nothing


def test_injected_anomalies_are_dq_warnings_not_failures(lake, spark, rs_engine, monkeypatch):
    from pyspark.sql import functions as F

    from lakehouse.promotion import CONTRACT_RULES

    root, ctx = lake["root"], lake["ctx"]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    marker = {  # a newer finished silver batch, so gold rebuilds
        "batch_id": "b2",
        "job": "silver",
        "table_name": "*",
        "status": "succeeded",
        **dict.fromkeys(("rows_in", "rows_out", "rows_quarantined", "rows_superseded", "rows_released"), 0),
        "started_ts": now,
        "ended_ts": now + dt.timedelta(seconds=1),
        "duration_s": 1.0,
        "engine": rs_engine.name,
        "env": "local",
    }
    rs_engine.append_rows(ctx.uri("silver.run_summary"), [marker], schema_of(contract("silver.run_summary")))
    build = gold.build

    def injected(silver_frames, flags=None):
        frames = build(silver_frames, flags)
        ra = frames["gold.revenue_attribution"]
        frames["gold.revenue_attribution"] = ra.orderBy(*contract("gold.revenue_attribution").keys).limit(
            ra.count() // 2
        )  # the row count halves
        frames["gold.win_rates"] = frames["gold.win_rates"].withColumn("win_rate", F.lit(None).cast("double"))
        return frames

    monkeypatch.setattr(gold, "build", injected)
    result = gold.run(RunContext(spark, rs_engine, LakeLocations.for_root(str(root)), "b2"))

    assert result.status == "succeeded" and result.batch_id == "b2"
    expected = {
        ("gold.revenue_attribution", "profile:row_count_jump"),
        ("gold.win_rates", "profile:null_rate_jump:win_rate"),
    }
    assert {(s.table, s.rule.name) for s in result.dq if s.rule.name.startswith("profile:")} == expected
    warned = [r for r in _dq(root) if r["batch_id"] == "b2" and r["rule"].startswith("profile:")]
    assert {(r["table_name"], r["rule"]) for r in warned} == expected
    assert all((r["severity"], r["kind"], r["checked"], r["failed"]) == ("warn", "profile", 1, 1) for r in warned)
    assert not expected & CONTRACT_RULES  # the promotion gate judges contract rules only
    summary = DeltaTable(table_path(root, "gold.run_summary")).to_pyarrow_table().to_pylist()
    ra = next(r for r in summary if r["batch_id"] == "b2" and r["table_name"] == "gold.revenue_attribution")
    assert ra["dq_score"] == 1.0  # a drift warning is recorded, not scored: the DQScore alarm stays quiet
    assert {r["batch_id"] for r in _profiles(root)} == {"b1", "b2"}


def test_cli_profiles_on_demand_and_shows_the_anomaly(lake, spark, monkeypatch, capsys):
    import job_assets.spark
    from lakehouse.local.profile import ProfileError, add_parser

    monkeypatch.setattr(job_assets.spark, "local_session", lambda *a, **k: spark)
    console = Console(width=250, force_terminal=False)
    parser = argparse.ArgumentParser(prog="lakehouse")
    add_parser(parser.add_subparsers(dest="command"), lambda fn: lambda args: fn(args, console), ".lake")
    root = str(lake["root"])

    args = parser.parse_args(["profile", "gold.win_rates", "--lake-root", root])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "gold.win_rates" in out and "lead_source" in out and "win_rate" in out
    assert "profile:null_rate_jump:win_rate" in out  # 100 % null vs the median of b1 (0 %) and b2 (100 %)
    cli_rows = [r for r in _profiles(lake["root"]) if r["source"] == "cli"]
    assert len({r["batch_id"] for r in cli_rows}) == 1 and {r["table_name"] for r in cli_rows} == {"gold.win_rates"}
    args = parser.parse_args(["profile", "gold.win_rate", "--lake-root", root])
    with pytest.raises(ProfileError, match=r"unknown table 'gold\.win_rate'; known tables: .*gold\.win_rates"):
        args.func(args)
