"""Local Spark tuning follows the size of the lake a run covers (figures: docs/BENCHMARKS.md)."""

from __future__ import annotations

from job_assets.spark import SMALL_LAKE_BYTES, landing_bytes, local_conf


def test_a_small_or_unknown_lake_gets_c1_only_and_one_partition_per_core():
    for workload in (None, 72_000_000, SMALL_LAKE_BYTES):
        conf = local_conf(2, workload)
        options = conf["spark.driver.extraJavaOptions"].split()
        assert "-XX:TieredStopAtLevel=1" in options
        assert "-XX:ReservedCodeCacheSize=240m" in options  # C1's default 48 MB fills in a long session
        assert conf["spark.sql.shuffle.partitions"] == "2"
        assert conf["spark.default.parallelism"] == "2"


def test_a_big_lake_gets_tiered_compilation_and_two_partitions_per_core():
    conf = local_conf(2, SMALL_LAKE_BYTES + 1)
    assert "-XX:TieredStopAtLevel=1" not in conf["spark.driver.extraJavaOptions"]
    assert "-XX:+UseParallelGC" in conf["spark.driver.extraJavaOptions"].split()
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert local_conf(8, 800_000_000)["spark.sql.shuffle.partitions"] == "16"


def test_explicit_shuffle_partitions_win():
    assert local_conf(2, None, shuffle_partitions=3)["spark.sql.shuffle.partitions"] == "3"
    assert local_conf(2, 10**10, shuffle_partitions=1)["spark.default.parallelism"] == "2"


def test_landing_bytes_counts_every_file_under_landing_only(tmp_path):
    (tmp_path / "landing" / "crm" / "accounts" / "dt=2025-01-01").mkdir(parents=True)
    (tmp_path / "landing" / "crm" / "accounts" / "dt=2025-01-01" / "a.jsonl").write_bytes(b"x" * 1000)
    (tmp_path / "landing" / "snowflake").mkdir()
    (tmp_path / "landing" / "snowflake" / "b.csv.gz").write_bytes(b"y" * 24)
    (tmp_path / "bronze").mkdir()
    (tmp_path / "bronze" / "part.parquet").write_bytes(b"z" * 5000)  # not landing: not counted
    assert landing_bytes(str(tmp_path)) == 1024
    assert landing_bytes(str(tmp_path / "missing")) == 0


def test_a_lake_of_many_gigabytes_gets_a_partition_per_256_mb_and_a_bigger_heap():
    """The 100M load test's settings (docs/BENCHMARKS.md): 1M and 10M sets keep theirs."""
    from job_assets.spark import LARGE_LAKE_BYTES

    assert local_conf(2, 797_000_000)["spark.sql.shuffle.partitions"] == "4"  # the 10M set, as measured
    assert local_conf(2, 797_000_000)["spark.driver.memory"] == "4g"
    big = local_conf(2, 8_000_000_000)
    assert big["spark.sql.shuffle.partitions"] == "30"
    assert big["spark.driver.memory"] == "8g"
    assert local_conf(2, LARGE_LAKE_BYTES)["spark.driver.memory"] == "4g"
    # the two sets measured on either side of the boundary: 74M records (the big-file stress scenario) with 4 GB,
    # 100M (the load test) with 8 GB
    assert local_conf(2, 5_800_000_000)["spark.driver.memory"] == "4g"
    assert local_conf(2, 7_820_000_000)["spark.driver.memory"] == "8g"
