"""Bronze transforms: landing files -> raw string records (or a quarantine reason).

Parsing runs on the executors in plain Python (stdlib only, as on EMR): gzip, a UTF-8 BOM and any line
ending are handled per file; CSV is RFC 4180 (quoted commas and newlines) with each file's own header, so
schema drift across files is kept. Every record comes out as exactly one row: valid, or with ``_error``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

from ..contracts.landing import KNOWN_EXTENSIONS, LANDING_BY_NAME
from ..contracts.model import LandingEntity

PATH_RE = re.compile(r"^(?P<source>[a-z0-9_]+)/(?P<entity>[a-z0-9_]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/(?P<name>[^/]+)$")

PARSED_SCHEMA = StructType(
    [
        StructField("_source_file", StringType(), False),
        StructField("_line_no", LongType(), False),
        StructField("values", ArrayType(StringType(), True), True),
        StructField("_extra", StringType(), True),
        StructField("_error", StringType(), True),
        StructField("_rule", StringType(), True),
        StructField("_raw", StringType(), True),
    ]
)


def classify_landing_path(rel_path: str) -> Tuple[Optional[LandingEntity], Optional[str], str]:
    """(entity, dt, problem) for a path relative to the landing root; problem is '' when acceptable."""
    m = PATH_RE.match(rel_path)
    if not m:
        return None, None, "path is not <source>/<entity>/dt=YYYY-MM-DD/<file>"
    entity = LANDING_BY_NAME.get(f"{m['source']}/{m['entity']}")
    if entity is None:
        return None, m["dt"], f"unknown source/entity {m['source']}/{m['entity']}"
    if not m["name"].lower().endswith(KNOWN_EXTENSIONS[entity.format]):
        return entity, m["dt"], f"extension not one of {', '.join(KNOWN_EXTENSIONS[entity.format])}"
    return entity, m["dt"], ""


def _to_text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def decode(path: str, content: bytes) -> Tuple[str, bool]:
    """Bytes -> text: gunzip by extension, strip a UTF-8 BOM. Returns (text, valid_utf8)."""
    data = gzip.decompress(content) if path.lower().endswith(".gz") else content
    try:
        text, ok = data.decode("utf-8"), True
    except UnicodeDecodeError:
        text, ok = data.decode("utf-8", errors="replace"), False
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, ok


def parse_jsonl(text: str, fields: Sequence[str], source_file: str) -> Iterator[Tuple[Any, ...]]:
    known = set(fields)
    n = 0
    for line in text.splitlines():  # \n, \r\n and \r all end a line
        if not line.strip():
            continue
        n += 1
        try:
            obj = json.loads(line, parse_float=str, parse_int=str)  # keep numbers exactly as written
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            yield (source_file, n, None, None, "unparseable_record", "parseable_json_object", line)
            continue
        values = [_to_text(obj.get(f)) for f in fields]
        extra = {k: _to_text(v) for k, v in obj.items() if k not in known}
        yield (source_file, n, values, json.dumps(extra, sort_keys=True) if extra else None, None, None, None)


def parse_csv(text: str, fields: Sequence[str], source_file: str) -> Iterator[Tuple[Any, ...]]:
    known = set(fields)
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    header: Optional[List[str]] = None
    n = 0
    for row in reader:
        if header is None:
            header = [h.strip() for h in row]
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        n += 1
        if len(row) != len(header):
            raw = io.StringIO()
            csv.writer(raw, lineterminator="").writerow(row)
            yield (source_file, n, None, None, "wrong_column_count", "csv_column_count", raw.getvalue())
            continue
        rec = {h: (v if v != "" else None) for h, v in zip(header, row)}
        values = [rec.get(f) for f in fields]
        extra = {h: rec[h] for h in header if h not in known}
        yield (source_file, n, values, json.dumps(extra, sort_keys=True) if extra else None, None, None, None)


def parse_file(source_file: str, content: bytes, fmt: str, fields: Sequence[str]) -> Iterator[Tuple[Any, ...]]:
    text, ok = decode(source_file, content)
    if not ok:
        # not UTF-8: every record is refused with the text we could recover, none silently dropped
        for i, line in enumerate(t for t in text.splitlines() if t.strip()):
            yield (source_file, i + 1, None, None, "unparseable_record", "utf8", line)
        return
    parser = parse_jsonl if fmt == "jsonl" else parse_csv
    yield from parser(text, fields, source_file)


def parse_landing(spark: SparkSession, entity: LandingEntity, files: Sequence[Tuple[str, str]]) -> DataFrame:
    """Parse ``files`` ((absolute uri, path relative to landing)) of one entity into PARSED_SCHEMA rows."""
    if not files:
        return spark.createDataFrame([], PARSED_SCHEMA)
    rel_by_uri = dict(files)
    fields = entity.field_names
    fmt = entity.format
    bins = spark.read.format("binaryFile").load([u for u, _ in files]).select("path", "content")
    norm = {_norm_uri(u): rel for u, rel in rel_by_uri.items()}

    def explode(row: Any) -> Iterator[Tuple[Any, ...]]:
        return parse_file(norm[_norm_uri(row.path)], bytes(row.content), fmt, fields)

    n = max(1, min(len(files), spark.sparkContext.defaultParallelism * 2))
    # the parsers build PARSED_SCHEMA tuples by construction (tests/unit/test_landing_parsing.py), so
    # PySpark's per-row type verification (about 2.3 us a row in Python) is skipped
    return spark.createDataFrame(bins.repartition(n).rdd.flatMap(explode), PARSED_SCHEMA, verifySchema=False)


def _norm_uri(uri: str) -> str:
    if uri.startswith("file:"):
        uri = uri[5:]
        while uri.startswith("//"):
            uri = uri[1:]
    uri = re.sub(r"^s3[an]://", "s3://", uri)
    return uri.rstrip("/")


def to_bronze(parsed: DataFrame, entity: LandingEntity, batch_id: str, ingest_ts: Any) -> DataFrame:
    """Valid parsed rows -> the bronze table's columns (raw strings + metadata)."""
    cols = [F.col("values")[i].alias(name) for i, name in enumerate(entity.field_names)]
    hashed = F.sha2(
        F.concat_ws(
            "\u0001",
            *[F.coalesce(F.col("values")[i], F.lit("\u0000")) for i in range(len(entity.fields))],
            F.coalesce(F.col("_extra"), F.lit("")),
        ),
        256,
    )
    return parsed.filter(F.col("_error").isNull()).select(
        *cols,
        F.col("_extra"),
        F.col("_source_file"),
        F.col("_line_no"),
        F.lit(ingest_ts).cast("timestamp").alias("_ingest_ts"),
        F.lit(batch_id).alias("_batch_id"),
        hashed.alias("_record_hash"),
    )


def to_quarantine(parsed: DataFrame, table: str, batch_id: str, ts: Any) -> DataFrame:
    """Unparseable rows -> quarantine rows (the raw line is kept as the payload)."""
    return parsed.filter(F.col("_error").isNotNull()).select(
        F.sha2(
            F.concat_ws("|", F.lit(table), F.col("_source_file"), F.col("_line_no").cast("string"), F.col("_rule")),
            256,
        ).alias("_quarantine_id"),
        F.lit(table).alias("_table"),
        F.col("_error"),
        F.col("_rule"),
        F.col("_source_file"),
        F.col("_line_no"),
        F.lit(batch_id).alias("_batch_id"),
        F.lit(None).cast("string").alias("_record_hash"),
        F.col("_raw").alias("_payload"),
        F.lit("quarantined").alias("_status"),
        F.lit(None).cast("string").alias("_released_batch_id"),
        F.lit(ts).cast("timestamp").alias("_quarantined_ts"),
    )
