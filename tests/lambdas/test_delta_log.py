"""ops_common.delta_log against real delta-rs tables uploaded to (moto) S3."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from ops_common import delta_log
from ops_common.delta_log import DeltaLogError, LogListing

REGION = "eu-west-1"
BUCKET = "lake-silver"


def _batch(start: int, rows: int = 3) -> pa.Table:
    return pa.table({"id": list(range(start, start + rows)), "amount": [float(i) for i in range(rows)]})


def _commit_path(local: Path, version: int) -> Path:
    return local / "_delta_log" / f"{version:020d}.json"


def _commit_ts(local: Path, version: int) -> int:
    for line in _commit_path(local, version).read_text().splitlines():
        if line.strip() and "commitInfo" in (action := json.loads(line)):
            return int(action["commitInfo"]["timestamp"])
    raise AssertionError(f"no commitInfo in version {version}")


def _upload(s3, local: Path, prefix: str, bucket: str = BUCKET) -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{path.relative_to(local).as_posix()}", Body=path.read_bytes())


def _live_files(local: Path, prefix: str, version: int | None = None) -> dict[str, int]:
    """What delta-rs says is live: S3 key -> size on disk."""
    table = DeltaTable(str(local), version=version)
    files = {}
    for uri in table.file_uris():
        path = Path(uri)
        files[f"{prefix}/{path.relative_to(local).as_posix()}"] = os.path.getsize(path)
    return files


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


@pytest.fixture
def history_table(tmp_path: Path) -> Path:
    """Five versions: create, append, append, overwrite, append."""
    local = tmp_path / "orders"
    write_deltalake(str(local), _batch(0))
    write_deltalake(str(local), _batch(10), mode="append")
    write_deltalake(str(local), _batch(20), mode="append")
    write_deltalake(str(local), _batch(30), mode="overwrite")
    write_deltalake(str(local), _batch(40), mode="append")
    return local


def test_latest_commit_is_the_newest_version_and_its_commit_info_time(s3, history_table):
    _upload(s3, history_table, "orders")
    commit = delta_log.latest_commit(s3, BUCKET, "orders")
    assert commit == delta_log.Commit(table="orders", version=4, timestamp_ms=_commit_ts(history_table, 4))


def test_latest_commit_of_a_prefix_without_a_log_is_none(s3):
    s3.put_object(Bucket=BUCKET, Key="orders/part-0.parquet", Body=b"x")
    assert delta_log.latest_commit(s3, BUCKET, "orders") is None
    assert delta_log.latest_commit(s3, BUCKET, "nothing_here") is None


def test_latest_commit_starts_at_the_checkpoint_and_survives_a_stale_pointer(s3, history_table):
    DeltaTable(str(history_table)).create_checkpoint()  # at version 4
    write_deltalake(str(history_table), _batch(50), mode="append")  # version 5
    _upload(s3, history_table, "orders")
    assert delta_log.last_checkpoint_version(s3, BUCKET, "orders") == 4
    assert delta_log.latest_commit(s3, BUCKET, "orders").version == 5
    # a _last_checkpoint that points past every commit: the whole log is listed instead
    s3.put_object(Bucket=BUCKET, Key="orders/_delta_log/_last_checkpoint", Body=b'{"version": 99, "size": 1}')
    assert delta_log.latest_commit(s3, BUCKET, "orders").version == 5


def test_commit_time_falls_back_to_last_modified_without_commit_info(s3):
    add = {"add": {"path": "a.parquet", "size": 1, "partitionValues": {}, "modificationTime": 0, "dataChange": True}}
    s3.put_object(Bucket=BUCKET, Key="t/_delta_log/00000000000000000000.json", Body=json.dumps(add).encode())
    commit = delta_log.latest_commit(s3, BUCKET, "t")
    head = s3.head_object(Bucket=BUCKET, Key="t/_delta_log/00000000000000000000.json")
    assert commit.timestamp_ms == int(head["LastModified"].timestamp() * 1000)


def test_a_corrupt_commit_is_a_delta_log_error_naming_the_file(s3, history_table):
    _upload(s3, history_table, "orders")
    s3.put_object(Bucket=BUCKET, Key="orders/_delta_log/00000000000000000004.json", Body=b'{"commitInfo": {\n')
    with pytest.raises(DeltaLogError, match=r"s3://lake-silver/orders/_delta_log/00000000000000000004\.json line 1"):
        delta_log.latest_commit(s3, BUCKET, "orders")


def _maintain(local: Path) -> None:
    """The weekly maintenance's commits on ``local``: OPTIMIZE (compaction), then VACUUM START and END."""
    table = DeltaTable(str(local))
    assert table.optimize.compact()["numFilesRemoved"] > 1
    table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)


