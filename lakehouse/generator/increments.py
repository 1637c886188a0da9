"""The delivery calendar of the base delivery and of increments: dt partitions, time windows, FX months.

Increment ``K`` lands in two dt partitions a week after the previous delivery; :func:`_window` gives the
time window its new records' timestamps fall in and the months whose FX rates it delivers.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from .formatting import _ms
from .model import BASE_DT0, BASE_END, BASE_START, DAY_MS, FX_FIRST_MONTH, _State


def _delivery_dts(k: int) -> list[date]:
    if k == 0:
        return [BASE_DT0 + timedelta(days=i) for i in range(4)]
    first = BASE_DT0 + timedelta(days=3 + 7 * k - 1)
    return [first, first + timedelta(days=1)]


def _gpart(k: int, part: int) -> int:
    return part if k == 0 else 2 * k + 2 + part


def _window(st: _State, k: int, dts: list[date]) -> tuple[int, int, list[date]]:
    """(w0, w1, months) of delivery ``k``: its records' time window and the months of its FX rates."""
    if k == 0:
        w0, w1 = int(BASE_START), int(BASE_END)
        months = [
            date(FX_FIRST_MONTH.year + (FX_FIRST_MONTH.month + i - 1) // 12, (11 + i) % 12 + 1, 1) for i in range(25)
        ]
    else:
        w1 = _ms(dts[0])
        w0 = w1 - 6 * DAY_MS
        months = _month_starts(st.last_dt, dts[-1])
    return w0, w1, months


def _month_starts(after: date, upto: date) -> list[date]:
    out, m = [], date(after.year, after.month, 1)
    while m <= upto:
        if m > after:
            out.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


def _version_window(k: int, part: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """Versions for records delivered in ``part`` of delivery ``k``: [dt - 1 day, dt)."""
    hi = _ms(_delivery_dts(k)[part])
    return rng.integers(hi - DAY_MS, hi - 1000, n)
