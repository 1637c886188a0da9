"""Gold by month equals a full rebuild: random silver changes, committed as real Delta MERGEs by each engine, read
back through the change data feed; the months they can move, recomputed over the new state and spliced into the
old table, give exactly the table a full rebuild of the new state gives (job_assets/transforms/gold_months.py).

The gold job's side (build provenance, the flag, the fallbacks to a whole rebuild) is tested on the end-to-end
lake: tests/functional/test_pipeline_e2e.py."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from job_assets.engine import Txn, make_engine
from job_assets.jobs.gold_build import MONTHLY
from job_assets.transforms import gold as G
from job_assets.transforms import gold_months as GM

ORDERS = (
    "order_id bigint, customer_id bigint, order_date date, status string, total_amount_usd decimal(18,2), gone boolean"
)
CUSTOMERS = "customer_id bigint, crm_account_id string, segment string, gone boolean"
OPPS = (
    "opportunity_id string, account_id string, stage_name string, close_date date, last_modified_at timestamp, "
    "lead_source string, gone boolean"
)
SCHEMAS = {"orders": ORDERS, "customers": CUSTOMERS, "opportunities": OPPS}
KEYS = {"orders": ["order_id"], "customers": ["customer_id"], "opportunities": ["opportunity_id"]}
MONTHS = [dt.date(2025, m, 1) for m in range(1, 13)]
STAGES = ("Closed Won", "Closed Lost", "Prospecting")
STATUSES = ("completed", "completed", "cancelled", "pending")
SOURCES = ("Web", "Partner", None)


def _day(rng: random.Random) -> dt.date:
    return rng.choice(MONTHS) + dt.timedelta(days=rng.randrange(28))


class World:
    """Random CRM and order state, and random changes to it (updates of every field gold reads, deletes, inserts)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.accounts = [f"A{i}" for i in range(10)]
        self.inserted = 0
        self.rows: dict[str, dict[object, tuple]] = {"orders": {}, "customers": {}, "opportunities": {}}
        for c in range(30):
            self.rows["customers"][c] = self._customer(c)
        for o in range(150):
            self.rows["orders"][o] = self._order(o)
        for p in range(40):
            self.rows["opportunities"][f"P{p}"] = self._opportunity(f"P{p}")

    def _customer(self, c: int) -> tuple:
        return (c, self.rng.choice([*self.accounts, None]), self.rng.choice(("SMB", "Enterprise")), False)

    def _order(self, o: int) -> tuple:
        amount = Decimal(self.rng.randrange(100, 100_000)) / 100
        customer = self.rng.choice(list(self.rows["customers"]))
        return (o, customer, _day(self.rng), self.rng.choice(STATUSES), amount, False)

    def _opportunity(self, p: str) -> tuple:
        modified = dt.datetime(2025, 1, 1) + dt.timedelta(minutes=self.rng.randrange(500_000))
        account = self.rng.choice(self.accounts)
        return (p, account, self.rng.choice(STAGES), _day(self.rng), modified, self.rng.choice(SOURCES), False)

    def changes(self, table: str, updates: int, deletes: int, inserts: int) -> list[tuple]:
        """Rows to MERGE: ``updates`` existing keys with one field changed, ``deletes`` flagged gone, new keys."""
        rows, current = [], self.rows[table]
        keys = self.rng.sample(sorted(current, key=str), updates + deletes)
        for key in keys[:updates]:
            fresh = {"orders": self._order, "customers": self._customer, "opportunities": self._opportunity}[table](key)
            old = list(current[key])
            field = self.rng.randrange(1, len(old) - 1)  # one field, never the key or the flag
            old[field] = fresh[field]
            rows.append(tuple(old))
        rows += [(*current[key][:-1], True) for key in keys[updates:]]
        for _ in range(inserts):
            self.inserted += 1
            key = 1000 + self.inserted if table != "opportunities" else f"P{1000 + self.inserted}"
            rows.append(
                {"orders": self._order, "customers": self._customer, "opportunities": self._opportunity}[table](key)
            )
        for row in rows:
            if row[-1]:
                current.pop(row[0], None)
            else:
                current[row[0]] = row
        return rows


