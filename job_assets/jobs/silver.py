"""Silver job: type, validate, deduplicate and MERGE each bronze batch into current state.

Silver consumes bronze batches in order: every batch bronze finished and silver has not. For each table
(parents first, so references resolve within a batch):

1. candidates = the batch's bronze rows + orphans held in the silver quarantine for this table;
2. standardize (strict casts) and derive (order_date, USD amounts at the FX rate valid that day);
3. row rules: the first failing quarantine rule sets ``_error``; warn rules are counted; a failing
   ``fail`` rule raises before anything is written for that table;
4. newest version per key wins (superseded versions are counted);
5. reference rules: rows whose parent is missing are held in quarantine (``_status='held'``) and
   re-checked on every later batch; held rows whose parent has arrived flow on (``released``);
6. MERGE into the current table (newer versions update, ``IsDeleted`` deletes); accounts also get
   their SCD2 history.

Every commit carries the app transaction ``silver:<batch>``, so a re-run of a batch — after a kill or
on purpose — skips what was committed and writes what was not.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ..context import RunContext
from ..contracts import SILVER_CURRENT, contract
from ..contracts.model import Rule, TableContract
from ..contracts.silver import ACCOUNTS_HISTORY
from ..contracts.spark_schema import schema_of
from ..dq.rules import RuleStat, flag_aggregates, flag_rows, stats_from_groups
from ..engine import TableNotFoundError, Txn
from ..spark import materialize
from ..transforms.silver import (
    derive,
    latest_per_key,
    merge_conditions,
    scd2_history,
    standardize,
    to_table_columns,
)
from .bronze import parallelism
from .common import (
    JobResult,
    Progress,
    StepCounter,
    TableStats,
    TaskScheduler,
    completed_batches,
    finished_batches,
    summary_rows,
    write_ops,
)

log = logging.getLogger("lakehouse.jobs.silver")
JOB = "silver"
Q_TABLE = "silver.quarantine"


def pending_batches(ctx: RunContext, summary: Optional[List[Dict[str, Any]]] = None) -> List[str]:
    """Bronze batches that finished and that silver has not finished, oldest first.

    ``summary``: silver's run summary rows (:func:`~.common.summary_rows`), when the caller has read them.
    """
    done = set(finished_batches(summary_rows(ctx, "silver") if summary is None else summary, JOB))
    return [b for b in completed_batches(ctx, "bronze", "bronze") if b not in done]


def lost_tables(ctx: RunContext, summary: List[Dict[str, Any]]) -> List[str]:
    """The silver tables that batches silver finished left behind and that are gone now, in contract order.

    ``summary``: silver's run summary rows with ``rows_in``. A finished batch leaves every current table its
    summary names (created empty if need be) and the quarantine; accounts_history once a batch brought accounts.
    Silver would create a lost one again from the pending batches alone, without the records of the earlier
    ones, and gold would publish from it: :func:`run` refuses instead. A table a later release added to the
    contracts is named by no earlier summary, so it is created as usual.
    """
    ours = [r for r in summary if r["job"] == JOB]
    if not finished_batches(ours, JOB):
        return []
    named = {r["table_name"] for r in ours}
    expected = [c.name for c in SILVER_CURRENT if c.name in named]
    if any(r["table_name"] == "silver.accounts" and (r["rows_in"] or 0) > 0 for r in ours):
        expected.append(ACCOUNTS_HISTORY.name)
    expected.append(Q_TABLE)
    return [name for name in expected if not ctx.engine.exists(ctx.uri(name))]


def _refuse_lost_tables(ctx: RunContext, summary: List[Dict[str, Any]], batches: List[str]) -> None:
    """Raise :class:`TableNotFoundError` naming every lost table (:func:`lost_tables`); nothing is written."""
    lost = lost_tables(ctx, summary)
    if not lost:
        return
    where = "; ".join(f"{name} at {ctx.uri(name)}" for name in lost)
    raise TableNotFoundError(
        f"silver: lost since silver finished batches that wrote them: {where}; nothing was written: silver would "
        f"create them again from batch {batches[0]} on, without the earlier batches' records. Restore them "
        "(runbooks/table-restore.md) or rebuild silver from bronze (runbooks/rebuild-from-bronze.md)"
    )


def _held(ctx: RunContext, c: TableContract, batch: str) -> DataFrame:
    """Orphans held for ``c`` before ``batch`` (those ``batch`` released included), turned back into
    bronze-shaped rows (their payload) + _quarantine_id."""
    bronze = contract(c.landing.bronze_table)
    schema = schema_of(bronze)
    q_uri = ctx.uri(Q_TABLE)
    if not ctx.engine.exists(q_uri):
        return ctx.spark.createDataFrame([], schema).withColumn("_quarantine_id", F.lit(None).cast("string"))
    # held by EARLIER batches: a re-run of this batch must not see the orphans it already quarantined, and
    # must see those it already released (its release commit came before a kill), as its first run did
    held = (F.col("_status") == "held") & (F.col("_batch_id") != batch)
    released_here = (F.col("_status") == "released") & (F.col("_released_batch_id") == batch)
    q = ctx.engine.read(q_uri).filter((F.col("_table") == c.name) & (held | released_here))
    parsed = q.select(F.from_json("_payload", schema).alias("p"), "_quarantine_id")
    return parsed.select("p.*", "_quarantine_id")


def _quarantine_rows(df: DataFrame, table: str, batch: str, ts, status: str) -> DataFrame:
    bronze_cols = [c for c in df.columns if not c.startswith("__") and c not in ("_error", "_rule", "_quarantine_id")]
    return df.select(
        F.coalesce(
            F.col("_quarantine_id"),
            F.sha2(
                F.concat_ws(
                    "|",
                    F.lit(table),
                    F.col("_record_hash"),
                    F.col("_source_file"),
                    F.col("_line_no").cast("string"),
                    F.col("_rule"),
                ),
                256,
            ),
        ).alias("_quarantine_id"),
        F.lit(table).alias("_table"),
        F.col("_error"),
        F.col("_rule"),
        F.col("_source_file"),
        F.col("_line_no"),
        F.lit(batch).alias("_batch_id"),
        F.col("_record_hash"),
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in bronze_cols])).alias("_payload"),
        F.lit(status).alias("_status"),
        F.lit(None).cast("string").alias("_released_batch_id"),
        F.lit(ts).cast("timestamp").alias("_quarantined_ts"),
    )


def _raw_bronze_view(std: DataFrame, c: TableContract) -> List:
    """Columns of the quarantine payload: the raw landing fields plus the record's identity."""
    cols = [F.col(f"`__raw_{col.name}`").alias(col.source) for col in c.columns if col.source]
    # the record itself, not the run that ingested it: a replayed batch writes the same payload
    meta = [F.col(m) for m in ("_extra", "_source_file", "_line_no", "_record_hash") if m in std.columns]
    return cols + meta


