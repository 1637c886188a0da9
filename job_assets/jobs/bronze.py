"""Bronze job: ingest every landing file exactly once.

The ingestion log is a write-ahead log. A run first CLAIMS the new files for its batch (one commit),
then writes the bronze tables and the bronze quarantine (each commit tagged with the batch's app
transaction), then marks the files INGESTED. A run that finds files claimed but not ingested — a job
killed mid-way — resumes that batch under its original id, so every commit it already made is
recognised and skipped, and the result is exactly what an uninterrupted run would have produced.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ..context import RunContext
from ..contracts import LANDING_ENTITIES, LandingEntity, contract
from ..contracts.bronze import bronze_contract
from ..contracts.ops import INGESTION_LOG
from ..contracts.spark_schema import schema_of
from ..dq.rules import RuleStat
from ..engine import Txn
from ..lake_fs import FileInfo, list_files
from ..spark import materialize
from ..transforms.bronze import classify_landing_path, parse_landing, to_bronze, to_quarantine
from .common import JobResult, Progress, StepCounter, TableStats, completed_batches, write_ops

log = logging.getLogger("lakehouse.jobs.bronze")
JOB = "bronze"
FINAL = ("ingested", "empty", "rejected")
OPERATOR = ("skipped", "retried")
"""Rows ``lakehouse landing skip|retry`` append (lakehouse/landing/skip.py): a skip retires the file and the
batch that claimed it (its ``batch_id``), a later retry makes the file new again."""


def live_rows(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The log as bronze plans from it: a skipped file is its ``skipped`` row (neither new nor open); a file
    skipped and retried as often keeps only the rows of batches its skips did not retire (none: it is new)."""
    by_file: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_file[r["source_file"]].append(r)
    live: List[Dict[str, Any]] = []
    for file_rows in by_file.values():
        operator = [r["status"] for r in file_rows if r["status"] in OPERATOR]
        if operator.count("skipped") > operator.count("retried"):
            live.append(next(r for r in file_rows if r["status"] == "skipped"))
            continue
        retired = {r["batch_id"] for r in file_rows if r["status"] == "skipped"}
        live.extend(r for r in file_rows if r["status"] not in OPERATOR and r["batch_id"] not in retired)
    return live


def _log_state(ctx: RunContext) -> Tuple[Dict[str, set], Dict[str, str]]:
    uri = ctx.uri(INGESTION_LOG.name)
    statuses: Dict[str, set] = defaultdict(set)
    batch_of: Dict[str, str] = {}
    for r in live_rows(ctx.engine.read_rows(uri, ("source_file", "status", "batch_id"))):
        f = r["source_file"]
        statuses[f].add(r["status"])
        if r["status"] == "claimed" or f not in batch_of:
            batch_of[f] = r["batch_id"]
    return statuses, batch_of


def _unsummarised(ctx: RunContext, statuses: Dict[str, set], batch_of: Dict[str, str]) -> List[str]:
    """Batches whose files the log marks done but whose run summary is missing, in id order.

    The log's final commit comes before the summary's (:func:`run`); a run killed between the two leaves a
    batch that is ingested but not finished, which silver waits for (it reads the summary): such a batch is
    resumed like an open one, its writes skipped by their app transactions and its summary written.
    """
    done_in_log = {batch_of[f] for f, s in statuses.items() if s & set(FINAL)}
    if not done_in_log:
        return []
    return sorted(done_in_log - set(completed_batches(ctx, "bronze", JOB)))


def plan(ctx: RunContext) -> Tuple[Optional[str], List[FileInfo], str]:
    """(batch id to process, its files, why). Resumes an interrupted batch before claiming new files."""
    statuses, batch_of = _log_state(ctx)
    open_files = sorted(f for f, s in statuses.items() if "claimed" in s and not s & set(FINAL))
    listing = {f.rel: f for f in list_files(ctx.spark, ctx.locations.landing)}
    unsummarised = _unsummarised(ctx, statuses, batch_of) if not open_files else []
    if open_files or unsummarised:
        batch = min(batch_of[f] for f in open_files) if open_files else unsummarised[0]
        batch_files = [f for f in (open_files or sorted(statuses)) if batch_of[f] == batch]
        files = [listing[f] for f in batch_files if f in listing]
        missing = [f for f in batch_files if f not in listing]
        if missing:
            raise FileNotFoundError(f"bronze: batch {batch} claimed files that are gone from landing: {missing[:5]}")
        return batch, files, f"resuming interrupted batch {batch} ({len(files)} files)"
    if ctx.batch_id in set(batch_of.values()):
        return None, [], f"batch {ctx.batch_id} was already ingested: nothing to do"
    new = [f for rel, f in sorted(listing.items()) if rel not in statuses]
    if not new:
        return None, [], "no new landing files"
    return ctx.batch_id, new, f"claiming {len(new)} new landing files"


