"""Column profiles of a table, stored with history, and anomalies judged against that history.

``profile(df, contract)`` computes, per column: null count and %, exact distinct count, min, max, mean
(numeric), quantiles (numeric, date, timestamp) and the most frequent values, in a fixed number of Spark
actions whatever the table's width (``profile_tables``: several tables in the same actions):

1. one ``select`` of aggregates over every column: count, min, max, mean and ``percentile_approx``;
2. one value-count pass: every column's values stacked as ``(column, value as string)`` and grouped (kept
   cached): the number of groups per column is the exact distinct count; the groups of columns with at
   most ``TOP_VALUES_MAX_DISTINCT`` distinct values are ranked for the first ``TOP_VALUES`` top values
   (a column with more, typically a key, gets none: ranking would sort all its values in one task).

Accuracy, on purpose: distinct counts are EXACT (the value-count pass that the top values need anyway gives
them for free; no ``approx_count_distinct`` error to explain). Quantiles come from ``percentile_approx``
with ``QUANTILE_ACCURACY``: the returned value is an actual value of the column whose rank is within
``row_count / QUANTILE_ACCURACY`` of the exact rank (the inverted-CDF quantile, the smallest value with at
least ``q`` of the rows at or below it); below ``QUANTILE_ACCURACY`` rows that is the exact quantile.

``anomalies(current, history, thresholds)`` compares a profile with the table's last ``HISTORY_PROFILES``
profiles (the thresholds below, in one place). The gold job stores each run's profile in ``gold.profiles``
and records every anomaly as a ``warn`` rule named ``profile:<check>`` in ``gold.dq_results``: a warning,
never a refusal, and never one of the contract rules the promotion gate judges.
"""

from __future__ import annotations

import json
import logging
import statistics
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .contracts.model import Rule, TableContract

log = logging.getLogger("lakehouse.profiling")

# --- the figures and the thresholds, in one place ----------------------------------------------------
TOP_VALUES = 5
"""Most frequent values kept per column (ties: the smaller value, as a string, first)."""
TOP_VALUES_MAX_DISTINCT = 100_000
"""Columns with more distinct values get no top values (``[]``): ranking sorts a column's distinct values
in one task, which a key of a large table (a customer id in ``customer_segments``) must not cost every run."""
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Stored as p05, p25, p50, p75, p95."""
QUANTILE_ACCURACY = 10_000
"""``percentile_approx`` accuracy: rank error at most ``row_count / QUANTILE_ACCURACY`` (exact below 10,000 rows)."""
HISTORY_PROFILES = 5
"""A profile is compared with the median of the table's last N earlier profiles."""
MIN_HISTORY = 1
"""Earlier profiles needed before anything is flagged (the first profile of a table flags nothing)."""
ROW_COUNT_CHANGE_PCT = 50.0
"""``row_count_jump``: the row count moved by this much or more vs the median (halved, or x1.5)."""
NULL_RATE_JUMP_POINTS = 20.0
"""``null_rate_jump``: a column's null % rose by this many percentage points or more vs the median."""

PREFIX = "profile:"
"""Every profiling rule name in dq_results starts with it (the promotion gate judges contract rules only)."""
ROW_COUNT_JUMP = "row_count_jump"
NULL_RATE_JUMP = "null_rate_jump"
ERRORS = {ROW_COUNT_JUMP: "out_of_range", NULL_RATE_JUMP: "missing_required"}
"""The closed-set error code each anomaly is recorded with in dq_results."""
STAT_KEYS = (
    "table_name",
    "column_name",
    "column_type",
    "row_count",
    "null_count",
    "null_pct",
    "distinct_count",
    "min_value",
    "max_value",
    "mean_value",
    "p05",
    "p25",
    "p50",
    "p75",
    "p95",
    "top_values",
)
"""What ``profile`` returns per column; a stored row adds batch_id, source and profiled_ts."""


@dataclass(frozen=True)
class Thresholds:
    history: int = HISTORY_PROFILES
    min_history: int = MIN_HISTORY
    row_count_change_pct: float = ROW_COUNT_CHANGE_PCT
    null_rate_jump_points: float = NULL_RATE_JUMP_POINTS


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Anomaly:
    """A profile figure that moved too far from the median of the table's earlier profiles."""

    table: str
    check: str  # row_count_jump | null_rate_jump
    column: Optional[str]
    current: float
    baseline: float
    limit: float
    profiles: int  # earlier profiles the baseline is the median of

    @property
    def rule(self) -> str:
        """``profile:row_count_jump`` or ``profile:null_rate_jump:<column>``."""
        return PREFIX + self.check + (f":{self.column}" if self.column else "")

    @property
    def message(self) -> str:
        base = f"median of the last {self.profiles} profile{'s' if self.profiles != 1 else ''}"
        if self.check == ROW_COUNT_JUMP:
            change = _change_pct(self.current, self.baseline)
            moved = "from empty" if change is None else f"{change:+.1f} %"
            return (
                f"{self.table}: {int(self.current):,} rows vs {base} {self.baseline:,.0f} ({moved}; "
                f"limit ±{self.limit:g} %)"
            )
        return (
            f"{self.table}.{self.column}: {self.current:.1f} % null vs {base} {self.baseline:.1f} % "
            f"(+{self.current - self.baseline:.1f} points; limit +{self.limit:g})"
        )