@dataclass
class _RowCheck:
    """The row-rule stage of one table: its candidates with ``_error`` set, and the valid ones counted."""

    evaluated: DataFrame
    dq: List[RuleStat]
    n_valid: int
    n_valid_held: int


@dataclass
class _RefCheck:
    """The reference stage of one table: the winners with their ``__orphan*`` flags, and what they count."""

    winners: DataFrame
    held_rules: List[Rule]
    n_winners: int
    o_new: int
    o_held: int
    dq: List[RuleStat]


def _is_held() -> Column:
    """A candidate that was held in the quarantine by an earlier batch (not one of this batch's rows)."""
    return F.col("_quarantine_id").isNotNull()


def _candidates(ctx: RunContext, c: TableContract, batch: str) -> DataFrame:
    """The batch's bronze rows of ``c`` plus the orphans held for it, in bronze shape + _quarantine_id."""
    bronze_schema = schema_of(contract(c.landing.bronze_table))
    new = ctx.engine.read_or_empty(ctx.uri(c.landing.bronze_table), bronze_schema)
    new = new.filter(F.col("_batch_id") == batch).withColumn("_quarantine_id", F.lit(None).cast("string"))
    held = _held(ctx, c, batch)
    return new.unionByName(held.select(*new.columns))


def _check_rows(
    candidates: DataFrame, c: TableContract, fx: Callable[[], Optional[DataFrame]], stats: TableStats
) -> _RowCheck:
    """Type, derive and flag the candidates (one materialization, one count); count refusals into ``stats``.

    Raises DataQualityError on a failing ``fail`` rule: nothing is written yet.
    """
    std = derive(c, standardize(candidates, c), fx() if "silver.fx_rates" in c.upstream else None)
    flagged, rules = flag_rows(std, c)
    evaluated = materialize(flagged)
    groups = [
        r.asDict()
        for r in evaluated.groupBy(_is_held().alias("held"), "_error")
        .agg(F.count(F.lit(1)).alias("n"), *flag_aggregates(rules))
        .collect()
    ]
    row_stats = stats_from_groups(c, rules, groups)
    stats.rows_in = sum(g["n"] for g in groups if not g["held"])
    stats.rows_quarantined = sum(g["n"] for g in groups if not g["held"] and g["_error"] is not None)
    for g in groups:
        if not g["held"] and g["_error"] is not None:
            stats.errors[g["_error"]] = stats.errors.get(g["_error"], 0) + g["n"]
    n_valid = sum(g["n"] for g in groups if g["_error"] is None)
    n_valid_held = sum(g["n"] for g in groups if g["held"] and g["_error"] is None)
    return _RowCheck(evaluated, row_stats, n_valid, n_valid_held)


