"""The gates: the audit's shadow gold (candidate) compared with the published gold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from job_assets.contracts import GOLD_TABLES, TableContract
from job_assets.contracts.gold import KEY_METRICS

from .model import AuditRun, Control, Gate

CONTRACT_RULES = frozenset((c.name, r.name) for c in GOLD_TABLES for r in c.rules)
"""The gold rules the ``dq rules`` gate judges: the contracts' own (not profiling's ``profile:*`` warnings)."""
DQ_REFUSAL = "data quality failure in "
"""How a job's refusal by a ``fail`` rule starts (``job_assets.dq.DataQualityError``)."""


def _read(control: Any, uri: str, columns: Sequence[str] | None = None) -> Any:
    """A Delta table as Arrow, or None when there is no table at ``uri`` (the control's own check: on S3 one
    listing call through the control's session)."""
    from job_assets.delta_read import DeltaReader

    if not control.table_exists(uri):
        return None
    return DeltaReader(control.storage_options()).arrow(uri, columns)


def _sum(table: Any, column: str) -> float | None:
    import pyarrow.compute as pc

    return None if table is None else float(pc.sum(table[column]).as_py() or 0)


def _change_pct(published: float, candidate: float) -> float:
    if published == 0:
        return 0.0 if candidate == 0 else 100.0
    return abs(candidate - published) / abs(published) * 100.0


_MetricSums = dict[str, tuple[float | None, float | None]]
"""Key metric name -> (published sum, candidate sum); None where that side has no table."""


def evaluate_gates(
    audit: AuditRun,
    *,
    published_uri: str,
    candidate_uri: str,
    thresholds: Any,
    control: Control,
) -> list[Gate]:
    """Audit run, DQ rules, row counts per gold table, key metrics: candidate (shadow) vs published."""
    gates = _audit_gates(audit)
    if not all(g.passed for g in gates):  # the gold job failed, or a DQ rule refused its write
        return gates
    gates.append(_dq_gate(control, published_uri, candidate_uri))
    sums: _MetricSums = {}
    for contract in GOLD_TABLES:
        rows_gate, table_sums = _table_gate(control, contract, published_uri, candidate_uri, thresholds)
        gates.append(rows_gate)
        sums.update(table_sums)
    gates.extend(_metric_gate(name, published, candidate, thresholds) for name, (published, candidate) in sums.items())
    return gates


def _audit_gates(audit: AuditRun) -> list[Gate]:
    """The ``audit run`` gate; with a failed ``dq rules`` gate when a fail-severity rule refused the write."""
    error = str(audit.summary.get("error", "the gold job failed"))
    if not audit.ok and error.startswith(DQ_REFUSAL):
        return [
            Gate("audit run", True, "the gold job ran; a fail-severity rule refused its write"),
            Gate("dq rules", False, error),
        ]
    passed = audit.ok and audit.summary.get("status") == "succeeded"
    return [Gate("audit run", passed, "the gold job succeeded" if audit.ok else error)]


def _rule_failures(control: Control, uri: str) -> dict[str, int] | None:
    """Failed rows per contract rule (``table:rule``) in the newest batch of ``uri``'s dq_results, or None."""
    table = _read(control, f"{uri}/dq_results")
    if table is None or table.num_rows == 0:
        return None
    rows = table.to_pylist()
    batch = max(r["batch_id"] for r in rows)
    return {
        f"{r['table_name']}:{r['rule']}": int(r["failed"])
        for r in rows
        if r["batch_id"] == batch and (r["table_name"], r["rule"]) in CONTRACT_RULES
    }


def _dq_gate(control: Control, published_uri: str, candidate_uri: str) -> Gate:
    """Every contract rule passed in the audit batch; failing rules name their rows and whether they are new."""
    # the audit location was cleared before the audit: only the audit wrote its dq_results
    candidate_rules = _rule_failures(control, candidate_uri) or {}
    published_rules = _rule_failures(control, published_uri) or {}
    failing = {k: v for k, v in candidate_rules.items() if v}
    new = sorted(k for k in failing if not published_rules.get(k))
    if not candidate_rules:
        detail = "no DQ results for the audit batch"
    elif not failing:
        detail = f"{len(candidate_rules)} rules, all passed"
    else:
        detail = "failing: " + ", ".join(
            f"{k} ({v} rows{', new' if k in new else ''})" for k, v in sorted(failing.items())
        )
    return Gate(
        "dq rules",
        bool(candidate_rules) and not failing,
        detail,
        published=float(sum(1 for v in published_rules.values() if v)),
        candidate=float(len(failing)),
    )


def _change_gate(name: str, published: float, candidate: float, limit: float, detail: str) -> Gate:
    """Passed when ``candidate`` is within ``limit`` percent of ``published``."""
    change = _change_pct(published, candidate)
    return Gate(name, change <= limit, detail, published, candidate, round(change, 3), limit)


def _table_gate(
    control: Control, contract: TableContract, published_uri: str, candidate_uri: str, thresholds: Any
) -> tuple[Gate, _MetricSums]:
    """The ``rows <table>`` gate of one gold table and the sums of its key metrics, each table read once."""
    name = contract.name.split(".", 1)[1]
    metrics = [m for m in KEY_METRICS.values() if m.table == contract.name]
    columns = sorted({m.column for m in metrics}) or [contract.keys[0]]
    published = _read(control, f"{published_uri}/{name}", columns)
    candidate = _read(control, f"{candidate_uri}/{name}", columns)
    sums = {m.name: (_sum(published, m.column), _sum(candidate, m.column)) for m in metrics}
    if candidate is None:
        return Gate(f"rows {name}", False, "the audit wrote no table"), sums
    after = candidate.num_rows
    if published is None:
        return Gate(f"rows {name}", True, "nothing published yet: nothing to compare", candidate=float(after)), sums
    before = published.num_rows
    limit = float(thresholds.max_row_count_change_pct)
    return _change_gate(f"rows {name}", float(before), float(after), limit, f"{before:,} -> {after:,}"), sums


def _metric_gate(name: str, published: float | None, candidate: float | None, thresholds: Any) -> Gate:
    """The ``metric <name>`` gate: the key metric's candidate sum within its limit of the published one."""
    limit = float(thresholds.metric_change_pct.get(name, thresholds.max_metric_change_pct))
    if candidate is None:
        return Gate(f"metric {name}", False, "the audit wrote no value")
    if published is None:
        return Gate(f"metric {name}", True, "nothing published yet", candidate=candidate)
    return _change_gate(f"metric {name}", published, candidate, limit, f"{published:,.2f} -> {candidate:,.2f}")