# --- profiling -----------------------------------------------------------------------------------------
def _quantiled(t: T.DataType) -> bool:
    return isinstance(t, (T.NumericType, T.DateType, T.TimestampType, T.TimestampNTZType))


def profile(df: DataFrame, contract: TableContract, top_values: int = TOP_VALUES) -> List[Dict[str, Any]]:
    """One stat row per column of ``contract`` present in ``df`` (contract order)."""
    return profile_tables([(df, contract)], top_values)


Plan = Tuple[TableContract, Dict[str, T.DataType], List[str]]
"""One profiled table: its contract, its columns' types, the columns profiled (contract order)."""


def _column_aggregates(j: int, types: Dict[str, T.DataType], columns: List[str]) -> List[Column]:
    """Table ``j``'s aggregates: its row count, and per column the non-nulls, min, max, mean, quantiles."""
    aggs = [F.count(F.lit(1)).alias(f"t{j}_n")]
    for i, name in enumerate(columns):
        col, t, tag = F.col(f"`{name}`"), types[name], f"t{j}_{i}"
        aggs += [
            F.count(col).alias(f"{tag}_nn"),
            F.min(col).cast("string").alias(f"{tag}_min"),
            F.max(col).cast("string").alias(f"{tag}_max"),
        ]
        if isinstance(t, T.NumericType):
            aggs.append(F.avg(col).cast("double").alias(f"{tag}_mean"))
        if _quantiled(t):
            q = F.percentile_approx(col, list(QUANTILES), QUANTILE_ACCURACY)
            aggs.append(q.cast("array<string>").alias(f"{tag}_q"))
    return aggs


def _figures(tables: Sequence[Tuple[DataFrame, TableContract]]) -> Tuple[List[Plan], Dict[str, Any]]:
    """Every table's plan, and the aggregates of every table and column: one Spark job."""
    plans: List[Plan] = []
    figures_df: Optional[DataFrame] = None
    for j, (df, contract) in enumerate(tables):
        types = {f.name: f.dataType for f in df.schema.fields}
        columns = [c for c in contract.column_names if c in types] or list(types)
        plans.append((contract, types, columns))
        one = df.agg(*_column_aggregates(j, types, columns))
        # one row per table: cross-joined, every table's aggregates come back in one job
        figures_df = one if figures_df is None else figures_df.crossJoin(one)
    figures = figures_df.collect()[0].asDict() if figures_df is not None else {}
    return plans, figures


def _value_counts(tables: Sequence[Tuple[DataFrame, TableContract]], plans: List[Plan]) -> DataFrame:
    """Every column's values stacked as (column key ``c``, value as string ``v``) and counted (``k``)."""
    stacked = None
    for j, (df, _) in enumerate(tables):
        columns = plans[j][2]
        cells = [
            F.struct(F.lit(j * 10_000 + i).alias("c"), F.col(f"`{n}`").cast("string").alias("v"))
            for i, n in enumerate(columns)
        ]
        part = df.select(F.explode(F.array(*cells)).alias("x")).select("x.c", "x.v")
        stacked = part if stacked is None else stacked.unionByName(part)
    return stacked.where(F.col("v").isNotNull()).groupBy("c", "v").agg(F.count(F.lit(1)).alias("k"))


def _distinct_and_top(counts: DataFrame, top_values: int) -> Tuple[Dict[int, int], Dict[int, List[Dict[str, Any]]]]:
    """(exact distinct count per column key, top values per column key) from the cached value counts."""
    # exact distinct counts: a distributed aggregation, one small row per column
    distinct: Dict[int, int] = {
        int(r["c"]): int(r["d"]) for r in counts.groupBy("c").agg(F.count(F.lit(1)).alias("d")).collect()
    }
    # top values: ranking sorts a column's distinct values in one task, so only where they are few
    ranked_columns = [c for c, d in distinct.items() if d <= TOP_VALUES_MAX_DISTINCT]
    top: Dict[int, List[Dict[str, Any]]] = {}
    if ranked_columns:
        per_column = Window.partitionBy("c").orderBy(F.col("k").desc(), F.col("v").asc())
        ranked = (
            counts.where(F.col("c").isin(ranked_columns))
            .select("c", "v", "k", F.row_number().over(per_column).alias("r"))
            .where(F.col("r") <= top_values)
        )
        for row in sorted(ranked.collect(), key=lambda r: (r["c"], r["r"])):
            top.setdefault(row["c"], []).append({"value": row["v"], "count": int(row["k"])})
    return distinct, top


