"""`lakehouse landing skip|retry` on a real local lake: a truncated gzip file crashes bronze (every run: the
failed batch is resumed with the same files), the operator skips it, the run goes through without it and
the file stays where it was delivered; repaired and retried, the next run ingests it. The CLI runs
in-process on the session's Spark (the runs are bronze-only: skip and retry concern bronze alone)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lakehouse.cli import main
from lakehouse.generator import generate

from .lake_checks import table

pytestmark = pytest.mark.spark
REASON = "truncated gzip from the CRM export, INC-4711"
CRASH = "Compressed file ended before the end-of-stream marker"
"""What Python's gzip raises on the executor, failing bronze's Spark job."""


@pytest.fixture
def poisoned(tmp_path, spark, default_engine) -> tuple[Path, str, bytes, int]:
    """A small generated lake plus one poison file: a CRM accounts delivery whose gzip stream is cut short."""
    generate(tmp_path, 1_000, seed=5, bad_ratio=0.0)
    source = sorted((tmp_path / "landing" / "crm" / "accounts").rglob("*.jsonl"))[0]
    lines = source.read_bytes().splitlines(keepends=True)[:20]
    whole = gzip.compress(b"".join(line.replace(b'"Id": "', b'"Id": "FIX') for line in lines))
    poison = source.with_name("redelivery.jsonl.gz")
    poison.write_bytes(whole[: len(whole) // 2])
    return tmp_path, poison.relative_to(tmp_path / "landing").as_posix(), whole, len(lines)


def log_rows(root: Path, rel: str) -> list[dict]:
    return [r for r in table(root, "bronze.ingestion_log").to_pylist() if r["source_file"] == rel]


def bronze_rows(root: Path, rel: str) -> int:
    return sum(1 for f in table(root, "bronze.crm_accounts").column("_source_file").to_pylist() if f == rel)


# slow (default suite under 15 minutes): skip then retry of a poison file runs twice more in the default suite,
# in the poison-landing-file drill (tests/functional/test_drills.py) and in the runbook harness.
@pytest.mark.slow
def test_skip_takes_a_poison_file_out_of_the_way_and_retry_brings_it_back(poisoned, capsys):
    root, rel, whole, records = poisoned
    run = ["run", "--lake-root", str(root), "--layers", "bronze"]
    with pytest.raises(Exception, match=CRASH):
        main(run)
    claimed = log_rows(root, rel)
    assert [r["status"] for r in claimed] == ["claimed"]
    with pytest.raises(Exception, match=CRASH):  # and again: the failed batch is resumed with it
        main(run)

    capsys.readouterr()
    assert main(["landing", "pending", "--lake-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert rel in out and "claimed, unfinished" in out  # the failed batch's files: the poison is among them

    assert main(["landing", "skip", rel, "--reason", REASON, "--lake-root", str(root)]) == 0
    assert "skipped" in capsys.readouterr().out
    assert main(run) == 0
    skipped = next(r for r in log_rows(root, rel) if r["status"] == "skipped")
    assert REASON in skipped["message"] and skipped["batch_id"] == claimed[0]["batch_id"]
    assert bronze_rows(root, rel) == 0
    assert (root / "landing" / rel).is_file()  # never deleted, never moved
    others = [r for r in table(root, "bronze.ingestion_log").to_pylist() if r["source_file"] != rel]
    assert {r["status"] for r in others if r["batch_id"] == claimed[0]["batch_id"]} == {"claimed", "ingested"}
    assert main(run) == 0 and bronze_rows(root, rel) == 0  # the next run leaves it alone too
    capsys.readouterr()
    assert main(["landing", "pending", "--lake-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert rel in out and "INC-4711" in out and "claimed, unfinished" not in out

    (root / "landing" / rel).write_bytes(whole)  # the producer redelivers it whole
    assert main(["landing", "retry", rel, "--lake-root", str(root)]) == 0
    assert main(run) == 0
    rows = sorted(log_rows(root, rel), key=lambda r: r["logged_ts"])
    assert [r["status"] for r in rows] == ["claimed", "skipped", "retried", "claimed", "ingested"]
    ingested = rows[-1]
    assert ingested["records"] + ingested["quarantined"] == records and ingested["records"] > 0
    assert bronze_rows(root, rel) == ingested["records"]
    assert main(run) == 0 and bronze_rows(root, rel) == ingested["records"]  # ingested once


def test_bad_input_is_one_line_and_changes_nothing(poisoned, capsys):
    root, rel, _, _ = poisoned
    cases = [
        (["landing", "skip", "crm/accounts/dt=2020-01-01/none.jsonl", "--reason", "x"], "no such landing file"),
        (["landing", "skip", rel, "--reason", "  "], "--reason: say why"),
        (["landing", "skip", "/etc/hostname", "--reason", "x"], "not under"),
        (["landing", "retry", rel], "not skipped (ingestion log: new)"),
    ]
    for argv, message in cases:
        assert main([*argv, "--lake-root", str(root)]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (root / "bronze").exists()  # no ingestion log was written

    assert main(["landing", "skip", rel, "--reason", REASON, "--lake-root", str(root)]) == 0  # before any run
    assert main(["landing", "skip", rel, "--reason", REASON, "--lake-root", str(root)]) == 2
    assert "already skipped" in capsys.readouterr().err
    assert main(["run", "--lake-root", str(root), "--layers", "bronze"]) == 0  # never claimed
    assert [r["status"] for r in log_rows(root, rel)] == ["skipped"] and bronze_rows(root, rel) == 0
    done = next(r["source_file"] for r in table(root, "bronze.ingestion_log").to_pylist() if r["status"] == "ingested")
    assert main(["landing", "skip", done, "--reason", "x", "--lake-root", str(root)]) == 2
    assert "already ingested in batch" in capsys.readouterr().err


def test_skips_and_retries_alternate_and_retire_the_claims_before_them():
    """bronze's view of one file through two skips and retries (job_assets.jobs.bronze.live_rows)."""
    from lakehouse.landing.skip import file_state

    def row(status: str, batch: str) -> dict:
        return {"source_file": "f", "status": status, "batch_id": batch, "message": None}

    history = [row("claimed", "b1")]
    assert file_state(history).state == "open"  # b1 crashed on it
    history.append(row("skipped", "b1"))
    assert file_state(history).state == "skipped"  # b1 resumes without it
    history.append(row("retried", ""))
    assert file_state(history).state == "new"  # claimed anew by the next batch
    history.append(row("claimed", "b2"))
    assert (file_state(history).state, file_state(history).batch) == ("open", "b2")  # crashed again
    history += [row("skipped", "b2"), row("retried", "")]
    assert file_state(history).state == "new"
    history += [row("claimed", "b3"), row("ingested", "b3")]
    assert (file_state(history).state, file_state(history).batch) == ("ingested", "b3")
