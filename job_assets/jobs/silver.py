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

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ..context import RunContext
from ..contracts import SILVER_CURRENT, contract
from ..contracts.model import TableContract
from ..contracts.silver import ACCOUNTS_HISTORY
from ..contracts.spark_schema import schema_of
from ..dq.rules import RuleStat, flag_aggregates, flag_rows, stats_from_groups
from ..engine import Txn
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
from .common import JobResult, Progress, TableStats, completed_batches, write_ops

log = logging.getLogger("lakehouse.jobs.silver")
JOB = "silver"
Q_TABLE = "silver.quarantine"


def pending_batches(ctx: RunContext) -> List[str]:
    """Bronze batches that finished and that silver has not finished, oldest first."""
    done = set(completed_batches(ctx, "silver", JOB))
    return [b for b in completed_batches(ctx, "bronze", "bronze") if b not in done]


def _held(ctx: RunContext, c: TableContract, batch: str) -> DataFrame:
    """Orphans held for ``c``, turned back into bronze-shaped rows (their payload) + _quarantine_id."""
    bronze = contract(c.landing.bronze_table)
    schema = schema_of(bronze)
    q_uri = ctx.uri(Q_TABLE)
    if not ctx.engine.exists(q_uri):
        return ctx.spark.createDataFrame([], schema).withColumn("_quarantine_id", F.lit(None).cast("string"))
    # held by EARLIER batches: a re-run of this batch must not see the orphans it already quarantined
    q = ctx.engine.read(q_uri).filter(
        (F.col("_table") == c.name) & (F.col("_status") == "held") & (F.col("_batch_id") != batch)
    )
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
    engine = ctx.engine
    ts = ctx.timestamp()
    stats = TableStats(c.name)
    bronze_uri = ctx.uri(c.landing.bronze_table)
    bronze_schema = schema_of(contract(c.landing.bronze_table))
    new = engine.read_or_empty(bronze_uri, bronze_schema).filter(F.col("_batch_id") == batch)
    new = new.withColumn("_quarantine_id", F.lit(None).cast("string"))
    held = _held(ctx, c, batch)
    candidates = new.unionByName(held.select(*new.columns))

    std = derive(c, standardize(candidates, c), fx() if "silver.fx_rates" in c.upstream else None)
    flagged, rules = flag_rows(std, c)
    evaluated = materialize(flagged)
    is_held = F.col("_quarantine_id").isNotNull()
    groups = [
        r.asDict()
        for r in evaluated.groupBy(is_held.alias("held"), "_error")
        .agg(F.count(F.lit(1)).alias("n"), *flag_aggregates(rules))
        .collect()
    ]
    row_stats = stats_from_groups(c, rules, groups)  # raises DataQualityError: nothing written yet
    stats.rows_in = sum(g["n"] for g in groups if not g["held"])
    stats.rows_quarantined = sum(g["n"] for g in groups if not g["held"] and g["_error"] is not None)
    for g in groups:
        if not g["held"] and g["_error"] is not None:
            stats.errors[g["_error"]] = stats.errors.get(g["_error"], 0) + g["n"]
    n_valid = sum(g["n"] for g in groups if g["_error"] is None)
    n_valid_held = sum(g["n"] for g in groups if g["held"] and g["_error"] is None)
    if n_valid == 0 and stats.rows_quarantined == 0:
        engine.create_if_missing(ctx.uri(c.name), schema_of(c))
        stats.version = engine.version(ctx.uri(c.name))
        stats.dq = row_stats
        return stats, []
    q_frames: List[DataFrame] = []
    invalid_new = evaluated.filter(F.col("_error").isNotNull() & F.col("_quarantine_id").isNull())
    q_frames.append(
        _quarantine_rows(
            invalid_new.select(*_raw_bronze_view(evaluated, c), "_error", "_rule", "_quarantine_id"),
            c.name,
            batch,
            ts,
            "quarantined",
        )
    )

    valid = evaluated.filter(F.col("_error").isNull())
    winners = latest_per_key(valid, c.keys, c.version_column)

    # reference rules: a quarantine-severity miss holds the row as an orphan; a warn miss is counted.
    # From here on the parents must hold this batch: wait for their merges.
    parents_ready()
    ref_rules = [r for r in c.rules if r.kind == "ref"]
    held_rules = [r for r in ref_rules if r.severity == "quarantine"]
    for rule in ref_rules:
        parent = engine.read_or_empty(ctx.uri(rule.ref_table), schema_of(contract(rule.ref_table)))
        keys = parent.select(F.col(rule.ref_column).alias("__pk")).distinct()
        winners = winners.join(keys, F.col(rule.column) == F.col("__pk"), "left")
        winners = winners.withColumn(
            f"__orphan_{rule.name}", F.col(rule.column).isNotNull() & F.col("__pk").isNull()
        ).drop("__pk")
    orphan = F.lit(False)
    for rule in held_rules:
        orphan = orphan | F.col(f"__orphan_{rule.name}")
    winners = materialize(winners.withColumn("__orphan", orphan))

    # Accounting (every new record lands in exactly one bucket):
    #   rows_in + released = rows_out + quarantined (row rules + new orphans) + superseded
    #   superseded = older versions that lost within the batch + rows the table already had at an
    #   equal or newer version (or deletes of unknown keys)
    w = winners.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(F.col("__orphan") & ~is_held, 1).otherwise(0)).alias("o_new"),
        F.sum(F.when(F.col("__orphan") & is_held, 1).otherwise(0)).alias("o_held"),
        *[F.sum(F.when(F.col(f"__orphan_{r.name}"), 1).otherwise(0)).alias(f"r{i}") for i, r in enumerate(ref_rules)],
    ).collect()[0]
    n_winners = int(w["n"])
    o_new, o_held = int(w["o_new"] or 0), int(w["o_held"] or 0)
    ref_stats = [RuleStat(c.name, r, n_winners, int(w[f"r{i}"] or 0)) for i, r in enumerate(ref_rules)]
    stats.rows_released = n_valid_held - o_held
    if o_new:
        stats.errors["orphan_reference"] = stats.errors.get("orphan_reference", 0) + o_new
    stats.rows_quarantined += o_new

    orphans = winners.filter(F.col("__orphan"))
    rule_name = (
        F.coalesce(*[F.when(F.col(f"__orphan_{r.name}"), F.lit(r.name)) for r in held_rules])
        if held_rules
        else F.lit("ref")
    )
    q_frames.append(
        _quarantine_rows(
            orphans.filter(~is_held)
            .withColumn("_error", F.lit("orphan_reference"))
            .withColumn("_rule", rule_name)
            .select(*_raw_bronze_view(evaluated, c), "_error", "_rule", "_quarantine_id"),
            c.name,
            batch,
            ts,
            "held",
        )
    )
    # held rows that are no longer orphans leave the quarantine as 'released' (merged below, or
    # superseded by a newer version of the same key)
    released_ids = (
        valid.filter(is_held)
        .select("_quarantine_id")
        .join(orphans.filter(is_held).select("_quarantine_id"), "_quarantine_id", "left_anti")
    )
    q_frames.append(
        released_ids.withColumn("_released_batch_id", F.lit(batch)).withColumn("_status", F.lit("released"))
    )

    source = winners.filter(~F.col("__orphan"))
    out = to_table_columns(source, c).withColumn("_batch_id", F.lit(batch)).select(*c.column_names)
    uri = ctx.uri(c.name)
    res = engine.merge(uri, out, c.keys, txn=Txn(f"{JOB}:{batch}", 1), source_keys_unique=True, **merge_conditions(c))
    engine.create_if_missing(uri, schema_of(c))
    stats.committed = res.committed
    stats.version = engine.version(uri)
    stats.rows_out = res.inserted + res.updated + res.deleted
    n_source = n_winners - o_new - o_held
    stats.rows_superseded = (n_valid - n_winners) + (n_source - stats.rows_out)
    if c.name == "silver.accounts":
        _history(ctx, valid, batch)
    stats.dq = row_stats + ref_stats
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