def _stat_rows(
    plans: List[Plan],
    figures: Dict[str, Any],
    distinct: Dict[int, int],
    top: Dict[int, List[Dict[str, Any]]],
) -> List[Dict[str, Any]]:
    """One stat row per profiled column (``STAT_KEYS``), tables and columns in plan order."""
    out = []
    for j, (contract, types, columns) in enumerate(plans):
        n = int(figures[f"t{j}_n"])
        for i, name in enumerate(columns):
            tag, key = f"t{j}_{i}", j * 10_000 + i
            nulls = n - int(figures[f"{tag}_nn"])
            quantiles = figures.get(f"{tag}_q") or [None] * len(QUANTILES)
            mean = figures.get(f"{tag}_mean")
            out.append(
                {
                    "table_name": contract.name,
                    "column_name": name,
                    "column_type": types[name].simpleString(),
                    "row_count": n,
                    "null_count": nulls,
                    "null_pct": round(100.0 * nulls / n, 6) if n else None,
                    "distinct_count": distinct.get(key, 0),
                    "min_value": figures[f"{tag}_min"],
                    "max_value": figures[f"{tag}_max"],
                    "mean_value": float(mean) if mean is not None else None,
                    **{_qname(q): v for q, v in zip(QUANTILES, quantiles)},
                    "top_values": json.dumps(top.get(key, []), separators=(",", ":")),
                }
            )
    return out


def profile_tables(
    tables: Sequence[Tuple[DataFrame, TableContract]], top_values: int = TOP_VALUES
) -> List[Dict[str, Any]]:
    """``profile`` of several tables in the same few Spark actions (a job's tables: one round trip, not N)."""
    if not tables:
        return []
    plans, figures = _figures(tables)
    counts = _value_counts(tables, plans).persist()
    try:
        distinct, top = _distinct_and_top(counts, top_values)
    finally:
        counts.unpersist()
    return _stat_rows(plans, figures, distinct, top)


def _note(result: Any, what: str, error: Exception) -> None:
    log.warning("%s: %s", what, error, exc_info=True)
    note = f"{what}: {type(error).__name__}: {error}"
    result.message = f"{result.message}; {note}" if result.message else note


def _qname(q: float) -> str:
    return f"p{round(q * 100):02d}"


def stamp(stats: Iterable[Dict[str, Any]], batch_id: str, source: str, ts: Any) -> List[Dict[str, Any]]:
    """Stat rows -> rows of ``<layer>.profiles``."""
    return [{**s, "batch_id": batch_id, "source": source, "profiled_ts": ts} for s in stats]


# --- anomalies -----------------------------------------------------------------------------------------
def _change_pct(current: float, baseline: float) -> Optional[float]:
    if baseline == 0:
        return 0.0 if current == 0 else None  # None: from empty to something
    return 100.0 * (current - baseline) / baseline


def _profiles_of(table: str, history: Sequence[Dict[str, Any]], exclude: Optional[str], last: int) -> List[List[Dict]]:
    """The table's earlier profiles (rows grouped by batch_id), newest first, at most ``last``."""
    by_id: Dict[str, List[Dict[str, Any]]] = {}
    for r in history:
        if r["table_name"] == table and r["batch_id"] != exclude:
            by_id.setdefault(r["batch_id"], []).append(r)
    order = sorted(by_id, key=lambda b: (max(r["profiled_ts"] for r in by_id[b]), b), reverse=True)
    return [by_id[b] for b in order[:last]]


