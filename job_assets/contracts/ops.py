"""Operational tables every layer keeps in its own location (so each layer's role writes only its own)."""

from __future__ import annotations

from .layout import LAYERS
from .model import Column, TableContract

__all__ = ["LAYERS"]  # re-exported: ops tables live in every layer

INGESTION_LOG = TableContract(
    name="bronze.ingestion_log",
    description="Write-ahead log of landing files: claimed by a batch, then ingested exactly once.",
    owner="data-platform@ingestion",
    grain="one landing file per pipeline status; an operator's skip and retry rows may repeat, in order",
    keys=("source_file", "status"),
    columns=(
        Column("source_file", "string", False, "Landing file path relative to the landing root"),
        Column("entity", "string", False, "<source>/<entity>"),
        Column("dt", "string", True, "The dt= partition of the file"),
        Column("size_bytes", "bigint", False, ""),
        Column("modified_ts", "timestamp", True, "File modification time"),
        Column(
            "batch_id",
            "string",
            False,
            "Batch that claimed/ingested the file; for skipped, the batch the skip retired ('' if none)",
        ),
        Column(
            "status",
            "string",
            False,
            "claimed | ingested | empty | rejected | skipped | retried (`lakehouse landing skip|retry`)",
        ),
        Column("records", "bigint", True, "Records read (ingested rows)"),
        Column("quarantined", "bigint", True, "Records quarantined at bronze"),
        Column("logged_ts", "timestamp", False, ""),
        Column("message", "string", True, "Why a file was rejected or is empty; an operator's skip reason"),
    ),
)

QUARANTINE_COLUMNS = (
    Column("_quarantine_id", "string", False, "Stable id: hash of table, record hash and rule"),
    Column("_table", "string", False, "Table the record was bound for"),
    Column("_error", "string", False, "Reason, from the closed set ERROR_CODES"),
    Column("_rule", "string", False, "The rule that failed"),
    Column("_source_file", "string", True, "Landing file of the record"),
    Column("_line_no", "bigint", True, "Record number within the file"),
    Column("_batch_id", "string", False, "Batch that quarantined the record"),
    Column("_record_hash", "string", True, "Identity of the raw record"),
    Column("_payload", "string", True, "The record as JSON (raw line when unparseable)", pii="record"),
    Column("_status", "string", False, "quarantined | held (orphan, re-checked every run) | released"),
    Column("_released_batch_id", "string", True, "Batch that released a held orphan"),
    Column("_quarantined_ts", "timestamp", False, ""),
)


def quarantine_contract(layer: str) -> TableContract:
    """The contract of ``<layer>.quarantine``: the records the layer refused, each with its rule and reason."""
    return TableContract(
        name=f"{layer}.quarantine",
        description=f"Records {layer} refused, each with a reason; orphans are held and released later.",
        owner="data-platform@quality",
        grain="one refused record per rule",
        keys=("_quarantine_id",),
        selected_by=("_table", "_status", "_batch_id"),
        columns=QUARANTINE_COLUMNS,
    )


DQ_RESULTS_COLUMNS = (
    Column("batch_id", "string", False, ""),
    Column("job", "string", False, "bronze | silver | gold"),
    Column("table_name", "string", False, ""),
    Column("rule", "string", False, ""),
    Column("kind", "string", False, ""),
    Column("severity", "string", False, "warn | quarantine | fail"),
    Column("error", "string", False, ""),
    Column("checked", "bigint", False, "Rows the rule looked at"),
    Column("passed", "bigint", False, ""),
    Column("failed", "bigint", False, ""),
    Column("evaluated_ts", "timestamp", False, ""),
)


def dq_results_contract(layer: str) -> TableContract:
    """The contract of ``<layer>.dq_results``: rows checked, passed and failed per rule, table and batch."""
    return TableContract(
        name=f"{layer}.dq_results",
        description=f"Per run, per rule of every {layer} table: rows checked, passed, failed.",
        owner="data-platform@quality",
        grain="one rule evaluation per batch",
        keys=("batch_id", "table_name", "rule"),
        columns=DQ_RESULTS_COLUMNS,
    )


