"""The pure parts of `lakehouse table check|restore` (lakehouse/recovery/): reading a Delta log by hand, the
findings on a small handmade table (no Spark, no delta-rs), and the validation of a restore's target."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.recovery import RecoveryError, check_table
from lakehouse.recovery.check import CORRUPT_COMMIT, LOG_GAP, MISSING_FILE, UNREADABLE_FILE, WRONG_SIZE
from lakehouse.recovery.log import (
    commit_actions,
    last_checkpoint_version,
    missing_versions,
    parquet_footer_ok,
    parse_listing,
    runs,
)
from lakehouse.recovery.restore import plan_restore
from lakehouse.recovery.store import LocalStore, relative_path


def parquet_bytes(rows: int = 3) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": list(range(rows))}), sink)
    return sink.getvalue()


def handmade_table(folder: Path, commits: int = 3) -> Path:
    """A reader-1 / writer-2 table: one Parquet file added per commit, the second removed by the last."""
    log = folder / "_delta_log"
    log.mkdir(parents=True)
    for version in range(commits):
        body = parquet_bytes(version + 1)
        name = f"part-{version}.parquet"
        (folder / name).write_bytes(body)
        actions: list[dict] = [{"commitInfo": {"operation": "WRITE", "timestamp": 1000 * (version + 1)}}]
        if version == 0:
            actions += [{"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}, {"metaData": {"id": "t"}}]
        actions.append({"add": {"path": name, "size": len(body), "dataChange": True}})
        if version == commits - 1 and commits > 2:
            actions.append({"remove": {"path": "part-1.parquet", "dataChange": True}})
        (log / f"{version:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    return folder


def test_listing_classifies_commits_and_checkpoints() -> None:
    listing = parse_listing(
        [
            "00000000000000000000.json",
            "00000000000000000001.json",
            "00000000000000000010.checkpoint.parquet",
            "00000000000000000020.checkpoint.0000000001.0000000002.parquet",
            "_last_checkpoint",
            ".00000000000000000002.json.tmp",
        ]
    )
    assert listing.commits == {0, 1}
    assert dict(listing.checkpoints) == {10: ("00000000000000000010.checkpoint.parquet",)}
    assert list(listing.incomplete) == [20]  # part 2 of 2 is missing
    assert listing.has_last_checkpoint and listing.latest == 10


def test_gaps_and_runs() -> None:
    assert missing_versions([0, 1, 3, 6], -1, 6) == [2, 4, 5]
    assert missing_versions([11, 12], 10, 12) == []
    assert runs([2, 4, 5, 9]) == [(2, 2), (4, 5), (9, 9)]


def test_a_truncated_commit_names_its_line() -> None:
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        commit_actions(b'{"commitInfo": {}}\n{"add": {"path": "a", "si')
    with pytest.raises(ValueError, match="no actions"):
        commit_actions(b"")
    assert last_checkpoint_version(b'{"version": 10, "size": 4}') == 10
    with pytest.raises(ValueError):
        last_checkpoint_version(b'{"version": "ten"}')


def test_parquet_footer() -> None:
    body = parquet_bytes()
    assert parquet_footer_ok(body) is None
    assert "no Parquet footer" in str(parquet_footer_ok(body[:-3]))
    assert parquet_footer_ok(body[:-8] + b"\x00\x00\x00\x7fPAR1") is not None


def test_add_paths_relative_to_the_table() -> None:
    assert relative_path("s3://b/silver/orders", "s3://b/silver/orders/dt%3D1/part-0.parquet") == "dt=1/part-0.parquet"
    assert relative_path("/lake/silver/orders", "part-0.parquet") == "part-0.parquet"


def test_a_whole_handmade_table_checks_ok(tmp_path: Path) -> None:
    result = check_table(LocalStore(str(handmade_table(tmp_path / "t"))))
    assert result.ok and result.latest == 2
    assert sorted(result.live.adds) == ["part-0.parquet", "part-2.parquet"]
    assert result.live.added_in == {"part-0.parquet": 0, "part-2.parquet": 2}


def test_findings_on_a_damaged_table(tmp_path: Path) -> None:
    table = handmade_table(tmp_path / "t", commits=3)
    (table / "part-0.parquet").unlink()
    (table / "part-2.parquet").write_bytes(parquet_bytes(3)[:-6] + b"xxxxxx")
    kinds = {(f.kind, f.path, f.version) for f in check_table(LocalStore(str(table))).findings}
    assert kinds == {(MISSING_FILE, "part-0.parquet", 0), (UNREADABLE_FILE, "part-2.parquet", 2)}
    (table / "part-2.parquet").write_bytes(parquet_bytes(1))
    assert {f.kind for f in check_table(LocalStore(str(table))).findings} == {MISSING_FILE, WRONG_SIZE}


def test_a_gap_and_a_corrupt_commit(tmp_path: Path) -> None:
    table = handmade_table(tmp_path / "t", commits=3)
    log = table / "_delta_log"
    (log / f"{1:020d}.json").unlink()
    [gap] = check_table(LocalStore(str(table))).findings
    assert (gap.kind, gap.version) == (LOG_GAP, 1) and "commit 1 is missing" in gap.message
    handmade_table(tmp_path / "u", commits=3)
    commit = tmp_path / "u" / "_delta_log" / f"{2:020d}.json"
    commit.write_bytes(commit.read_bytes()[:40])
    [corrupt] = check_table(LocalStore(str(tmp_path / "u"))).findings
    assert (corrupt.kind, corrupt.version) == (CORRUPT_COMMIT, 2)


HISTORY = [{"version": v, "timestamp": 1_700_000_000_000 + 60_000 * v} for v in range(5)]


def test_a_restore_target_is_checked_against_the_history() -> None:
    assert plan_restore("silver.orders", HISTORY, 2, None).version == 2
    plan = plan_restore("silver.orders", HISTORY, None, "2023-11-14T22:14:50Z")  # 90 s after version 0
    assert (plan.current, plan.version) == (4, 1)
    with pytest.raises(RecoveryError, match="no such version in its log"):
        plan_restore("silver.orders", HISTORY, 7, None)
    with pytest.raises(RecoveryError, match=r"before silver\.orders.s first commit"):
        plan_restore("silver.orders", HISTORY, None, "2001-01-01")
    with pytest.raises(RecoveryError, match="not an ISO 8601 time"):
        plan_restore("silver.orders", HISTORY, None, "last week")