def test_latest_data_commit_skips_optimize_vacuum_and_table_properties(s3, history_table):
    _maintain(history_table)  # versions 5 (OPTIMIZE), 6 and 7 (VACUUM START, END)
    DeltaTable(str(history_table)).alter.set_table_properties({"delta.logRetentionDuration": "interval 30 days"})
    _upload(s3, history_table, "orders")

    assert delta_log.latest_commit(s3, BUCKET, "orders").version == 8  # every commit: the replica verifier's
    data = delta_log.latest_data_commit(s3, BUCKET, "orders")
    assert data == delta_log.Commit(table="orders", version=4, timestamp_ms=_commit_ts(history_table, 4))
    assert delta_log.latest_data_commit(s3, BUCKET, "nothing_here") is None


def test_latest_data_commit_reads_back_past_the_checkpoint(s3, history_table):
    """The last data commit is older than the checkpoint the maintenance's OPTIMIZE wrote."""
    _maintain(history_table)
    DeltaTable(str(history_table)).create_checkpoint()  # at version 7: the listing starts after the data commit
    _upload(s3, history_table, "orders")
    assert delta_log.last_checkpoint_version(s3, BUCKET, "orders") == 7

    assert delta_log.latest_data_commit(s3, BUCKET, "orders").version == 4


def test_a_write_after_the_maintenance_is_the_latest_data_commit(s3, history_table):
    _maintain(history_table)
    write_deltalake(str(history_table), _batch(60), mode="append")  # version 8
    DeltaTable(str(history_table)).delete("id = 60")  # version 9: a delete is a data change
    _upload(s3, history_table, "orders")

    assert delta_log.latest_data_commit(s3, BUCKET, "orders").version == 9


def test_without_a_data_commit_in_reach_the_oldest_commit_read_bounds_the_age(s3, history_table):
    """A table created empty, or more maintenance commits than the reader reads: the data is at least that old."""
    _maintain(history_table)
    _upload(s3, history_table, "orders")
    assert delta_log.latest_data_commit(s3, BUCKET, "orders", max_commits=2).version == 6

    empty = history_table.parent / "empty"
    DeltaTable.create(str(empty), schema=_batch(0).schema)
    DeltaTable(str(empty)).alter.set_table_properties({"delta.logRetentionDuration": "interval 30 days"})
    _upload(s3, empty, "empty")
    assert delta_log.latest_data_commit(s3, BUCKET, "empty").version == 0


@pytest.mark.parametrize(
    ("actions", "changed"),
    [
        ([{"add": {"path": "a", "dataChange": True}}], True),
        ([{"remove": {"path": "a", "dataChange": True}}], True),
        ([{"add": {"path": "a"}}], True),  # the protocol requires the field: absent is read as a change
        ([{"commitInfo": {"operation": "OPTIMIZE"}}, {"add": {"path": "b", "dataChange": False}}], False),
        ([{"commitInfo": {"operation": "VACUUM END"}}], False),
        ([{"commitInfo": {"operation": "SET TBLPROPERTIES"}}, {"metaData": {"id": "x"}}], False),
        ([{"commitInfo": {"operation": "MERGE"}}], True),  # a MERGE that changed no row still ran as a write
        ([{"cdc": {"path": "c", "dataChange": False}}], False),
    ],
)
def test_changes_data(actions, changed):
    assert delta_log.changes_data(actions) is changed


