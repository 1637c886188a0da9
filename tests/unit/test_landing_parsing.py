"""Landing file parsing: encodings, line endings, quoting, bad records (plain Python, no Spark)."""

from __future__ import annotations

import gzip
import json

import pytest

from job_assets.contracts.landing import ACCOUNTS, CUSTOMERS
from job_assets.transforms.bronze import classify_landing_path, parse_file

F_ACC = ACCOUNTS.field_names
F_CUS = CUSTOMERS.field_names


def rows(name, data, fmt, fields):
    return list(parse_file(name, data, fmt, fields))


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("gz", [False, True])
def test_jsonl_any_line_ending_bom_and_gzip(eol, bom, gz):
    lines = [
        json.dumps({"Id": "A1", "Name": "Zürich AG", "AnnualRevenue": 10.50, "IsDeleted": False}),
        json.dumps({"Id": "A2", "Name": "B"}),
    ]
    data = bom + (eol.join(lines) + eol).encode()
    name = "crm/accounts/dt=2024-01-01/a.jsonl" + (".gz" if gz else "")
    out = rows(name, gzip.compress(data) if gz else data, "jsonl", F_ACC)
    assert [r[1] for r in out] == [1, 2]
    first = dict(zip(F_ACC, out[0][2], strict=False))
    assert first["Id"] == "A1" and first["Name"] == "Zürich AG"
    assert first["AnnualRevenue"] == "10.5"  # numbers keep their JSON text
    assert first["IsDeleted"] == "false"
    assert all(r[4] is None for r in out)


def test_jsonl_unparseable_and_extra_fields():
    data = b'{"Id":"A1","Name":"x","Foo":1}\n{"Id": "A2", "Name": "tru\n[1,2]\n\n'
    out = rows("crm/accounts/dt=2024-01-01/a.jsonl", data, "jsonl", F_ACC)
    assert [(r[1], r[4]) for r in out] == [(1, None), (2, "unparseable_record"), (3, "unparseable_record")]
    assert json.loads(out[0][3]) == {"Foo": "1"}
    assert out[1][6] == '{"Id": "A2", "Name": "tru'  # the raw line is kept for the quarantine


def test_csv_rfc4180_quoting_header_drift_and_wrong_width():
    data = (
        "\ufeffCUSTOMER_ID,CRM_ACCOUNT_ID,EMAIL,COUNTRY,SEGMENT,CREATED_AT,UPDATED_AT,NOTES\r\n"
        '1,,a@x.com,DE,SMB,2024-01-01 00:00:00,2024-01-01 00:00:00,"comma, and\r\nnewline ""quoted"""\r\n'
        "2,A1,b@x.com,DE,SMB,2024-01-01 00:00:00,2024-01-01 00:00:00\r\n"
        "3,A1,c@x.com,DE,SMB,2024-01-01 00:00:00,2024-01-01 00:00:00,,EXTRA\r\n"
    ).encode()
    out = rows("snowflake/customers/dt=2024-01-01/c.csv", data, "csv", F_CUS)
    assert [r[4] for r in out] == [None, "wrong_column_count", "wrong_column_count"]
    rec = dict(zip(F_CUS, out[0][2], strict=False))
    assert rec["CUSTOMER_ID"] == "1" and rec["CRM_ACCOUNT_ID"] is None  # empty field = null
    assert json.loads(out[0][3]) == {"NOTES": 'comma, and\r\nnewline "quoted"'}


def test_csv_columns_follow_each_files_own_header():
    """Columns in any order, names padded with spaces, a repeated name (its last column), a missing column (null),
    an unknown one (extra); the same file parsed twice gives the same rows."""
    data = b" SEGMENT ,EMAIL,CUSTOMER_ID,Extra,EMAIL,Other\nSMB,first@x.com,7,e1,last@x.com,\n,,8,,,o2\n"
    out = rows("snowflake/customers/dt=2024-01-01/c.csv", data, "csv", F_CUS)
    first, second = (dict(zip(F_CUS, r[2], strict=True)) for r in out)
    assert (first["CUSTOMER_ID"], first["SEGMENT"], first["EMAIL"], first["COUNTRY"]) == (
        "7",
        "SMB",
        "last@x.com",
        None,
    )
    assert json.loads(out[0][3]) == {"Extra": "e1", "Other": None}
    assert (second["SEGMENT"], second["EMAIL"]) == (None, None) and json.loads(out[1][3]) == {
        "Extra": None,
        "Other": "o2",
    }
    assert rows("snowflake/customers/dt=2024-01-01/c.csv", data, "csv", F_CUS) == out


def test_jsonl_keeps_numbers_as_written_and_nested_values_as_json():
    data = b'{"Id": 1.50, "Name": 10, "Foo": {"b": 1, "a": [true, null]}, "Bar": false}\n'
    (out,) = rows("crm/accounts/dt=2024-01-01/a.jsonl", data, "jsonl", F_ACC)
    rec = dict(zip(F_ACC, out[2], strict=True))
    assert (rec["Id"], rec["Name"]) == ("1.50", "10")
    # a nested number keeps its text too, so it is re-encoded as a JSON string (what bronze has always stored)
    assert json.loads(out[3]) == {"Foo": '{"a":[true,null],"b":"1"}', "Bar": "false"}


def test_header_only_and_empty_files_have_no_records():
    assert rows("snowflake/customers/dt=2024-01-01/c.csv", b"CUSTOMER_ID,SEGMENT\n", "csv", F_CUS) == []
    assert rows("crm/accounts/dt=2024-01-01/a.jsonl.gz", gzip.compress(b""), "jsonl", F_ACC) == []


