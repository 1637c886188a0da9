"""The defects of bad records: one small function per (format, kind), and :func:`_mutate` that picks one.

A CRM record is a dict (a JSON line), a Snowflake record a list of CSV values; each kind of defect has one
function per format it applies to (:data:`_JSON_DEFECTS`, :data:`_CSV_DEFECTS`). ``_Target.i`` picks the
variant of a defect, so consecutive bad records of one kind differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .formatting import _sf_id
from .model import (
    _EXTRA_KEYS,
    _NOTES,
    _ORPHAN_CUSTOMER0,
    _ORPHAN_ORDER0,
    ACC,
    CUS,
    ENTITIES,
    ITM,
    OPP,
    ORD,
    _State,
)


@dataclass(frozen=True)
class _Target:
    """What a defect needs besides the record: the state (fresh orphan ids), the entity, the variant, the rng."""

    st: _State
    name: str
    i: int
    rng: np.random.Generator


# ------------------------------------------------------------ CRM (JSON lines): the record is a copied dict


def _json_unparseable(t: _Target, d: dict) -> str:
    """The JSON line cut short, every third one without trailing garbage."""
    text = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
    cut = text[: max(8, int(len(text) * (0.3 + 0.5 * t.rng.random())))]
    return cut + ("" if t.i % 3 else "<<garbled")


def _json_missing_required(t: _Target, d: dict) -> dict:
    """A required field removed (even variants) or null (odd variants)."""
    key = "Name" if t.name == ACC else ("StageName", "CurrencyIsoCode", "CloseDate", "AccountId")[t.i % 4]
    if t.i % 2:
        d[key] = None
    else:
        del d[key]
    return d


def _money_key(t: _Target) -> str:
    """The money field of an account or an opportunity."""
    return "AnnualRevenue" if t.name == ACC else "Amount"


def _json_wrong_type(t: _Target, d: dict) -> dict:
    """The money field as text that is not a number."""
    key = _money_key(t)
    d[key] = f"{abs(d[key] or 12.5)}x" if t.i % 2 else "n/a"
    return d


def _json_out_of_range(t: _Target, d: dict) -> dict:
    """The money field negative."""
    key = _money_key(t)
    d[key] = -round(abs(d[key] or 0) + 1, 2)
    return d


def _json_unknown_enum(t: _Target, d: dict) -> dict:
    """A stage, currency or lead source outside its vocabulary."""
    key, val = (("StageName", "Won-ish"), ("CurrencyIsoCode", "CHF"), ("LeadSource", "Billboard"))[t.i % 3]
    d[key] = val
    return d


def _json_invalid_date(t: _Target, d: dict) -> dict:
    """An impossible or unparseable CloseDate (even opportunities) or CreatedDate (the others)."""
    if t.name == OPP and t.i % 2 == 0:
        d["CloseDate"] = ("2024-13-45", "not-a-date", "2023-02-29")[t.i // 2 % 3]
    else:
        d["CreatedDate"] = ("2024-02-30T10:00:00.000Z", "not-a-date", "2024-13-45T10:00:00Z")[t.i % 3]
    return d


def _json_orphan_reference(t: _Target, d: dict) -> dict:
    """An AccountId no account has."""
    d["AccountId"] = _sf_id("001", t.st.ids("orphan_account", 1), mark="9Z")[0]
    return d


def _json_extra_column(t: _Target, d: dict) -> dict:
    """An otherwise valid record with a field the contract does not know."""
    d[_EXTRA_KEYS[t.i % len(_EXTRA_KEYS)]] = f"X-{t.i:05d}"
    return d


_JSON_DEFECTS: dict[str, Callable[[_Target, dict], Any]] = {
    "unparseable_json": _json_unparseable,
    "missing_required": _json_missing_required,
    "wrong_type": _json_wrong_type,
    "out_of_range": _json_out_of_range,
    "unknown_enum": _json_unknown_enum,
    "invalid_date": _json_invalid_date,
    "orphan_reference": _json_orphan_reference,
    "extra_column": _json_extra_column,
}

# ------------------------------------------------------------ Snowflake (CSV): the record is a copied list

_REQUIRED = {
    CUS: ("SEGMENT",),
    ORD: ("STATUS", "CURRENCY", "TOTAL_AMOUNT", "ORDER_TS", "CUSTOMER_ID"),
    ITM: ("SKU", "QUANTITY", "UNIT_PRICE"),
}
"""The required columns :func:`_csv_missing_required` empties, in turn."""


def _csv_wrong_column_count(t: _Target, r: list, pos: dict[str, int]) -> list:
    """One value too many (odd variants) or too few (even variants)."""
    return [*r, "EXTRA"] if t.i % 2 else r[:-1]


def _csv_missing_required(t: _Target, r: list, pos: dict[str, int]) -> list:
    """A required column empty."""
    opts = _REQUIRED[t.name]
    r[pos[opts[t.i % len(opts)]]] = ""
    return r


def _csv_wrong_type(t: _Target, r: list, pos: dict[str, int]) -> list:
    """An amount, customer id, quantity or unit price that does not parse as its type."""
    if t.name == ORD:
        if t.i % 2:
            r[pos["TOTAL_AMOUNT"]] = r[pos["TOTAL_AMOUNT"]] + "x"
        else:
            r[pos["CUSTOMER_ID"]] = "C" + r[pos["CUSTOMER_ID"]]
    elif t.i % 2:
        r[pos["QUANTITY"]] = ("two", "3 pcs", "1,5")[t.i // 2 % 3]
    else:
        r[pos["UNIT_PRICE"]] = r[pos["UNIT_PRICE"]] + " EUR"
    return r


def _csv_out_of_range(t: _Target, r: list, pos: dict[str, int]) -> list:
    """A negative amount or unit price, or a quantity below one."""
    if t.name == ORD:
        r[pos["TOTAL_AMOUNT"]] = "-" + r[pos["TOTAL_AMOUNT"]]
    elif t.i % 2:
        r[pos["QUANTITY"]] = ("0", "-1", "-3")[t.i // 2 % 3]
    else:
        r[pos["UNIT_PRICE"]] = "-" + r[pos["UNIT_PRICE"]]
    return r


def _csv_unknown_enum(t: _Target, r: list, pos: dict[str, int]) -> list:
    """A segment or order status outside its vocabulary."""
    if t.name == CUS:
        r[pos["SEGMENT"]] = ("Giant", "Mega")[t.i % 2]
    else:
        r[pos["STATUS"]] = ("shipped", "on_hold")[t.i % 2]
    return r


def _csv_invalid_date(t: _Target, r: list, pos: dict[str, int]) -> list:
    """An impossible or unparseable CREATED_AT (customers) or ORDER_TS (orders)."""
    if t.name == CUS:
        r[pos["CREATED_AT"]] = ("2024-13-45 10:00:00", "not-a-date")[t.i % 2]
    else:
        r[pos["ORDER_TS"]] = ("2024-02-30 10:00:00.000", "2024-13-45 10:00:00", "yesterday")[t.i % 3]
    return r


def _csv_orphan_reference(t: _Target, r: list, pos: dict[str, int]) -> list:
    """A CUSTOMER_ID (orders) or ORDER_ID (order items, as line 1) no parent has."""
    if t.name == ORD:
        r[pos["CUSTOMER_ID"]] = str(int(t.st.ids("orphan_customer", 1)[0]) + _ORPHAN_CUSTOMER0)
    else:
        r[pos["ORDER_ID"]] = str(int(t.st.ids("orphan_order", 1)[0]) + _ORPHAN_ORDER0)
        r[pos["LINE_NO"]] = "1"
    return r


def _csv_extra_column(t: _Target, r: list, pos: dict[str, int]) -> list:
    """An otherwise valid row with a NOTES value (its file's header has the extra column)."""
    return [*r, _NOTES[t.i % len(_NOTES)]]


_CSV_DEFECTS: dict[str, Callable[[_Target, list, dict[str, int]], list]] = {
    "wrong_column_count": _csv_wrong_column_count,
    "missing_required": _csv_missing_required,
    "wrong_type": _csv_wrong_type,
    "out_of_range": _csv_out_of_range,
    "unknown_enum": _csv_unknown_enum,
    "invalid_date": _csv_invalid_date,
    "orphan_reference": _csv_orphan_reference,
    "extra_column": _csv_extra_column,
}


def _mutate(st: _State, name: str, kind: str, row: Any, i: int, rng: np.random.Generator) -> Any:
    """Apply exactly one defect of ``kind`` to a valid fresh ``row``; ``i`` picks the variant."""
    target = _Target(st, name, i, rng)
    if isinstance(row, dict):
        json_defect = _JSON_DEFECTS.get(kind)
        if json_defect is None:
            raise AssertionError(kind)
        return json_defect(target, dict(row))
    csv_defect = _CSV_DEFECTS.get(kind)
    if csv_defect is None:
        raise AssertionError(kind)
    pos = {c: j for j, c in enumerate(ENTITIES[name].field_names)}
    return csv_defect(target, list(row), pos)
