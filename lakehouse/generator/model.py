"""The generator's shared delivery model: constants, vocabularies and the in-memory state of a simulation.

Entity names and shares, bad kinds, re-delivery fractions, time windows, countries and currencies, the word
lists rows are built from; :class:`_Entity` (good keys of one entity and its statistics), :class:`_Delivery`
(the records of one delivery by entity and partition), :class:`_State` (everything simulated so far) and
:class:`_Run` (what the stages of one delivery share), plus the small helpers the stages use to place rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from job_assets.contracts import landing as L
from job_assets.contracts.model import ERROR_CODES, LandingEntity

GENERATOR_VERSION = "1.0.0"

ProgressFn = Callable[[str, int, int], None]

# bad kind -> the `_error` code the pipeline assigns (empty_file is counted in files, not records)
BAD_KINDS: dict[str, str] = {
    "unparseable_json": "unparseable_record",
    "wrong_column_count": "wrong_column_count",
    "missing_required": "missing_required",
    "wrong_type": "invalid_type",
    "out_of_range": "out_of_range",
    "unknown_enum": "invalid_enum",
    "invalid_date": "invalid_date",
    "orphan_reference": "orphan_reference",
    "extra_column": "unexpected_column",
    "empty_file": "empty_file",
}
assert set(BAD_KINDS.values()) <= set(ERROR_CODES)
RECORD_KINDS = tuple(k for k in BAD_KINDS if k != "empty_file")

ACC, CON, OPP = L.ACCOUNTS.name, L.CONTACTS.name, L.OPPORTUNITIES.name
CUS, ORD, ITM, FX = L.CUSTOMERS.name, L.ORDERS.name, L.ORDER_ITEMS.name, L.FX_RATES.name
CRM = (ACC, CON, OPP)
ENTITIES: dict[str, LandingEntity] = {e.name: e for e in L.LANDING_ENTITIES}

# entities a kind can be planted in (each defect trips exactly one rule of that entity)
KIND_ENTITIES: dict[str, tuple[str, ...]] = {
    "unparseable_json": (ACC, CON, OPP),
    "wrong_column_count": (CUS, ORD, ITM),
    "missing_required": (ACC, OPP, CUS, ORD, ITM),
    "wrong_type": (ACC, OPP, ORD, ITM),
    "out_of_range": (ACC, OPP, ORD, ITM),
    "unknown_enum": (OPP, CUS, ORD),
    "invalid_date": (ACC, CON, OPP, CUS, ORD),
    "orphan_reference": (OPP, ORD, ITM),
    "extra_column": (ACC, CON, OPP, CUS, ORD, ITM),
    "empty_file": (ACC, CON, OPP, CUS, ORD, ITM),
}

SHARES = {ACC: 2, CON: 5, OPP: 10, CUS: 6, ORD: 25, ITM: 50}
# re-delivery fractions of an entity's budget:
# (updates round 1, duplicates round 1, updates round 2, duplicates round 2, deletes)
REDELIVER_BASE = (0.05, 0.0075, 0.02, 0.0075, 0.015)
REDELIVER_INC = (0.08, 0.005, 0.02, 0.005, 0.01)
# Which existing keys a delivery's updates, duplicates and deletes touch (``changes``):
# - "recent" (the default): recency-skewed, as CRM and order feeds are: a key's chance halves with every
#   RECENT_HALF_LIFE_DAYS between its first version (its creation) and the partition's date, so most changes
#   land on keys created in the last weeks, and a tail of RECENT_TAIL of them is spread evenly over history;
# - "uniform": every live key equally likely (the generator's behaviour before the mode existed, and what a
#   manifest without ``changes`` was generated with).
CHANGE_MODES = ("recent", "uniform")
RECENT_HALF_LIFE_DAYS = 14.0
RECENT_TAIL = 0.2

DAY_MS = 86_400_000
BASE_START = np.datetime64("2023-01-01", "ms").astype(np.int64)
YEAR2_START = np.datetime64("2024-01-01", "ms").astype(np.int64)
BASE_END = np.datetime64("2025-01-01", "ms").astype(np.int64)
FX_FIRST_MONTH = date(2022, 12, 1)
BASE_DT0 = date(2025, 1, 1)

COUNTRIES = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "JP", "CA", "AU")
COUNTRY_P = np.array([0.42, 0.12, 0.10, 0.08, 0.04, 0.03, 0.03, 0.09, 0.05, 0.04])
_COUNTRY_CURRENCY = ("USD", "GBP", "EUR", "EUR", "EUR", "EUR", "EUR", "JPY", "USD", "USD")
COUNTRY_CUR = np.array([L.CURRENCIES.index(c) for c in _COUNTRY_CURRENCY])
FX_BASE = {"USD": 1.0, "EUR": 1.09, "GBP": 1.27, "JPY": 0.0069}
USD_IDX = L.CURRENCIES.index("USD")
JPY_IDX = L.CURRENCIES.index("JPY")
PER_USD = np.array([1.0 / FX_BASE[c] for c in L.CURRENCIES])
MONTH_W = np.array([0.85, 0.8, 0.95, 0.95, 1.0, 0.95, 0.9, 0.9, 1.0, 1.15, 1.45, 1.8])
STATUS_P = {"completed": 0.80, "pending": 0.07, "cancelled": 0.08, "refunded": 0.05}
assert set(STATUS_P) == set(L.ORDER_STATUSES)
STAGE_P = {
    "Prospecting": 0.15,
    "Qualification": 0.12,
    "Proposal": 0.10,
    "Negotiation": 0.08,
    "Closed Won": 0.30,
    "Closed Lost": 0.25,
}
assert set(STAGE_P) == set(L.STAGES)
WON = L.STAGES.index("Closed Won")
LOST = L.STAGES.index("Closed Lost")

_ADJ = (
    "North",
    "Blue",
    "Bright",
    "Global",
    "Prime",
    "Silver",
    "Nord",
    "Zürich",
    "Crown",
    "Delta",
    "Apex",
    "Oak",
)
_NOUN = ("wind", "river", "stone", "field", "works", "logic", "systems", "labs", "foods", "motors", "energy")
_SUFFIX = ("Inc", "Ltd", "GmbH", "SA", "Co", "KK", "BV", "LLC", "Group", "& Sons, Ltd")
_INDUSTRIES = (
    "Technology",
    "Retail",
    "Manufacturing",
    "Finance",
    "Healthcare",
    "Energy",
    "Media",
    "Education",
)
_FIRST = ("Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Grace", "Hiro", "Ines", "Jonas", "Kate", "Liam")
_LAST = ("Smith", "Müller", "Dubois", "Tanaka", "García", "Rossi", "Jones", "de Vries", "O'Brien", "Schmidt")
_TITLES = ("CEO", "CFO", "Head of Data", "Buyer", "Procurement Manager", "VP Sales", "Analyst", "Engineer")
_DOMAINS = ("example.com", "mail.test", "corp.example", "shop.example.org")
_COLORS = ("blue", "red", "large", "2-pack", "refurbished")
_NOTES = (
    'Customer asked, again, for "express" delivery.\nSecond line of the note.',
    "Imported from legacy system, batch 7",
    "Multi-line\r\nnote, with CRLF inside",
    "n/a",
    'Contains "quotes", commas, and a trailing newline\n',
)
_EXTRA_KEYS = ("Legacy_Id__c", "Region__c", "Sync_Source__c")
N_SKU = 5000

_OFFSETS = np.array([0, 0, 0, 60, 120, -300, 330, -480], dtype=np.int64)
_OFFSET_SUFFIX = np.array(["Z", "Z", "Z", "+01:00", "+02:00", "-05:00", "+05:30", "-08:00"])

_CUSTOMER_ID0, _ORDER_ID0 = 100_000, 50_000_000
_ORPHAN_CUSTOMER0, _ORPHAN_ORDER0 = 990_000_000, 1_990_000_000
_BAD_LINE0 = 1000


# ------------------------------------------------------------ state


@dataclass
class _Entity:
    """Good keys of one entity (latest version of each) plus cumulative statistics."""

    name: str
    keys: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # latest payload per key: dict (jsonl) or tuple of str (csv)
    version: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    born: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # each key's first version
    deleted: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    last_g: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    attrs: dict[str, np.ndarray] = field(default_factory=dict)
    written: int = 0
    good: int = 0
    deletes: int = 0
    extra_keys: int = 0  # good keys delivered only as extra_column records
    versions: int = 0  # distinct good (key, version) pairs
    bad: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BAD_KINDS, 0))

    def add(self, keys: list, rows: list, version: np.ndarray, g: int, **attrs: np.ndarray) -> np.ndarray:
        start = len(self.keys)
        self.keys.extend(keys)
        self.rows.extend(rows)
        self.version = np.concatenate([self.version, np.asarray(version, np.int64)])
        self.born = np.concatenate([self.born, np.asarray(version, np.int64)])
        self.deleted = np.concatenate([self.deleted, np.zeros(len(keys), bool)])
        self.last_g = np.concatenate([self.last_g, np.full(len(keys), g, np.int64)])
        for k, v in attrs.items():
            self.attrs[k] = np.concatenate([self.attrs[k], v]) if k in self.attrs else np.asarray(v)
        self.good += len(keys)
        self.versions += len(keys)
        return np.arange(start, len(self.keys))

    @property
    def live(self) -> np.ndarray:
        return ~self.deleted


@dataclass
class _Delivery:
    k: int
    dts: list[date]
    rows: dict[str, dict[int, list]]
    bad: dict[str, dict[int, list]]
    extra_csv: dict[str, list]
    empties: list[tuple[str, int, int]]  # (entity, part, variant)
    shard: int = 0  # the shard of a streamed base delivery (0: the whole delivery, or its first shard)


class _State:
    """Everything simulated so far: each entity's keys, the id counters, the FX months, the SKU catalogue.

    ``shard`` > 0 is one shard of a streamed base delivery (:func:`~.api.generate` with ``shard_records``): it
    draws from its own random streams (:meth:`rng`) and carries the id counters of the shards before it, so
    its keys are new; the SKU catalogue and the FX rates are the seed's, the same in every shard.
    """

    def __init__(self, seed: int, shard: int = 0) -> None:
        self.seed = seed
        self.shard = shard
        self.ents = {name: _Entity(name) for name in ENTITIES}
        self.counters: dict[str, int] = {}
        self.fx_months: list[date] = []
        self.last_dt: date | None = None
        self.empty_files = dict.fromkeys(ENTITIES, 0)
        cat = np.random.default_rng([seed, 0, 99])
        self.sku_usd = np.clip(np.exp(cat.normal(np.log(3500), 1.0, N_SKU)), 199, 900_000).astype(np.int64)
        variant = cat.random(N_SKU) < 0.04
        colors = cat.integers(0, len(_COLORS), N_SKU)
        self.skus = [
            f"SKU-{i:05d}, {_COLORS[c]}" if v else f"SKU-{i:05d}"
            for i, (v, c) in enumerate(zip(variant.tolist(), colors.tolist(), strict=True))
        ]
        pop = 1.0 / (np.arange(N_SKU) + 20.0)
        self.sku_p = pop / pop.sum()

    def rng(self, *tags: int) -> np.random.Generator:
        """The random stream ``tags`` of this state's seed (and shard: shard 0 draws what an unsharded run does)."""
        return np.random.default_rng([self.seed, *tags, *([self.shard] if self.shard else [])])

    def ids(self, what: str, n: int) -> np.ndarray:
        start = self.counters.get(what, 0)
        self.counters[what] = start + n
        return np.arange(start, start + n, dtype=np.int64) + 1


@dataclass
class _Run:
    """What every stage of one delivery shares: the state, the delivery, its random stream and time window."""

    st: _State
    dl: _Delivery
    rng: np.random.Generator
    base: bool
    g0: int
    w0: int
    w1: int
    changes: str = "recent"


def _weighted(rng: np.random.Generator, pool: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    if n == 0 or len(pool) == 0:
        return np.zeros(0, np.int64)
    p = weights / weights.sum()
    return pool[rng.choice(len(pool), n, p=p)]


# ------------------------------------------------------------ delivery


def _part_of(ms: np.ndarray, base: bool) -> np.ndarray:
    return (np.asarray(ms) >= YEAR2_START).astype(np.int64) if base else np.zeros(len(ms), np.int64)


def _emit(dl: _Delivery, name: str, parts: np.ndarray, rows: list) -> None:
    bucket = dl.rows.setdefault(name, {})
    for p, r in zip(np.asarray(parts).tolist(), rows, strict=True):
        bucket.setdefault(p, []).append(r)