def _to_quarantine(
    rows: DataFrame, checked: _RowCheck, c: TableContract, batch: str, ts: dt.datetime, status: str
) -> DataFrame:
    """``rows`` (with _error, _rule) as quarantine rows of ``status``, their payload the raw bronze record."""
    payload = rows.select(*_raw_bronze_view(checked.evaluated, c), "_error", "_rule", "_quarantine_id")
    return _quarantine_rows(payload, c.name, batch, ts, status)


def _check_references(ctx: RunContext, c: TableContract, winners: DataFrame) -> _RefCheck:
    """Reference rules on the winners: a quarantine-severity miss holds the row as an orphan; a warn miss
    is counted. The parents must already hold this batch."""
    ref_rules = [r for r in c.rules if r.kind == "ref"]
    held_rules = [r for r in ref_rules if r.severity == "quarantine"]
    for rule in ref_rules:
        parent = ctx.engine.read_or_empty(ctx.uri(rule.ref_table), schema_of(contract(rule.ref_table)))
        keys = parent.select(F.col(rule.ref_column).alias("__pk")).distinct()
        winners = winners.join(keys, F.col(rule.column) == F.col("__pk"), "left")
        winners = winners.withColumn(
            f"__orphan_{rule.name}", F.col(rule.column).isNotNull() & F.col("__pk").isNull()
        ).drop("__pk")
    orphan = F.lit(False)
    for rule in held_rules:
        orphan = orphan | F.col(f"__orphan_{rule.name}")
    winners = materialize(winners.withColumn("__orphan", orphan))
    w = winners.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(F.col("__orphan") & ~_is_held(), 1).otherwise(0)).alias("o_new"),
        F.sum(F.when(F.col("__orphan") & _is_held(), 1).otherwise(0)).alias("o_held"),
        *[F.sum(F.when(F.col(f"__orphan_{r.name}"), 1).otherwise(0)).alias(f"r{i}") for i, r in enumerate(ref_rules)],
    ).collect()[0]
    n_winners = int(w["n"])
    ref_stats = [RuleStat(c.name, r, n_winners, int(w[f"r{i}"] or 0)) for i, r in enumerate(ref_rules)]
    return _RefCheck(winners, held_rules, n_winners, int(w["o_new"] or 0), int(w["o_held"] or 0), ref_stats)


