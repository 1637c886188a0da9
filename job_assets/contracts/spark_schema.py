"""Contract -> Spark schema (no SparkContext needed)."""

from __future__ import annotations

import re

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from .model import TableContract

_SIMPLE = {
    "string": StringType(),
    "bigint": LongType(),
    "int": IntegerType(),
    "boolean": BooleanType(),
    "double": DoubleType(),
    "date": DateType(),
    "timestamp": TimestampType(),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def spark_type(type_name: str) -> DataType:
    """The Spark type of a contract type name (``string``, ``long``, ``decimal(18,2)`` ...).

    Raises:
        ValueError: the name is not a contract type.

    Examples:
        >>> spark_type("decimal(18,2)")
        DecimalType(18,2)
    """
    if type_name in _SIMPLE:
        return _SIMPLE[type_name]
    m = _DECIMAL.match(type_name)
    if m:
        return DecimalType(int(m.group(1)), int(m.group(2)))
    raise ValueError(f"unsupported contract type {type_name!r}")


def schema_of(contract: TableContract) -> StructType:
    """The table's Spark schema; every field nullable (not-null is a DQ rule, enforced before writes)."""
    return StructType([StructField(c.name, spark_type(c.type), True) for c in contract.columns])