def test_find_tables_lists_only_prefixes_with_a_delta_log(s3, tmp_path):
    for name in ("orders", "customers"):
        write_deltalake(str(tmp_path / name), _batch(0))
        _upload(s3, tmp_path / name, name)
    s3.put_object(Bucket=BUCKET, Key="scratch/notes.txt", Body=b"not a table")
    s3.put_object(Bucket=BUCKET, Key="top-level-file.json", Body=b"{}")
    _upload(s3, tmp_path / "orders", "nested/orders_copy")
    assert delta_log.find_tables(s3, BUCKET) == ["customers", "orders"]
    assert delta_log.find_tables(s3, BUCKET, "nested") == ["nested/orders_copy"]
    assert delta_log.find_tables(s3, BUCKET, "nowhere") == []


def test_snapshot_without_a_checkpoint_applies_adds_and_removes(s3, history_table):
    _upload(s3, history_table, "orders")
    snap = delta_log.snapshot(s3, BUCKET, "orders")
    assert snap.version == 4
    assert snap.files == _live_files(history_table, "orders")
    assert len(snap.files) == 2  # the overwrite at version 3 removed the first three files
    for version in range(4):
        assert delta_log.snapshot(s3, BUCKET, "orders", version=version).files == _live_files(
            history_table, "orders", version
        )


def test_snapshot_from_a_checkpoint_needs_no_earlier_commits(s3, history_table):
    DeltaTable(str(history_table)).create_checkpoint()  # at version 4
    write_deltalake(str(history_table), _batch(50), mode="append")  # 5
    write_deltalake(str(history_table), _batch(60), mode="overwrite")  # 6
    write_deltalake(str(history_table), _batch(70), mode="append")  # 7
    _upload(s3, history_table, "orders")
    for version in range(4):  # log cleanup removed the commits the checkpoint covers
        s3.delete_object(Bucket=BUCKET, Key=f"orders/_delta_log/{version:020d}.json")
    listing = delta_log.list_log(s3, BUCKET, "orders")
    assert set(listing.checkpoints) == {4}
    snap = delta_log.snapshot(s3, BUCKET, "orders", listing=listing)
    assert (snap.version, snap.files) == (7, _live_files(history_table, "orders"))
    assert delta_log.snapshot(s3, BUCKET, "orders", version=4).files == _live_files(history_table, "orders", 4)
    assert delta_log.snapshot(s3, BUCKET, "orders", version=5).files == _live_files(history_table, "orders", 5)


def test_snapshot_decodes_url_encoded_partition_paths(s3, tmp_path):
    local = tmp_path / "customers"
    table = pa.table({"region": ["eu west", "a/b", "x%y", "ü=1"], "id": [1, 2, 3, 4]})
    write_deltalake(str(local), table, partition_by=["region"])
    write_deltalake(str(local), table, partition_by=["region"], mode="append")
    DeltaTable(str(local)).create_checkpoint()
    write_deltalake(str(local), table, partition_by=["region"], mode="append")
    _upload(s3, local, "customers")
    snap = delta_log.snapshot(s3, BUCKET, "customers")
    assert snap.files == _live_files(local, "customers")
    assert len(snap.files) == 12
    assert any("/region=a%2Fb/" in key for key in snap.files)  # the physical (Hive-escaped) directory name
    for key, size in snap.files.items():
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == size


def test_a_missing_commit_without_a_checkpoint_names_the_table(s3, history_table):
    _upload(s3, history_table, "orders")
    s3.delete_object(Bucket=BUCKET, Key="orders/_delta_log/00000000000000000002.json")
    with pytest.raises(DeltaLogError) as raised:
        delta_log.snapshot(s3, BUCKET, "orders")
    message = str(raised.value)
    assert "s3://lake-silver/orders/_delta_log/" in message
    assert "00000000000000000002.json is missing" in message
    # below the gap the table is still readable
    assert delta_log.snapshot(s3, BUCKET, "orders", version=1).files == _live_files(history_table, "orders", 1)


def test_snapshot_of_a_prefix_without_a_log_names_it(s3):
    with pytest.raises(DeltaLogError, match=r"s3://lake-silver/ghost/_delta_log/ holds no Delta log"):
        delta_log.snapshot(s3, BUCKET, "ghost")