def _orphan_frames(
    c: TableContract, checked: _RowCheck, refs: _RefCheck, valid: DataFrame, batch: str, ts: dt.datetime
) -> List[DataFrame]:
    """New orphans to hold in the quarantine, and the ids of held rows that are no longer orphans.

    Those leave the quarantine as 'released' (merged, or superseded by a newer version of the same key).
    """
    orphans = refs.winners.filter(F.col("__orphan"))
    rule_name = (
        F.coalesce(*[F.when(F.col(f"__orphan_{r.name}"), F.lit(r.name)) for r in refs.held_rules])
        if refs.held_rules
        else F.lit("ref")
    )
    new_orphans = (
        orphans.filter(~_is_held()).withColumn("_error", F.lit("orphan_reference")).withColumn("_rule", rule_name)
    )
    released_ids = (
        valid.filter(_is_held())
        .select("_quarantine_id")
        .join(orphans.filter(_is_held()).select("_quarantine_id"), "_quarantine_id", "left_anti")
    )
    return [
        _to_quarantine(new_orphans, checked, c, batch, ts, "held"),
        released_ids.withColumn("_released_batch_id", F.lit(batch)).withColumn("_status", F.lit("released")),
    ]


def _merge_current(ctx: RunContext, c: TableContract, refs: _RefCheck, batch: str, stats: TableStats) -> None:
    """MERGE the winners that are no orphans into the current table; record the commit in ``stats``."""
    source = refs.winners.filter(~F.col("__orphan"))
    out = to_table_columns(source, c).withColumn("_batch_id", F.lit(batch)).select(*c.column_names)
    uri = ctx.uri(c.name)
    engine = ctx.engine
    res = engine.merge(uri, out, c.keys, txn=Txn(f"{JOB}:{batch}", 1), source_keys_unique=True, **merge_conditions(c))
    engine.create_if_missing(uri, schema_of(c))
    stats.committed = res.committed
    stats.version = engine.version(uri)
    stats.rows_out = res.inserted + res.updated + res.deleted


def process_table(
    ctx: RunContext,
    c: TableContract,
    batch: str,
    fx: Callable[[], Optional[DataFrame]],
    parents_ready: Callable[[], None] = lambda: None,
) -> Tuple[TableStats, List[DataFrame]]:
    """Returns (stats, quarantine frames to merge).

    ``fx()`` returns silver.fx_rates as of this batch (it blocks until fx_rates is merged);
    ``parents_ready()`` blocks until every silver table this one references is merged. The table's own
    work (typing, row rules) runs before that wait, so it overlaps with its parents' merges.
    """
    ts = ctx.timestamp()
    stats = TableStats(c.name)
    checked = _check_rows(_candidates(ctx, c, batch), c, fx, stats)
    if checked.n_valid == 0 and stats.rows_quarantined == 0:
        ctx.engine.create_if_missing(ctx.uri(c.name), schema_of(c))
        stats.version = ctx.engine.version(ctx.uri(c.name))
        stats.dq = checked.dq
        return stats, []
    evaluated = checked.evaluated
    invalid_new = evaluated.filter(F.col("_error").isNotNull() & F.col("_quarantine_id").isNull())
    q_frames = [_to_quarantine(invalid_new, checked, c, batch, ts, "quarantined")]
    valid = evaluated.filter(F.col("_error").isNull())
    winners = latest_per_key(valid, c.keys, c.version_column)
    parents_ready()  # from here on the parents must hold this batch: wait for their merges
    refs = _check_references(ctx, c, winners)

    # Accounting (every new record lands in exactly one bucket):
    #   rows_in + released = rows_out + quarantined (row rules + new orphans) + superseded
    #   superseded = older versions that lost within the batch + rows the table already had at an
    #   equal or newer version (or deletes of unknown keys)
    stats.rows_released = checked.n_valid_held - refs.o_held
    if refs.o_new:
        stats.errors["orphan_reference"] = stats.errors.get("orphan_reference", 0) + refs.o_new
    stats.rows_quarantined += refs.o_new
    q_frames.extend(_orphan_frames(c, checked, refs, valid, batch, ts))
    _merge_current(ctx, c, refs, batch, stats)
    n_source = refs.n_winners - refs.o_new - refs.o_held
    stats.rows_superseded = (checked.n_valid - refs.n_winners) + (n_source - stats.rows_out)
    if c.name == "silver.accounts":
        _history(ctx, valid, batch)
    stats.dq = checked.dq + refs.dq
    return stats, q_frames


