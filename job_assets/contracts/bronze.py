"""Bronze: raw landing values as strings, plus ingestion metadata. One table per landing entity."""

from __future__ import annotations

from .landing import LANDING_ENTITIES
from .model import Column, LandingEntity, Rule, TableContract

METADATA_COLUMNS = (
    Column("_extra", "string", True, "JSON object of fields the contract does not know (schema drift)"),
    Column("_source_file", "string", False, "Landing file the record came from"),
    Column("_line_no", "bigint", False, "1-based record number within the file"),
    Column("_ingest_ts", "timestamp", False, "When bronze ingested the record (UTC)"),
    Column("_batch_id", "string", False, "Pipeline batch that ingested the record"),
    Column("_record_hash", "string", False, "SHA-256 of the raw field values: the record's identity"),
)


def bronze_contract(entity: LandingEntity) -> TableContract:
    """The bronze table of a landing entity: every landing field as a raw string, plus the ingest metadata."""
    cols = tuple(Column(f.name, "string", True, f.description, source=f.name, pii=f.pii) for f in entity.fields)
    return TableContract(
        name=entity.bronze_table,
        description=f"Raw {entity.source} {entity.entity} exactly as delivered, one row per landing record. "
        + entity.description,
        owner="data-platform@ingestion",
        grain="one landing record (re-deliveries are separate rows)",
        columns=cols + METADATA_COLUMNS,
        keys=("_record_hash", "_source_file", "_line_no"),
        selected_by=("_batch_id", "_ingest_ts"),
        rules=(
            Rule(
                "records_parse",
                "parse",
                severity="quarantine",
                error="unparseable_record" if entity.format == "jsonl" else "wrong_column_count",
                description="Each JSON line is an object / each CSV row has its header's field count.",
            ),
            Rule(
                "no_unexpected_columns",
                "no_extra_columns",
                column="_extra",
                severity="warn",
                error="unexpected_column",
                description="Fields outside the contract are kept in _extra and counted.",
            ),
            Rule(
                "ingested_recently",
                "freshness",
                column="_ingest_ts",
                severity="warn",
                error="stale_data",
                max_age_minutes=24 * 60,
                description="The newest record was ingested within the last day.",
            ),
        ),
        freshness_slo_minutes=24 * 60,
        upstream=(f"landing.{entity.source}.{entity.entity}",),
        lineage=tuple((f.name, (f"landing.{entity.source}.{entity.entity}.{f.name}",)) for f in entity.fields),
        landing=entity,
    )


BRONZE_TABLES = tuple(bronze_contract(e) for e in LANDING_ENTITIES)
