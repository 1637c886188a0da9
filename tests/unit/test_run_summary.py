"""`lakehouse run`'s closing summary: what each job did, on which engine, and where records went."""

from __future__ import annotations

from rich.console import Console

from job_assets.jobs.common import JobResult, TableStats
from lakehouse.local.runner import summary_tables


def rows(table) -> list[dict[str, str]]:
    console = Console(width=250, record=True)
    console.print(table)
    lines = [line.replace("┃", "│") for line in console.export_text().splitlines() if line[:1] in "│┃"]
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in lines]
    header, body = cells[0], cells[1:]
    return [dict(zip(header, r, strict=True)) for r in body]


def test_the_jobs_table_names_each_jobs_engine_and_its_record_counts():
    orders = TableStats("silver.orders", rows_in=100, rows_out=90, rows_quarantined=6, rows_superseded=4, version=3)
    orders.errors = {"invalid_enum": 6}
    results = [
        JobResult("bronze", "b1", engine="delta-spark", started=0.0, ended=12.5),
        JobResult("silver", "b1", tables=[orders], engine="delta-spark", started=12.5, ended=20.0),
        JobResult("gold", "b1", status="skipped", engine="delta-rs", started=20.0, ended=20.1),
    ]
    jobs, tables, reasons = summary_tables(results)
    got = rows(jobs)
    assert [(r["job"], r["engine"], r["status"], r["duration s"]) for r in got] == [
        ("bronze", "delta-spark", "succeeded", "12.5"),
        ("silver", "delta-spark", "succeeded", "7.5"),
        ("gold", "delta-rs", "skipped", "0.1"),
    ]
    assert (got[1]["rows in"], got[1]["rows out"], got[1]["quarantined"], got[1]["superseded"]) == (
        "100",
        "90",
        "6",
        "4",
    )
    assert [(r["table"], r["version"]) for r in rows(tables)] == [("silver.orders", "3")]
    assert rows(reasons) == [{"job: reason": "silver: invalid_enum", "records": "6"}]