def _history(ctx: RunContext, valid: DataFrame, batch: str) -> None:
    c = ACCOUNTS_HISTORY
    cols = [col for col in c.column_names if col not in ("valid_from", "valid_to", "is_current")]
    versions = latest_per_key(valid, ("account_id", "last_modified_at"), None)
    versions = to_table_columns(
        versions.withColumn("valid_from", F.col("last_modified_at"))
        .withColumn("valid_to", F.lit(None))
        .withColumn("is_current", F.lit(None)),
        c,
    )
    versions = versions.withColumn("_batch_id", F.lit(batch)).select(*cols)
    uri = ctx.uri(c.name)
    existing = ctx.engine.read_or_empty(uri, schema_of(c))
    existing = existing.join(versions.select("account_id").distinct(), "account_id", "left_semi")
    rows = scd2_history(existing, versions, c)
    ctx.engine.merge(
        uri,
        rows,
        c.keys,
        update_condition="NOT (s.valid_to <=> t.valid_to) OR NOT (s.is_current <=> t.is_current)",
        txn=Txn(f"{JOB}:{batch}", 1),
        # unique on (account_id, valid_from) by construction: one version per (account, LastModifiedDate),
        # and existing rows the batch repeats are anti-joined away (scd2_history). The children's
        # reference rules wait for this merge, so it skips the engine's duplicate check.
        source_keys_unique=True,
    )
    ctx.engine.create_if_missing(uri, schema_of(c))


def _merge_quarantine(ctx: RunContext, frames: List[DataFrame], batch: str) -> None:
    """Append this batch's refused rows; mark held orphans whose parent arrived as released.

    Two commits, each tagged with the batch: a re-run skips whichever already happened.
    """
    uri = ctx.uri(Q_TABLE)
    schema = schema_of(contract(Q_TABLE))
    ctx.engine.create_if_missing(uri, schema)
    names = schema.fieldNames()
    new = ctx.spark.createDataFrame([], schema)
    for f in (f for f in frames if "_table" in f.columns):
        new = new.unionByName(f.select(*names))
    ctx.engine.append(uri, new, txn=Txn(f"{JOB}:{batch}", 1))

    released = [f.select("_quarantine_id") for f in frames if "_table" not in f.columns]
    if not released:
        return
    union = released[0]
    for f in released[1:]:
        union = union.unionByName(f)
    ids = {r[0] for r in union.collect()}  # one Spark job for every table's releases
    if not ids:
        return
    current = ctx.engine.read(uri).filter(F.col("_quarantine_id").isin(sorted(ids)))
    updates = current.withColumn("_status", F.lit("released")).withColumn("_released_batch_id", F.lit(batch))
    ctx.engine.merge(
        uri,
        updates.select(*names),
        ["_quarantine_id"],
        update_condition="NOT (s._status <=> t._status)",
        txn=Txn(f"{JOB}:{batch}:release", 1),
        source_keys_unique=True,
    )


# A table that references accounts_history waits for the whole accounts task, history merge included:
# contacts, opportunities and customers check their account against the history (a deleted account
# keeps its children), so releasing them when the current table is merged holds valid rows as orphans.
PRODUCER = {"silver.accounts_history": "silver.accounts"}


