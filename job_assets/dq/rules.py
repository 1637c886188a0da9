"""Rule evaluation.

Row rules (not_null, cast, accepted_values, range, pattern) become boolean "failed" expressions over a
frame that carries both the raw value (``__raw_<col>``) and the typed value (``<col>``). A row's
``_error``/``_rule`` is its FIRST failing quarantine rule in contract order; warn rules are only counted;
any failing ``fail`` rule raises :class:`DataQualityError` before the table is written. Every rule's
checked/passed/failed counts go to the layer's ``dq_results`` table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ..contracts.model import Rule, TableContract

ROW_KINDS = ("not_null", "cast", "accepted_values", "range", "pattern")


class DataQualityError(RuntimeError):
    """A ``fail``-severity rule failed: the job stops and the table is left unchanged."""

    def __init__(self, table: str, failures: Sequence[RuleStat], stats: Sequence[RuleStat] = ()) -> None:
        self.table = table
        self.failures = list(failures)
        self.stats = list(stats) or list(failures)
        """Every rule checked on the table (the DQ score of the refused run), not only the failing ones."""
        detail = "; ".join(
            f"{s.rule.name} ({s.rule.kind} on {s.rule.column}): {s.failed} of {s.checked} rows" for s in failures
        )
        super().__init__(f"data quality failure in {table}: {detail} — table left unchanged")


@dataclass
class RuleStat:
    table: str
    rule: Rule
    checked: int
    failed: int

    @property
    def passed(self) -> int:
        return self.checked - self.failed


def raw_col(name: str) -> str:
    return f"__raw_{name}"


def failed_expr(rule: Rule, columns: Iterable[str]) -> Column:
    """The condition under which ``rule`` fails for a row (never null)."""
    cols = set(columns)
    c = F.col(f"`{rule.column}`")
    raw = F.col(f"`{raw_col(rule.column)}`") if raw_col(rule.column) in cols else None
    if rule.kind == "not_null":
        cond = c.isNull() if raw is None else (raw.isNull() | (F.trim(raw) == ""))
    elif rule.kind == "cast":
        if raw is None:
            raise ValueError(f"rule {rule.name}: cast needs the raw column {raw_col(rule.column)}")
        cond = raw.isNotNull() & (F.trim(raw) != "") & c.isNull()
    elif rule.kind == "accepted_values":
        cond = c.isNotNull() & ~c.isin(list(rule.values))
    elif rule.kind == "range":
        lo = hi = F.lit(False)
        if rule.min_value is not None:
            lo = (c < F.lit(rule.min_value)) if rule.min_inclusive else (c <= F.lit(rule.min_value))
        if rule.max_value is not None:
            hi = c > F.lit(rule.max_value)
        cond = c.isNotNull() & (lo | hi)
    elif rule.kind == "pattern":
        cond = c.isNotNull() & ~c.rlike(rule.pattern or ".*")
    else:
        raise ValueError(f"rule {rule.name}: {rule.kind} is not a row rule")
    return F.coalesce(cond, F.lit(False))


def flag_rows(
    df: DataFrame, contract: TableContract, rules: Optional[Sequence[Rule]] = None
) -> Tuple[DataFrame, List[Rule]]:
    """Add ``__dq<i>`` failure flags for every row rule and ``_error``/``_rule`` (first failing
    quarantine rule, in contract order). Lazy: no Spark action."""
    rules = [r for r in (rules if rules is not None else contract.rules) if r.kind in ROW_KINDS]
    none = F.lit(None).cast("string")
    # one select, not a withColumn per rule: each withColumn re-analyses the whole (wide) plan
    out = df.select("*", *[failed_expr(r, df.columns).alias(f"__dq{i}") for i, r in enumerate(rules)])
    quarantine = [(i, r) for i, r in enumerate(rules) if r.severity == "quarantine"]
    error = none
    name = none
    if quarantine:
        error = F.coalesce(*[F.when(F.col(f"__dq{i}"), F.lit(r.error)) for i, r in quarantine], none)
        name = F.coalesce(*[F.when(F.col(f"__dq{i}"), F.lit(r.name)) for i, r in quarantine], none)
    return out.select("*", error.alias("_error"), name.alias("_rule")), rules


def flag_aggregates(rules: Sequence[Rule]) -> List[Column]:
    return [F.sum(F.col(f"__dq{i}").cast("int")).alias(f"__dq{i}") for i in range(len(rules))]


def stats_from_groups(
    contract: TableContract, rules: Sequence[Rule], groups: Sequence[Dict[str, object]]
) -> List[RuleStat]:
    """Per-rule stats from grouped rows carrying ``n`` and ``__dq<i>`` sums; raises on a failing `fail` rule."""
    n = sum(int(g["n"]) for g in groups)
    stats = [RuleStat(contract.name, r, n, sum(int(g[f"__dq{i}"] or 0) for g in groups)) for i, r in enumerate(rules)]
    failing = [s for s in stats if s.rule.severity == "fail" and s.failed]
    if failing:
        raise DataQualityError(contract.name, failing, stats)
    return stats


def evaluate_rows(
    df: DataFrame, contract: TableContract, rules: Optional[Sequence[Rule]] = None
) -> Tuple[DataFrame, List[RuleStat]]:
    """Flag rows and count every rule in one pass. Raises DataQualityError when a `fail` rule fails."""
    flagged, used = flag_rows(df, contract, rules)
    row = flagged.agg(F.count(F.lit(1)).alias("n"), *flag_aggregates(used)).collect()[0].asDict()
    return flagged, stats_from_groups(contract, used, [row])


def table_checks(df: DataFrame, contract: TableContract, now: dt.datetime) -> List[RuleStat]:
    """Table-level rules on a table's new state: unique keys, fail-severity row rules, freshness."""
    stats: List[RuleStat] = []
    n = None
    for r in contract.rules:
        if r.kind == "unique":
            keys = list(contract.keys)
            agg = (
                df.groupBy(*keys)
                .count()
                .agg(
                    F.count(F.lit(1)).alias("g"),
                    F.sum(F.when(F.col("count") > 1, F.col("count")).otherwise(0)).alias("d"),
                )
                .collect()[0]
            )
            n = n if n is not None else df.count()
            stats.append(RuleStat(contract.name, r, n, int(agg["d"] or 0)))
        elif r.kind in ROW_KINDS and r.severity == "fail" and contract.layer == "gold":
            row = df.agg(
                F.count(F.lit(1)).alias("n"),
                F.sum(F.when(failed_expr(r, df.columns), 1).otherwise(0)).alias("f"),
            ).collect()[0]
            stats.append(RuleStat(contract.name, r, int(row["n"]), int(row["f"] or 0)))
        elif r.kind == "freshness" and r.column:
            latest = df.agg(F.max(F.col(r.column)).alias("m")).collect()[0]["m"]
            stale = latest is None or (now - latest).total_seconds() / 60.0 > (r.max_age_minutes or 0)
            stats.append(RuleStat(contract.name, r, 1, int(stale)))
    failing = [s for s in stats if s.rule.severity == "fail" and s.failed]
    if failing:
        raise DataQualityError(contract.name, failing, stats)
    return stats


def results_rows(stats: Sequence[RuleStat], batch_id: str, job: str, ts: dt.datetime) -> List[Dict[str, object]]:
    return [
        {
            "batch_id": batch_id,
            "job": job,
            "table_name": s.table,
            "rule": s.rule.name,
            "kind": s.rule.kind,
            "severity": s.rule.severity,
            "error": s.rule.error,
            "checked": s.checked,
            "passed": s.passed,
            "failed": s.failed,
            "evaluated_ts": ts,
        }
        for s in stats
    ]


PROFILE_RULE_PREFIX = "profile:"
"""Profiling's anomaly warnings (job_assets/profiling.py): recorded with the rules, not scored."""


def dq_score(stats: Sequence[RuleStat]) -> Optional[float]:
    """Share of rule checks passed, over the contracts' rules. Profiling anomalies (``profile:*``) are
    warnings about drift, not checks of records: they stay in dq_results but do not move the score (the
    DQScore alarms would page on-call for a warning)."""
    scored = [s for s in stats if not s.rule.name.startswith(PROFILE_RULE_PREFIX)]
    checked = sum(s.checked for s in scored)
    return None if checked == 0 else round(sum(s.passed for s in scored) / checked, 6)
