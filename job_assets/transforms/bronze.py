"""Bronze transforms: landing files -> raw string records (or a quarantine reason).

Parsing runs on the executors in plain Python (stdlib only, as on EMR): gzip, a UTF-8 BOM and any line
ending are handled per file; CSV is RFC 4180 (quoted commas and newlines) with each file's own header, so
schema drift across files is kept. Every record comes out as exactly one row: valid, or with ``_error``.

A file is parsed whole in one task (Spark's ``binaryFile`` source: its bytes, text and records in one Python
worker) up to :data:`LARGE_FILE_BYTES`; a larger one is streamed (:func:`parse_large`): Spark's ``text``
source reads it as lines (splitting a plain file across tasks, decompressing a gzip one as it goes), the lines
are put back in file order by a sort that spills to disk, and one task feeds them to the same parsers line by
line. Memory then holds a few lines, not the file, and the ``binaryFile`` source's 2 GiB limit does not apply.
Both paths give the same rows for the same file (tests/functional/test_large_files.py).
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import re
from typing import Any, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

from ..contracts.landing import KNOWN_EXTENSIONS, LANDING_BY_NAME
from ..contracts.model import LandingEntity

LARGE_FILE_BYTES = 64 * 1024 * 1024
"""Files above this size are streamed (:func:`parse_large`) instead of read whole: parsing a 201 MB file whole
peaked at 6.17 GB of the run's memory (docs/BENCHMARKS.md, "Stress scenarios"), and ``binaryFile`` refuses
files over 2 GiB. The generator's files are ~5 MB (25,000 records), far below."""

_JSON = json.JSONDecoder(parse_float=str, parse_int=str)
"""One decoder for every line (``json.loads`` with hooks builds a decoder per call); numbers are kept exactly as
written."""

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
    if value is None or isinstance(value, str):  # nearly every value is a string: numbers too, kept as written
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
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
    """The records of a JSON-lines text, one per non-blank line (``\\n``, ``\\r\\n`` and ``\\r`` all end a
    line)."""
    return parse_jsonl_lines(text.splitlines(), fields, source_file)


def parse_jsonl_lines(lines: Iterable[str], fields: Sequence[str], source_file: str) -> Iterator[Tuple[Any, ...]]:
    """:func:`parse_jsonl` over the lines of a text (without their line ends), in order."""
    known = set(fields)
    n = 0
    for line in lines:
        if not line.strip():
            continue
        n += 1
        try:
            obj = _JSON.decode(line)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            yield (source_file, n, None, None, "unparseable_record", "parseable_json_object", line)
            continue
        values = [_to_text(obj.get(f)) for f in fields]
        extra = None if known.issuperset(obj) else {k: _to_text(v) for k, v in obj.items() if k not in known}
        yield (source_file, n, values, json.dumps(extra, sort_keys=True) if extra else None, None, None, None)


def parse_csv(text: str, fields: Sequence[str], source_file: str) -> Iterator[Tuple[Any, ...]]:
    """The records of an RFC 4180 CSV text with its own header row (quoted commas and line ends kept)."""
    return parse_csv_lines(io.StringIO(text, newline=""), fields, source_file)


def parse_csv_lines(lines: Iterable[str], fields: Sequence[str], source_file: str) -> Iterator[Tuple[Any, ...]]:
    """:func:`parse_csv` over the lines of a text, each with its own line end, in order."""
    known = set(fields)
    reader = csv.reader(lines, strict=False)
    header: Optional[List[str]] = None
    at: List[int] = []  # per field, its column in this file (-1: absent)
    extra_at: List[Tuple[str, int]] = []  # columns the contract does not name: (name, column)
    n = 0
    for row in reader:
        if header is None:
            header = [h.strip() for h in row]
            column = {h: i for i, h in enumerate(header)}  # a repeated name: its last column, as a dict keeps it
            at = [column.get(f, -1) for f in fields]
            extra_at = [(h, column[h]) for h in column if h not in known]
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        n += 1
        if len(row) != len(header):
            raw = io.StringIO()
            csv.writer(raw, lineterminator="").writerow(row)
            yield (source_file, n, None, None, "wrong_column_count", "csv_column_count", raw.getvalue())
            continue
        values = [(row[i] or None) if i >= 0 else None for i in at]  # an empty field is a missing value
        extra = {h: row[i] or None for h, i in extra_at}
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


def parse_stream(
    source_file: str, chunks: Iterable[str], fmt: str, fields: Sequence[str], valid_utf8: bool = True
) -> Iterator[Tuple[Any, ...]]:
    """:func:`parse_file` over a file given as its ``\\n``-separated chunks in order (each without its ``\\n``;
    a ``\\r`` before it kept), already decoded; ``valid_utf8`` False refuses every record as :func:`parse_file`
    does. The same records as :func:`parse_file` on the whole file."""

    def bom_stripped() -> Iterator[str]:
        first = True
        for chunk in chunks:
            yield chunk[1:] if first and chunk.startswith("\ufeff") else chunk
            first = False

    if not valid_utf8:
        lines = (line for chunk in bom_stripped() for line in chunk.splitlines() if line.strip())
        for i, line in enumerate(lines):
            yield (source_file, i + 1, None, None, "unparseable_record", "utf8", line)
        return
    if fmt == "jsonl":
        # splitlines() of each chunk: the lines splitlines() of the whole text gives, blank ones aside
        yield from parse_jsonl_lines((line for c in bom_stripped() for line in c.splitlines()), fields, source_file)
        return
    # each chunk's lines as io.StringIO(newline="") splits the whole text (\r, \n and \r\n, ends kept)
    lines = (line for c in bom_stripped() for line in io.StringIO(c + "\n", newline=""))
    yield from parse_csv_lines(lines, fields, source_file)


