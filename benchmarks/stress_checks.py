"""The stress scenarios' pass criteria on a lake (benchmarks/stress.py): accounting, manifest, gold, memory.

Each check returns the list of what is wrong (empty: it holds), so a scenario can report every failure at
once. The lake is read with delta-rs through ``tests/functional/lake_checks.py``, the same helpers the
end-to-end test uses; the accounting is the one docs/PIPELINE.md states: per table and run
``rows_in + rows_released = rows_out + rows_quarantined + rows_superseded``, and landing records = bronze
rows + bronze quarantine.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from job_assets.contracts import landing as L
from tests.functional.lake_checks import gold_matches_duckdb, table

MAX_PSS_GB = 6.0
"""The memory bound of every scenario: peak summed PSS of the run's process tree."""


def summary_accounting(root: Path) -> list[str]:
    """Every bronze and silver table's run summary row balances (docs/PIPELINE.md, "Accounting")."""
    bad = []
    for layer in ("bronze", "silver"):
        for r in table(root, f"{layer}.run_summary").to_pylist():
            if r["table_name"] == "*" or r["status"] != "succeeded":
                continue
            lhs = r["rows_in"] + r["rows_released"]
            rhs = r["rows_out"] + r["rows_quarantined"] + r["rows_superseded"]
            if lhs != rhs:
                bad.append(f"{layer} {r['table_name']} batch {r['batch_id']}: in+released {lhs} != {rhs}")
    return bad


def bronze_accounting(root: Path, landing_records: int) -> list[str]:
    """Landing records = bronze rows + bronze quarantine."""
    rows = sum(table(root, e.bronze_table).num_rows for e in L.LANDING_ENTITIES)
    quarantined = table(root, "bronze.quarantine").num_rows
    if rows + quarantined != landing_records:
        return [f"landing records {landing_records} != bronze rows {rows} + bronze quarantine {quarantined}"]
    return []


def quarantine_errors(root: Path) -> Counter:
    """Quarantine rows per ``_error`` in bronze and silver, released orphans left out."""
    counts: Counter = Counter()
    for layer in ("bronze", "silver"):
        for r in table(root, f"{layer}.quarantine").select(["_error", "_status"]).to_pylist():
            if r["_status"] != "released":
                counts[r["_error"]] += 1
    return counts


def held(root: Path) -> int:
    """Orphans held in silver's quarantine."""
    return sum(1 for s in table(root, "silver.quarantine").column("_status").to_pylist() if s == "held")


def manifest_match(
    root: Path, manifest: dict, skip: tuple[str, ...] = ("unexpected_column", "empty_file")
) -> list[str]:
    """Silver holds the rows the generator's manifest expects, and the quarantines its planted errors."""
    bad = []
    for name, n in manifest["expected_silver_rows"].items():
        if (got := table(root, name).num_rows) != n:
            bad.append(f"{name}: {got} rows, manifest expects {n}")
    history = table(root, "silver.accounts_history").num_rows
    if history != manifest["expected_accounts_history_rows"]:
        bad.append(f"silver.accounts_history: {history} rows, expects {manifest['expected_accounts_history_rows']}")
    found = quarantine_errors(root)
    for code, n in manifest["expected_errors"].items():
        if code not in skip and found.get(code, 0) != n:
            bad.append(f"quarantine {code}: {found.get(code, 0)}, manifest expects {n}")
    return bad


def gold_check(root: Path) -> list[str]:
    """Gold equals the independent DuckDB computation over the same silver tables."""
    try:
        gold_matches_duckdb(root)
    except AssertionError as exc:
        return [f"gold differs from DuckDB over silver: {exc}"]
    return []


def memory_check(peak_pss: int, bound_gb: float = MAX_PSS_GB) -> list[str]:
    """The run's peak summed PSS stays under ``bound_gb``."""
    gb = peak_pss / 1e9
    return [f"peak PSS {gb:.2f} GB > {bound_gb} GB"] if gb > bound_gb else []


def lake_checks(root: Path, manifest: dict, landing_records: int, skip: tuple[str, ...] | None = None) -> list[str]:
    """All the correctness checks of a finished lake."""
    kw = {} if skip is None else {"skip": skip}
    return [
        *summary_accounting(root),
        *bronze_accounting(root, landing_records),
        *manifest_match(root, manifest, **kw),
        *gold_check(root),
    ]


def ingestion_log(root: Path) -> list[dict]:
    """``bronze.ingestion_log``'s rows."""
    return table(root, "bronze.ingestion_log").to_pylist()


def logged_once(root: Path, files: list[str]) -> list[str]:
    """Each of ``files`` (paths relative to landing) has exactly one final row (ingested or empty)."""
    final = Counter(r["source_file"] for r in ingestion_log(root) if r["status"] in ("ingested", "empty"))
    return [f"{f}: {final[f]} final ingestion-log rows" for f in files if final[f] != 1]


def unexpected_columns(root: Path) -> int:
    """Records bronze flagged with ``unexpected_column`` (its ``no_unexpected_columns`` warn rule)."""
    return sum(
        r["failed"] for r in table(root, "bronze.dq_results").to_pylist() if r["rule"] == "no_unexpected_columns"
    )


def drifted_in_bronze(root: Path, field: str) -> Counter:
    """Bronze rows per entity whose ``_extra`` holds ``field``."""
    out: Counter = Counter()
    for e in L.LANDING_ENTITIES:
        extras = table(root, e.bronze_table).column("_extra").to_pylist()
        out[e.name] = sum(1 for x in extras if x and f'"{field}"' in x)
    return out