def _log_rows(ctx: RunContext, batch: str, files: List[FileInfo], status: str, counts=None, messages=None):
    ts = ctx.timestamp()
    rows = []
    for f in files:
        entity, dt_part, _ = classify_landing_path(f.rel)
        n, q = (counts or {}).get(f.rel, (None, None))
        rows.append(
            {
                "source_file": f.rel,
                "entity": entity.name if entity else f.rel.split("/dt=")[0],
                "dt": dt_part,
                "size_bytes": f.size,
                "modified_ts": dt.datetime.fromtimestamp(f.mtime_ms / 1000, dt.timezone.utc).replace(tzinfo=None),
                "batch_id": batch,
                "status": status if not callable(status) else status(f),
                "records": n,
                "quarantined": q,
                "logged_ts": ts,
                "message": (messages or {}).get(f.rel),
            }
        )
    return rows


def _ingest_entity(
    ctx: RunContext, entity: LandingEntity, files: List[FileInfo], batch: str, ts
) -> Tuple[TableStats, DataFrame, Dict[str, Tuple[int, int]]]:
    """Parse one entity's files, append valid records to its bronze table; return stats and quarantine rows."""
    engine = ctx.engine
    c = bronze_contract(entity)
    sizes = {f.uri: f.size for f in files}
    parsed = materialize(parse_landing(ctx.spark, entity, [(f.uri, f.rel) for f in files], sizes))
    groups = (
        parsed.groupBy("_source_file", "_error")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(F.when(F.col("_extra").isNotNull(), 1).otherwise(0)).alias("x"),
        )
        .collect()
    )
    stats = TableStats(c.name)
    counts: Dict[str, Tuple[int, int]] = {}
    extra_rows = 0
    for g in groups:
        n, q = counts.get(g["_source_file"], (0, 0))
        bad = g["_error"] is not None
        counts[g["_source_file"]] = (n + int(g["n"]), q + (int(g["n"]) if bad else 0))
        stats.rows_in += int(g["n"])
        if bad:
            stats.rows_quarantined += int(g["n"])
            stats.errors[g["_error"]] = stats.errors.get(g["_error"], 0) + int(g["n"])
        else:
            extra_rows += int(g["x"] or 0)
    uri = ctx.uri(c.name)
    write = engine.append(uri, to_bronze(parsed, entity, batch, ts), txn=Txn(f"{JOB}:{batch}", 1))
    engine.create_if_missing(uri, schema_of(c))
    stats.committed = write.committed
    stats.version = engine.version(uri)
    stats.rows_out = stats.rows_in - stats.rows_quarantined
    for rule in c.rules:
        if rule.kind == "parse":
            stats.dq.append(RuleStat(c.name, rule, stats.rows_in, stats.rows_quarantined))
        elif rule.kind == "no_extra_columns":
            stats.dq.append(RuleStat(c.name, rule, stats.rows_out, extra_rows))
            if extra_rows:
                stats.errors["unexpected_column"] = extra_rows
        elif rule.kind == "freshness":
            stats.dq.append(RuleStat(c.name, rule, 1, 0))  # ingested just now, by construction
    return stats, to_quarantine(parsed, c.name, batch, ts), counts


TABLES_AT_ONCE = 4
"""How many tables a job works on at once, at most: Spark schedules their jobs side by side on its cores."""


def parallelism(tasks: int) -> int:
    """How many of ``tasks`` tables a job works on at once (:data:`TABLES_AT_ONCE` at most, one at least)."""
    return max(1, min(TABLES_AT_ONCE, tasks))


@dataclass
class _Ingested:
    """What the ingest stage hands on: each entity's stats (contract order), its quarantine rows, and the
    (records, quarantined) counts per landing file."""

    tables: List[TableStats] = field(default_factory=list)
    quarantine: List[DataFrame] = field(default_factory=list)
    counts: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    entities: int = 0


def _sort_out(files: List[FileInfo]) -> Tuple[List[FileInfo], List[FileInfo], Dict[str, str]]:
    """(accepted, rejected, message per rejected file): a file whose path breaks the landing layout is rejected."""
    accepted, rejected, messages = [], [], {}
    for f in files:
        _, _, problem = classify_landing_path(f.rel)
        if problem:
            rejected.append(f)
            messages[f.rel] = problem
        else:
            accepted.append(f)
    return accepted, rejected, messages


