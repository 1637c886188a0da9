"""The stress scenarios' landing-set builders (benchmarks/stress_builders.py) on a small generated set.

No pipeline runs here: the scenarios themselves are benchmarks (`make bench-stress`); what is tested is that
each builder rewrites the generator's files as the scenario says and keeps what bronze would read of them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import stress_builders as B
from job_assets.contracts import landing as L
from job_assets.transforms.bronze import parse_file
from lakehouse.generator import generate

RECORDS = 3000


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    generate(tmp_path, RECORDS, seed=42, bad_ratio=0.02)
    return tmp_path


def parsed(landing: Path) -> Counter:
    """(entity, error or 'ok') of every record bronze's own parser reads from the landing files."""
    out: Counter = Counter()
    for p in B.landing_files(landing):
        e = B.entity_of(p, landing)
        for rec in parse_file(str(p), p.read_bytes(), e.format, e.field_names):
            out[(e.name, rec[4] or "ok")] += 1
    return out


def test_records_are_counted_as_bronze_parses_them(lake: Path) -> None:
    manifest = json.loads((lake / "_generator" / "manifest.json").read_text())
    assert B.count_records(lake / "landing") == manifest["records_written"] == sum(parsed(lake / "landing").values())


def test_the_splitter_conserves_records_into_about_n_files(lake: Path) -> None:
    before = parsed(lake / "landing")
    written = B.split_files(lake / "landing", 500)
    assert 450 <= written <= 560
    assert len(B.landing_files(lake / "landing")) >= written
    assert parsed(lake / "landing") == before


def test_concatenation_makes_one_file_of_the_entity_and_keeps_every_record(lake: Path) -> None:
    before = parsed(lake / "landing")
    n_files = len(B.landing_files(lake / "landing", L.ORDER_ITEMS.name))
    big, n = B.concat_entity(lake / "landing", L.ORDER_ITEMS.name)
    left = B.landing_files(lake / "landing", L.ORDER_ITEMS.name)
    assert big in left and len(left) < n_files
    assert n == sum(1 for _ in parse_file(str(big), big.read_bytes(), "csv", L.ORDER_ITEMS.field_names)) > RECORDS // 3
    assert parsed(lake / "landing") == before


def test_skew_puts_30_percent_of_orders_on_one_existing_customer(tmp_path: Path) -> None:
    lake = tmp_path  # big enough that no customer holds 30 % of the orders already (at 3,000 records one does)
    generate(lake, 20_000, seed=42, bad_ratio=0.01)
    assert max(B.order_customers(lake / "landing").values()) < 0.2 * sum(B.order_customers(lake / "landing").values())
    orders_before = sum(B.order_customers(lake / "landing").values())
    hot, share = B.skew_orders(lake / "landing", 0.30)
    counts = B.order_customers(lake / "landing")
    assert hot in B.customer_ids(lake / "landing")
    assert counts.most_common(1)[0][0] == hot
    assert 0.27 <= share == counts[hot] / sum(counts.values()) <= 0.33
    assert sum(counts.values()) == orders_before


def test_drift_adds_a_field_to_every_record_of_every_entity(lake: Path) -> None:
    before = parsed(lake / "landing")
    drifted = B.add_drift(lake / "landing")
    assert set(drifted) == {e.name for e in L.LANDING_ENTITIES} and all(drifted.values())
    assert parsed(lake / "landing") == before  # what parses still parses, under its own header
    for p in B.landing_files(lake / "landing"):
        e = B.entity_of(p, lake / "landing")
        for rec in parse_file(str(p), p.read_bytes(), e.format, e.field_names):
            if rec[4] is None:
                assert set(json.loads(rec[3])) >= {B.DRIFT_CSV if e.format == "csv" else B.DRIFT_JSON}


def test_withheld_customers_leave_the_files_and_come_back_in_one(lake: Path) -> None:
    landing = lake / "landing"
    late = B.pick_late_parents(landing, 0.10)
    assert late and late <= B.customer_ids(landing)
    pool: list = []
    taken = B.withhold_customers(landing, late, pool, B.landing_files(landing))
    assert taken == len(pool) >= len(late)
    assert not late & B.customer_ids(landing)
    B.deliver_pool(landing, pool, "2025-01-04")
    assert late <= B.customer_ids(landing)
