"""The CRM (Salesforce) source: accounts, contacts and opportunities as JSON lines.

Row builders (one dict per record, Salesforce field names and timestamps) and the stages of a delivery that
create new CRM keys: :func:`_add_accounts`, :func:`_add_opportunities`, :func:`_add_contacts`.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from job_assets.contracts import landing as L

from .formatting import _crm_ts, _dates, _ms, _sf_id
from .model import (
    _ADJ,
    _DOMAINS,
    _FIRST,
    _INDUSTRIES,
    _LAST,
    _NOUN,
    _OFFSETS,
    _SUFFIX,
    _TITLES,
    ACC,
    CON,
    COUNTRIES,
    COUNTRY_CUR,
    COUNTRY_P,
    DAY_MS,
    FX_FIRST_MONTH,
    JPY_IDX,
    LOST,
    OPP,
    PER_USD,
    STAGE_P,
    WON,
    _emit,
    _part_of,
    _Run,
    _State,
    _weighted,
)


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


def _add_accounts(run: _Run, n: int) -> None:
    """``n`` new accounts: rows, country, ``reserved`` (the ones deletes pick) and a Pareto parent weight."""
    st, dl, rng, base, w0, w1, g0 = run.st, run.dl, run.rng, run.base, run.w0, run.w1, run.g0
    acc = st.ents[ACC]
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


def _add_opportunities(
    run: _Run, nop: int, parent_acc: np.ndarray, link_acc: np.ndarray, first: np.ndarray, has: np.ndarray
) -> None:
    """``nop`` new opportunities: anchors (Closed Won before linked customers' first orders), then the rest."""
    st, dl, rng, base, w0, w1, g0 = run.st, run.dl, run.rng, run.base, run.w0, run.w1, run.g0
    acc = st.ents[ACC]
    opp = st.ents[OPP]
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


def _add_contacts(run: _Run, nco: int, parent_acc: np.ndarray) -> None:
    """``nco`` new contacts of weighted parent accounts (3% without an account)."""
    st, dl, rng, base, w0, w1, g0 = run.st, run.dl, run.rng, run.base, run.w0, run.w1, run.g0
    acc = st.ents[ACC]
    con = st.ents[CON]
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
