"""Simulating deliveries: the stages of one delivery in order, and re-simulating every earlier one.

:func:`_deliver` draws one delivery (base or increment ``k``) from its own random stream and runs its
stages in a fixed order: FX rates, accounts, customers and orders, order items, opportunities, contacts,
re-deliveries, bad records and empty files. :func:`_simulate` replays all deliveries from the manifest's
specs to rebuild the state the latest one builds on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from .bad import _add_empty_files, _plant_bad
from .crm import _add_accounts, _add_contacts, _add_opportunities
from .increments import _delivery_dts, _gpart, _window
from .model import (
    ACC,
    CON,
    CRM,
    CUS,
    ITM,
    OPP,
    ORD,
    REDELIVER_BASE,
    REDELIVER_INC,
    SHARES,
    ProgressFn,
    _Delivery,
    _Run,
    _State,
)
from .redeliver import _redeliver_all
from .reference import _add_fx, _fx_rows
from .snowflake import (
    _add_customers,
    _add_items,
    _add_orders,
    _customer_attrs,
    _NewCustomers,
    _order_draws,
    _order_lines,
)


def _budgets(records: int, bad_ratio: float, n_fx: int, base: bool) -> tuple[int, dict, dict]:
    """(n_bad, redeliver, orig): bad records, per entity re-delivery counts and new records of a delivery."""
    n_bad = round(records * bad_ratio) if bad_ratio > 0 else 0
    avail = records - n_fx - n_bad
    if avail < 200:
        raise ValueError(f"records={records} is too small for bad_ratio={bad_ratio}; use at least 1000")
    total_share = sum(SHARES.values())
    budget = {e: int(avail * s / total_share) for e, s in SHARES.items()}
    budget[ITM] += avail - sum(budget.values())
    fr = REDELIVER_BASE if base else REDELIVER_INC
    redeliver = {e: [round(b * f) if (i != 4 or e in CRM) else 0 for i, f in enumerate(fr)] for e, b in budget.items()}
    orig = {e: budget[e] - sum(redeliver[e]) for e in budget}
    return n_bad, redeliver, orig


def _start(st: _State, k: int, changes: str) -> tuple[_Run, list[date]]:
    """What the stages of delivery ``k`` share, and the months of its FX rates (records its last dt)."""
    rng = st.rng(k, 1)
    base = k == 0
    dts = _delivery_dts(k)
    dl = _Delivery(k, dts, {}, {}, {}, [], st.shard)
    g0 = _gpart(k, 0)
    w0, w1, months = _window(st, k, dts)
    st.last_dt = dts[-1]
    return _Run(st, dl, rng, base, g0, w0, w1, changes), months


def _ticker(progress: ProgressFn | None, steps: int) -> Callable[[], None]:
    """A function that reports one more of the ``steps`` generate stages done to ``progress`` (if any)."""
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress("generate", done, steps)

    return tick


def _add_sales(run: _Run, orig: dict, parent_acc: np.ndarray, tick: Callable[[], None]) -> _NewCustomers:
    """The Snowflake stages: new customers, their orders and the orders' items; returns the new customers."""
    # customers' attributes now, their timestamps (created before their first order) once the orders are known
    customers = _customer_attrs(run, orig[CUS], parent_acc)
    orders = _order_draws(run, orig[ORD], customers)
    _add_customers(run, customers, orders)
    tick()
    # order items: lines per order, exactly orig[ITM] lines
    lines = _order_lines(run, orig[ITM], orders)
    onum, oparts = _add_orders(run, orders, lines.total)
    tick()
    _add_items(run, onum, oparts, lines, orders.upd)
    tick()
    return customers


def _deliver(
    st: _State, k: int, records: int, bad_ratio: float, progress: ProgressFn | None, changes: str = "recent"
) -> _Delivery:
    """Draw delivery ``k`` (``records`` records, ``bad_ratio`` of them bad, re-deliveries drawn as ``changes``
    says: :data:`~.model.CHANGE_MODES`) onto ``st``, stage by stage."""
    run, months = _start(st, k, changes)
    tick = _ticker(progress, 9)
    fx = _fx_rows(st, months)
    # a streamed base's later shards write no FX file (the first shard's serves them all): no records for it
    n_bad, redeliver, orig = _budgets(records, bad_ratio, len(fx) if st.shard == 0 else 0, run.base)

    _add_fx(run, fx, months)
    tick()
    _add_accounts(run, orig[ACC])
    tick()
    acc = st.ents[ACC]
    parent_acc = np.flatnonzero(acc.live & ~acc.attrs["reserved"])
    customers = _add_sales(run, orig, parent_acc, tick)
    # opportunities: anchors (Closed Won before linked customers' first orders), then the rest
    _add_opportunities(run, orig[OPP], parent_acc, customers.link_acc, customers.first, customers.has)
    tick()
    _add_contacts(run, orig[CON], parent_acc)
    tick()
    _redeliver_all(run, redeliver)
    tick()
    _plant_bad(st, run.dl, run.rng, n_bad, run.w0, run.w1)
    _add_empty_files(run, n_bad)
    tick()
    return run.dl


def _simulate(seed: int, deliveries: list[dict], progress: ProgressFn | None) -> tuple[_State, _Delivery]:
    st = _State(seed)
    dl = None
    for i, spec in enumerate(deliveries):
        last = i == len(deliveries) - 1
        # a delivery recorded before the mode existed drew its changes uniformly: re-simulate it that way
        changes = spec.get("changes", "uniform")
        dl = _deliver(st, spec["increment"], spec["records"], spec["bad_ratio"], progress if last else None, changes)
    assert dl is not None
    return st, dl