def test_list_log_from_a_version_and_incomplete_multipart_checkpoints(s3):
    log = "t/_delta_log/"
    for version in range(6):
        s3.put_object(Bucket=BUCKET, Key=f"{log}{version:020d}.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key=f"{log}{2:020d}.checkpoint.parquet", Body=b"")
    s3.put_object(Bucket=BUCKET, Key=f"{log}{4:020d}.checkpoint.0000000001.0000000002.parquet", Body=b"")
    s3.put_object(Bucket=BUCKET, Key=f"{log}_last_checkpoint", Body=b'{"version": 4}')
    full = delta_log.list_log(s3, BUCKET, "t")
    assert sorted(full.commits) == list(range(6))
    assert set(full.checkpoints) == {2}  # part 2 of 2 of version 4's checkpoint is not there yet
    assert sorted(delta_log.list_log(s3, BUCKET, "t", from_version=3).commits) == [3, 4, 5]


def _listing(commits: list[int], checkpoints: list[int]) -> LogListing:
    return LogListing(
        commits={v: f"{v}.json" for v in commits},
        checkpoints={v: (f"{v}.checkpoint.parquet",) for v in checkpoints},
        last_modified={v: 0.0 for v in commits},
    )


@pytest.mark.parametrize(
    ("commits", "checkpoints", "expected"),
    [
        ([0, 1, 2, 3], [], 3),
        ([0, 1, 3], [], 1),  # commit 2 missing: 3 cannot be read
        ([0, 1, 3], [2], 3),  # ... unless a checkpoint covers it
        ([5, 6, 8], [5], 6),
        ([11, 12], [10], 12),  # the checkpoint's own commit may already be gone
        ([3, 4], [], None),  # no checkpoint and no version 0
        ([], [], None),
    ],
)
def test_readable_version(commits, checkpoints, expected):
    assert delta_log.readable_version(_listing(commits, checkpoints)) == expected


def test_snapshot_sizes_zero_is_zero_and_absent_is_unknown(s3):
    adds = [
        {"add": {"path": "empty.parquet", "size": 0, "partitionValues": {}, "modificationTime": 0, "dataChange": True}},
        {"add": {"path": "nosize.parquet", "partitionValues": {}, "modificationTime": 0, "dataChange": True}},
    ]
    body = "\n".join(json.dumps(a) for a in adds).encode()
    s3.put_object(Bucket=BUCKET, Key="t/_delta_log/00000000000000000000.json", Body=body)
    assert delta_log.snapshot(s3, BUCKET, "t").files == {"t/empty.parquet": 0, "t/nosize.parquet": -1}


def test_z85_decodes_the_specs_vector_and_names_bad_input():
    assert delta_log.z85_decode("HelloWorld") == bytes([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])  # RFC 32
    for bad in ("Hell", "Hello~orld", "%%%%%"):  # a short group, a character outside the alphabet, an overflow
        with pytest.raises(DeltaLogError, match="is not Z85"):
            delta_log.z85_decode(bad)


def test_deletion_vector_key_of_each_storage_type():
    import uuid

    z85 = "HelloWorldHelloWorld"
    name = f"deletion_vector_{uuid.UUID(bytes=delta_log.z85_decode(z85))}.bin"
    assert delta_log.deletion_vector_key("silver/t", {"storageType": "u", "pathOrInlineDv": z85}, BUCKET) == (
        f"silver/t/{name}"
    )
    assert delta_log.deletion_vector_key("silver/t", {"storageType": "u", "pathOrInlineDv": "ab" + z85}, BUCKET) == (
        f"silver/t/ab/{name}"
    )
    assert delta_log.deletion_vector_key("t", {"storageType": "i", "pathOrInlineDv": "xyz"}, BUCKET) is None
    absolute = {"storageType": "p", "pathOrInlineDv": f"s3://{BUCKET}/t/dv%201.bin"}
    assert delta_log.deletion_vector_key("t", absolute, BUCKET) == "t/dv 1.bin"
    with pytest.raises(DeltaLogError, match="not one this reader knows"):
        delta_log.deletion_vector_key("t", {"storageType": "x", "pathOrInlineDv": z85}, BUCKET)