def dependencies(tables: Sequence[TableContract]) -> Dict[str, Set[str]]:
    """Each table's silver upstreams among ``tables`` (accounts_history counts as accounts); refuses cycles."""
    names = {t.name for t in tables}
    deps = {t.name: {PRODUCER.get(u, u) for u in t.upstream if PRODUCER.get(u, u) in names} for t in tables}
    placed: Set[str] = set()
    while len(placed) < len(tables):
        ready = {n for n, d in deps.items() if n not in placed and d <= placed}
        if not ready:
            raise ValueError(f"cyclic silver dependencies among {sorted(names - placed)}")
        placed |= ready
    return deps


def _table_tasks(
    ctx: RunContext, batch: str, tables: Sequence[TableContract], scheduler: TaskScheduler
) -> Dict[str, Callable[[], Tuple[TableStats, List[DataFrame]]]]:
    """One task per table: :func:`process_table`, waiting on the scheduler for fx_rates and its parents."""
    deps = dependencies(tables)
    fx_uri, fx_schema = ctx.uri("silver.fx_rates"), schema_of(contract("silver.fx_rates"))

    def fx() -> DataFrame:
        scheduler.wait_for({"silver.fx_rates"}, "silver")
        return ctx.engine.read_or_empty(fx_uri, fx_schema)

    def task(c: TableContract) -> Callable[[], Tuple[TableStats, List[DataFrame]]]:
        return lambda: process_table(ctx, c, batch, fx, lambda: scheduler.wait_for(deps[c.name], c.name))

    return {c.name: task(c) for c in tables}


def process_batch(ctx: RunContext, batch: str, progress: Optional[Progress] = None) -> JobResult:
    """Every silver table of one bronze batch, each on its own thread.

    A table types and checks its rows at once and waits for its parents only before the reference
    rules, so independent work runs side by side and a child's own work overlaps its parents' merges.
    The first failure is raised (a parent's DataQualityError, not the children it stopped); tables
    already merged keep their commits, tagged with the batch, and the re-run skips them.
    """
    result = JobResult(JOB, batch, engine=ctx.engine.name)
    tables = list(SILVER_CURRENT)
    # at most `parallelism` tables work at once; a table waiting for its parents gives its slot up, and
    # each table has its own thread: a thread waiting for its parents must not hold back one that can run
    scheduler = TaskScheduler(parallelism(len(tables)), thread_name_prefix="silver")
    counter = StepCounter(progress, len(tables))
    by_name = {c.name: c for c in tables}

    def finished(name: str, out: Tuple[TableStats, List[DataFrame]]) -> None:
        log.info("silver %s: %s", name, out[0])
        counter.step(f"silver {by_name[name].table} ({batch})")

    if progress:
        progress(f"silver ({batch})", 0, len(tables))
    outputs = scheduler.run(_table_tasks(ctx, batch, tables, scheduler), then=finished)
    q_frames: List[DataFrame] = []
    for stats, frames in outputs.values():
        result.tables.append(stats)
        q_frames.extend(frames)
    _merge_quarantine(ctx, q_frames, batch)
    write_ops(ctx, "silver", result, batch)
    if progress:
        progress("silver done", len(tables), len(tables))
    return result


def run(ctx: RunContext, progress: Optional[Progress] = None) -> JobResult:
    """The silver job: every bronze batch not yet refined (oldest first), typed and validated against the silver
    contracts, deduplicated, merged into the silver tables; orphans held, released when their parent arrives.

    Returns a skipped result when no bronze batch waits for silver. Raises :class:`TableNotFoundError`, before
    anything is written, when a table that finished batches left behind is gone (:func:`lost_tables`).
    """
    summary = summary_rows(ctx, "silver", ("rows_in",))
    batches = pending_batches(ctx, summary)
    if not batches:
        return JobResult(
            JOB,
            ctx.batch_id,
            status="skipped",
            message="no bronze batch waiting for silver",
            engine=ctx.engine.name,
        )
    _refuse_lost_tables(ctx, summary, batches)
    merged: Optional[JobResult] = None
    for b in batches:
        r = process_batch(ctx, b, progress)
        if merged is None:
            merged = r
        else:
            merged.tables.extend(r.tables)
            merged.batch_id = b
    merged.message = f"processed bronze batch(es) {', '.join(batches)}"
    return merged
