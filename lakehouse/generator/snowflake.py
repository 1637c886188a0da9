"""The Snowflake source: customers, orders and order items as CSV extracts.

Row builders (one tuple of strings per CSV row), prices and seasonal order times, and the stages of a
delivery that create new Snowflake keys. Customers are drawn first (:func:`_customer_attrs`), then their
orders (:func:`_order_draws`), then the customers get timestamps before their first order
(:func:`_add_customers`); orders and their lines follow (:func:`_order_lines`, :func:`_add_orders`,
:func:`_add_items`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from job_assets.contracts import landing as L

from .formatting import _money, _ms, _sf_ts
from .model import (
    _CUSTOMER_ID0,
    _DOMAINS,
    _ORDER_ID0,
    ACC,
    COUNTRIES,
    COUNTRY_CUR,
    COUNTRY_P,
    CUS,
    DAY_MS,
    ITM,
    JPY_IDX,
    MONTH_W,
    N_SKU,
    ORD,
    PER_USD,
    STATUS_P,
    USD_IDX,
    _emit,
    _part_of,
    _Run,
    _State,
    _weighted,
)


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


# ------------------------------------------------------------ delivery stages


@dataclass
class _NewCustomers:
    """This delivery's new customers, drawn before their orders (timestamps come once the orders are known)."""

    num: np.ndarray
    link_acc: np.ndarray  # index of the linked CRM account, -1 if none
    country: np.ndarray
    seg: np.ndarray  # index into L.SEGMENTS
    weight: np.ndarray
    first: np.ndarray | None = None  # ms of each customer's first order (int64 max if none)
    has: np.ndarray | None = None  # the customer has an order in this delivery


@dataclass
class _NewOrders:
    """This delivery's new orders (``cust`` indexes customers, new ones at >= len(keys) before they are added)."""

    n: int
    cust: np.ndarray
    ts: np.ndarray
    upd: np.ndarray
    cur: np.ndarray
    status: np.ndarray


@dataclass
class _OrderLines:
    """The lines of this delivery's new orders: ``oidx`` is each line's order, ``total`` each order's sum."""

    oidx: np.ndarray
    line_no: np.ndarray
    sku: np.ndarray
    qty: np.ndarray
    price: np.ndarray
    total: np.ndarray
    ni: int


def _customer_attrs(run: _Run, nc: int, parent_acc: np.ndarray) -> _NewCustomers:
    """``nc`` new customers' keys and attributes; ~40% are linked to a CRM parent account."""
    st, rng = run.st, run.rng
    acc = st.ents[ACC]
    cust_num = st.ids("customer", nc) + _CUSTOMER_ID0
    linked = (rng.random(nc) < 0.4) & (len(parent_acc) > 0)
    link_acc = np.where(linked, parent_acc[rng.integers(0, max(len(parent_acc), 1), nc)] if len(parent_acc) else -1, -1)
    ccountry = np.where(linked, acc.attrs["country"][np.maximum(link_acc, 0)] if len(acc.keys) else 0, 0)
    ccountry = np.where(linked, ccountry, rng.choice(len(COUNTRIES), nc, p=COUNTRY_P))
    seg = np.where(
        linked, rng.choice(3, nc, p=[0.3, 0.4, 0.3]), rng.choice(3, nc, p=[0.7, 0.25, 0.05])
    )  # index into L.SEGMENTS
    cweight = rng.pareto(1.3, nc) + 1
    return _NewCustomers(cust_num, link_acc, ccountry, seg, cweight)


def _order_draws(run: _Run, no: int, new: _NewCustomers) -> _NewOrders:
    """``no`` new orders of Pareto-weighted customers (old and new), seasonal in the base delivery."""
    st, rng, base, w0, w1 = run.st, run.rng, run.base, run.w0, run.w1
    nc, ccountry, cweight = len(new.num), new.country, new.weight
    cus = st.ents[CUS]
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
    return _NewOrders(no, ocust, ots, oupd, ocur, ostatus)


def _add_customers(run: _Run, new: _NewCustomers, orders: _NewOrders) -> None:
    """Timestamp the new customers (created before their first order) and add them; sets ``first``/``has``."""
    st, dl, rng, base, w0, w1, g0 = run.st, run.dl, run.rng, run.base, run.w0, run.w1, run.g0
    cust_num, link_acc, ccountry, seg, cweight = new.num, new.link_acc, new.country, new.seg, new.weight
    ocust, ots = orders.cust, orders.ts
    nc = len(cust_num)
    acc, cus = st.ents[ACC], st.ents[CUS]
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
    new.first, new.has = first, has


def _order_lines(run: _Run, n_lines: int, orders: _NewOrders) -> _OrderLines:
    """Lines per order (at least one, exactly ``n_lines`` in all when there are enough), SKUs, quantities."""
    st, rng = run.st, run.rng
    no, ocur = orders.n, orders.cur
    extra_lines = max(n_lines - no, 0)
    lines = 1 + (rng.multinomial(extra_lines, np.full(no, 1.0 / no)) if no else np.zeros(0, np.int64))
    ni = int(lines.sum())
    oidx = np.repeat(np.arange(no), lines)
    starts = np.cumsum(lines) - lines
    line_no = np.arange(ni) - np.repeat(starts, lines) + 1
    sku = rng.choice(N_SKU, ni, p=st.sku_p)
    qty = np.minimum(rng.geometric(0.55, ni), 12)
    price = _unit_price(st, sku, ocur[oidx])
    total = np.bincount(oidx, weights=(qty * price).astype(np.float64), minlength=no).astype(np.int64)
    return _OrderLines(oidx, line_no, sku, qty, price, total, ni)


def _add_orders(run: _Run, orders: _NewOrders, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add the new orders; returns their numbers and dt partitions."""
    st, dl, base, g0 = run.st, run.dl, run.base, run.g0
    ocust, ots, oupd, ocur, ostatus = orders.cust, orders.ts, orders.upd, orders.cur, orders.status
    no = orders.n
    cus, ordr = st.ents[CUS], st.ents[ORD]
    onum = st.ids("order", no) + _ORDER_ID0
    cust_key = [str(cus.keys[c]) for c in ocust.tolist()]
    orows = _order_rows(onum, cust_key, ots, ostatus, ocur, total, oupd)
    oparts = _part_of(ots, base)
    ordr.add([int(x) for x in onum.tolist()], orows, oupd, g0, cur=ocur, status=ostatus, cust=ocust)
    ordr.written += no
    _emit(dl, ORD, oparts, orows)
    return onum, oparts


def _add_items(run: _Run, onum: np.ndarray, oparts: np.ndarray, lines: _OrderLines, oupd: np.ndarray) -> None:
    """Add the new orders' lines (in their order's partition, versioned as their order)."""
    st, dl, g0 = run.st, run.dl, run.g0
    oidx, line_no, sku, qty, price, ni = lines.oidx, lines.line_no, lines.sku, lines.qty, lines.price, lines.ni
    ostr = [str(x) for x in onum.tolist()]
    itm = st.ents[ITM]
    iorder = [ostr[i] for i in oidx.tolist()]
    irows = _item_rows(st, iorder, line_no, sku, qty, price, oupd[oidx])
    ikeys = [(int(onum[o]), int(ln)) for o, ln in zip(oidx.tolist(), line_no.tolist(), strict=True)]
    itm.add(ikeys, irows, oupd[oidx], g0)
    itm.written += ni
    _emit(dl, ITM, oparts[oidx], irows)
