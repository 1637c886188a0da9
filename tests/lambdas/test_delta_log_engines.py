"""The Lambdas' light Delta log reader (ops_common.delta_log) on tables written by BOTH table engines.

delta-spark (EMR's engine, the local default) and delta-rs write the same protocol differently: delta-spark
writes checkpoints with its own schema (stats as JSON, partition values, a ``_last_checkpoint`` with a
checksum), ``.crc`` files beside commits, and MERGE/OPTIMIZE commits shaped by Spark. The freshness monitor,
cost reporter and replica verifier read every table through this reader, so it is checked against each
engine's own idea of the live files and rows, across a checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from deltalake import DeltaTable
from ops_common import delta_log

from job_assets.engine import Txn, make_engine
from job_assets.engine.base import CHECKPOINT_INTERVAL

BUCKET = "lake-silver"
SCHEMA = "id long, v string, ver long, deleted boolean"


@pytest.fixture(params=["delta-spark", "delta-rs"])
def engine(request, spark):
    return make_engine(spark, request.param)


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name="eu-west-1")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return client


def _write_history(engine, spark, uri: str) -> None:
    """Appends, a MERGE with updates, deletes and inserts, an OPTIMIZE: past the checkpoint interval."""
    for i in range(CHECKPOINT_INTERVAL):
        rows = [(i * 10 + k, f"v{i}", 1, False) for k in range(3)]
        engine.append(uri, spark.createDataFrame(rows, SCHEMA), txn=Txn("history", i))
    changes = [(0, "changed", 2, False), (1, "gone", 2, True), (1000, "new", 2, False)]
    engine.merge(
        uri,
        spark.createDataFrame(changes, SCHEMA),
        keys=["id"],
        update_condition="s.ver > t.ver",
        delete_condition="s.deleted",
        insert_condition="NOT s.deleted",
    )
    engine.optimize(uri)


def _upload(s3, local: Path, prefix: str) -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{path.relative_to(local).as_posix()}", Body=path.read_bytes())


def test_light_reader_agrees_with_the_engine_that_wrote_the_table(engine, spark, s3, tmp_path):
    local = tmp_path / "orders"
    _write_history(engine, spark, str(local))
    _upload(s3, local, "silver/orders")
    listing = delta_log.list_log(s3, BUCKET, "silver/orders")
    assert listing.checkpoints, f"{engine.name} wrote no checkpoint in {CHECKPOINT_INTERVAL + 2} commits"

    snap = delta_log.snapshot(s3, BUCKET, "silver/orders", listing=listing)
    assert snap.version == engine.version(str(local))
    live = {f"silver/orders/{Path(u).relative_to(local).as_posix()}" for u in DeltaTable(str(local)).file_uris()}
    assert set(snap.files) == live and live
    expected = sorted(tuple(r) for r in engine.read(str(local)).select("id", "v").collect())
    read = delta_log.read_rows(s3, BUCKET, "silver/orders", ["id", "v"], listing=listing)
    assert sorted((r["id"], r["v"]) for r in read) == expected
    assert (0, "changed") in expected and all(r[0] != 1 for r in expected) and (1000, "new") in expected

    latest = delta_log.latest_commit(s3, BUCKET, "silver/orders")
    assert latest is not None and latest.version == snap.version
    # the freshness monitor's commit: the MERGE, not the OPTIMIZE after it (its rewrite changes no data)
    history = engine.history(str(local))
    assert max(history, key=lambda entry: entry["version"])["operation"] == "OPTIMIZE"
    merge = max(entry["version"] for entry in history if entry["operation"] != "OPTIMIZE")
    assert delta_log.latest_data_commit(s3, BUCKET, "silver/orders").version == merge == snap.version - 1


def test_light_reader_reads_the_version_before_the_merge(engine, spark, s3, tmp_path):
    local = tmp_path / "orders"
    _write_history(engine, spark, str(local))
    _upload(s3, local, "silver/orders")
    before_merge = CHECKPOINT_INTERVAL - 1  # the last append
    rows = delta_log.read_rows(s3, BUCKET, "silver/orders", ["id"], version=before_merge)
    expected = sorted(r[0] for r in engine.read(str(local), before_merge).select("id").collect())
    assert sorted(r["id"] for r in rows) == expected
    assert len(expected) == 3 * CHECKPOINT_INTERVAL
