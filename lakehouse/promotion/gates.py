"""The gates: the audit's shadow gold (candidate) compared with the published gold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from job_assets.contracts import GOLD_TABLES
from job_assets.contracts.gold import KEY_METRICS

from .model import AuditRun, Control, Gate

CONTRACT_RULES = frozenset((c.name, r.name) for c in GOLD_TABLES for r in c.rules)
"""The gold rules the ``dq rules`` gate judges: the contracts' own (not profiling's ``profile:*`` warnings)."""
DQ_REFUSAL = "data quality failure in "
"""How a job's refusal by a ``fail`` rule starts (``job_assets.dq.DataQualityError``)."""


def _read(control: Any, uri: str, columns: Sequence[str] | None = None) -> Any:
    """A Delta table as Arrow, or None when there is no table at ``uri``."""
    from deltalake import DeltaTable

    if not control.table_exists(uri):
        return None
    table = DeltaTable(uri, storage_options=control.storage_options())
    from job_assets.engine.delta_rs import arrow_table

    return arrow_table(table, columns)


def _sum(table: Any, column: str) -> float | None:
    import pyarrow.compute as pc

    return None if table is None else float(pc.sum(table[column]).as_py() or 0)


def _change_pct(published: float, candidate: float) -> float:
    if published == 0:
        return 0.0 if candidate == 0 else 100.0
    return abs(candidate - published) / abs(published) * 100.0


def evaluate_gates(
    audit: AuditRun,
    *,
    published_uri: str,
    candidate_uri: str,
    thresholds: Any,
    control: Control,
) -> list[Gate]:
    """Audit run, DQ rules, row counts per gold table, key metrics: candidate (shadow) vs published."""
    error = str(audit.summary.get("error", "the gold job failed"))
    if not audit.ok and error.startswith(DQ_REFUSAL):
        return [
            Gate("audit run", True, "the gold job ran; a fail-severity rule refused its write"),
            Gate("dq rules", False, error),
        ]
    gates = [
        Gate(
            "audit run",
            audit.ok and audit.summary.get("status") == "succeeded",
            "the gold job succeeded" if audit.ok else error,
        )
    ]
    if not gates[0].passed:
        return gates

    def rules(uri: str, batch: str | None) -> dict[str, int] | None:
        table = _read(control, f"{uri}/dq_results")
        if table is None or table.num_rows == 0:
            return None
        rows = table.to_pylist()
        batch = batch or max(r["batch_id"] for r in rows)
        return {
            f"{r['table_name']}:{r['rule']}": int(r["failed"])
            for r in rows
            if r["batch_id"] == batch and (r["table_name"], r["rule"]) in CONTRACT_RULES
        }

    candidate_rules = rules(candidate_uri, None) or {}  # the audit location was cleared: only the audit wrote it
    published_rules = rules(published_uri, None) or {}
    failing = {k: v for k, v in candidate_rules.items() if v}
    new = sorted(k for k in failing if not published_rules.get(k))
    gates.append(
        Gate(
            "dq rules",
            bool(candidate_rules) and not failing,
            (
                f"{len(candidate_rules)} rules, all passed"
                if candidate_rules and not failing
                else "no DQ results for the audit batch"
                if not candidate_rules
                else "failing: "
                + ", ".join(f"{k} ({v} rows{', new' if k in new else ''})" for k, v in sorted(failing.items()))
            ),
            published=float(sum(1 for v in published_rules.values() if v)),
            candidate=float(len(failing)),
        )
    )

    limit_rows = float(thresholds.max_row_count_change_pct)
    sums: dict[str, tuple[float | None, float | None]] = {}
    for contract in GOLD_TABLES:
        name = contract.name.split(".", 1)[1]
        columns = sorted({m.column for m in KEY_METRICS.values() if m.table == contract.name}) or [contract.keys[0]]
        published = _read(control, f"{published_uri}/{name}", columns)
        candidate = _read(control, f"{candidate_uri}/{name}", columns)
        for m in KEY_METRICS.values():
            if m.table == contract.name:
                sums[m.name] = (_sum(published, m.column), _sum(candidate, m.column))
        if candidate is None:
            gates.append(Gate(f"rows {name}", False, "the audit wrote no table"))
            continue
        if published is None:
            gates.append(
                Gate(
                    f"rows {name}",
                    True,
                    "nothing published yet: nothing to compare",
                    candidate=float(candidate.num_rows),
                )
            )
            continue
        change = _change_pct(published.num_rows, candidate.num_rows)
        gates.append(
            Gate(
                f"rows {name}",
                change <= limit_rows,
                f"{published.num_rows:,} -> {candidate.num_rows:,}",
                float(published.num_rows),
                float(candidate.num_rows),
                round(change, 3),
                limit_rows,
            )
        )
    for metric_name, (published_value, candidate_value) in sums.items():
        limit = float(thresholds.metric_change_pct.get(metric_name, thresholds.max_metric_change_pct))
        if candidate_value is None:
            gates.append(Gate(f"metric {metric_name}", False, "the audit wrote no value"))
        elif published_value is None:
            gates.append(Gate(f"metric {metric_name}", True, "nothing published yet", candidate=candidate_value))
        else:
            change = _change_pct(published_value, candidate_value)
            gates.append(
                Gate(
                    f"metric {metric_name}",
                    change <= limit,
                    f"{published_value:,.2f} -> {candidate_value:,.2f}",
                    published_value,
                    candidate_value,
                    round(change, 3),
                    limit,
                )
            )
    return gates
