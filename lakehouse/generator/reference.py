"""Reference data: the monthly FX rates (``reference/fx_rates``), one row per currency and month."""

from __future__ import annotations

import math
from datetime import date

import numpy as np

from job_assets.contracts import landing as L

from .model import FX, FX_BASE, FX_FIRST_MONTH, _emit, _Run, _State


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


def _add_fx(run: _Run, fx: list, months: list[date]) -> None:
    """Add this delivery's FX rows to the state and to partition 0 of the delivery (the first shard's only: the
    rates are the seed's, and one file of them serves every shard)."""
    st, dl = run.st, run.dl
    fxe = st.ents[FX]
    fxe.add([(c, v) for c, _, v in fx], fx, np.zeros(len(fx), np.int64), run.g0)
    st.fx_months.extend(months)
    if st.shard == 0:
        fxe.written += len(fx)
        _emit(dl, FX, np.zeros(len(fx), np.int64), fx)