def _full(silver: dict[str, DataFrame]) -> dict[str, DataFrame]:
    o, c, p = (silver[n].drop("gone") for n in ("orders", "customers", "opportunities"))
    return {
        "order_month": G.revenue_attribution(o, c, p, "last_touch"),
        "cohort_month": G.customer_ltv_cohorts(o),
    }


def _read(engine, root: Path, version: dict[str, int]) -> dict[str, DataFrame]:
    return {n: engine.read(str(root / n), version=version[n]) for n in SCHEMAS}


def _commit_round(spark: SparkSession, engine, root: Path, world: World, round_no: int) -> None:
    sizes = {"orders": (6, 2, 3), "customers": (2, 1, 1), "opportunities": (2, 1, 1)}
    for name, (updates, deletes, inserts) in sizes.items():
        rows = world.changes(name, updates, deletes, inserts)
        engine.merge(
            str(root / name),
            spark.createDataFrame(rows, SCHEMAS[name]),
            KEYS[name],
            delete_condition="s.gone",
            insert_condition="NOT s.gone",
            txn=Txn(f"round:{round_no}"),
            source_keys_unique=True,  # World.changes gives each key once
        )


def _equal(a: DataFrame, b: DataFrame) -> tuple[int, int]:
    return a.exceptAll(b).count(), b.exceptAll(a).count()


@pytest.mark.parametrize(("engine_name", "seed"), [("delta-spark", 3), ("delta-rs", 5)])
def test_months_recomputed_from_the_change_feed_equal_a_full_rebuild(
    spark: SparkSession, tmp_path: Path, engine_name: str, seed: int
) -> None:
    engine = make_engine(spark, engine_name)
    world = World(seed)
    for name, schema in SCHEMAS.items():
        engine.declare(str(tmp_path / name), {"delta.enableChangeDataFeed": "true"})
        engine.merge(
            str(tmp_path / name),
            spark.createDataFrame(list(world.rows[name].values()), schema),
            KEYS[name],
            txn=Txn("round:0"),
            source_keys_unique=True,
        )
    before = {n: engine.version(str(tmp_path / n)) for n in SCHEMAS}
    old = _full(_read(engine, tmp_path, before))
    for round_no in (1, 2):  # two commits per table: the feed spans several versions
        _commit_round(spark, engine, tmp_path, world, round_no)
    now = {n: engine.version(str(tmp_path / n)) for n in SCHEMAS}
    silver = {n: df.drop("gone") for n, df in _read(engine, tmp_path, now).items()}
    columns = {"orders": GM.ORDER_COLUMNS, "customers": GM.CUSTOMER_COLUMNS, "opportunities": GM.OPPORTUNITY_COLUMNS}
    feed = {f"silver.{n}": engine.changes(str(tmp_path / n), before[n] + 1, now[n], columns[n]) for n in SCHEMAS}
    current = {f"silver.{n}": df for n, df in silver.items()}

    # the job's own wiring (gold_build.MONTHLY): the months each table's scope finds, its rows for them
    recomputed = {}
    for table in MONTHLY.values():
        months = sorted(r[0] for r in table.scope(feed, current).collect())
        rows = table.rows(months, current, {"attribution_model": "last_touch"})
        recomputed[table.column] = (months, GM.splice(old[table.column], rows, table.column, months))
    attribution, cohorts = recomputed["order_month"][0], recomputed["cohort_month"][0]
    new = _full(silver)
    spliced = {column: frame for column, (_, frame) in recomputed.items()}
    for column in ("order_month", "cohort_month"):
        assert new[column].count() > 0
        assert _equal(spliced[column], new[column]) == (0, 0), column
        # every month whose rows differ between the old and the new table is one of the recomputed months
        months = attribution if column == "order_month" else cohorts
        changed = {r[0] for r in new[column].exceptAll(old[column]).select(column).collect()}
        assert changed <= set(months), column
    if engine_name == "delta-spark":  # row-level change files: fewer months than the table has
        assert len(attribution) < len(MONTHS), attribution
