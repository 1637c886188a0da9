"""Gold build provenance, and the months a gold build recomputes instead of the whole table.

Every gold commit records how it was built (``userMetadata["build"]``): the silver tables it read (identity
and version), a fingerprint of the definition (the gold transforms' source, the table's columns and the
run's flags), and whether it recomputed the whole table or some months. With the job flag
``gold_by_month=always``, the next build of a monthly table (:data:`MONTHLY`) reads what changed in silver
since those versions (Delta's change data feed), works out the months those changes can move
(:mod:`job_assets.transforms.gold_months`) and recomputes only them. The flag is off by default: measured,
a realistic delivery moves nearly every month, and working them out costs more than it saves.

It rebuilds the whole table instead, and says why in the commit, whenever it cannot vouch for the months:
no earlier build of ours as the table's last data commit (a first build, a RESTORE, someone else's write),
another definition or other flags, a silver table that is not the one read last time (rebuilt, or older),
or change data that cannot be read (the feed was off, or VACUUM removed its files).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from pyspark.sql import DataFrame

from ..context import RunContext
from ..contracts import contract
from ..contracts.spark_schema import schema_of
from ..engine.base import change_feed_schema
from ..flags import FLAGS, flag
from ..transforms import gold as G
from ..transforms import gold_months as GM

log = logging.getLogger("lakehouse.jobs.gold")

Silver = Dict[str, DataFrame]
"""Silver table name -> its frame (its change feed, for a scope's first argument)."""


@dataclass(frozen=True)
class Monthly:
    """A gold table recomputed by month: its month column, the months silver's changes can move (``scope``:
    the changes, then silver as it is now) and its rows for some months (``rows``: months, silver, flags)."""

    column: str
    scope: Callable[[Silver, Silver], DataFrame]
    rows: Callable[[List[dt.date], Silver, Mapping[str, str]], DataFrame]


MONTHLY: Dict[str, Monthly] = {
    "gold.revenue_attribution": Monthly(
        column="order_month",
        scope=lambda ch, silver: GM.attribution_months(
            ch["silver.orders"],
            ch["silver.customers"],
            ch["silver.opportunities"],
            silver["silver.orders"],
            silver["silver.customers"],
        ),
        rows=lambda months, silver, flags: GM.revenue_attribution_in(
            months,
            silver["silver.orders"],
            silver["silver.customers"],
            silver["silver.opportunities"],
            flag(flags, "attribution_model"),
        ),
    ),
    "gold.customer_ltv_cohorts": Monthly(
        column="cohort_month",
        scope=lambda ch, silver: GM.cohort_months(ch["silver.orders"], silver["silver.orders"]),
        rows=lambda months, silver, flags: GM.customer_ltv_cohorts_in(months, silver["silver.orders"]),
    ),
}
"""The gold tables recomputed by month. The others are global (RFM quintiles rank every customer against all
the others; win rates and the pipeline are small) and are always rebuilt whole."""

CHANGE_COLUMNS: Dict[str, Sequence[str]] = {
    "silver.orders": GM.ORDER_COLUMNS,
    "silver.customers": GM.CUSTOMER_COLUMNS,
    "silver.opportunities": GM.OPPORTUNITY_COLUMNS,
}
OUTPUT_NEUTRAL_FLAGS = ("gold_by_month",)
"""Flags that change how gold is computed, not what: left out of the definition fingerprint."""
NOT_DATA = ("OPTIMIZE", "VACUUM START", "VACUUM END")
"""Commits that change no row: a gold table's last build is the newest commit that is none of these."""
LOOKBACK = 20


@dataclass(frozen=True)
class Pinned:
    """A silver table as one gold build reads it: its identity and version (both None: no table yet)."""

    table_id: Optional[str]
    version: Optional[int]

    def as_json(self) -> Dict[str, Any]:
        """How a gold commit records it: ``{"id", "version"}``."""
        return {"id": self.table_id, "version": self.version}


@dataclass(frozen=True)
class Plan:
    """How one gold table is built: ``months`` to recompute (None: the whole table) and why."""

    months: Optional[List[dt.date]]
    reason: str

    @property
    def mode(self) -> str:
        return "full" if self.months is None else "months"


def pin(ctx: RunContext, name: str) -> Pinned:
    """Silver table ``name``'s identity and latest version, which a gold build then reads it at."""
    uri = ctx.uri(name)
    version = ctx.engine.version(uri)
    return Pinned(ctx.engine.table_id(uri), version) if version is not None else Pinned(None, None)


def resolved(flags: Mapping[str, str]) -> Dict[str, str]:
    """Every registered flag's value for a build given ``flags``: the given value, else its default."""
    return {k: flag(flags, k) for k in sorted(FLAGS)}


def definition(name: str, flags: Mapping[str, str]) -> Optional[str]:
    """Fingerprint of what a full build of ``name`` computes: the gold transforms, its columns, the flags."""
    try:
        source = inspect.getsource(G)
    except (OSError, TypeError):  # no source shipped: never vouch for an earlier build
        return None
    columns = [(c.name, c.type) for c in contract(name).columns]
    # every flag's value as the build resolves it: a default that changes in a release changes the output
    relevant = sorted((k, v) for k, v in resolved(flags).items() if k not in OUTPUT_NEUTRAL_FLAGS)
    doc = json.dumps([source, name, columns, relevant], sort_keys=True)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()[:16]


def provenance(
    name: str, batch: str, pinned: Mapping[str, Pinned], flags: Mapping[str, str], plan: Plan
) -> Dict[str, Any]:
    """The ``userMetadata`` keys of a gold commit: its build."""
    inputs = {t: pinned[t].as_json() for t in contract(name).upstream}
    build = {"batch": batch, "definition": definition(name, flags), "flags": resolved(flags)}
    build.update({"inputs": inputs, "mode": plan.mode})
    build["months"] = len(plan.months) if plan.months is not None else None
    build["reason"] = plan.reason
    return {"build": build}


def last_build(ctx: RunContext, uri: str) -> Optional[Dict[str, Any]]:
    """The build provenance of the table's newest data commit; None when that commit is not a build of ours."""
    for entry in ctx.engine.history(uri, limit=LOOKBACK):
        if entry["operation"] in NOT_DATA:
            continue
        build = entry["userMetadata"].get("build")
        return build if isinstance(build, dict) else None
    return None


def _changes(ctx: RunContext, table: str, since: int, now: int) -> DataFrame:
    """What ``table`` changed after version ``since`` up to ``now``: the columns gold's months follow."""
    columns = CHANGE_COLUMNS[table]
    if since == now:
        return ctx.spark.createDataFrame([], change_feed_schema(schema_of(contract(table)), columns))
    return ctx.engine.changes(ctx.uri(table), since + 1, now, columns)


def _stale_input(build: Mapping[str, Any], pinned: Mapping[str, Pinned], tables: Sequence[str]) -> Optional[str]:
    """Why the earlier build's silver versions cannot be followed to today's, or None when they can."""
    inputs = build.get("inputs") or {}
    for table in tables:
        before, now = inputs.get(table) or {}, pinned[table]
        if now.version is None or before.get("version") is None:
            return f"{table} had no version at the last build or has none now"
        if before.get("id") != now.table_id:
            return f"{table} is not the table the last build read (created again)"
        if int(before["version"]) > now.version:
            return f"{table} is older (version {now.version}) than the last build read ({before['version']})"
    return None


def _declined(ctx: RunContext, name: str, choice: str) -> Optional[str]:
    """Why ``name`` is rebuilt whole before any change is read (None: by month, if the changes allow)."""
    if name not in MONTHLY:
        return "a global table"
    if not ctx.engine.exists(ctx.uri(name)):
        return "first build"
    if choice == "never":
        return "flag gold_by_month=never"
    return None


def _unvouched(
    build: Optional[Mapping[str, Any]], name: str, pinned: Mapping[str, Pinned], flags: Mapping[str, str]
) -> Optional[str]:
    """Why the table's last build cannot be carried forward by month (None: it can)."""
    if build is None:
        return "the table's last data commit is not a build with provenance"
    fingerprint = definition(name, flags)
    if fingerprint is None or build.get("definition") != fingerprint:
        return "the definition or the flags changed since the last build"
    return _stale_input(build, pinned, contract(name).upstream)


def plan(
    ctx: RunContext, name: str, pinned: Mapping[str, Pinned], silver: Dict[str, DataFrame], flags: Mapping[str, str]
) -> Plan:
    """Months of ``name`` to recompute from the silver changes since its last build, or the whole table."""
    choice = flag(flags, "gold_by_month")
    declined = _declined(ctx, name, choice)
    if declined:
        return Plan(None, declined)
    uri = ctx.uri(name)
    build = last_build(ctx, uri)
    unvouched = _unvouched(build, name, pinned, flags)
    if unvouched or build is None:
        return Plan(None, unvouched or "no build")
    try:
        tables = contract(name).upstream
        changes = {t: _changes(ctx, t, int(build["inputs"][t]["version"]), int(pinned[t].version)) for t in tables}
        months = sorted(r[0] for r in MONTHLY[name].scope(changes, silver).collect())
    except Exception as error:  # no change data for the range: the feed was off, or VACUUM removed it
        log.warning("%s: rebuilt whole, the silver changes are not readable: %s", name, error)
        return Plan(None, f"silver changes not readable: {type(error).__name__}")
    return Plan(months, f"{len(months)} months changed since batch {build.get('batch')}")
