"""Large landing files are streamed (job_assets.transforms.bronze.parse_large): on the session's real Spark, the
streamed path gives exactly the rows of the whole-file path for the same files, with each file split across
many tasks (1 KB splits), gzip, BOMs, every line ending, quoted line ends and a file that is not UTF-8; and
parse_landing sends a file down the streamed path by its size.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from job_assets.contracts.landing import ACCOUNTS, CUSTOMERS
from job_assets.transforms import bronze as B

pytestmark = pytest.mark.spark

HEADER = ",".join(CUSTOMERS.field_names)


def _csv(n: int, eol: str, bom: bool) -> bytes:
    rows = [HEADER]
    for i in range(n):
        note = f'"note {i}{eol}second line, with a comma"' if i % 7 == 0 else f"plain {i}"
        rows.append(f"{i},CRM{i},{note},US,SMB,2024-01-01T00:00:00Z,2024-01-02T00:00:00Z" if i % 50 else f"{i},short")
    text = eol.join(rows) + eol
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def _jsonl(n: int, eol: str) -> bytes:
    lines = [json.dumps({"Id": f"A{i}", "Name": f"Zürich {i}", "AnnualRevenue": i * 1.5}) for i in range(n)]
    lines[3] = "{broken"
    return (eol.join(lines) + eol + eol).encode()


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("large-files")
    files = {
        "snowflake/customers/dt=2024-01-01/lf.csv": _csv(400, "\n", False),
        "snowflake/customers/dt=2024-01-01/crlf_bom.csv": _csv(300, "\r\n", True),
        "snowflake/customers/dt=2024-01-01/cr.csv": _csv(200, "\r", False),
        "snowflake/customers/dt=2024-01-01/any name+50%25 off.csv": _csv(120, "\n", False),  # Spark URL-encodes it
        "snowflake/customers/dt=2024-01-01/zipped.csv.gz": gzip.compress(_csv(300, "\r\n", True)),
        "snowflake/customers/dt=2024-01-01/latin1.csv": _csv(100, "\n", False).replace(b"plain 3", b"pl\xe4in 3"),
        "crm/accounts/dt=2024-01-01/a.jsonl": _jsonl(500, "\n"),
        "crm/accounts/dt=2024-01-01/b.jsonl.gz": gzip.compress(_jsonl(300, "\r\n")),
        # names that are Hadoop globs: `lf[1].csv` as a pattern matches `lf1.csv`, and `a*{b,c}?.jsonl` nothing
        "snowflake/customers/dt=2024-01-01/lf[1].csv": _csv(50, "\n", False),
        "snowflake/customers/dt=2024-01-01/lf1.csv": _csv(30, "\n", False),
        "crm/accounts/dt=2024-01-01/a*{b,c}?.jsonl": _jsonl(40, "\n"),
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _files(root: Path, entity) -> list[tuple[str, str]]:
    base = root / entity.source / entity.entity
    return [(f"file://{p}", p.relative_to(root).as_posix()) for p in sorted(base.rglob("*")) if p.is_file()]


def _rows(df) -> list[tuple]:
    return sorted((tuple(r) for r in df.collect()), key=lambda r: (r[0], r[1]))


@pytest.mark.parametrize("entity", [CUSTOMERS, ACCOUNTS], ids=lambda e: e.name)
def test_streamed_files_give_the_rows_of_whole_files(spark, landing, entity):
    files = _files(landing, entity)
    whole = _rows(B.parse_whole(spark, entity, files))
    previous = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "1024")  # every plain file in several splits
    try:
        splits = spark.read.text([B.literal_path(u) for u, _ in files]).rdd.getNumPartitions()
        assert splits > 2 * len(files)  # the files really are read in pieces, out of order, and put back
        got = _rows(B.parse_large(spark, entity, files))
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", previous)
    assert got == whole
    assert len({r[0] for r in got}) == len(files)
    if entity is CUSTOMERS:
        errors = {r[4] for r in got}
        assert {None, "wrong_column_count", "unparseable_record"} <= errors  # the non-UTF-8 file refused whole
        assert all(r[5] == "utf8" for r in got if r[0].endswith("latin1.csv"))


def test_parse_landing_streams_the_files_over_the_size_limit(spark, landing, monkeypatch):
    files = _files(landing, CUSTOMERS)
    sizes = {uri: Path(uri[len("file://") :]).stat().st_size for uri, _ in files}
    big = max(sizes, key=sizes.get)
    monkeypatch.setattr(B, "LARGE_FILE_BYTES", sizes[big] - 1)
    calls = []
    real = B.parse_large
    monkeypatch.setattr(B, "parse_large", lambda s, e, f: calls.append([u for u, _ in f]) or real(s, e, f))
    mixed = _rows(B.parse_landing(spark, CUSTOMERS, files, sizes))
    assert calls == [[big]]
    assert mixed == _rows(B.parse_whole(spark, CUSTOMERS, files))


@pytest.mark.parametrize("parse", [B.parse_whole, B.parse_large], ids=["whole", "streamed"])
def test_a_file_named_like_a_glob_is_read_as_named(spark, landing, parse):
    """Spark expands each path it is given as a Hadoop glob: unescaped, `lf[1].csv` reads `lf1.csv` twice and
    itself never, and `a*{b,c}?.jsonl` fails the batch. Each file gives the records its own bytes hold."""
    read: set[str] = set()
    for entity in (CUSTOMERS, ACCOUNTS):
        files = _files(landing, entity)
        got: dict[str, int] = {}
        for r in parse(spark, entity, files).collect():
            got[r[0]] = got.get(r[0], 0) + 1
        own = {rel: Path(uri[len("file://") :]).read_bytes() for uri, rel in files}
        expected = {
            rel: len(list(B.parse_file(rel, data, entity.format, entity.field_names))) for rel, data in own.items()
        }
        assert got == expected
        read |= set(got)
    assert {"snowflake/customers/dt=2024-01-01/lf[1].csv", "crm/accounts/dt=2024-01-01/a*{b,c}?.jsonl"} <= read
