"""Bad records and empty files: fresh valid records that each get exactly one defect.

Bad records (``bad_ratio``) use fresh keys, are never re-delivered and have no children; ``extra_column``
records are otherwise valid and land in the last partition of their delivery. :func:`_fresh` builds the
valid records, :func:`.defects._mutate` applies the defect, :func:`_plant_bad` spreads the kinds over
entities and partitions, :func:`_add_empty_files` adds the empty files.
"""

from __future__ import annotations

import numpy as np

from job_assets.contracts import landing as L

from .crm import _account_rows, _contact_rows, _opp_rows
from .defects import _mutate
from .formatting import _ms, _sf_id
from .increments import _version_window
from .model import (
    _BAD_LINE0,
    _CUSTOMER_ID0,
    _ORDER_ID0,
    ACC,
    BASE_START,
    CON,
    COUNTRIES,
    COUNTRY_CUR,
    COUNTRY_P,
    CRM,
    CUS,
    DAY_MS,
    FX_FIRST_MONTH,
    KIND_ENTITIES,
    N_SKU,
    OPP,
    ORD,
    RECORD_KINDS,
    _Delivery,
    _Run,
    _State,
)
from .snowflake import _customer_rows, _item_rows, _order_rows, _unit_price


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


def _add_empty_files(run: _Run, n_bad: int) -> None:
    """Empty files (3 to 8, only when there are bad records): entity, partition and variant of each."""
    st, dl, rng = run.st, run.dl, run.rng
    dts = dl.dts
    if n_bad > 0:
        n_empty = min(8, max(3, n_bad // 150))
        ents = list(KIND_ENTITIES["empty_file"])
        start = int(rng.integers(0, len(ents)))
        for i in range(n_empty):
            name = ents[(start + i) % len(ents)]
            dl.empties.append((name, int(rng.integers(0, len(dts))), i % 3))
            st.ents[name].bad["empty_file"] += 1
