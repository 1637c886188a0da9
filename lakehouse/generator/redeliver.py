"""Re-deliveries: newer versions (updates), exact duplicates and CRM deletes of keys delivered earlier.

Every re-delivery's version is at or after the previous partition's date (:func:`_version_window`), so it is
strictly newer than everything delivered before it; :func:`_update_row` changes a row's values the way the
upstream systems would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from job_assets.contracts import landing as L

from .formatting import _cents, _crm_ts, _fmt_cents, _ms, _sf_ts
from .increments import _delivery_dts, _gpart, _version_window
from .model import (
    _INDUSTRIES,
    _OFFSETS,
    _TITLES,
    ACC,
    CON,
    CRM,
    CUS,
    DAY_MS,
    ITM,
    LOST,
    OPP,
    ORD,
    RECENT_HALF_LIFE_DAYS,
    RECENT_TAIL,
    WON,
    _Delivery,
    _Run,
    _State,
)


def _redeliver(
    st: _State,
    dl: _Delivery,
    rng: np.random.Generator,
    name: str,
    part: int,
    n_upd: int,
    n_dup: int,
    n_del: int,
    changes: str = "recent",
) -> None:
    ent = st.ents[name]
    g = _gpart(dl.k, part)
    cands = np.flatnonzero(ent.live & (ent.last_g < g))
    if len(cands) == 0:
        return
    if changes == "uniform":
        cands = rng.permutation(cands)
    else:
        cands = _recent_first(cands, ent.born[cands], _ms(_delivery_dts(dl.k)[part]), rng)
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


def _recent_first(cands: np.ndarray, born: np.ndarray, now_ms: int, rng: np.random.Generator) -> np.ndarray:
    """``cands`` in the random order a recency-skewed draw without replacement picks them.

    Each key's weight is ``(1 - RECENT_TAIL) * 2 ** (-age / RECENT_HALF_LIFE_DAYS) / sum(...)`` plus
    ``RECENT_TAIL / len(cands)``, ``age`` the days from its first version (``born``) to ``now_ms``: orders
    and deals change mostly in the weeks after they are created. The order is the
    Efraimidis-Spirakis one (ascending ``Exp(1) / weight``), so the first ``n`` keys are a weighted sample of
    ``n`` without replacement, drawn in one vectorised pass.
    """
    age_days = np.maximum(now_ms - born, 0) / DAY_MS
    recent = np.exp2(-age_days / RECENT_HALF_LIFE_DAYS)
    total = recent.sum()
    if total == 0:  # every key older than float64 can halve (tens of thousands of days): all tail
        return rng.permutation(cands)
    weight = (1.0 - RECENT_TAIL) * recent / total + RECENT_TAIL / len(cands)
    return cands[np.argsort(rng.exponential(1.0, len(cands)) / weight, kind="stable")]


def _update_account(new: dict, ts: str, r: float) -> None:
    """A newer annual revenue and, now and then, another industry."""
    rev = new["AnnualRevenue"]
    new["AnnualRevenue"] = round(rev * (1.05 + r / 5), 2) if rev is not None else 250_000.0
    if r < 0.3:
        new["Industry"] = _INDUSTRIES[int(r * 100) % len(_INDUSTRIES)]


def _update_contact(new: dict, ts: str, r: float) -> None:
    """Another title."""
    new["Title"] = _TITLES[(_TITLES.index(new["Title"]) + 1 + int(r * 5)) % len(_TITLES)]


def _update_opportunity(new: dict, ts: str, r: float) -> None:
    """A closed deal's amount revised, or an open one a stage further (closed on ``ts`` when won or lost)."""
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


def _update_customer(row: list, r: float) -> None:
    """The next segment up, or (already at the top) a changed e-mail address."""
    seg = L.SEGMENTS.index(row[4])
    if seg + 1 < len(L.SEGMENTS):
        row[4] = L.SEGMENTS[seg + 1]
    else:
        row[2] = "updated." + row[2]


def _update_order(row: list, r: float) -> None:
    """A pending order completed or cancelled, a completed one refunded, any other one 5% cheaper."""
    status = row[3]
    if status == "pending":
        row[3] = "completed" if r < 0.8 else "cancelled"
    elif status == "completed":
        row[3] = "refunded"
    else:
        row[5] = _fmt_cents(_cents(row[5]) * 95 // 100)


def _update_item(row: list, r: float) -> None:
    """A 10% lower unit price."""
    row[4] = _fmt_cents(_cents(row[4]) * 9 // 10)


_CRM_UPDATES: dict[str, Callable[[dict, str, float], None]] = {
    ACC: _update_account,
    CON: _update_contact,
    OPP: _update_opportunity,
}
_CSV_UPDATES: dict[str, Callable[[list, float], None]] = {
    CUS: _update_customer,
    ORD: _update_order,
    ITM: _update_item,
}


def _update_row(st: _State, name: str, row: Any, ts: str, r: float, delete: bool) -> Any:
    """The newer version of ``row``, stamped ``ts``: a CRM delete marker, or values changed (``r`` in [0, 1))."""
    if name in CRM:
        new = dict(row)
        new["LastModifiedDate"] = ts
        if delete:
            new["IsDeleted"] = True
        else:
            _CRM_UPDATES[name](new, ts, r)
        return new
    values = list(row)
    values[-1] = ts
    _CSV_UPDATES[name](values, r)
    return tuple(values)


def _redeliver_all(run: _Run, redeliver: dict[str, list[int]]) -> None:
    """Two rounds of re-deliveries per entity: updates and duplicates, then more of both and the deletes."""
    st, dl, rng, base = run.st, run.dl, run.rng, run.base
    rounds = [(2, 3)] if base else [(0, 1)]
    p1, p2 = rounds[0]
    for name in (ACC, CON, OPP, CUS, ORD, ITM):
        u1, d1, u2, d2, de = redeliver[name]
        _redeliver(st, dl, rng, name, p1, u1, d1, 0, run.changes)
        _redeliver(st, dl, rng, name, p2, u2, d2, de, run.changes)
