"""The promotion gates on real Delta tables (delta-rs, no Spark): thresholds, overrides, missing tables, DQ."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from job_assets.contracts import GOLD_TABLES
from job_assets.contracts.gold import KEY_METRICS
from lakehouse.promotion import AuditRun, LocalControl, SlotState, evaluate_gates


@dataclass(frozen=True)
class Thresholds:
    max_row_count_change_pct: float = 10.0
    max_metric_change_pct: float = 5.0
    metric_change_pct: dict = field(default_factory=dict)


def write_gold(
    folder: Path, *, rows: int = 100, revenue: str = "10.00", skip: str = "", dq: dict | None = None
) -> None:
    """Gold tables with ``rows`` rows each; every key metric column sums to rows * value."""
    for contract in GOLD_TABLES:
        name = contract.name.split(".", 1)[1]
        if name == skip:
            continue
        columns = {m.column for m in KEY_METRICS.values() if m.table == contract.name} or {contract.keys[0]}
        data = {}
        for column in sorted(columns):
            if column.endswith("_usd"):
                data[column] = pa.array([Decimal(revenue)] * rows, pa.decimal128(18, 2))
            else:
                data[column] = pa.array([1] * rows, pa.int64())
        write_deltalake(str(folder / name), pa.table(data), mode="overwrite")
    rules = dq if dq is not None else {(c.name, r.name): 0 for c in GOLD_TABLES for r in c.rules}
    write_deltalake(
        str(folder / "dq_results"),
        pa.table(
            {
                "batch_id": ["b1"] * len(rules),
                "table_name": [t for t, _ in rules],
                "rule": [r for _, r in rules],
                "failed": pa.array(list(rules.values()), pa.int64()),
            }
        ),
        mode="overwrite",
    )


@pytest.fixture
def lake(tmp_path: Path) -> LocalControl:
    (tmp_path / "landing").mkdir()
    return LocalControl(tmp_path)


def gates(control: LocalControl, thresholds: Thresholds = Thresholds(), audit: AuditRun | None = None) -> dict:
    audit = audit or AuditRun(True, "audit-1", {"status": "succeeded"})
    found = evaluate_gates(
        audit,
        published_uri=control.gold_uri("blue"),
        candidate_uri=control.gold_uri("green"),
        thresholds=thresholds,
        control=control,
    )
    return {g.name: g for g in found}


def test_identical_gold_passes_every_gate(lake: LocalControl) -> None:
    write_gold(Path(lake.gold_uri("blue")))
    write_gold(Path(lake.gold_uri("green")))
    result = gates(lake)
    assert all(g.passed for g in result.values()), [g for g in result.values() if not g.passed]
    assert {f"rows {c.name.split('.')[1]}" for c in GOLD_TABLES} | {f"metric {m}" for m in KEY_METRICS} | {
        "audit run",
        "dq rules",
    } == set(result)
    assert result["metric revenue_usd"].published == result["metric revenue_usd"].candidate == 1000.0


def test_metric_and_row_thresholds_and_overrides(lake: LocalControl) -> None:
    write_gold(Path(lake.gold_uri("blue")), rows=100, revenue="10.00")
    write_gold(Path(lake.gold_uri("green")), rows=88, revenue="12.00")  # rows -12 %, USD sums +5.6 %
    result = gates(lake)
    rows = result["rows revenue_attribution"]
    assert (rows.passed, rows.published, rows.candidate, rows.change_pct, rows.limit_pct) == (
        False,
        100.0,
        88.0,
        12.0,
        10.0,
    )
    revenue = result["metric revenue_usd"]
    assert (revenue.passed, revenue.published, revenue.candidate, revenue.change_pct) == (False, 1000.0, 1056.0, 5.6)
    assert result["metric completed_orders"].passed is False  # 100 -> 88 orders: -12 % > 5 %

    relaxed = gates(
        lake,
        Thresholds(max_row_count_change_pct=12.0, metric_change_pct={"revenue_usd": 6.0, "completed_orders": 12.0}),
    )
    assert relaxed["rows revenue_attribution"].passed and relaxed["metric revenue_usd"].passed
    assert relaxed["metric completed_orders"].passed
    assert relaxed["metric cohort_revenue_usd"].passed is False  # no override: 5 % still applies


def test_a_table_the_audit_did_not_write_fails_its_gates(lake: LocalControl) -> None:
    write_gold(Path(lake.gold_uri("blue")))
    write_gold(Path(lake.gold_uri("green")), skip="win_rates")
    result = gates(lake)
    assert result["rows win_rates"].passed is False and result["rows win_rates"].detail == "the audit wrote no table"
    assert result["metric won_opportunities"].passed is False


def test_nothing_published_yet_compares_nothing(lake: LocalControl) -> None:
    write_gold(Path(lake.gold_uri("green")))
    result = gates(lake)
    assert all(g.passed for g in result.values())
    assert result["rows sales_pipeline"].detail == "nothing published yet: nothing to compare"


def test_dq_gate_names_new_failures_and_ignores_profiling_warnings(lake: LocalControl) -> None:
    every = {(c.name, r.name): 0 for c in GOLD_TABLES for r in c.rules}
    write_gold(Path(lake.gold_uri("blue")), dq=every | {("gold.win_rates", "profile:row_count_jump"): 3})
    failing = every | {("gold.revenue_attribution", "revenue_non_negative"): 7}
    write_gold(Path(lake.gold_uri("green")), dq=failing | {("gold.win_rates", "profile:null_rate_jump:x"): 5})
    dq = gates(lake)["dq rules"]
    assert dq.passed is False
    assert dq.detail == "failing: gold.revenue_attribution:revenue_non_negative (7 rows, new)"
    write_gold(Path(lake.gold_uri("green")), dq=every | {("gold.win_rates", "profile:null_rate_jump:x"): 5})
    assert gates(lake)["dq rules"].passed


def test_a_refused_or_failed_audit(lake: LocalControl) -> None:
    refused = AuditRun(
        False, "a", {"status": "failed", "error": "data quality failure in gold.x: r (range): 2 of 9 rows"}
    )
    result = gates(lake, audit=refused)
    assert (result["audit run"].passed, result["dq rules"].passed) == (True, False)
    assert "2 of 9 rows" in result["dq rules"].detail
    crashed = AuditRun(False, "a", {"status": "failed", "error": "the job exited with 1 and printed no run summary"})
    assert list(gates(lake, audit=crashed)) == ["audit run"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "'active' must be one of blue, green"),
        ('{"active": "blue", "slots": {"blue": 1, "green": ""}}', "'slots' must map blue and green"),
        ('{"active": "blue", "slots": {"blue": "", "green": ""}, "rollback": "blue"}', "'rollback' must be"),
    ],
)
def test_slots_document_is_validated(text: str, message: str) -> None:
    from lakehouse.promotion import PromotionError

    with pytest.raises(PromotionError, match=message):
        SlotState.from_json(text, "slots.json")
    state = SlotState.from_json('{"active": "green", "slots": {"blue": "a", "green": "b"}, "rollback": "blue"}', "x")
    assert (state.inactive, state.version("green", "d"), SlotState.from_json(state.to_json(), "y")) == (
        "blue",
        "b",
        state,
    )


class WritesGold:
    """An auditor whose 'job' writes the given gold into the audit location (the real job is exercised by
    tests/functional/test_promotion.py; here the control flow around it is under test)."""

    def __init__(self, **gold) -> None:
        self.gold = gold

    def ensure(self, version: str) -> None:
        pass

    def run(self, version: str, *, slot_uri: str, batch_id: str) -> AuditRun:
        write_gold(Path(slot_uri), **self.gold)
        return AuditRun(True, batch_id, {"status": "succeeded"})


def test_publish_then_a_failed_publish_keeps_no_half_replaced_rollback_target(lake: LocalControl, monkeypatch) -> None:
    from lakehouse import promotion

    write_gold(Path(lake.gold_uri("blue")))
    monkeypatch.setattr("lakehouse.promotion.local.checkout_version", lambda: "a" * 16)
    done = promotion.promote(lake, WritesGold(), "b" * 16, thresholds=Thresholds(), actor="t")
    assert (done.record.result, done.state.active, done.state.rollback) == ("published", "green", "blue")
    assert not Path(lake.audit_uri()).exists() and (Path(lake.gold_uri("green")) / "win_rates").is_dir()

    def broken_move(slot: str) -> None:
        import shutil

        shutil.rmtree(lake.gold_uri(slot))  # the old gold is gone, the new one never arrives
        raise OSError("disk full")

    monkeypatch.setattr(lake, "move_audit_to", broken_move)
    with pytest.raises(OSError):
        promotion.promote(lake, WritesGold(), "c" * 16, thresholds=Thresholds(), actor="t")
    state = lake.read()
    assert (state.active, state.slots["green"], state.rollback) == ("green", "b" * 16, None)  # no rollback to nothing
    last = max(lake.history(), key=lambda r: r.started_at)
    assert (last.version, last.result, last.message) == ("c" * 16, "failed", "OSError: disk full")