def _ingest(ctx: RunContext, accepted: List[FileInfo], batch: str, progress: Optional[Progress]) -> _Ingested:
    """Ingest the accepted files, one task per entity, side by side."""
    ts = ctx.timestamp()
    by_entity = defaultdict(list)
    for f in accepted:
        by_entity[classify_landing_path(f.rel)[0].name].append(f)
    entities = [e for e in LANDING_ENTITIES if e.name in by_entity]
    counter = StepCounter(progress, len(entities))
    out = _Ingested(entities=len(entities))

    def ingest(entity: LandingEntity) -> Tuple[TableStats, DataFrame, Dict[str, Tuple[int, int]]]:
        done = _ingest_entity(ctx, entity, by_entity[entity.name], batch, ts)
        counter.step(f"bronze {entity.name}")
        return done

    # entities are independent: ingest them concurrently (Spark schedules the jobs side by side), the
    # biggest first so that no big entity starts last and runs alone; results in contract order
    by_size = sorted(entities, key=lambda e: -sum(f.size for f in by_entity[e.name]))
    with ThreadPoolExecutor(max_workers=parallelism(len(entities))) as pool:
        futures = {e.name: pool.submit(ingest, e) for e in by_size}
        for entity in entities:
            stats, qframe, file_counts = futures[entity.name].result()
            out.tables.append(stats)
            out.quarantine.append(qframe)
            out.counts.update(file_counts)
    return out


def _write_quarantine(ctx: RunContext, frames: List[DataFrame], batch: str) -> None:
    """Append every entity's refused records to bronze.quarantine in one commit (created when missing)."""
    q_uri = ctx.uri("bronze.quarantine")
    if frames:
        q = frames[0]
        for other in frames[1:]:
            q = q.unionByName(other)
        ctx.engine.append(q_uri, q, txn=Txn(f"{JOB}:{batch}", 1))
    ctx.engine.create_if_missing(q_uri, schema_of(contract("bronze.quarantine")))


def _mark_done(
    ctx: RunContext,
    batch: str,
    files: List[FileInfo],
    rejected: List[FileInfo],
    empty: Set[str],
    counts: Dict[str, Tuple[int, int]],
    messages: Dict[str, str],
) -> None:
    """The ingestion log's final commit: every file of the batch rejected, empty or ingested."""
    rejected_rels = {r.rel for r in rejected}
    final = _log_rows(
        ctx,
        batch,
        files,
        lambda f: "rejected" if f.rel in rejected_rels else ("empty" if f.rel in empty else "ingested"),
        counts=counts,
        messages=messages,
    )
    log_uri = ctx.uri(INGESTION_LOG.name)
    ctx.engine.append_rows(log_uri, final, schema_of(INGESTION_LOG), txn=Txn(f"{JOB}:{batch}:done", 1))


def run(ctx: RunContext, progress: Optional[Progress] = None) -> JobResult:
    """Claim the batch's files, ingest them into bronze and its quarantine, then mark them done."""
    result = JobResult(JOB, ctx.batch_id, engine=ctx.engine.name)
    batch, files, why = plan(ctx)
    log.info("bronze: %s", why)
    if batch is None:
        result.status, result.message = "skipped", why
        return result
    result.batch_id = batch
    accepted, rejected, messages = _sort_out(files)
    # 1. claim (write-ahead): the files of this batch are fixed from here on
    ctx.engine.append_rows(
        ctx.uri(INGESTION_LOG.name),
        _log_rows(ctx, batch, files, "claimed", messages=messages),
        schema_of(INGESTION_LOG),
        txn=Txn(f"{JOB}:{batch}:claim", 1),
    )
    # 2. the bronze tables and their quarantine
    ingested = _ingest(ctx, accepted, batch, progress)
    result.tables.extend(ingested.tables)
    _write_quarantine(ctx, ingested.quarantine, batch)
    # 3. the files are done
    counts = ingested.counts
    empty = {f.rel for f in accepted if counts.get(f.rel, (0, 0))[0] == 0}
    for rel in empty:
        messages[rel] = "file holds no records"
        counts[rel] = (0, 0)
    _mark_done(ctx, batch, files, rejected, empty, counts, messages)
    if empty or rejected:
        result.message = f"{len(empty)} empty file(s), {len(rejected)} rejected file(s)"
        if empty:
            result.tables.append(TableStats("bronze.ingestion_log", errors={"empty_file": len(empty)}))
    if progress:
        progress("bronze done", ingested.entities, ingested.entities)
    write_ops(ctx, "bronze", result, batch)
    return result
