"""DR replica verifier against real delta-rs tables: sources in eu-west-1, replicas in eu-central-1 (moto)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from ops_common import metric_names as m
from replica_verifier.handler import Settings, SettingsError, handler
from replica_verifier.verifier import BucketPair, ReplicaCheckError, verify_replicas

SOURCE_REGION = "eu-west-1"
REPLICA_REGION = "eu-central-1"
ENV = "test"
PAIRS = {
    "silver": BucketPair(source="lake-silver", replica="lake-silver-replica"),
    "gold": BucketPair(source="lake-gold", replica="lake-gold-replica"),
}
ORDERS_VERSIONS = 6  # 0..5, an overwrite at 2, a checkpoint at 3


def _commit_ts(local: Path, version: int) -> int:
    for line in (local / "_delta_log" / f"{version:020d}.json").read_text().splitlines():
        if line.strip() and "commitInfo" in (action := json.loads(line)):
            return int(action["commitInfo"]["timestamp"])
    raise AssertionError("no commitInfo")


def _upload(s3, bucket: str, local: Path, prefix: str) -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{path.relative_to(local).as_posix()}", Body=path.read_bytes())


def _orders(tmp_path: Path, *, copy_at: int | None = None) -> tuple[Path, Path | None]:
    """The orders table; with ``copy_at``, also a copy of its folder as it was at that version."""
    local, copy = tmp_path / "orders", None
    for version in range(ORDERS_VERSIONS):
        batch = pa.table({"id": [version * 10 + i for i in range(3)], "amount": [1.5, 2.5, 3.5]})
        write_deltalake(str(local), batch, mode="overwrite" if version == 2 else "append")
        if version == 3:
            DeltaTable(str(local)).create_checkpoint()
        if version == copy_at:
            copy = tmp_path / f"orders@{version}"
            shutil.copytree(local, copy)
    return local, copy


def _customers(tmp_path: Path) -> Path:
    local = tmp_path / "customers"
    table = pa.table({"region": ["eu west", "a/b", "x%y"], "id": [1, 2, 3]})
    write_deltalake(str(local), table, partition_by=["region"])
    write_deltalake(str(local), table, partition_by=["region"], mode="append")
    return local


def _win_rates(tmp_path: Path) -> Path:
    local = tmp_path / "win_rates"
    write_deltalake(str(local), pa.table({"rep": ["a", "b"], "rate": [0.5, 0.25]}))
    return local


@pytest.fixture
def s3(aws):
    """(source client, replica client) with the four buckets."""
    source = boto3.client("s3", region_name=SOURCE_REGION)
    replica = boto3.client("s3", region_name=REPLICA_REGION)
    for pair in PAIRS.values():
        source.create_bucket(Bucket=pair.source, CreateBucketConfiguration={"LocationConstraint": SOURCE_REGION})
        replica.create_bucket(Bucket=pair.replica, CreateBucketConfiguration={"LocationConstraint": REPLICA_REGION})
    return source, replica


@pytest.fixture(scope="module")
def local_tables(tmp_path_factory) -> dict[str, Path]:
    """Written once per module (tests change only the S3 copies)."""
    root = tmp_path_factory.mktemp("tables")
    return {"orders": _orders(root)[0], "customers": _customers(root), "win_rates": _win_rates(root)}


@pytest.fixture
def lake(s3, local_tables):
    """Identical source and replica: silver.orders (checkpoint), silver.customers (partitioned), gold.win_rates."""
    source, replica = s3
    orders, customers, win_rates = local_tables["orders"], local_tables["customers"], local_tables["win_rates"]
    for client, side in ((source, "source"), (replica, "replica")):
        _upload(client, getattr(PAIRS["silver"], side), orders, "orders")
        _upload(client, getattr(PAIRS["silver"], side), customers, "customers")
        _upload(client, getattr(PAIRS["gold"], side), win_rates, "win_rates")
    return local_tables


def _now_after(local: Path, version: int, minutes: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(_commit_ts(local, version) / 1000, dt.UTC) + dt.timedelta(minutes=minutes)


def _stat(name: str, now: dt.datetime, table: str | None = None) -> list[float]:
    """The datums of one metric with exactly these dimensions (GetMetricData matches dimensions exactly)."""
    dims = [{"Name": m.ENVIRONMENT, "Value": ENV}]
    if table is not None:
        dims.append({"Name": m.TABLE, "Value": table})
    metric = {"Namespace": m.namespace(ENV), "MetricName": name, "Dimensions": dims}
    response = boto3.client("cloudwatch", region_name=SOURCE_REGION).get_metric_data(
        MetricDataQueries=[{"Id": "q", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Minimum"}}],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=5),
    )
    [result] = response["MetricDataResults"]
    return result["Values"]


def _logs(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _verify(now: dt.datetime | None = None, **kwargs):
    results = verify_replicas(environment=ENV, replica_region=REPLICA_REGION, bucket_pairs=PAIRS, now=now, **kwargs)
    return {r.table: r for r in results}


def test_an_identical_replica_is_consistent_and_caught_up(lake):
    now = _now_after(lake["orders"], ORDERS_VERSIONS - 1, 5)
    results = _verify(now)
    assert sorted(results) == ["gold.win_rates", "silver.customers", "silver.orders"]
    for result in results.values():
        assert (result.status, result.missing_files, result.lag_versions, result.lag_minutes) == ("consistent", 0, 0, 0)
        assert result.source_version == result.replica_version == result.checked_version
    assert results["silver.orders"].files_checked == 4  # the overwrite at 2 and the appends 3, 4, 5
    assert results["silver.customers"].files_checked == 6
    assert _stat(m.REPLICA_CONSISTENT, now) == [1.0]
    for table in results:
        assert _stat(m.REPLICA_CONSISTENT, now, table) == [1.0]
        assert _stat(m.REPLICA_MISSING_FILES, now, table) == [0.0]
        assert _stat(m.REPLICA_LAG_VERSIONS, now, table) == [0.0]
        assert _stat(m.REPLICA_LAG_MINUTES, now, table) == [0.0]


def test_a_data_file_missing_from_the_replica_is_inconsistent(lake, s3, capsys):
    _, replica = s3
    snapshot_keys = sorted(
        f"orders/{Path(uri).relative_to(lake['orders']).as_posix()}"
        for uri in DeltaTable(str(lake["orders"])).file_uris()
    )
    replica.delete_object(Bucket=PAIRS["silver"].replica, Key=snapshot_keys[0])
    now = _now_after(lake["orders"], ORDERS_VERSIONS - 1, 1)

    results = _verify(now)

    orders = results["silver.orders"]
    assert (orders.status, orders.consistent, orders.missing_files, orders.absent_files) == (
        "inconsistent",
        False,
        1,
        1,
    )
    assert orders.reasons == ("file_missing_in_replica",)
    assert orders.lag_versions == 0  # the log is all there; a file is not
    assert results["silver.customers"].consistent and results["gold.win_rates"].consistent
    assert _stat(m.REPLICA_CONSISTENT, now, "silver.orders") == [0.0]
    assert _stat(m.REPLICA_MISSING_FILES, now, "silver.orders") == [1.0]
    assert _stat(m.REPLICA_CONSISTENT, now, "silver.customers") == [1.0]
    assert _stat(m.REPLICA_CONSISTENT, now) == [0.0]  # the environment-wide figure the stack alarms on
    [missing] = [line for line in _logs(capsys) if line.get("reason") == "file_missing_in_replica"]
    assert missing["table"] == "silver.orders"
    assert missing["replica"] == f"s3://{PAIRS['silver'].replica}/{snapshot_keys[0]}"


def test_a_file_with_another_size_is_inconsistent(lake, s3):
    _, replica = s3
    key = next(
        f"customers/{Path(uri).relative_to(lake['customers']).as_posix()}"
        for uri in DeltaTable(str(lake["customers"])).file_uris()
    )
    assert "%2F" in key or "%20" in key or "%25" in key  # url-encoded partition directories
    replica.put_object(Bucket=PAIRS["silver"].replica, Key=key, Body=b"truncated")
    customers = _verify()["silver.customers"]
    assert (customers.consistent, customers.missing_files, customers.size_mismatches) == (False, 1, 1)
    assert customers.reasons == ("file_size_mismatch",)


def test_only_the_first_missing_files_are_logged(lake, s3, capsys):
    _, replica = s3
    for uri in DeltaTable(str(lake["customers"])).file_uris():
        key = f"customers/{Path(uri).relative_to(lake['customers']).as_posix()}"
        replica.delete_object(Bucket=PAIRS["silver"].replica, Key=key)
    customers = _verify(max_logged_files=2)["silver.customers"]
    assert customers.missing_files == 6
    logs = _logs(capsys)
    assert len([line for line in logs if line.get("reason") == "file_missing_in_replica"]) == 2
    [summary] = [line for line in logs if line.get("reason") == "replica_inconsistent"]
    assert (summary["table"], summary["missing_files"], summary["logged"]) == ("silver.customers", 6, 2)


def test_a_replica_two_versions_behind_is_consistent_but_lags(s3, tmp_path):
    source, replica = s3
    behind = ORDERS_VERSIONS - 3  # the replica has versions 0..3 of 0..5
    orders, copy = _orders(tmp_path, copy_at=behind)
    _upload(source, PAIRS["silver"].source, orders, "orders")
    _upload(replica, PAIRS["silver"].replica, copy, "orders")
    now = _now_after(orders, behind + 1, 45)  # the oldest commit the replica lacks is 45 minutes old

    orders_check = _verify(now)["silver.orders"]

    assert (orders_check.status, orders_check.missing_files) == ("consistent", 0)
    assert (orders_check.source_version, orders_check.replica_version) == (ORDERS_VERSIONS - 1, behind)
    assert orders_check.lag_versions == 2
    assert orders_check.lag_minutes == 45.0
    assert _stat(m.REPLICA_LAG_VERSIONS, now, "silver.orders") == [2.0]
    assert _stat(m.REPLICA_LAG_MINUTES, now, "silver.orders") == [45.0]
    assert _stat(m.REPLICA_CONSISTENT, now) == [1.0]


def test_a_table_absent_from_the_replica_lags_by_all_its_versions(lake, s3, tmp_path, capsys):
    source, _ = s3
    opportunities = tmp_path / "opportunities"
    write_deltalake(str(opportunities), pa.table({"id": [1]}))
    write_deltalake(str(opportunities), pa.table({"id": [2]}), mode="append")
    _upload(source, PAIRS["silver"].source, opportunities, "opportunities")
    now = _now_after(opportunities, 0, 20)

    results = _verify(now)

    missing = results["silver.opportunities"]
    assert (missing.status, missing.reasons) == ("inconsistent", ("table_missing_from_replica",))
    assert (missing.source_version, missing.replica_version, missing.lag_versions) == (1, None, 2)
    assert missing.lag_minutes == 20.0  # since its first commit
    assert _stat(m.REPLICA_CONSISTENT, now, "silver.opportunities") == [0.0]
    assert _stat(m.REPLICA_LAG_VERSIONS, now, "silver.opportunities") == [2.0]
    assert _stat(m.REPLICA_CONSISTENT, now) == [0.0]
    assert any(line.get("reason") == "table_missing_from_replica" for line in _logs(capsys))


def test_a_missing_commit_in_the_replica_is_a_gap(lake, s3):
    _, replica = s3
    replica.delete_object(Bucket=PAIRS["silver"].replica, Key="orders/_delta_log/00000000000000000004.json")
    orders = _verify()["silver.orders"]
    assert (orders.consistent, orders.reasons) == (False, ("commit_missing_in_replica",))
    assert (orders.replica_version, orders.checked_version, orders.missing_commits) == (5, 3, 1)
    assert orders.missing_files == 1 and orders.absent_files == 0


def test_a_replica_whose_newest_checkpoint_is_incomplete_is_checked_below_it(lake, s3):
    _, replica = s3
    # part 1 of 2 of a multi-part checkpoint at version 5 arrived; part 2 has not
    replica.put_object(
        Bucket=PAIRS["silver"].replica,
        Key="orders/_delta_log/00000000000000000005.checkpoint.0000000001.0000000002.parquet",
        Body=b"partial",
    )
    orders = _verify()["silver.orders"]
    assert (orders.consistent, orders.checked_version, orders.files_checked) == (True, 5, 4)


def test_an_unparseable_replica_log_is_inconsistent(lake, s3, capsys):
    _, replica = s3
    replica.put_object(
        Bucket=PAIRS["gold"].replica, Key="win_rates/_delta_log/00000000000000000000.json", Body=b"garbage\n"
    )
    win_rates = _verify()["gold.win_rates"]
    assert (win_rates.consistent, win_rates.reasons) == (False, ("replica_log_unreadable",))
    assert any(line.get("reason") == "replica_log_unreadable" for line in _logs(capsys))


def test_a_table_only_in_the_replica_is_checked_and_reported(lake, s3):
    source, _ = s3
    for page in source.get_paginator("list_objects_v2").paginate(Bucket=PAIRS["gold"].source, Prefix="win_rates/"):
        for obj in page.get("Contents", []):
            source.delete_object(Bucket=PAIRS["gold"].source, Key=obj["Key"])
    win_rates = _verify()["gold.win_rates"]
    assert (win_rates.consistent, win_rates.lag_versions, win_rates.source_version) == (True, 0, None)
    assert win_rates.reasons == ("table_not_in_source",)


def test_an_unreadable_source_log_fails_the_run_after_publishing_the_rest(lake, s3):
    source, _ = s3
    source.put_object(Bucket=PAIRS["gold"].source, Key="win_rates/_delta_log/00000000000000000001.json", Body=b"{\n")
    now = _now_after(lake["orders"], ORDERS_VERSIONS - 1, 1)
    with pytest.raises(ReplicaCheckError, match=r"gold\.win_rates") as raised:
        _verify(now)
    results = {r.table: r for r in raised.value.results}
    assert results["gold.win_rates"].errors and results["gold.win_rates"].lag_versions is None
    assert results["silver.orders"].consistent and results["silver.orders"].lag_versions == 0
    assert _stat(m.REPLICA_LAG_VERSIONS, now, "silver.orders") == [0.0]
    assert _stat(m.REPLICA_LAG_VERSIONS, now, "gold.win_rates") == []
    assert _stat(m.REPLICA_CONSISTENT, now) == [1.0]  # every replica that was checked is consistent


def test_an_unlistable_replica_bucket_publishes_no_environment_figure(lake, s3):
    pairs = {**PAIRS, "bronze": BucketPair(source="lake-silver", replica="no-such-replica")}
    now = _now_after(lake["orders"], ORDERS_VERSIONS - 1, 1)
    with pytest.raises(ReplicaCheckError, match="layer"):
        verify_replicas(environment=ENV, replica_region=REPLICA_REGION, bucket_pairs=pairs, now=now)
    assert _stat(m.REPLICA_CONSISTENT, now, "silver.orders") == [1.0]
    assert _stat(m.REPLICA_CONSISTENT, now) == []  # unknown is not "consistent"


def test_handler(lake, monkeypatch, lambda_context):
    monkeypatch.setenv("ENVIRONMENT", ENV)
    monkeypatch.setenv("REPLICA_REGION", REPLICA_REGION)
    monkeypatch.setenv(
        "BUCKET_PAIRS", json.dumps({layer: {"source": p.source, "replica": p.replica} for layer, p in PAIRS.items()})
    )
    summary = handler({"source": "aws.events"}, lambda_context)
    assert summary["consistent"] is True
    assert [t["table"] for t in summary["tables"]] == ["silver.customers", "silver.orders", "gold.win_rates"]
    json.dumps(summary)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "ENVIRONMENT is missing"),
        ({"ENVIRONMENT": ENV}, "REPLICA_REGION is missing"),
        ({"ENVIRONMENT": ENV, "REPLICA_REGION": "central"}, "REPLICA_REGION is not an AWS region"),
        ({"ENVIRONMENT": ENV, "REPLICA_REGION": REPLICA_REGION}, "BUCKET_PAIRS is missing"),
        ({"ENVIRONMENT": ENV, "REPLICA_REGION": REPLICA_REGION, "BUCKET_PAIRS": "{"}, "BUCKET_PAIRS is not valid"),
        ({"ENVIRONMENT": ENV, "REPLICA_REGION": REPLICA_REGION, "BUCKET_PAIRS": "{}"}, "non-empty JSON object"),
        (
            {"ENVIRONMENT": ENV, "REPLICA_REGION": REPLICA_REGION, "BUCKET_PAIRS": '{"gold": {"source": "g"}}'},
            r"BUCKET_PAIRS\['gold'\] has no 'replica' bucket",
        ),
    ],
)
def test_settings_errors_name_the_variable(environ, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)
