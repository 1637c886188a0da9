"""Who of ours handles deletion vectors, and why the lake's tables are written without them (issue 19;
docs/guides/PERFORMANCE_TUNING.md, "Incremental runs").

Deletion vectors let a MERGE or DELETE mark rows gone instead of rewriting every file that holds one. They
raise a table to reader 3 / writer 7, and every reader and writer of the table must support them. This pins, on
a table delta-spark writes with them, what each of ours does, so an upgrade that changes it shows here:

- the light reader (:class:`job_assets.delta_read.DeltaReader`: the CLI, notebooks, promotion gates) reads
  through delta-rs's DataFusion engine and applies them;
- delta-rs's own writes (append, delete, merge: what the delta-rs table engine does) honour them: deltalake
  1.6.6 rewrites a file with its deletion vector applied (copy-on-write; it writes none of its own);
- delta-rs's pyarrow path (``DeltaTable.to_pyarrow_table``) refuses the table: nothing of ours uses it (the
  benchmarks' and tests' readers switch to DataFusion for such a table);
- the Lambdas' own log reader (``lambdas/ops_common/delta_log.py``) lists each vector's file among the live
  files (a DELETE's commit removes a file and adds the same path back with its vector), so the replica
  verifier checks the replica holds it; its row reader, meant for the small ops tables, refuses a table with
  deletion vectors instead of returning the masked rows;
- delta-rs creating a table with them adds the ``variantType`` reader feature, which Delta 3.3.2 (EMR's)
  refuses: such a table must be created by delta-spark.

Athena reads only the gold tables (the Glue database is gold's), which are overwritten, never merged.
``spark.databricks.delta.properties.defaults.enableDeletionVectors`` stays ``false``
(job_assets/engine/delta_spark.py) because they did not pay: measured, a 1 % re-delivery's re-run wrote 1 % of
silver's bytes instead of 100 % and cost the same CPU (docs/BENCHMARKS.md, "Incremental re-runs").
``lakehouse run --conf spark.databricks.delta.properties.defaults.enableDeletionVectors=true`` turns them on
for an experiment (``benchmarks/load.py --conf``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaProtocolError
from ops_common import delta_log
from ops_common.aws import client

from job_assets.delta_read import DeltaReader

pytestmark = pytest.mark.spark


def test_who_handles_deletion_vectors(spark, tmp_path: Path, aws) -> None:
    path = str(tmp_path / "dv")
    (
        spark.range(0, 1000)
        .withColumnRenamed("id", "k")
        .coalesce(1)
        .write.format("delta")
        .option("delta.enableDeletionVectors", "true")
        .save(path)
    )
    spark.sql(f"DELETE FROM delta.`{path}` WHERE k < 10")
    assert any(p.name.startswith("deletion_vector_") for p in tmp_path.joinpath("dv").iterdir())
    protocol = DeltaTable(path).protocol()
    assert (protocol.min_reader_version, protocol.reader_features) == (3, ["deletionVectors"])

    reader = DeltaReader()

    def keys() -> list[int]:
        return sorted(r["k"] for r in reader.rows(reader.open(path), ["k"]))

    assert keys() == list(range(10, 1000))
    with pytest.raises(DeltaProtocolError, match="deletionVectors"):
        DeltaTable(path).to_pyarrow_table()

    s3 = client("s3", "us-east-1")
    s3.create_bucket(Bucket="lake")
    for f in tmp_path.joinpath("dv").rglob("*"):
        if f.is_file():
            s3.put_object(Bucket="lake", Key=f"silver/dv/{f.relative_to(tmp_path / 'dv')}", Body=f.read_bytes())
    commit = [json.loads(line) for line in tmp_path.joinpath("dv/_delta_log/00000000000000000001.json").open()]
    dv_add = next(a["add"] for a in commit if "add" in a)
    assert dv_add["deletionVector"]["cardinality"] == 10
    assert any(a.get("remove", {}).get("path") == dv_add["path"] for a in commit)  # same file, now with a DV
    # the Lambdas' reader lists the vector's file among the live files (the replica verifier checks it) and
    # refuses to read rows it would not mask
    snap = delta_log.snapshot(s3, "lake", "silver/dv")
    on_disk = {
        f"silver/dv/{f.relative_to(tmp_path / 'dv')}"
        for f in tmp_path.joinpath("dv").rglob("*")
        if f.is_file() and "_delta_log" not in f.parts and not f.name.endswith(".crc")
    }
    assert set(snap.files) == on_disk and len(on_disk) == 2
    assert snap.with_deletion_vectors == {k for k in on_disk if k.endswith(".parquet")}
    with pytest.raises(delta_log.DeltaLogError, match="deletion vectors on 1 file"):
        delta_log.read_rows(s3, "lake", "silver/dv", ["k"])
    # the same from a checkpoint (the vector's descriptor is in the checkpoint's add column)
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path).checkpoint()
    for f in tmp_path.joinpath("dv").rglob("*"):
        if f.is_file():
            s3.put_object(Bucket="lake", Key=f"silver/dv2/{f.relative_to(tmp_path / 'dv')}", Body=f.read_bytes())
    s3.delete_object(Bucket="lake", Key="silver/dv2/_delta_log/00000000000000000000.json")
    from_checkpoint = delta_log.snapshot(s3, "lake", "silver/dv2")
    assert {k.replace("/dv2/", "/dv/") for k in from_checkpoint.files} == on_disk
    assert len(from_checkpoint.with_deletion_vectors) == 1

    write_deltalake(path, pa.table({"k": pa.array([5000], pa.int64())}), mode="append")
    DeltaTable(path).delete("k = 500")
    assert keys() == [k for k in range(10, 1000) if k != 500] + [5000]
    assert spark.read.format("delta").load(path).where("k < 10 OR k = 500").count() == 0


def test_an_experiment_turns_them_on(spark, tmp_path: Path) -> None:
    """``lakehouse run --conf spark.databricks.delta.properties.defaults.enableDeletionVectors=true`` (what
    ``benchmarks/load.py --conf`` measures) wins over the engine's pinned default; without it the default holds."""
    from job_assets.engine.delta_rs import DeltaRsEngine
    from job_assets.engine.delta_spark import SESSION_DEFAULTS, DeltaSparkEngine
    from job_assets.spark import OVERRIDDEN_KEYS

    key = "spark.databricks.delta.properties.defaults.enableDeletionVectors"
    rows = spark.range(0, 1000).withColumnRenamed("id", "k").coalesce(1)
    try:
        spark.conf.set(key, "true")
        DeltaSparkEngine(spark)  # not listed as overridden: the engine pins its default back
        assert spark.conf.get(key) == SESSION_DEFAULTS[key] == "false"
        spark.conf.set(OVERRIDDEN_KEYS, f"spark.sql.shuffle.partitions,{key}")
        spark.conf.set(key, "true")
        engine = DeltaSparkEngine(spark)
        assert spark.conf.get(key) == "true"
        uri = str(tmp_path / "t")
        engine.append(uri, rows)
        result = engine.merge(uri, rows.where("k < 10").selectExpr("k"), ["k"], delete_condition="true")
        assert result.committed
        protocol = engine.protocol(uri)
        assert (protocol["min_reader_version"], protocol["reader_features"]) == (3, ["deletionVectors"])
        assert "deletionVectors" in protocol["writer_features"]
        other = DeltaRsEngine(spark).protocol(uri)  # both engines report a protocol the same way
        assert {k: sorted(v) if isinstance(v, list) else v for k, v in other.items()} == protocol
        assert any(p.name.startswith("deletion_vector_") for p in (tmp_path / "t").iterdir())
        assert engine.read(uri).count() == 990
    finally:
        spark.conf.unset(OVERRIDDEN_KEYS)
        DeltaSparkEngine(spark)
    assert spark.conf.get(key) == "false"