def test_non_utf8_is_refused_record_by_record():
    out = rows("crm/accounts/dt=2024-01-01/a.jsonl", b'{"Id":"\xff"}\n{"Id":"ok"}\n', "jsonl", F_ACC)
    assert [r[4] for r in out] == ["unparseable_record", "unparseable_record"]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("crm/accounts/dt=2024-01-01/a.jsonl", ""),
        ("snowflake/orders/dt=2024-01-01/o.csv.gz", ""),
        ("crm/leads/dt=2024-01-01/a.jsonl", "unknown source/entity crm/leads"),
        ("crm/accounts/2024-01-01/a.jsonl", "path is not"),
        ("crm/accounts/dt=2024-01-01/a.parquet", "extension not one of"),
    ],
)
def test_classify_landing_path(path, problem):
    _, _, found = classify_landing_path(path)
    assert found.startswith(problem) if problem else found == ""


def test_every_parsed_record_fits_the_parsed_schema():
    """parse_landing skips PySpark's per-row type check (verifySchema=False): the parsers must emit
    PARSED_SCHEMA rows for every kind of input, good or bad, or Spark would store wrong values."""
    from pyspark.sql.types import _make_type_verifier

    from job_assets.transforms.bronze import PARSED_SCHEMA

    verify = _make_type_verifier(PARSED_SCHEMA)
    nested = b'{"Id":"A1","AnnualRevenue":1e3,"IsDeleted":true,"X":{"a":[1]}}\n'
    samples = [
        ("crm/accounts/dt=2024-01-01/a.jsonl", nested, "jsonl"),
        ("crm/accounts/dt=2024-01-01/a.jsonl", b'{"Id":"A2","Name":null}\n{broken\n[1]\n"str"\n', "jsonl"),
        ("crm/accounts/dt=2024-01-01/a.jsonl", b'{"Id":"\xff"}\n', "jsonl"),
        ("snowflake/customers/dt=2024-01-01/c.csv", b"CUSTOMER_ID,SEGMENT,NEW\n1,SMB,x\n2\n3,,\n", "csv"),
    ]
    out = [r for name, data, fmt in samples for r in rows(name, data, fmt, F_ACC if fmt == "jsonl" else F_CUS)]
    assert len(out) == 9 and {r[4] for r in out} == {None, "unparseable_record", "wrong_column_count"}
    for record in out:
        verify(record)  # raises TypeError/ValueError on a field of the wrong type or a missing one


# ------------------------------------------------------------------ streamed parsing of large files


def _as_text_source_lines(data: bytes, gz: bool) -> tuple[list[str], bool]:
    """What Spark's text source (lineSep "\\n") hands :func:`parse_stream` for a file: its decoded text split at
    each "\\n" (no empty chunk after a final one), a BOM still in front; and whether the bytes are UTF-8."""
    raw = gzip.decompress(data) if gz else data
    try:
        text, ok = raw.decode("utf-8"), True
    except UnicodeDecodeError:
        text, ok = raw.decode("utf-8", errors="replace"), False
    chunks = text.split("\n")
    if chunks and chunks[-1] == "":
        chunks.pop()
    return chunks, ok


CSV_HEADER = "CUSTOMER_ID,SEGMENT,COUNTRY,CREATED_AT,UPDATED_AT,DRIFT"
STREAM_SAMPLES = [
    ("csv", b"\xef\xbb\xbf" + (CSV_HEADER + '\r\n1,SMB,US,x,y,z\r\n2,"Mid\r\nMarket",GB,,,\r\n\r\n3,SMB\r\n').encode()),
    ("csv", (CSV_HEADER + '\n1,"a, b","line one\nline two",x,y,\n2,SMB,US,x,y,z').encode()),  # no final newline
    ("csv", (CSV_HEADER + '\r1,SMB,US,x,y,z\r2,"q\r\nr",DE,x,y,z\r').encode()),  # lone CR line ends
    ("csv", (CSV_HEADER + '\n1,"he said ""hi""",US,x,y,z\n,,,,,\n').encode()),
    ("csv", CSV_HEADER.encode() + b"\n1,\xff\xfe,US,x,y,z\n2,SMB,US,x,y,z\n"),  # not UTF-8
    ("jsonl", b'\xef\xbb\xbf{"Id":"A1","Name":"Z\xc3\xbcrich"}\r\n\r\n{broken\r\n[1]\r\n{"Id":"A2","X":{"a":1}}'),
    ("jsonl", '{"Id":"A1","Name":"a\u2028b"}\n{"Id":"A2"}\r{"Id":"A3"}\n\n'.encode()),
    ("jsonl", b'{"Id":"A1"}\n{"Id":"\xff"}\n'),  # not UTF-8
]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("fmt,data", STREAM_SAMPLES)
def test_a_streamed_file_gives_the_records_of_the_whole_file(fmt, data, gz):
    """parse_stream (large files, fed line by line by Spark's text source) == parse_file (the file whole), for
    every line ending, a BOM, quoted line ends, blank lines, no final newline, bad records and non-UTF-8 bytes."""
    from job_assets.transforms.bronze import parse_stream

    name = ("snowflake/customers/dt=2024-01-01/c.csv" if fmt == "csv" else "crm/accounts/dt=2024-01-01/a.jsonl") + (
        ".gz" if gz else ""
    )
    fields = F_CUS if fmt == "csv" else F_ACC
    blob = gzip.compress(data) if gz else data
    whole = rows(name, blob, fmt, fields)
    chunks, ok = _as_text_source_lines(blob, gz)
    assert list(parse_stream(name, chunks, fmt, fields, ok)) == whole
    assert whole  # every sample has records