def anomalies(
    current: Sequence[Dict[str, Any]],
    history: Sequence[Dict[str, Any]],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> List[Anomaly]:
    """Anomalies of ``current`` (stat rows of one or more tables) against ``history`` (stored profile rows).

    History rows with the current rows' ``batch_id`` (a replayed batch) are ignored. Checks, per table:
    ``row_count_jump`` (|change| >= ``row_count_change_pct`` vs the median row count) and, per column,
    ``null_rate_jump`` (null % up by >= ``null_rate_jump_points`` vs the column's median null %).
    """
    out: List[Anomaly] = []
    tables: Dict[str, List[Dict[str, Any]]] = {}
    for r in current:
        tables.setdefault(r["table_name"], []).append(r)
    for table, rows in tables.items():
        batch = rows[0].get("batch_id")
        earlier = _profiles_of(table, history, batch, thresholds.history)
        if len(earlier) < max(thresholds.min_history, 1):
            continue
        counts = [float(p[0]["row_count"]) for p in earlier]
        baseline = float(statistics.median(counts))
        now = float(rows[0]["row_count"])
        change = _change_pct(now, baseline)
        if change is None or abs(change) >= thresholds.row_count_change_pct:
            out.append(
                Anomaly(table, ROW_COUNT_JUMP, None, now, baseline, thresholds.row_count_change_pct, len(earlier))
            )
        for r in rows:
            if r["null_pct"] is None:
                continue
            past = [
                float(h["null_pct"])
                for p in earlier
                for h in p
                if h["column_name"] == r["column_name"] and h["null_pct"] is not None
            ]
            if len(past) < max(thresholds.min_history, 1):
                continue
            base = float(statistics.median(past))
            if float(r["null_pct"]) - base >= thresholds.null_rate_jump_points:
                out.append(
                    Anomaly(
                        table,
                        NULL_RATE_JUMP,
                        r["column_name"],
                        float(r["null_pct"]),
                        base,
                        thresholds.null_rate_jump_points,
                        len(past),
                    )
                )
    return out


def rule_stats(found: Sequence[Anomaly]) -> List[Any]:
    """Anomalies as ``warn`` RuleStats (one check, failed) for the job result and ``dq_results``."""
    from .dq.rules import RuleStat

    return [
        RuleStat(
            a.table,
            Rule(a.rule, "profile", a.column, "warn", ERRORS[a.check], description=a.message),
            1,
            1,
        )
        for a in found
    ]


# --- storage -------------------------------------------------------------------------------------------
HISTORY_COLUMNS = ("batch_id", "table_name", "column_name", "row_count", "null_pct", "profiled_ts")


def read_history(ctx: Any, layer: str, tables: Sequence[str], exclude: Optional[str] = None, last: int = 0):
    """The last ``last`` (default ``HISTORY_PROFILES``) stored profiles of ``tables``, as dicts (one Spark action)."""
    uri = ctx.uri(f"{layer}.profiles")
    if not tables or not ctx.engine.exists(uri):
        return []
    df = ctx.engine.read(uri).where(F.col("table_name").isin(list(tables)))
    if exclude is not None:
        df = df.where(F.col("batch_id") != exclude)
    ids = (
        df.groupBy("table_name", "batch_id")
        .agg(F.max("profiled_ts").alias("ts"))
        .select(
            "table_name",
            "batch_id",
            F.row_number()
            .over(Window.partitionBy("table_name").orderBy(F.col("ts").desc(), F.col("batch_id").desc()))
            .alias("rk"),
        )
        .where(F.col("rk") <= (last or HISTORY_PROFILES))
        .drop("rk")
    )
    rows = df.select(*HISTORY_COLUMNS).join(F.broadcast(ids), ["table_name", "batch_id"]).collect()
    return [r.asDict() for r in rows]


def store(ctx: Any, layer: str, rows: Sequence[Dict[str, Any]], txn: Any = None) -> Any:
    """Append profile rows to ``<layer>.profiles`` (idempotent per ``txn``)."""
    from .contracts import contract
    from .contracts.spark_schema import schema_of

    name = f"{layer}.profiles"
    return ctx.engine.append_rows(ctx.uri(name), list(rows), schema_of(contract(name)), txn=txn)


def profile_job_tables(
    ctx: Any, layer: str, result: Any, batch_id: str, tables: Sequence[Tuple[DataFrame, TableContract]]
) -> List[Anomaly]:
    """The job's step, after its writes: profile the tables it wrote (``(frame, contract)``: the frames as
    written), store the profiles in ``<layer>.profiles``, flag anomalies against the tables' history and add
    them as ``warn`` rules to the tables' DQ stats (``write_ops`` writes them to dq_results).

    Never fails the job: a profiling error is logged and noted in the job's message.
    """
    from .engine import Txn

    if not tables:
        return []
    try:
        rows = stamp(profile_tables(tables), batch_id, f"{result.job} job", ctx.timestamp())
        history = read_history(ctx, layer, [c.name for _, c in tables], exclude=batch_id)
        found = anomalies(rows, history)
        store(ctx, layer, rows, txn=Txn(f"{result.job}:{batch_id}:profiles", 1))
    except Exception as error:  # profiling is a warning channel: it never takes the run down
        _note(result, f"profiling {layer} failed", error)
        return []
    by_table = {t.table: t for t in result.tables}
    for a, stat in zip(found, rule_stats(found)):
        log.warning("profile anomaly: %s", a.message)
        if a.table in by_table:
            by_table[a.table].dq.append(stat)
    return found