def test_the_load_tests_churn_tells_a_rewrite_from_a_deletion_vector(spark, tmp_path: Path) -> None:
    """``benchmarks/load.py``'s re-run figures: copy-on-write rewrites the file; with deletion vectors the file
    stays and only the vector and the new rows are written."""
    from benchmarks.load import table_churn, table_dataset

    rows = spark.range(0, 5000).selectExpr("id AS k", "id * 2 AS v").coalesce(1)
    for dv in ("false", "true"):
        path = tmp_path / f"dv-{dv}"
        rows.write.format("delta").option("delta.enableDeletionVectors", dv).save(str(path))
        size = sum(f.stat().st_size for f in path.glob("*.parquet"))
        spark.sql(f"UPDATE delta.`{path}` SET v = -1 WHERE k < 5")
        rewritten, written = table_churn(path, 0)
        if dv == "false":
            assert rewritten == size and written > 0.9 * size
        else:
            assert rewritten == 0 and 0 < written < 0.2 * size
        assert table_churn(path, 1) == (0, 0)
        spark.sql(f"DELETE FROM delta.`{path}` WHERE k >= 4990")
        assert table_dataset(path).count_rows() == 4990  # the accounting reads either layout


def test_a_table_delta_rs_creates_with_them_is_unreadable_by_emrs_delta(spark, tmp_path: Path) -> None:
    """deltalake 1.6.6 creating a table with ``delta.enableDeletionVectors`` also lists the ``variantType`` reader
    feature, which Delta 3.3.2 (emr-7.12.0's, the local delta-spark) refuses: a table meant to carry deletion
    vectors must be created by delta-spark, never by the delta-rs engine."""
    path = str(tmp_path / "rs")
    write_deltalake(
        path, pa.table({"k": pa.array(range(10), pa.int64())}), configuration={"delta.enableDeletionVectors": "true"}
    )
    assert set(DeltaTable(path).protocol().reader_features) == {"deletionVectors", "variantType"}
    with pytest.raises(Exception, match=r"DELTA_UNSUPPORTED_FEATURES_FOR_READ.*variantType"):
        spark.read.format("delta").load(path).count()
