"""Deterministic, realistic landing-data generator (``lakehouse generate``).

Writes ``<lake_root>/landing/<source>/<entity>/dt=YYYY-MM-DD/<file>`` exactly as the upstream extracts
described in ``job_assets.contracts.landing`` (and docs/LANDING_CONTRACT.md) would, plus a manifest of what
the pipeline must produce from it at ``<lake_root>/_generator/manifest.json``.

Volumes. ``records`` is the total number of landing records (JSON lines / CSV data rows, bad ones included)
of a delivery. ``reference/fx_rates`` gets one row per currency and month (100 rows for the base:
2022-12..2024-12), ``round(records * bad_ratio)`` records are bad, and the rest is split: order_items ~51%,
orders ~25.5%, opportunities ~10%, customers ~6%, contacts ~5%, accounts ~2% (shares 50/25/10/6/5/2
normalised; order_items absorb the rounding). Each entity's share includes its re-deliveries (newer
versions, exact duplicates, deletes).

Base delivery (``increment=0``): four dt partitions 2025-01-01..2025-01-04. New keys land in dt=2025-01-01
(data from before 2024) and dt=2025-01-02 (2024 data; parents never land after their children);
dt=2025-01-03 holds updates (newer version, changed values) and exact duplicates; dt=2025-01-04 more
updates, duplicates and CRM deletes (IsDeleted=true with a newer LastModifiedDate). Orders span
2023-01-01..2024-12-31 with a monthly seasonality (Q4 peak, 2024 busier than 2023); customers' order counts
are Pareto-skewed; ~40% of customers are linked to a CRM account whose Closed Won opportunity closes before
that customer's first order.

Increment ``K`` (``increment=K``): two new dt partitions ``2025-01-04 + 7K - 1`` and ``2025-01-04 + 7K``
days; new keys and updates of existing keys in the first, further updates, duplicates and deletes in the
second. Every version in a partition dated D is before D, and every re-delivery's version is at or after
the previous partition's date, so a re-delivery is strictly newer than everything delivered before it.
Earlier deliveries are re-simulated in memory from the manifest (seed, records and bad_ratio of each
delivery) to know the existing keys.

Bad records (``bad_ratio``) carry exactly one defect each, use fresh keys, are never re-delivered and have
no children; ``extra_column`` records are otherwise valid (good records with an unknown field) and land in
the last partition of their delivery. See :data:`BAD_KINDS` for the kind -> ``_error`` mapping.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

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


# ------------------------------------------------------------ formatting


def _iso_ms(ms: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]"), unit="ms")


def _crm_ts(ms: np.ndarray, off: np.ndarray) -> list[str]:
    """Salesforce style: ``2024-03-05T10:22:31.000Z`` or local time with an offset ``...000+02:00``."""
    ms = np.asarray(ms, dtype=np.int64) // 1000 * 1000
    local = ms + _OFFSETS[off] * 60_000
    return [a + b for a, b in zip(_iso_ms(local).tolist(), _OFFSET_SUFFIX[off].tolist(), strict=True)]


def _sf_ts(ms: np.ndarray) -> list[str]:
    """Snowflake style UTC ``2024-03-05 10:22:31.123``."""
    s = _iso_ms(ms).astype("S23")
    s.view(np.uint8).reshape(-1, 23)[:, 10] = ord(" ")
    return s.astype("U23").tolist()


def _dates(days: np.ndarray) -> list[str]:
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]")).tolist()


def _money(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in np.asarray(cents, dtype=np.int64).tolist()]


def _cents(s: str) -> int:
    whole, frac = s.split(".")
    return int(whole) * 100 + int(frac)


def _fmt_cents(c: int) -> str:
    return f"{c // 100}.{c % 100:02d}"


def _ms(d: date) -> int:
    return int(np.datetime64(d, "ms").astype(np.int64))


def _sf_id(prefix: str, nums: np.ndarray, mark: str = "5g") -> list[str]:
    return [f"{prefix}{mark}{n:013d}" for n in np.asarray(nums).tolist()]


# ------------------------------------------------------------ state


@dataclass
class _Entity:
    """Good keys of one entity (latest version of each) plus cumulative statistics."""

    name: str
    keys: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # latest payload per key: dict (jsonl) or tuple of str (csv)
    version: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
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


class _State:
    def __init__(self, seed: int) -> None:
        self.seed = seed
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

    def ids(self, what: str, n: int) -> np.ndarray:
        start = self.counters.get(what, 0)
        self.counters[what] = start + n
        return np.arange(start, start + n, dtype=np.int64) + 1


def _delivery_dts(k: int) -> list[date]:
    if k == 0:
        return [BASE_DT0 + timedelta(days=i) for i in range(4)]
    first = BASE_DT0 + timedelta(days=3 + 7 * k - 1)
    return [first, first + timedelta(days=1)]


def _gpart(k: int, part: int) -> int:
    return part if k == 0 else 2 * k + 2 + part


# ------------------------------------------------------------ row builders


def _account_rows(st: _State, rng: np.random.Generator, ids: list[str], created, version, country) -> list:
    n = len(ids)
    a, b, c = (rng.integers(0, len(x), n).tolist() for x in (_ADJ, _NOUN, _SUFFIX))
    names = [f"{_ADJ[i]}{_NOUN[j]} {_SUFFIX[m]}" for i, j, m in zip(a, b, c, strict=True)]
    ind = rng.integers(0, len(_INDUSTRIES), n)
    ind_null = rng.random(n) < 0.05
    rev = np.round(np.exp(rng.normal(np.log(5e6), 1.6, n)) * 100).astype(np.int64)
    rev_null = rng.random(n) < 0.05
    off_c, off_v = rng.integers(0, len(_OFFSETS), (2, n))
    cr, ve = _crm_ts(created, off_c), _crm_ts(version, off_v)
    out = []
    for i in range(n):
        out.append(
            {
                "Id": ids[i],
                "Name": names[i],
                "Industry": None if ind_null[i] else _INDUSTRIES[ind[i]],
                "BillingCountry": COUNTRIES[country[i]],
                "AnnualRevenue": None if rev_null[i] else int(rev[i]) / 100,
                "CreatedDate": cr[i],
                "LastModifiedDate": ve[i],
                "IsDeleted": False,
            }
        )
    return out


def _contact_rows(st: _State, rng: np.random.Generator, ids: list[str], acc_ids: list, created, version) -> list:
    n = len(ids)
    f = rng.integers(0, len(_FIRST), n).tolist()
    la = rng.integers(0, len(_LAST), n).tolist()
    t = rng.integers(0, len(_TITLES), n).tolist()
    d = rng.integers(0, len(_DOMAINS), n).tolist()
    off_c, off_v = rng.integers(0, len(_OFFSETS), (2, n))
    cr, ve = _crm_ts(created, off_c), _crm_ts(version, off_v)
    out = []
    for i in range(n):
        first, last = _FIRST[f[i]], _LAST[la[i]]
        email = f"{first}.{last.replace(' ', '').replace(chr(39), '')}{i % 997}@{_DOMAINS[d[i]]}".lower()
        out.append(
            {
                "Id": ids[i],
                "AccountId": acc_ids[i],
                "Email": email,
                "FirstName": first,
                "LastName": last,
                "Title": _TITLES[t[i]],
                "CreatedDate": cr[i],
                "LastModifiedDate": ve[i],
                "IsDeleted": False,
            }
        )
    return out


def _opp_rows(
    st: _State,
    rng: np.random.Generator,
    ids: list[str],
    acc_ids: list,
    stage,
    cur,
    close_day,
    created,
    version,
) -> list:
    n = len(ids)
    usd = np.exp(rng.normal(np.log(25_000), 1.0, n))
    amount = np.round(usd * PER_USD[cur] * 100).astype(np.int64)
    amount = np.where(cur == JPY_IDX, amount // 100 * 100, amount)
    lead = rng.choice(len(L.LEAD_SOURCES), n, p=[0.35, 0.2, 0.15, 0.2, 0.1])
    lead_null = rng.random(n) < 0.12
    camp = rng.random(n) < 0.4
    camp_ids = _sf_id("701", rng.integers(1, 400, n))
    off_c, off_v = rng.integers(0, len(_OFFSETS), (2, n))
    cr, ve = _crm_ts(created, off_c), _crm_ts(version, off_v)
    closes = _dates(close_day)
    out = []
    for i in range(n):
        out.append(
            {
                "Id": ids[i],
                "AccountId": acc_ids[i],
                "Name": f"{acc_ids[i][-4:]} - Deal {i % 89 + 1}",
                "StageName": L.STAGES[stage[i]],
                "Amount": int(amount[i]) / 100,
                "CurrencyIsoCode": L.CURRENCIES[cur[i]],
                "CloseDate": closes[i],
                "LeadSource": None if lead_null[i] else L.LEAD_SOURCES[lead[i]],
                "CampaignId": camp_ids[i] if camp[i] else None,
                "CreatedDate": cr[i],
                "LastModifiedDate": ve[i],
                "IsDeleted": False,
            }
        )
    return out


def _customer_rows(rng: np.random.Generator, ids, crm_ids: list, country, segment, created, updated) -> list:
    n = len(ids)
    d = rng.integers(0, len(_DOMAINS), n).tolist()
    idl = np.asarray(ids).tolist()
    emails = [f"customer{c}@{_DOMAINS[x]}" for c, x in zip(idl, d, strict=True)]
    return list(
        zip(
            [str(c) for c in idl],
            crm_ids,
            emails,
            [COUNTRIES[c] for c in np.asarray(country).tolist()],
            [L.SEGMENTS[s] for s in np.asarray(segment).tolist()],
            _sf_ts(created),
            _sf_ts(updated),
            strict=True,
        )
    )


def _order_rows(ids, cust_ids: list[str], ts, status, cur, total_cents, updated) -> list:
    return list(
        zip(
            [str(c) for c in np.asarray(ids).tolist()],
            cust_ids,
            _sf_ts(ts),
            [L.ORDER_STATUSES[s] for s in np.asarray(status).tolist()],
            [L.CURRENCIES[c] for c in np.asarray(cur).tolist()],
            _money(total_cents),
            _sf_ts(updated),
            strict=True,
        )
    )


def _item_rows(st: _State, order_ids: list[str], line_no, sku, qty, price_cents, updated) -> list:
    return list(
        zip(
            order_ids,
            [str(x) for x in np.asarray(line_no).tolist()],
            [st.skus[s] for s in np.asarray(sku).tolist()],
            [str(q) for q in np.asarray(qty).tolist()],
            _money(price_cents),
            _sf_ts(updated),
            strict=True,
        )
    )


def _unit_price(st: _State, sku: np.ndarray, cur: np.ndarray) -> np.ndarray:
    price = np.round(st.sku_usd[sku] * PER_USD[cur]).astype(np.int64)
    return np.where(cur == JPY_IDX, np.maximum(price // 100, 1) * 100, price)


def _seasonal_ts(rng: np.random.Generator, n: int) -> np.ndarray:
    months = np.arange(24)
    w = MONTH_W[months % 12] * np.where(months >= 12, 1.15, 1.0)
    m = rng.choice(24, n, p=w / w.sum())
    starts = np.array([np.datetime64("2023-01", "M") + i for i in range(25)]).astype("datetime64[ms]")
    starts = starts.astype(np.int64)
    return starts[m] + (rng.random(n) * (starts[m + 1] - starts[m])).astype(np.int64)


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


def _fx_rows(st: _State, months: list[date]) -> list:
    out = []
    for m in months:
        mi = (m.year - FX_FIRST_MONTH.year) * 12 + m.month - FX_FIRST_MONTH.month
        noise = np.random.default_rng([st.seed, 77, mi]).normal(0, 0.01, len(L.CURRENCIES))
        for ci, cur in enumerate(L.CURRENCIES):
            wave = math.exp(0.03 * math.sin(mi / 4 + ci) + noise[ci])
            rate = 1.0 if cur == "USD" else FX_BASE[cur] * wave
            out.append((cur, f"{rate:.8f}", m.isoformat()))
    return out


def _month_starts(after: date, upto: date) -> list[date]:
    out, m = [], date(after.year, after.month, 1)
    while m <= upto:
        if m > after:
            out.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


def _deliver(st: _State, k: int, records: int, bad_ratio: float, progress: ProgressFn | None) -> _Delivery:
    rng = np.random.default_rng([st.seed, k, 1])
    base = k == 0
    dts = _delivery_dts(k)
    dl = _Delivery(k, dts, {}, {}, {}, [])
    g0 = _gpart(k, 0)
    steps, step = 9, 0

    def tick() -> None:
        nonlocal step
        step += 1
        if progress:
            progress("generate", step, steps)

    if base:
        w0, w1 = int(BASE_START), int(BASE_END)
        months = [
            date(FX_FIRST_MONTH.year + (FX_FIRST_MONTH.month + i - 1) // 12, (11 + i) % 12 + 1, 1) for i in range(25)
        ]
    else:
        w1 = _ms(dts[0])
        w0 = w1 - 6 * DAY_MS
        months = _month_starts(st.last_dt, dts[-1])
    st.last_dt = dts[-1]

    # ---- budgets
    fx = _fx_rows(st, months)
    n_bad = round(records * bad_ratio) if bad_ratio > 0 else 0
    avail = records - len(fx) - n_bad
    if avail < 200:
        raise ValueError(f"records={records} is too small for bad_ratio={bad_ratio}; use at least 1000")
    total_share = sum(SHARES.values())
    budget = {e: int(avail * s / total_share) for e, s in SHARES.items()}
    budget[ITM] += avail - sum(budget.values())
    fr = REDELIVER_BASE if base else REDELIVER_INC
    redeliver = {e: [round(b * f) if (i != 4 or e in CRM) else 0 for i, f in enumerate(fr)] for e, b in budget.items()}
    orig = {e: budget[e] - sum(redeliver[e]) for e in budget}

    # ---- fx rates
    fxe = st.ents[FX]
    fxe.add([(c, v) for c, _, v in fx], fx, np.zeros(len(fx), np.int64), g0)
    fxe.written += len(fx)
    st.fx_months.extend(months)
    _emit(dl, FX, np.zeros(len(fx), np.int64), fx)
    tick()

    # ---- accounts
    acc = st.ents[ACC]
    n = orig[ACC]
    num = st.ids("001", n)
    ids = _sf_id("001", num)
    if base:
        created = rng.integers(_ms(date(2018, 1, 1)), _ms(date(2022, 11, 30)), n)
        version = created + (rng.random(n) * (w1 - 1000 - created)).astype(np.int64)
    else:
        created = rng.integers(w0, w1 - 1000, n)
        version = created + (rng.random(n) * (w1 - 1000 - created)).astype(np.int64)
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_P)
    reserved = rng.random(n) < 0.05
    rows = _account_rows(st, rng, ids, created, version, country)
    acc.add(ids, rows, version, g0, country=country, reserved=reserved, w=rng.pareto(1.5, n) + 1)
    acc.written += n
    _emit(dl, ACC, np.zeros(n, np.int64), rows)
    tick()

    parent_acc = np.flatnonzero(acc.live & ~acc.attrs["reserved"])

    # ---- customers (attributes now, timestamps once their orders are known)
    cus = st.ents[CUS]
    nc = orig[CUS]
    cust_num = st.ids("customer", nc) + _CUSTOMER_ID0
    linked = (rng.random(nc) < 0.4) & (len(parent_acc) > 0)
    link_acc = np.where(linked, parent_acc[rng.integers(0, max(len(parent_acc), 1), nc)] if len(parent_acc) else -1, -1)
    ccountry = np.where(linked, acc.attrs["country"][np.maximum(link_acc, 0)] if len(acc.keys) else 0, 0)
    ccountry = np.where(linked, ccountry, rng.choice(len(COUNTRIES), nc, p=COUNTRY_P))
    seg = np.where(
        linked, rng.choice(3, nc, p=[0.3, 0.4, 0.3]), rng.choice(3, nc, p=[0.7, 0.25, 0.05])
    )  # index into L.SEGMENTS
    cweight = rng.pareto(1.3, nc) + 1

    # ---- orders
    ordr = st.ents[ORD]
    no = orig[ORD]
    old_c = np.flatnonzero(cus.live)
    pool_w = np.concatenate([cus.attrs["w"][old_c] if len(old_c) else np.zeros(0), cweight])
    pool = np.concatenate([old_c, len(cus.keys) + np.arange(nc)])
    ocust = _weighted(rng, pool, pool_w, no)  # index into customers (new ones at >= len(keys))
    ots = _seasonal_ts(rng, no) if base else rng.integers(w0, w1 - 1000, no)
    if base:
        oupd = np.minimum(ots + rng.integers(60_000, 3 * DAY_MS, no), w1 - 1000)
    else:
        oupd = np.minimum(ots + rng.integers(1000, DAY_MS, no), w1 - 1)
    ccur_all = np.concatenate(
        [cus.attrs["cur"] if "cur" in cus.attrs else np.zeros(0, np.int64), COUNTRY_CUR[ccountry]]
    )
    ocur = np.where(rng.random(no) < 0.04, USD_IDX, ccur_all[ocust] if no else np.zeros(0, np.int64))
    ostatus = rng.choice(len(L.ORDER_STATUSES), no, p=[STATUS_P[s] for s in L.ORDER_STATUSES])

    # customers' timestamps: created before their first order
    first = np.full(nc, np.iinfo(np.int64).max)
    newmask = ocust >= len(cus.keys)
    np.minimum.at(first, ocust[newmask] - len(cus.keys), ots[newmask])
    has = first < np.iinfo(np.int64).max
    if base:
        ccreated = np.where(
            has,
            first - rng.integers(DAY_MS, 400 * DAY_MS, nc),
            rng.integers(_ms(date(2021, 1, 1)), w1 - DAY_MS, nc),
        )
        cupd = np.minimum(ccreated + rng.integers(0, 30 * DAY_MS, nc), w1 - 1000)
    else:
        ccreated = np.where(has, first - rng.integers(60_000, 2 * DAY_MS, nc), rng.integers(w0, w1 - 1000, nc))
        ccreated = np.maximum(ccreated, w0)
        cupd = ccreated + (rng.random(nc) * (w1 - 1 - ccreated)).astype(np.int64)
    crm_ids = [acc.keys[a] if a >= 0 else "" for a in link_acc.tolist()]
    crow = _customer_rows(rng, cust_num, crm_ids, ccountry, seg, ccreated, cupd)
    cparts = _part_of(ccreated, base)
    cus.add(
        [int(c) for c in cust_num.tolist()],
        crow,
        cupd,
        g0,
        cur=COUNTRY_CUR[ccountry],
        w=cweight,
        acc=link_acc,
    )
    cus.written += nc
    _emit(dl, CUS, cparts, crow)
    tick()

    # ---- order items (lines per order, exactly orig[ITM] lines)
    extra_lines = max(orig[ITM] - no, 0)
    lines = 1 + (rng.multinomial(extra_lines, np.full(no, 1.0 / no)) if no else np.zeros(0, np.int64))
    ni = int(lines.sum())
    oidx = np.repeat(np.arange(no), lines)
    starts = np.cumsum(lines) - lines
    line_no = np.arange(ni) - np.repeat(starts, lines) + 1
    sku = rng.choice(N_SKU, ni, p=st.sku_p)
    qty = np.minimum(rng.geometric(0.55, ni), 12)
    price = _unit_price(st, sku, ocur[oidx])
    total = np.bincount(oidx, weights=(qty * price).astype(np.float64), minlength=no).astype(np.int64)

    onum = st.ids("order", no) + _ORDER_ID0
    ostr = [str(x) for x in onum.tolist()]
    cust_key = [str(cus.keys[c]) for c in ocust.tolist()]
    orows = _order_rows(onum, cust_key, ots, ostatus, ocur, total, oupd)
    oparts = _part_of(ots, base)
    ordr.add([int(x) for x in onum.tolist()], orows, oupd, g0, cur=ocur, status=ostatus, cust=ocust)
    ordr.written += no
    _emit(dl, ORD, oparts, orows)
    tick()

    itm = st.ents[ITM]
    iorder = [ostr[i] for i in oidx.tolist()]
    irows = _item_rows(st, iorder, line_no, sku, qty, price, oupd[oidx])
    ikeys = [(int(onum[o]), int(ln)) for o, ln in zip(oidx.tolist(), line_no.tolist(), strict=True)]
    itm.add(ikeys, irows, oupd[oidx], g0)
    itm.written += ni
    _emit(dl, ITM, oparts[oidx], irows)
    tick()

    # ---- opportunities: anchors (Closed Won before linked customers' first orders), then the rest
    opp = st.ents[OPP]
    nop = orig[OPP]
    acc_first = np.full(len(acc.keys), np.iinfo(np.int64).max)
    sel = has & (link_acc >= 0)
    np.minimum.at(acc_first, link_acc[sel], first[sel])
    anchors = np.flatnonzero(acc_first < np.iinfo(np.int64).max) if base else np.zeros(0, np.int64)
    if len(anchors) > nop // 2:
        anchors = np.sort(rng.choice(anchors, nop // 2, replace=False))
    na = len(anchors)
    rest_acc = _weighted(rng, parent_acc, acc.attrs["w"][parent_acc], nop - na)
    oacc = np.concatenate([anchors, rest_acc]).astype(np.int64)
    stage = np.concatenate(
        [np.full(na, WON), rng.choice(len(L.STAGES), nop - na, p=[STAGE_P[s] for s in L.STAGES])]
    ).astype(np.int64)
    closed = (stage == WON) | (stage == LOST)
    fx0 = _ms(FX_FIRST_MONTH)
    if base:
        close_ms = np.where(closed, rng.integers(fx0, w1 - DAY_MS, nop), w1 + rng.integers(DAY_MS, 180 * DAY_MS, nop))
        close_ms[:na] = np.maximum(acc_first[anchors] - rng.integers(DAY_MS, 60 * DAY_MS, na), fx0)
        ocreated = np.maximum(close_ms - rng.integers(14 * DAY_MS, 180 * DAY_MS, nop), _ms(date(2022, 6, 1)))
        ocreated = np.where(closed, ocreated, w1 - rng.integers(DAY_MS, 120 * DAY_MS, nop))
        over = np.where(
            closed, close_ms + rng.integers(0, 3 * DAY_MS, nop), ocreated + rng.integers(0, 30 * DAY_MS, nop)
        )
        over = np.minimum(over, w1 - 1000)
    else:
        ocreated = rng.integers(w0, w1 - 1000, nop)
        over = ocreated + (rng.random(nop) * (w1 - 1 - ocreated)).astype(np.int64)
        close_ms = np.where(closed, over, w1 + rng.integers(DAY_MS, 180 * DAY_MS, nop))
    close_day = close_ms // DAY_MS
    oppnum = st.ids("006", nop)
    oppids = _sf_id("006", oppnum)
    ocur_acc = COUNTRY_CUR[acc.attrs["country"][oacc]] if nop else np.zeros(0, np.int64)
    prow = _opp_rows(st, rng, oppids, [acc.keys[a] for a in oacc.tolist()], stage, ocur_acc, close_day, ocreated, over)
    opp.add(oppids, prow, over, g0, stage=stage)
    opp.written += nop
    _emit(dl, OPP, _part_of(ocreated, base), prow)
    tick()

    # ---- contacts
    con = st.ents[CON]
    nco = orig[CON]
    cacc = _weighted(rng, parent_acc, acc.attrs["w"][parent_acc], nco)
    cacc_ids = [acc.keys[a] for a in cacc.tolist()]
    nullacc = rng.random(nco) < 0.03
    cacc_ids = [None if z else a for a, z in zip(cacc_ids, nullacc.tolist(), strict=True)]
    if base:
        kcreated = rng.integers(_ms(date(2021, 1, 1)), w1 - DAY_MS, nco)
        kver = np.minimum(kcreated + rng.integers(0, 60 * DAY_MS, nco), w1 - 1000)
    else:
        kcreated = rng.integers(w0, w1 - 1000, nco)
        kver = kcreated + (rng.random(nco) * (w1 - 1 - kcreated)).astype(np.int64)
    conids = _sf_id("003", st.ids("003", nco))
    krow = _contact_rows(st, rng, conids, cacc_ids, kcreated, kver)
    con.add(conids, krow, kver, g0)
    con.written += nco
    _emit(dl, CON, _part_of(kcreated, base), krow)
    tick()

    # ---- re-deliveries
    rounds = [(2, 3)] if base else [(0, 1)]
    p1, p2 = rounds[0]
    for name in (ACC, CON, OPP, CUS, ORD, ITM):
        u1, d1, u2, d2, de = redeliver[name]
        _redeliver(st, dl, rng, name, p1, u1, d1, 0)
        _redeliver(st, dl, rng, name, p2, u2, d2, de)
    tick()

    # ---- bad records and empty files
    _plant_bad(st, dl, rng, n_bad, w0, w1)
    if n_bad > 0:
        n_empty = min(8, max(3, n_bad // 150))
        ents = list(KIND_ENTITIES["empty_file"])
        start = int(rng.integers(0, len(ents)))
        for i in range(n_empty):
            name = ents[(start + i) % len(ents)]
            dl.empties.append((name, int(rng.integers(0, len(dts))), i % 3))
            st.ents[name].bad["empty_file"] += 1
    tick()
    return dl


def _version_window(k: int, part: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """Versions for records delivered in ``part`` of delivery ``k``: [dt - 1 day, dt)."""
    hi = _ms(_delivery_dts(k)[part])
    return rng.integers(hi - DAY_MS, hi - 1000, n)


def _redeliver(
    st: _State,
    dl: _Delivery,
    rng: np.random.Generator,
    name: str,
    part: int,
    n_upd: int,
    n_dup: int,
    n_del: int,
) -> None:
    ent = st.ents[name]
    g = _gpart(dl.k, part)
    cands = np.flatnonzero(ent.live & (ent.last_g < g))
    if len(cands) == 0:
        return
    cands = rng.permutation(cands)
    dels = np.zeros(0, np.int64)
    if n_del:
        ok = ent.attrs["reserved"][cands] if name == ACC else np.ones(len(cands), bool)
        dels = cands[ok][:n_del]
        cands = cands[~np.isin(cands, dels)]
    dups = cands[:n_dup]
    upds = cands[n_dup : n_dup + n_upd]
    out: list = []
    for i in dups.tolist():
        out.append(ent.rows[i])
    ent.good += len(dups)
    ent.last_g[dups] = g

    crm = name in CRM
    for idx_arr, delete in ((upds, False), (dels, True)):
        if len(idx_arr) == 0:
            continue
        ver = np.maximum(_version_window(dl.k, part, rng, len(idx_arr)), ent.version[idx_arr] + 1000)
        ts = _crm_ts(ver, rng.integers(0, len(_OFFSETS), len(idx_arr))) if crm else _sf_ts(ver)
        r = rng.random(len(idx_arr)).tolist()
        for j, i in enumerate(idx_arr.tolist()):
            new = _update_row(st, name, ent.rows[i], ts[j], r[j], delete)
            ent.rows[i] = new
            out.append(new)
        ent.version[idx_arr] = ver
        ent.last_g[idx_arr] = g
        ent.good += len(idx_arr)
        ent.versions += len(idx_arr)
        if delete:
            ent.deleted[idx_arr] = True
            ent.deletes += len(idx_arr)
    ent.written += len(out)
    dl.rows.setdefault(name, {}).setdefault(part, []).extend(out)


def _update_row(st: _State, name: str, row: Any, ts: str, r: float, delete: bool) -> Any:
    if name in CRM:
        new = dict(row)
        new["LastModifiedDate"] = ts
        if delete:
            new["IsDeleted"] = True
        elif name == ACC:
            rev = new["AnnualRevenue"]
            new["AnnualRevenue"] = round(rev * (1.05 + r / 5), 2) if rev is not None else 250_000.0
            if r < 0.3:
                new["Industry"] = _INDUSTRIES[int(r * 100) % len(_INDUSTRIES)]
        elif name == CON:
            new["Title"] = _TITLES[(_TITLES.index(new["Title"]) + 1 + int(r * 5)) % len(_TITLES)]
        else:
            stage = L.STAGES.index(new["StageName"])
            if stage in (WON, LOST):
                new["Amount"] = round(new["Amount"] * 1.05, 2)
            elif r < 0.5 and stage + 1 < len(L.OPEN_STAGES):
                new["StageName"] = L.STAGES[stage + 1]
            else:
                new["StageName"] = L.STAGES[WON if r < 0.8 else LOST]
                new["CloseDate"] = ts[:10]
            if new["LeadSource"] is None and r < 0.3:
                new["LeadSource"] = L.LEAD_SOURCES[0]
        return new
    row = list(row)
    row[-1] = ts
    if name == CUS:
        seg = L.SEGMENTS.index(row[4])
        if seg + 1 < len(L.SEGMENTS):
            row[4] = L.SEGMENTS[seg + 1]
        else:
            row[2] = "updated." + row[2]
    elif name == ORD:
        status = row[3]
        if status == "pending":
            row[3] = "completed" if r < 0.8 else "cancelled"
        elif status == "completed":
            row[3] = "refunded"
        else:
            row[5] = _fmt_cents(_cents(row[5]) * 95 // 100)
    else:
        row[4] = _fmt_cents(_cents(row[4]) * 9 // 10)
    return tuple(row)


# ------------------------------------------------------------ bad records


def _fresh(st: _State, rng: np.random.Generator, name: str, n: int, ver: np.ndarray, w0: int, w1: int) -> list:
    """``n`` valid records with fresh keys and valid parents (not added to the state)."""
    acc = st.ents[ACC]
    parent_acc = np.flatnonzero(acc.live & ~acc.attrs["reserved"])
    created = np.minimum(rng.integers(w0, w1 - 1000, n), ver)
    if name == ACC:
        ids = _sf_id("001", st.ids("001", n))
        return _account_rows(st, rng, ids, created, ver, rng.choice(len(COUNTRIES), n, p=COUNTRY_P))
    if name == CON:
        ids = _sf_id("003", st.ids("003", n))
        accs = [acc.keys[a] for a in parent_acc[rng.integers(0, len(parent_acc), n)].tolist()]
        return _contact_rows(st, rng, ids, accs, created, ver)
    if name == OPP:
        ids = _sf_id("006", st.ids("006", n))
        a = parent_acc[rng.integers(0, len(parent_acc), n)]
        stage = rng.integers(0, len(L.STAGES), n)
        close = np.maximum(created, _ms(FX_FIRST_MONTH)) // DAY_MS
        cur = COUNTRY_CUR[acc.attrs["country"][a]]
        return _opp_rows(st, rng, ids, [acc.keys[x] for x in a.tolist()], stage, cur, close, created, ver)
    cus, ordr = st.ents[CUS], st.ents[ORD]
    if name == CUS:
        ids = st.ids("customer", n) + _CUSTOMER_ID0
        country = rng.choice(len(COUNTRIES), n, p=COUNTRY_P)
        link = rng.random(n) < 0.4
        crm = [
            acc.keys[a] if z else ""
            for a, z in zip(parent_acc[rng.integers(0, len(parent_acc), n)].tolist(), link.tolist(), strict=True)
        ]
        return _customer_rows(rng, ids, crm, country, rng.integers(0, 3, n), created, ver)
    if name == ORD:
        ids = st.ids("order", n) + _ORDER_ID0
        live = np.flatnonzero(cus.live)
        c = live[rng.integers(0, len(live), n)]
        ts = np.minimum(rng.integers(max(w0, int(BASE_START)), w1 - 1000, n), ver)
        cur = cus.attrs["cur"][c]
        total = rng.integers(500, 200_000, n)
        status = rng.integers(0, len(L.ORDER_STATUSES), n)
        return _order_rows(ids, [str(cus.keys[x]) for x in c.tolist()], ts, status, cur, total, ver)
    # order items: an existing order, a line number no good line ever uses
    live = np.flatnonzero(ordr.live)
    o = live[rng.integers(0, len(live), n)]
    line = st.ids("bad_line", n) + _BAD_LINE0
    sku = rng.choice(N_SKU, n, p=st.sku_p)
    price = _unit_price(st, sku, ordr.attrs["cur"][o])
    qty = rng.integers(1, 5, n)
    return _item_rows(st, [str(ordr.keys[x]) for x in o.tolist()], line, sku, qty, price, ver)


def _mutate(st: _State, name: str, kind: str, row: Any, i: int, rng: np.random.Generator) -> Any:
    """Apply exactly one defect of ``kind`` to a valid fresh ``row``; ``i`` picks the variant."""
    if isinstance(row, dict):
        d = dict(row)

        def drop(key: str) -> dict:
            if i % 2:
                d[key] = None
            else:
                del d[key]
            return d

        if kind == "unparseable_json":
            text = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
            cut = text[: max(8, int(len(text) * (0.3 + 0.5 * rng.random())))]
            return cut + ("" if i % 3 else "<<garbled")
        if kind == "missing_required":
            if name == ACC:
                return drop("Name")
            return drop(("StageName", "CurrencyIsoCode", "CloseDate", "AccountId")[i % 4])
        if kind == "wrong_type":
            key = "AnnualRevenue" if name == ACC else "Amount"
            d[key] = f"{abs(d[key] or 12.5)}x" if i % 2 else "n/a"
            return d
        if kind == "out_of_range":
            key = "AnnualRevenue" if name == ACC else "Amount"
            d[key] = -round(abs(d[key] or 0) + 1, 2)
            return d
        if kind == "unknown_enum":
            key, val = (("StageName", "Won-ish"), ("CurrencyIsoCode", "CHF"), ("LeadSource", "Billboard"))[i % 3]
            d[key] = val
            return d
        if kind == "invalid_date":
            if name == OPP and i % 2 == 0:
                d["CloseDate"] = ("2024-13-45", "not-a-date", "2023-02-29")[i // 2 % 3]
            else:
                d["CreatedDate"] = ("2024-02-30T10:00:00.000Z", "not-a-date", "2024-13-45T10:00:00Z")[i % 3]
            return d
        if kind == "orphan_reference":
            d["AccountId"] = _sf_id("001", st.ids("orphan_account", 1), mark="9Z")[0]
            return d
        if kind == "extra_column":
            d[_EXTRA_KEYS[i % len(_EXTRA_KEYS)]] = f"X-{i:05d}"
            return d
        raise AssertionError(kind)

    r = list(row)
    cols = ENTITIES[name].field_names
    pos = {c: j for j, c in enumerate(cols)}
    if kind == "wrong_column_count":
        return [*r, "EXTRA"] if i % 2 else r[:-1]
    if kind == "missing_required":
        opts = {
            CUS: ("SEGMENT",),
            ORD: ("STATUS", "CURRENCY", "TOTAL_AMOUNT", "ORDER_TS", "CUSTOMER_ID"),
            ITM: ("SKU", "QUANTITY", "UNIT_PRICE"),
        }[name]
        r[pos[opts[i % len(opts)]]] = ""
        return r
    if kind == "wrong_type":
        if name == ORD:
            if i % 2:
                r[pos["TOTAL_AMOUNT"]] = r[pos["TOTAL_AMOUNT"]] + "x"
            else:
                r[pos["CUSTOMER_ID"]] = "C" + r[pos["CUSTOMER_ID"]]
        elif i % 2:
            r[pos["QUANTITY"]] = ("two", "3 pcs", "1,5")[i // 2 % 3]
        else:
            r[pos["UNIT_PRICE"]] = r[pos["UNIT_PRICE"]] + " EUR"
        return r
    if kind == "out_of_range":
        if name == ORD:
            r[pos["TOTAL_AMOUNT"]] = "-" + r[pos["TOTAL_AMOUNT"]]
        elif i % 2:
            r[pos["QUANTITY"]] = ("0", "-1", "-3")[i // 2 % 3]
        else:
            r[pos["UNIT_PRICE"]] = "-" + r[pos["UNIT_PRICE"]]
        return r
    if kind == "unknown_enum":
        if name == CUS:
            r[pos["SEGMENT"]] = ("Giant", "Mega")[i % 2]
        else:
            r[pos["STATUS"]] = ("shipped", "on_hold")[i % 2]
        return r
    if kind == "invalid_date":
        if name == CUS:
            r[pos["CREATED_AT"]] = ("2024-13-45 10:00:00", "not-a-date")[i % 2]
        else:
            r[pos["ORDER_TS"]] = ("2024-02-30 10:00:00.000", "2024-13-45 10:00:00", "yesterday")[i % 3]
        return r
    if kind == "orphan_reference":
        if name == ORD:
            r[pos["CUSTOMER_ID"]] = str(int(st.ids("orphan_customer", 1)[0]) + _ORPHAN_CUSTOMER0)
        else:
            r[pos["ORDER_ID"]] = str(int(st.ids("orphan_order", 1)[0]) + _ORPHAN_ORDER0)
            r[pos["LINE_NO"]] = "1"
        return r
    if kind == "extra_column":
        return [*r, _NOTES[i % len(_NOTES)]]
    raise AssertionError(kind)


def _plant_bad(st: _State, dl: _Delivery, rng: np.random.Generator, n_bad: int, w0: int, w1: int) -> None:
    if n_bad <= 0:
        return
    kinds = list(RECORD_KINDS)
    per = [n_bad // len(kinds)] * len(kinds)
    for j in rng.permutation(len(kinds))[: n_bad % len(kinds)].tolist():
        per[j] += 1
    nparts = len(dl.dts)
    for kind, count in zip(kinds, per, strict=True):
        ents = KIND_ENTITIES[kind]
        start = int(rng.integers(0, len(ents)))
        alloc = [0] * len(ents)
        for j in range(count):
            alloc[(start + j) % len(ents)] += 1
        for name, cnt in zip(ents, alloc, strict=True):
            if cnt == 0:
                continue
            parts = np.full(cnt, nparts - 1) if kind == "extra_column" else rng.integers(0, nparts, cnt)
            ver = np.concatenate([_version_window(dl.k, p, rng, 1) for p in parts.tolist()])
            rows = _fresh(st, rng, name, cnt, ver, w0, w1)
            ent = st.ents[name]
            ent.written += cnt
            ent.bad[kind] += cnt
            for j, (p, row) in enumerate(zip(parts.tolist(), rows, strict=True)):
                bad = _mutate(st, name, kind, row, j, rng)
                if kind == "extra_column" and name not in CRM:
                    dl.extra_csv.setdefault(name, []).append(bad)
                else:
                    dl.bad.setdefault(name, {}).setdefault(p, []).append(bad)
            if kind == "extra_column":
                ent.good += cnt
                ent.versions += cnt
                ent.extra_keys += cnt


# ------------------------------------------------------------ writing


def _encode(name: str, rows: list, header: list[str] | None, eol: str, bom: bool, gz: bool) -> bytes:
    if ENTITIES[name].format == "jsonl":
        enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        lines = [r if isinstance(r, str) else enc(r) for r in rows]
        text = eol.join(lines) + eol if lines else ""
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator=eol)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)
        text = buf.getvalue()
    data = text.encode("utf-8")
    if bom and data:
        data = b"\xef\xbb\xbf" + data
    return gzip.compress(data, compresslevel=6, mtime=0) if gz else data


def _write(root: Path, st: _State, dl: _Delivery, progress: ProgressFn | None) -> list[dict]:
    rng = np.random.default_rng([st.seed, dl.k, 2])
    jobs: list[tuple[str, int, list, list[str] | None, str]] = []  # (entity, part, rows, header, role)
    for e in L.LANDING_ENTITIES:
        name = e.name
        header = [f for f in e.field_names] if e.format == "csv" else None
        for p in range(len(dl.dts)):
            rows = dl.rows.get(name, {}).get(p, [])
            bad = dl.bad.get(name, {}).get(p, [])
            if bad:
                pos = np.concatenate([np.arange(len(rows), dtype=np.float64), rng.uniform(-0.5, len(rows), len(bad))])
                allrows = rows + bad
                rows = [allrows[i] for i in np.argsort(pos, kind="stable").tolist()]
            if not rows:
                continue
            nf = max(1, math.ceil(len(rows) / 25_000))
            if (p == 0 and len(rows) >= 200) or name == FX:
                nf = max(nf, 2)
            for chunk in np.array_split(np.arange(len(rows)), nf):
                jobs.append((name, p, rows[chunk[0] : chunk[-1] + 1], header, "data"))
        if name in dl.extra_csv:
            jobs.append((name, len(dl.dts) - 1, dl.extra_csv[name], [*header, "NOTES"], "extra_column"))
    for name, p, variant in dl.empties:
        csvfmt = ENTITIES[name].format == "csv"
        header = list(ENTITIES[name].field_names) if csvfmt and variant != 0 else None
        jobs.append((name, p, [], header, f"empty{variant}"))

    entries, seq = [], {}
    forced = [(True, False, False), (False, True, False), (False, False, True), (True, True, True)]
    for n_job, (name, p, rows, header, role) in enumerate(jobs):
        e = ENTITIES[name]
        if role.startswith("empty"):
            variant = int(role[-1])
            gz, bom, crlf = variant == 2, False, variant == 1 and header is not None
        elif n_job < len(forced):
            gz, bom, crlf = forced[n_job]
        else:
            gz, bom, crlf = (bool(x) for x in rng.random(3) < (0.35, 0.25, 0.35))
        dt = dl.dts[p]
        key = (name, p)
        seq[key] = seq.get(key, 0) + 1
        ext = ".jsonl" if e.format == "jsonl" else ".csv"
        fname = f"{e.entity}_{dt:%Y%m%d}_{seq[key]:03d}{ext}{'.gz' if gz else ''}"
        rel = Path("landing") / e.source / e.entity / f"dt={dt.isoformat()}" / fname
        data = _encode(name, rows, header, "\r\n" if crlf else "\n", bom, gz)
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        entries.append(
            {
                "path": rel.as_posix(),
                "entity": name,
                "dt": dt.isoformat(),
                "increment": dl.k,
                "role": "empty_file" if role.startswith("empty") else role,
                "records": len(rows),
                "bytes": len(data),
                "gzip": gz,
                "bom": bom,
                "crlf": crlf,
            }
        )
        if progress:
            progress("write", n_job + 1, len(jobs))
    return entries


# ------------------------------------------------------------ manifest


def _summary(st: _State) -> dict:
    entities, bad_tot = {}, dict.fromkeys(BAD_KINDS, 0)
    silver = {}
    for e in L.LANDING_ENTITIES:
        ent = st.ents[e.name]
        distinct = len(ent.keys) + ent.extra_keys
        entities[e.name] = {
            "records_written": ent.written,
            "good_records": ent.good,
            "bad": dict(ent.bad),
            "superseded": ent.good - distinct,
            "deletes": ent.deletes,
            "distinct_good_keys": distinct,
        }
        for k, v in ent.bad.items():
            bad_tot[k] += v
        silver[f"silver.{e.entity}"] = int(ent.live.sum()) + ent.extra_keys
    expected = {code: 0 for code in BAD_KINDS.values()}
    for kind, n in bad_tot.items():
        expected[BAD_KINDS[kind]] += n
    return {
        "entities": entities,
        "bad": bad_tot,
        "expected_errors": expected,
        "expected_silver_rows": silver,
        "expected_accounts_history_rows": st.ents[ACC].versions,
        "records_written": sum(v["records_written"] for v in entities.values()),
    }


def _simulate(seed: int, deliveries: list[dict], progress: ProgressFn | None) -> tuple[_State, _Delivery]:
    st = _State(seed)
    dl = None
    for i, spec in enumerate(deliveries):
        last = i == len(deliveries) - 1
        dl = _deliver(st, spec["increment"], spec["records"], spec["bad_ratio"], progress if last else None)
    assert dl is not None
    return st, dl


def generate(
    lake_root: Path,
    records: int,
    seed: int = 7,
    bad_ratio: float = 0.01,
    *,
    clean: bool = False,
    increment: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write a deterministic landing delivery under ``<lake_root>/landing`` and return its manifest.

    Same arguments give byte-identical files (gzip members carry mtime=0). ``clean=True`` first deletes
    ``<lake_root>/landing`` and ``<lake_root>/_generator``. ``increment=K`` (K >= 1) appends delivery K (about
    ``records`` new records: new keys, newer versions of existing keys, bad records at ``bad_ratio``) in
    new dt partitions after every earlier one; it needs the manifest of an earlier base generation with the
    same seed.
    ``progress(stage, done, total)`` is called with stage ``"generate"`` then ``"write"``.

    The manifest (also written to ``<lake_root>/_generator/manifest.json``) is cumulative over all deliveries:

    - ``seed``, ``records`` (base delivery), ``bad_ratio`` (base), ``increment`` (latest K),
      ``generator_version``, ``deliveries`` (one entry per delivery: increment, records, bad_ratio, dts) and
      ``records_written`` (total landing records in all files).
    - ``files``: one entry per file: ``path`` (relative to lake_root), ``entity`` ("<source>/<entity>"),
      ``dt``,
      ``increment``, ``role`` (data | extra_column | empty_file), ``records`` (JSON lines or CSV data rows,
      bad ones included; CSV rows are RFC 4180 records, so a quoted embedded newline does not start a row),
      ``bytes``, ``gzip``, ``bom``, ``crlf``.
    - ``entities["<source>/<entity>"]``: ``records_written`` (all records of the entity in all files);
      ``good_records`` (records that pass every quarantine rule: originals, updates, exact duplicates, delete
      markers and extra_column records); ``bad`` (per kind: records planted; ``empty_file`` counts files);
      ``superseded`` (good records that are not the single surviving version of their key = good_records -
      distinct_good_keys; this counts older versions and exact duplicates); ``deletes`` (delete markers:
      IsDeleted=true re-deliveries; the marker is always the newest version of its key);
      ``distinct_good_keys``.
    - ``bad``: totals per kind over all entities; ``expected_errors``: the same totals keyed by the ``_error``
      code the pipeline assigns (``unexpected_column`` counts records, ``empty_file`` counts files).
    - ``expected_silver_rows["silver.<entity>"]``: current rows after processing every delivery so far:
      the number of distinct keys among good records whose newest version is not a delete (extra_column
      records
      are good; orphans and all other bad records are excluded). fx_rates: distinct (CURRENCY, VALID_FROM).
    - ``expected_accounts_history_rows``: distinct (Id, LastModifiedDate) pairs among good account records
      (delete markers included, exact duplicates counted once).
    """
    lake_root = Path(lake_root)
    if records < 1000:
        raise ValueError("records must be >= 1000")
    if not 0 <= bad_ratio < 0.5:
        raise ValueError("bad_ratio must be in [0, 0.5)")
    if increment < 0:
        raise ValueError("increment must be >= 0")
    gen_dir = lake_root / "_generator"
    manifest_path = gen_dir / "manifest.json"
    if clean:
        if increment:
            raise ValueError("clean=True deletes the base delivery an increment builds on")
        shutil.rmtree(lake_root / "landing", ignore_errors=True)
        shutil.rmtree(gen_dir, ignore_errors=True)

    spec = {"increment": increment, "records": records, "bad_ratio": bad_ratio}
    if increment == 0:
        landing = lake_root / "landing"
        if landing.exists() and any(p.is_file() for p in landing.rglob("*")):
            raise FileExistsError(f"{landing} already holds files: pass clean=True or use increment=K")
        deliveries, old_files = [spec], []
    else:
        if not manifest_path.exists():
            raise FileNotFoundError(f"{manifest_path} not found: generate the base delivery first")
        old = json.loads(manifest_path.read_text())
        if old["seed"] != seed:
            raise ValueError(f"seed {seed} differs from the base delivery's seed {old['seed']}")
        if increment <= old["increment"]:
            raise ValueError(f"increment must be > {old['increment']} (the latest delivered)")
        deliveries = [{k: d[k] for k in ("increment", "records", "bad_ratio")} for d in old["deliveries"]]
        deliveries.append(spec)
        old_files = old["files"]

    st, dl = _simulate(seed, deliveries, progress)
    files = old_files + _write(lake_root, st, dl, progress)
    for d in deliveries:
        d["dts"] = [x.isoformat() for x in _delivery_dts(d["increment"])]
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "records": deliveries[0]["records"],
        "bad_ratio": deliveries[0]["bad_ratio"],
        "increment": increment,
        "deliveries": deliveries,
        **_summary(st),
        "files": files,
    }
    gen_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def generate_with_progress(
    lake_root: Path,
    records: int,
    seed: int = 7,
    bad_ratio: float = 0.01,
    *,
    clean: bool = False,
    increment: int = 0,
    console: Any = None,
) -> dict:
    """:func:`generate` with a rich progress bar (one bar per stage: generate, write)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{stage} {records:,} records", total=total)
            bar.update(tasks[stage], completed=done, total=total)

        return generate(lake_root, records, seed, bad_ratio, clean=clean, increment=increment, progress=report)