RUN_SUMMARY_COLUMNS = (
    Column("batch_id", "string", False, ""),
    Column("job", "string", False, ""),
    Column("table_name", "string", False, "A table the job wrote, or '*' for the job total"),
    Column("status", "string", False, "succeeded | failed | skipped"),
    Column("rows_in", "bigint", False, "Records read for this table"),
    Column("rows_out", "bigint", False, "Records written (inserted, updated or deleted)"),
    Column("rows_quarantined", "bigint", False, ""),
    Column("rows_superseded", "bigint", False, "Duplicates and stale re-deliveries superseded by newer"),
    Column("rows_released", "bigint", False, "Held orphans released into the table"),
    Column("dq_score", "double", True, "Share of rule checks passed, 0..1"),
    Column("table_version", "bigint", True, "Delta version after the write"),
    Column("started_ts", "timestamp", False, ""),
    Column("ended_ts", "timestamp", False, ""),
    Column("duration_s", "double", False, ""),
    Column("engine", "string", False, "delta-rs | delta-spark"),
    Column("env", "string", False, ""),
    Column("message", "string", True, ""),
)


def run_summary_contract(layer: str) -> TableContract:
    """The contract of ``<layer>.run_summary``: one row per job run and table (records in, out and
    quarantined, duration, DQ score), the source of the report and the run metrics.
    """
    return TableContract(
        name=f"{layer}.run_summary",
        description=f"One row per {layer} job run and table: records in/out/quarantined, duration, DQ score.",
        owner="data-platform@ops",
        grain="one table per job run",
        keys=("batch_id", "job", "table_name"),
        columns=RUN_SUMMARY_COLUMNS,
    )


PROFILES_COLUMNS = (
    Column("batch_id", "string", False, "The profile's id: the gold batch, or a new id per `lakehouse profile`"),
    Column("table_name", "string", False, "The profiled table, layer.table"),
    Column("column_name", "string", False, "A column of the table (one row per column)"),
    Column("column_type", "string", False, "Spark SQL type of the column"),
    Column("row_count", "bigint", False, "Rows in the table (same on every row of one profile)"),
    Column("null_count", "bigint", False, ""),
    Column("null_pct", "double", True, "100 * null_count / row_count; null for an empty table"),
    Column("distinct_count", "bigint", False, "Exact count of distinct non-null values"),
    Column("min_value", "string", True, "Smallest non-null value, cast to string", pii="record"),
    Column("max_value", "string", True, "Largest non-null value, cast to string", pii="record"),
    Column("mean_value", "double", True, "Mean of a numeric column"),
    Column("p05", "string", True, "5th percentile (percentile_approx; numeric, date, timestamp columns)"),
    Column("p25", "string", True, "25th percentile"),
    Column("p50", "string", True, "Median"),
    Column("p75", "string", True, "75th percentile"),
    Column("p95", "string", True, "95th percentile"),
    Column(
        "top_values",
        "string",
        False,
        'JSON list of the most frequent values: [{"value": "...", "count": n}]',
        pii="record",
    ),
    Column("source", "string", False, "gold job | cli"),
    Column("profiled_ts", "timestamp", False, ""),
)


def profiles_contract(layer: str) -> TableContract:
    """The contract of ``<layer>.profiles``: column profiles per table and batch, with their history."""
    return TableContract(
        name=f"{layer}.profiles",
        description=f"Column profiles of {layer} tables with history (job_assets/profiling.py, docs/PROFILING.md): "
        "null %, distinct count, min, max, quantiles, top values; anomalies are judged against earlier profiles.",
        owner="data-platform@quality",
        grain="one column of one table per profile",
        keys=("batch_id", "table_name", "column_name"),
        columns=PROFILES_COLUMNS,
    )


PROFILE_TABLES = tuple(profiles_contract(layer) for layer in LAYERS)
"""``<layer>.profiles``: the gold job profiles gold after each run; ``lakehouse profile`` any layer's table."""

OPS_TABLES = (
    INGESTION_LOG,
    *tuple(
        c
        for layer in LAYERS
        for c in (quarantine_contract(layer), dq_results_contract(layer), run_summary_contract(layer))
    ),
    *PROFILE_TABLES,
)
