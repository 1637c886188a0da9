"""Profiling's pure parts: anomaly detection against history, rule names, CLI input errors (no Spark)."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from job_assets import profiling as P
from job_assets.contracts import contract
from lakehouse.local.profile import ProfileError, add_parser, table_uri

T0 = dt.datetime(2026, 1, 1)


def rows(batch, table="gold.t", n=100, nulls=None, day=0):
    """Stored profile rows of one profile: column -> null %."""
    nulls = nulls if nulls is not None else {"a": 0.0, "b": 10.0}
    return [
        {
            "batch_id": batch,
            "table_name": table,
            "column_name": c,
            "row_count": n,
            "null_pct": pct,
            "profiled_ts": T0 + dt.timedelta(days=day),
        }
        for c, pct in nulls.items()
    ]


def history(*counts, table="gold.t"):
    out = []
    for i, n in enumerate(counts):
        out += rows(f"b{i}", table, n, day=i)
    return out


def test_thresholds_are_the_documented_constants():
    t = P.DEFAULT_THRESHOLDS
    assert (t.history, t.min_history, t.row_count_change_pct, t.null_rate_jump_points) == (5, 1, 50.0, 20.0)


def test_first_profile_flags_nothing():
    assert P.anomalies(rows("now", n=1, nulls={"a": 100.0}), []) == []


def test_row_count_halving_is_flagged_against_the_median():
    [a] = P.anomalies(rows("now", n=50), history(100, 100, 100))
    assert (a.check, a.rule, a.current, a.baseline, a.column) == (
        "row_count_jump",
        "profile:row_count_jump",
        50,
        100,
        None,
    )
    assert "-50.0 %" in a.message


@pytest.mark.parametrize(("now", "flagged"), [(51, False), (149, False), (150, True), (400, True), (0, True)])
def test_row_count_change_limit_is_50_pct_either_way(now, flagged):
    assert bool(P.anomalies(rows("now", n=now), history(100, 100))) is flagged


def test_only_the_last_n_profiles_count_and_an_outlier_does_not_move_the_median():
    old = history(10, 10, 10, 10, 100, 100, 100, 100, 100)  # the newest five are 100
    assert P.anomalies(rows("now", n=100), old) == []
    assert P.anomalies(rows("now", n=100), history(100, 100, 5, 100, 100)) == []  # median, not mean


def test_from_empty_to_rows_is_a_jump_and_empty_to_empty_is_not():
    [a] = P.anomalies(rows("now", n=10), history(0, 0))
    assert "from empty" in a.message
    assert P.anomalies(rows("now", n=0, nulls={"a": None}), history(0, 0)) == []


def test_null_rate_jump_of_20_points_is_flagged_per_column():
    found = P.anomalies(rows("now", nulls={"a": 20.0, "b": 29.9}), history(100, 100, 100))
    assert [(a.rule, a.current, a.baseline) for a in found] == [("profile:null_rate_jump:a", 20.0, 0.0)]
    assert P.anomalies(rows("now", nulls={"a": 19.9, "b": 0.0}), history(100, 100)) == []  # a drop is no jump


def test_history_of_the_same_batch_and_other_tables_is_ignored():
    replay = rows("now", n=1000)  # a replayed batch's own earlier profile
    other = history(1, 1, table="gold.other")
    assert P.anomalies(rows("now", n=1000), replay + other) == []
    assert [a.rule for a in P.anomalies(rows("now", n=1000), replay + history(100))] == ["profile:row_count_jump"]


def test_anomalies_become_warn_rules_prefixed_profile_that_are_not_contract_rules():
    from lakehouse.promotion import CONTRACT_RULES

    found = P.anomalies(rows("now", n=10, nulls={"a": 90.0, "b": 10.0}), history(100))
    stats = P.rule_stats(found)
    assert [s.rule.name for s in stats] == ["profile:row_count_jump", "profile:null_rate_jump:a"]
    assert all(s.rule.severity == "warn" and s.checked == 1 and s.failed == 1 for s in stats)
    assert all(s.rule.name.startswith(P.PREFIX) and (s.table, s.rule.name) not in CONTRACT_RULES for s in stats)


def test_profiles_table_contract():
    c = contract("gold.profiles")
    assert c.keys == ("batch_id", "table_name", "column_name")
    assert set(P.STAT_KEYS) | {"batch_id", "source", "profiled_ts"} == set(c.column_names)
    assert [f"p{round(q * 100):02d}" for q in P.QUANTILES] == ["p05", "p25", "p50", "p75", "p95"]


def test_unknown_table_lists_the_known_ones(tmp_path):
    with pytest.raises(ProfileError, match=r"unknown table 'gold\.nope'; known tables: .*gold\.revenue_attribution"):
        table_uri(tmp_path, "gold.nope")
    with pytest.raises(ProfileError, match="no Delta table"):
        table_uri(tmp_path, "gold.win_rates")
    with pytest.raises(ProfileError, match="no such folder"):
        table_uri(tmp_path / "missing", "gold.win_rates")


def test_add_parser_registers_profile_with_the_runner():
    p = argparse.ArgumentParser(prog="lakehouse")
    sub = p.add_subparsers(dest="command", required=True)
    wrapped = []
    add_parser(sub, lambda fn: wrapped.append(fn) or fn, ".lake")
    args = p.parse_args(["profile", "gold.win_rates"])
    assert (args.table, args.lake_root, args.engine) == ("gold.win_rates", ".lake", "auto")
    assert args.func is wrapped[0] and wrapped[0].__name__ == "cmd_profile"
