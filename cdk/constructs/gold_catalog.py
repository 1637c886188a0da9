"""GoldCatalog: a Glue database with one Delta Lake table per gold contract, for Athena."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from job_assets.contracts.model import Column, TableContract

# Athena reads a Delta Lake table natively from its _delta_log when the Glue table points at the table
# folder and says it is Delta; the columns below mirror the contract so the catalog documents the schema.
DELTA_TABLE_PARAMETERS = {
    "EXTERNAL": "TRUE",
    "table_type": "DELTA",
    "spark.sql.sources.provider": "delta",
    "classification": "delta",
}
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


@dataclass(frozen=True, kw_only=True)
class GoldCatalogProps:
    database_name: str
    bucket: s3.IBucket
    tables: Sequence[TableContract]
    key_prefix: str = ""
    """Where the tables are at deploy time: ``blue/`` puts table ``t`` at ``s3://<gold-bucket>/blue/t/``."""


class GoldCatalog(Construct):
    """Tables live at ``s3://<gold-bucket>/<key_prefix><table>/``; their names are the contracts' table names.

    Gold is kept per blue/green slot (``s3://<gold-bucket>/<slot>/<table>/``). CloudFormation creates the
    tables pointing at the initial slot (``key_prefix``, ``blue/``); ``lakehouse promote`` and ``lakehouse
    rollback`` re-point them at the slot they publish with ``glue:UpdateTable``, outside CloudFormation.

    Caveat: a deploy that changes a gold table's definition (columns, description, parameters) makes
    CloudFormation update that table with the template's location, the initial slot, whichever slot is
    active. After such a deploy run ``lakehouse slots sync --env <env>``: it re-points every gold table at
    the active slot. A deploy that leaves a table's definition as it is leaves its location alone.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: GoldCatalogProps) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.database_name = props.database_name
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=props.database_name,
                description="Gold layer of the lakehouse: business tables (Delta Lake) for Athena.",
            ),
        )
        self.tables: dict[str, glue.CfnTable] = {}
        for contract in props.tables:
            location = props.bucket.s3_url_for_object(f"{props.key_prefix}{contract.table}/")
            table = glue.CfnTable(
                self,
                _pascal(contract.table),
                catalog_id=account,
                database_name=props.database_name,
                table_input=glue.CfnTable.TableInputProperty(
                    name=contract.table,
                    description=contract.description[:2048],
                    table_type="EXTERNAL_TABLE",
                    parameters={**DELTA_TABLE_PARAMETERS, **pii_parameters(contract)},
                    storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                        location=location,
                        input_format=PARQUET_INPUT,
                        output_format=PARQUET_OUTPUT,
                        serde_info=glue.CfnTable.SerdeInfoProperty(
                            serialization_library=PARQUET_SERDE, parameters={"path": location}
                        ),
                        columns=[
                            glue.CfnTable.ColumnProperty(name=c.name, type=c.type, comment=column_comment(c))
                            for c in contract.columns
                        ],
                    ),
                ),
            )
            table.node.add_dependency(self.database)
            self.tables[contract.table] = table


def pii_parameters(contract: TableContract) -> dict[str, str]:
    """The contract's personal columns as table parameters (CloudFormation's Glue column has no parameters):
    ``pii`` (``true``/``false``), ``pii_columns`` (comma-separated) and ``pii.<column>`` = its category."""
    personal = contract.pii_columns
    return {
        "pii": "true" if personal else "false",
        "pii_columns": ",".join(c.name for c in personal),
        **{f"pii.{c.name}": str(c.pii) for c in personal},
    }


def column_comment(column: Column) -> str | None:
    """The column's description, led by ``[PII: <category>]`` when it holds personal data (Glue's 255 chars)."""
    text = f"[PII: {column.pii}] {column.description}".strip() if column.pii else column.description
    return text[:255] or None


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))