class UpstreamFailedError(RuntimeError):
    """A table was not merged because a silver table it depends on failed in the same batch."""


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


def process_batch(ctx: RunContext, batch: str, progress: Optional[Progress] = None) -> JobResult:
    """Every silver table of one bronze batch, each on its own thread.

    A table types and checks its rows at once and waits for its parents only before the reference
    rules, so independent work runs side by side and a child's own work overlaps its parents' merges.
    The first failure is raised (a parent's DataQualityError, not the children it stopped); tables
    already merged keep their commits, tagged with the batch, and the re-run skips them.
    """
    result = JobResult(JOB, batch, engine=ctx.engine.name)
    tables = list(SILVER_CURRENT)
    deps = dependencies(tables)
    futures: Dict[str, Future] = {}
    lock = threading.Lock()
    done = [0]

    # at most `parallelism` tables work at once; a table waiting for its parents gives its slot up
    slots = threading.BoundedSemaphore(parallelism(ctx, len(tables)))

    submitted = threading.Event()

    def wait_for(names: Set[str], table: str) -> None:
        slots.release()
        try:
            submitted.wait()
            for name in sorted(names):
                try:
                    futures[name].result()
                except Exception as exc:
                    raise UpstreamFailedError(f"{table}: not merged because {name} failed ({exc})") from exc
        finally:
            slots.acquire()

    fx_uri, fx_schema = ctx.uri("silver.fx_rates"), schema_of(contract("silver.fx_rates"))

    def fx() -> DataFrame:
        wait_for({"silver.fx_rates"}, "silver")
        return ctx.engine.read_or_empty(fx_uri, fx_schema)

    def work(c: TableContract) -> Tuple[TableStats, List[DataFrame]]:
        with slots:
            out = process_table(ctx, c, batch, fx, lambda: wait_for(deps[c.name], c.name))
        log.info("silver %s: %s", c.name, out[0])
        if progress:
            with lock:
                done[0] += 1
                progress(f"silver {c.table} ({batch})", done[0], len(tables))
        return out

    if progress:
        progress(f"silver ({batch})", 0, len(tables))
    # one thread per table: a thread waiting for its parents must not hold back one that can run
    with ThreadPoolExecutor(max_workers=len(tables), thread_name_prefix="silver") as pool:
        for c in tables:
            futures[c.name] = pool.submit(work, c)
        submitted.set()
    failures = [f.exception() for f in futures.values() if f.exception() is not None]
    if failures:
        raise next((e for e in failures if not isinstance(e, UpstreamFailedError)), failures[0])
    q_frames: List[DataFrame] = []
    for c in tables:
        stats, frames = futures[c.name].result()
        result.tables.append(stats)
        q_frames.extend(frames)
    _merge_quarantine(ctx, q_frames, batch)
    write_ops(ctx, "silver", result, batch)
    if progress:
        progress("silver done", len(tables), len(tables))
    return result


def run(ctx: RunContext, progress: Optional[Progress] = None) -> JobResult:
    batches = pending_batches(ctx)
    if not batches:
        return JobResult(
            JOB,
            ctx.batch_id,
            status="skipped",
            message="no bronze batch waiting for silver",
            engine=ctx.engine.name,
        )
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