def parse_large(spark: SparkSession, entity: LandingEntity, files: Sequence[Tuple[str, str]]) -> DataFrame:
    """Parse large ``files`` ((absolute uri, path relative to landing)) streamed, into PARSED_SCHEMA rows.

    Spark's ``text`` source reads each file as ``\\n``-separated lines with where each came from (the file,
    the start of its split, the line's order in the split); a file that is not valid UTF-8 is found in the JVM
    (a line whose bytes do not survive a UTF-8 round trip); the lines are grouped by file and sorted back into
    file order (on disk when they do not fit in memory), and one task per file feeds them to
    :func:`parse_stream`.
    """
    norm = {_norm_uri(u): rel for u, rel in files}
    fields, fmt = entity.field_names, entity.format
    raw = F.col("value").cast("binary")
    lines = (
        spark.read.option("lineSep", "\n")
        .text([literal_path(u) for u, _ in files])
        .select(
            F.col("_metadata.file_path").alias("path"),
            F.col("_metadata.file_block_start").alias("block"),
            F.monotonically_increasing_id().alias("seq"),
            "value",
            (F.encode(F.decode(raw, "UTF-8"), "UTF-8") != raw).alias("bad"),
        )
    )
    # _metadata.file_path is URL-encoded (a space is %20, a % is %25); the listing's uris are not
    invalid = {_norm_uri(unquote(r["path"])) for r in lines.filter("bad").select("path").distinct().collect()}
    ordered = lines.repartition(len(files), "path").sortWithinPartitions("path", "block", "seq")

    def by_file(rows: Iterator[Any]) -> Iterator[Tuple[Any, ...]]:
        for uri, group in itertools.groupby(rows, key=lambda r: r.path):
            path = _norm_uri(unquote(uri))
            yield from parse_stream(norm[path], (r.value for r in group), fmt, fields, path not in invalid)

    return spark.createDataFrame(ordered.rdd.mapPartitions(by_file), PARSED_SCHEMA, verifySchema=False)


def parse_landing(
    spark: SparkSession,
    entity: LandingEntity,
    files: Sequence[Tuple[str, str]],
    sizes: Optional[Mapping[str, int]] = None,
) -> DataFrame:
    """Parse ``files`` ((absolute uri, path relative to landing)) of one entity into PARSED_SCHEMA rows; a file
    whose size (``sizes``, bytes by uri) is over :data:`LARGE_FILE_BYTES` is streamed (:func:`parse_large`)."""
    sizes = sizes or {}
    large = [f for f in files if sizes.get(f[0], 0) > LARGE_FILE_BYTES]
    small = [f for f in files if sizes.get(f[0], 0) <= LARGE_FILE_BYTES]
    if large and small:
        return parse_whole(spark, entity, small).unionByName(parse_large(spark, entity, large))
    return parse_large(spark, entity, large) if large else parse_whole(spark, entity, small)


def parse_whole(spark: SparkSession, entity: LandingEntity, files: Sequence[Tuple[str, str]]) -> DataFrame:
    """Parse ``files`` ((absolute uri, path relative to landing)) each whole in one task (``binaryFile``)."""
    if not files:
        return spark.createDataFrame([], PARSED_SCHEMA)
    rel_by_uri = dict(files)
    fields = entity.field_names
    fmt = entity.format
    bins = spark.read.format("binaryFile").load([literal_path(u) for u, _ in files]).select("path", "content")
    norm = {_norm_uri(u): rel for u, rel in rel_by_uri.items()}

    def explode(row: Any) -> Iterator[Tuple[Any, ...]]:
        return parse_file(norm[_norm_uri(row.path)], bytes(row.content), fmt, fields)

    n = max(1, min(len(files), spark.sparkContext.defaultParallelism * 2))
    # the parsers build PARSED_SCHEMA tuples by construction (tests/unit/test_landing_parsing.py), so
    # PySpark's per-row type verification (about 2.3 us a row in Python) is skipped
    return spark.createDataFrame(bins.repartition(n).rdd.flatMap(explode), PARSED_SCHEMA, verifySchema=False)


_GLOB = re.compile(r"([\\\[\]{}*?])")


def literal_path(uri: str) -> str:
    """``uri`` as a path Spark's file sources read literally: they expand each given path as a Hadoop glob, so
    a landing file named ``o[1].csv`` would read ``o1.csv`` instead (and ``a*.csv`` every match); the glob
    characters are escaped."""
    return _GLOB.sub(r"\\\1", uri)


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
