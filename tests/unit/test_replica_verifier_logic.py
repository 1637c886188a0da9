"""The DR replica verifier's logic on in-memory repositories (``replica_verifier.fakes``): no moto, no network.

The same behaviour through boto3 on moto, against tables written by delta-rs, is
tests/lambdas/test_replica_verifier.py (the functional tier); here the Delta logs are written by hand into fake
buckets (small pages, so every listing pages) and each rule is checked on its own: what a replica that is
whole, behind, gapped, partial or unreadable is; the lag; the metrics; and failed AWS calls, which fail the
table or the layer, never the other tables.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.aws_guard import refuse_aws_clients

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lambdas") not in sys.path:  # the Lambda code asset's root: its packages are top-level there
    sys.path.insert(0, str(ROOT / "lambdas"))

from ops_common import delta_log  # noqa: E402
from ops_common import metric_names as m  # noqa: E402
from ops_common import metrics as ops_metrics  # noqa: E402
from replica_verifier import aws_repositories as aws_module  # noqa: E402
from replica_verifier.fakes import FakeAws, FakeObjectStore  # noqa: E402
from replica_verifier.repositories import ObjectMissingError, RepositoryError  # noqa: E402
from replica_verifier.verifier import BucketPair, ReplicaCheckError, TableCheck, verify_replicas  # noqa: E402

ENV = "test"
REPLICA_REGION = "eu-central-1"
SILVER = BucketPair(source="lake-silver", replica="lake-silver-replica")
GOLD = BucketPair(source="lake-gold", replica="lake-gold-replica")
PAIRS = {"silver": SILVER, "gold": GOLD}
WIN_RATES = "blue/win_rates"  # gold lives per slot
T0 = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=1)
LATEST = 5  # orders: versions 0..5, an overwrite at 2, a checkpoint at 3
THROTTLED = RepositoryError(
    "An error occurred (SlowDown) when calling the GetObject operation: Please reduce your request rate.",
    code="SlowDown",
    throttled=True,
    error_type="ClientError",
)
UNANSWERED = RepositoryError(
    'Could not connect to the endpoint URL: "https://lake.s3.amazonaws.com/"', error_type="EndpointConnectionError"
)


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any boto3 client is a failure here."""

    refuse_aws_clients(monkeypatch, aws_module, ops_metrics)


# --- Delta tables written into the fake buckets -----------------------------------------------------------


def committed_at(version: int) -> dt.datetime:
    """Version ``v`` of every table here was committed ``v`` minutes after T0."""
    return T0 + dt.timedelta(minutes=version)


def commit(
    store: FakeObjectStore,
    bucket: str,
    table: str,
    version: int,
    adds: dict[str, int],
    removes: tuple[str, ...] = (),
) -> None:
    """One commit: its data files (``size`` bytes each; the log's paths are URL-encoded), then its log entry."""
    for path, size in adds.items():
        store.put(bucket, f"{table}/{unquote(path)}", b"x" * size, last_modified=committed_at(version))
    actions = [{"commitInfo": {"timestamp": int(committed_at(version).timestamp() * 1000), "operation": "WRITE"}}]
    actions += [{"add": {"path": path, "size": size, "dataChange": True}} for path, size in adds.items()]
    actions += [{"remove": {"path": path, "dataChange": True}} for path in removes]
    body = "\n".join(json.dumps(action) for action in actions).encode()
    store.put(bucket, f"{table}/_delta_log/{version:020d}.json", body, last_modified=committed_at(version))


def checkpoint(store: FakeObjectStore, bucket: str, table: str, version: int, files: dict[str, int]) -> None:
    """A single-part checkpoint of ``files`` at ``version`` and the ``_last_checkpoint`` pointing at it."""
    adds = [{"path": path, "size": size} for path, size in files.items()]
    parquet = io.BytesIO()
    pq.write_table(pa.table({"add": [*adds, None]}), parquet)  # the None: a row of another action
    store.put(bucket, f"{table}/_delta_log/{version:020d}.checkpoint.parquet", parquet.getvalue())
    store.put(bucket, f"{table}/_delta_log/_last_checkpoint", json.dumps({"version": version}).encode())


def write_orders(store: FakeObjectStore, bucket: str, *, upto: int = LATEST) -> dict[str, int]:
    """silver's orders, versions 0..upto: a file per commit, an overwrite at 2, a checkpoint at 3; the live files."""
    live: dict[str, int] = {}
    for version in range(upto + 1):
        removes = tuple(live) if version == 2 else ()
        adds = {f"part-{version:05d}.parquet": 100 + version}
        commit(store, bucket, "orders", version, adds, removes)
        live = {path: size for path, size in live.items() if path not in removes} | adds
        if version == 3:
            checkpoint(store, bucket, "orders", version, live)
    return live


def write_lake(store: FakeObjectStore, *, side: str = "source", orders_upto: int = LATEST) -> None:
    """silver.orders, silver.customers (a partition directory, URL-encoded in the log) and gold's blue/win_rates."""
    silver, gold = getattr(SILVER, side), getattr(GOLD, side)
    write_orders(store, silver, upto=orders_upto)
    commit(store, silver, "customers", 0, {"region=eu%20west/part-0.parquet": 40})
    commit(store, silver, "customers", 1, {"region=a%2Fb/part-1.parquet": 41})
    commit(store, gold, WIN_RATES, 0, {"part-0.parquet": 30})


@pytest.fixture
def fake() -> FakeAws:
    """Identical source and replica, both listed two keys a page."""
    aws = FakeAws(source=FakeObjectStore(page_size=2), replica=FakeObjectStore(page_size=2))
    for store, side in ((aws.source, "source"), (aws.replica, "replica")):
        for pair in PAIRS.values():
            store.create_bucket(getattr(pair, side))
        write_lake(store, side=side)
    return aws


def verify(fake: FakeAws, pairs: dict[str, BucketPair] = PAIRS, **kwargs: Any) -> dict[str, TableCheck]:
    results = verify_replicas(
        environment=ENV,
        replica_region=REPLICA_REGION,
        bucket_pairs=pairs,
        now=kwargs.pop("now", NOW),
        repositories=fake.repositories(),
        **kwargs,
    )
    return {r.table: r for r in results}


def verify_failing(fake: FakeAws, match: str, **kwargs: Any) -> dict[str, TableCheck]:
    """Verify, expecting :class:`ReplicaCheckError` matching ``match``; every table's result."""
    with pytest.raises(ReplicaCheckError, match=match) as raised:
        verify(fake, **kwargs)
    return {r.table: r for r in raised.value.results}


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def minutes_before_now(version: int) -> float:
    return round((NOW - committed_at(version)).total_seconds() / 60, 1)


# --- consistent replicas ----------------------------------------------------------------------------------


def test_an_identical_replica_is_consistent_and_caught_up(fake: FakeAws, capsys) -> None:
    results = verify(fake)

    assert sorted(results) == ["gold.blue/win_rates", "silver.customers", "silver.orders"]
    for result in results.values():
        assert (result.status, result.consistent, result.reasons, result.errors) == ("consistent", True, (), ())
        assert (result.missing_files, result.lag_versions, result.lag_minutes) == (0, 0, 0.0)
        assert result.source_version == result.replica_version == result.checked_version
    assert (results["silver.orders"].checked_version, results["silver.orders"].files_checked) == (LATEST, 4)
    assert results["silver.customers"].files_checked == 2
    for table in results:
        assert fake.metrics.values(m.REPLICA_CONSISTENT, table) == [1]
        assert fake.metrics.values(m.REPLICA_MISSING_FILES, table) == [0]
        assert fake.metrics.values(m.REPLICA_LAG_VERSIONS, table) == [0]
        assert fake.metrics.values(m.REPLICA_LAG_MINUTES, table) == [0.0]
    assert fake.metrics.values(m.REPLICA_CONSISTENT) == [1]  # the environment-wide figure the alarm watches
    assert {namespace for namespace, _ in fake.metrics.published} == {m.namespace(ENV)}
    assert {datum.timestamp for _, datum in fake.metrics.published} == {NOW}
    [done] = [line for line in log_lines(capsys) if line["reason"] == "replica_check_done"]
    assert (done["consistent"], done["tables"], done["failed_tables"], done["failed_layers"]) == (True, 3, [], [])


def test_the_replica_table_is_listed_once_without_a_request_per_file(fake: FakeAws) -> None:
    verify(fake)

    table_listings = [params for op, params in fake.replica.calls if op == "paginate" and params["Prefix"] == "orders/"]
    assert table_listings[0].get("ContinuationToken") is None  # one listing, paged
    assert len(table_listings) == 7  # 14 objects under orders/ (6 data files, 8 in the log), two a page
    data_reads = [p["Key"] for op, p in fake.replica.calls if op == "get_object" and "_delta_log/" not in p["Key"]]
    assert data_reads == []


def test_a_replica_behind_by_versions_is_consistent_but_lags_since_the_oldest_commit_it_lacks(fake: FakeAws) -> None:
    fake.replica = FakeObjectStore(page_size=2)
    write_lake(fake.replica, side="replica", orders_upto=LATEST - 2)

    orders = verify(fake)["silver.orders"]

    assert (orders.status, orders.missing_files) == ("consistent", 0)
    assert (orders.source_version, orders.replica_version, orders.checked_version) == (LATEST, 3, 3)
    assert (orders.lag_versions, orders.lag_minutes) == (2, minutes_before_now(4))
    assert fake.metrics.values(m.REPLICA_LAG_VERSIONS, "silver.orders") == [2]
    assert fake.metrics.values(m.REPLICA_LAG_MINUTES, "silver.orders") == [minutes_before_now(4)]
    assert fake.metrics.values(m.REPLICA_CONSISTENT) == [1]


def test_a_replica_one_version_behind_lags_since_the_newest_source_commit(fake: FakeAws) -> None:
    fake.replica = FakeObjectStore()
    write_lake(fake.replica, side="replica", orders_upto=LATEST - 1)

    orders = verify(fake)["silver.orders"]

    assert (orders.lag_versions, orders.lag_minutes) == (1, minutes_before_now(LATEST))
    from_version = [p for op, p in fake.source.calls if p.get("StartAfter", "").startswith("orders/_delta_log/0")]
    starts = {p["StartAfter"] for p in from_version}
    assert starts == {"orders/_delta_log/00000000000000000002.zzzz"}  # from the checkpoint; no listing for the lag


def test_a_checkpoint_is_read_for_the_live_files(fake: FakeAws) -> None:
    for version in (4, 5):  # the replica's copy of the later commits is what a reader starts from the checkpoint
        fake.replica.delete(SILVER.replica, f"orders/_delta_log/{version:020d}.json")
    fake.replica.delete(SILVER.replica, "orders/part-00002.parquet")  # live since the overwrite at 2

    orders = verify(fake)["silver.orders"]

    assert (orders.checked_version, orders.replica_version, orders.files_checked) == (3, 3, 2)
    assert (orders.reasons, orders.absent_files) == (("file_missing_in_replica",), 1)


def test_a_checkpoint_stands_for_the_commits_it_covers(fake: FakeAws) -> None:
    for version in range(LATEST + 1):  # only the checkpoint at 3 has arrived
        fake.replica.delete(SILVER.replica, f"orders/_delta_log/{version:020d}.json")

    orders = verify(fake)["silver.orders"]

    assert (orders.status, orders.replica_version, orders.checked_version, orders.missing_commits) == (
        "consistent",
        3,
        3,
        0,
    )
    assert (orders.files_checked, orders.lag_versions, orders.lag_minutes) == (2, 2, minutes_before_now(4))


def test_a_table_without_a_commit_on_either_side_is_consistent(fake: FakeAws) -> None:
    fake.source.put(SILVER.source, "leads/_delta_log/.00000000000000000000.json.tmp", b"")

    leads = verify(fake)["silver.leads"]

    assert (leads.status, leads.source_version, leads.replica_version) == ("consistent", None, None)
    assert (leads.lag_versions, leads.lag_minutes, leads.reasons) == (0, 0.0, ())


def test_a_table_only_in_the_replica_is_checked_and_reported(fake: FakeAws, capsys) -> None:
    for key in list(fake.source.buckets[GOLD.source]):
        fake.source.delete(GOLD.source, key)

    win_rates = verify(fake)["gold.blue/win_rates"]

    assert (win_rates.consistent, win_rates.source_version, win_rates.replica_version) == (True, None, 0)
    assert (win_rates.lag_versions, win_rates.reasons) == (0, ("table_not_in_source",))
    [line] = [line for line in log_lines(capsys) if line["reason"] == "table_not_in_source"]
    assert line["replica"] == f"s3://{GOLD.replica}/{WIN_RATES}/"


def test_an_incomplete_multi_part_checkpoint_is_not_used(fake: FakeAws) -> None:
    key = f"orders/_delta_log/{LATEST:020d}.checkpoint.0000000001.0000000002.parquet"
    fake.replica.put(SILVER.replica, key, b"part 1 of 2, not Parquet")  # read, it would fail the table

    orders = verify(fake)["silver.orders"]

    assert (orders.consistent, orders.checked_version, orders.files_checked) == (True, LATEST, 4)


# --- inconsistent replicas --------------------------------------------------------------------------------


def test_a_data_file_missing_from_the_replica_is_inconsistent(fake: FakeAws, capsys) -> None:
    fake.replica.delete(SILVER.replica, "orders/part-00004.parquet")

    results = verify(fake)

    orders = results["silver.orders"]
    assert (orders.status, orders.consistent, orders.reasons) == ("inconsistent", False, ("file_missing_in_replica",))
    assert (orders.missing_files, orders.absent_files, orders.size_mismatches, orders.lag_versions) == (1, 1, 0, 0)
    assert results["silver.customers"].consistent and results["gold.blue/win_rates"].consistent
    assert fake.metrics.values(m.REPLICA_CONSISTENT, "silver.orders") == [0]
    assert fake.metrics.values(m.REPLICA_MISSING_FILES, "silver.orders") == [1]
    assert fake.metrics.values(m.REPLICA_CONSISTENT) == [0]
    lines = log_lines(capsys)
    [missing] = [line for line in lines if line["reason"] == "file_missing_in_replica"]
    assert (missing["replica"], missing["expected_size"], missing["version"]) == (
        f"s3://{SILVER.replica}/orders/part-00004.parquet",
        104,
        LATEST,
    )
    [summary] = [line for line in lines if line["reason"] == "replica_inconsistent"]
    assert (summary["table"], summary["missing_files"], summary["logged"]) == ("silver.orders", 1, 1)


def test_a_file_with_another_size_is_inconsistent(fake: FakeAws, capsys) -> None:
    key = "customers/region=a/b/part-1.parquet"  # the log's path, URL-decoded
    fake.replica.put(SILVER.replica, key, b"truncated")

    customers = verify(fake)["silver.customers"]

    assert (customers.consistent, customers.reasons) == (False, ("file_size_mismatch",))
    assert (customers.missing_files, customers.size_mismatches, customers.absent_files) == (1, 1, 0)
    [line] = [line for line in log_lines(capsys) if line["reason"] == "file_size_mismatch"]
    assert (line["expected_size"], line["replica_size"]) == (41, len(b"truncated"))


def test_only_the_first_missing_files_are_logged(fake: FakeAws, capsys) -> None:
    for version in range(2, LATEST + 1):
        fake.replica.delete(SILVER.replica, f"orders/part-{version:05d}.parquet")

    orders = verify(fake, max_logged_files=2)["silver.orders"]

    assert orders.missing_files == 4
    lines = log_lines(capsys)
    logged = [line["replica"] for line in lines if line["reason"] == "file_missing_in_replica"]
    assert logged == [f"s3://{SILVER.replica}/orders/part-{v:05d}.parquet" for v in (2, 3)]  # in key order
    [summary] = [line for line in lines if line["reason"] == "replica_inconsistent"]
    assert (summary["missing_files"], summary["logged"]) == (4, 2)


def test_a_table_absent_from_the_replica_lags_by_all_its_versions(fake: FakeAws, capsys) -> None:
    commit(fake.source, SILVER.source, "opportunities", 0, {"part-0.parquet": 10})
    commit(fake.source, SILVER.source, "opportunities", 1, {"part-1.parquet": 11})

    results = verify(fake)

    missing = results["silver.opportunities"]
    assert (missing.status, missing.reasons) == ("inconsistent", ("table_missing_from_replica",))
    assert (missing.source_version, missing.replica_version, missing.missing_files) == (1, None, 0)
    assert (missing.lag_versions, missing.lag_minutes) == (2, minutes_before_now(0))  # since its first commit
    assert fake.metrics.values(m.REPLICA_MISSING_FILES, "silver.opportunities") == [0]
    assert fake.metrics.values(m.REPLICA_CONSISTENT) == [0]
    assert any(line["reason"] == "table_missing_from_replica" for line in log_lines(capsys))


def test_a_missing_commit_in_the_replica_is_a_gap_checked_below_it(fake: FakeAws) -> None:
    fake.replica.delete(SILVER.replica, "orders/_delta_log/00000000000000000004.json")

    orders = verify(fake)["silver.orders"]

    assert (orders.consistent, orders.reasons) == (False, ("commit_missing_in_replica",))
    assert (orders.replica_version, orders.checked_version, orders.missing_commits) == (LATEST, 3, 1)
    assert (orders.missing_files, orders.absent_files, orders.files_checked) == (1, 0, 2)
    assert orders.lag_versions == 0  # the newest commit arrived


def test_a_replica_with_no_readable_version_counts_every_missing_commit(fake: FakeAws, capsys) -> None:
    for version in (0, 1, 2, 3):
        fake.replica.delete(SILVER.replica, f"orders/_delta_log/{version:020d}.json")
    fake.replica.delete(SILVER.replica, "orders/_delta_log/00000000000000000003.checkpoint.parquet")

    orders = verify(fake)["silver.orders"]

    assert (orders.reasons, orders.checked_version, orders.replica_version) == (("commit_missing_in_replica",), None, 5)
    assert (orders.missing_commits, orders.missing_files, orders.files_checked) == (4, 4, 0)
    logged = [line["replica"] for line in log_lines(capsys) if line["reason"] == "commit_missing_in_replica"]
    assert logged[0] == f"s3://{SILVER.replica}/orders/_delta_log/00000000000000000000.json"


def test_an_unparseable_replica_log_is_inconsistent(fake: FakeAws, capsys) -> None:
    fake.replica.put(GOLD.replica, f"{WIN_RATES}/_delta_log/00000000000000000000.json", b"garbage\n")

    results = verify(fake)

    win_rates = results["gold.blue/win_rates"]
    assert (win_rates.consistent, win_rates.reasons, win_rates.errors) == (False, ("replica_log_unreadable",), ())
    assert fake.metrics.values(m.REPLICA_CONSISTENT) == [0]
    [line] = [line for line in log_lines(capsys) if line["reason"] == "replica_log_unreadable"]
    assert (line["level"], line["error_type"], line["error_code"]) == ("ERROR", "DeltaLogError", None)


# --- failed AWS calls -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "code"), [(THROTTLED, "SlowDown"), (UNANSWERED, None)])
def test_an_unreadable_source_log_fails_the_run_after_publishing_the_rest(fake: FakeAws, capsys, error, code) -> None:
    fake.source.errors[f"get_object:{WIN_RATES}/_delta_log/_last_checkpoint"] = error

    results = verify_failing(fake, r"could not check table\(s\) gold\.blue/win_rates \(the rest were published\)")

    win_rates = results["gold.blue/win_rates"]
    assert win_rates.errors == (f"source: {error.error_type}: {error}",)
    assert (win_rates.status, win_rates.source_version, win_rates.lag_versions) == ("consistent", None, None)
    assert fake.metrics.values(m.REPLICA_CONSISTENT, "gold.blue/win_rates") == [1]  # the replica itself was checked
    assert fake.metrics.values(m.REPLICA_LAG_VERSIONS, "gold.blue/win_rates") == []  # the lag is unknown
    assert fake.metrics.values(m.REPLICA_LAG_VERSIONS, "silver.orders") == [0]
    assert fake.metrics.values(m.REPLICA_CONSISTENT) == [1]  # every replica that was checked is consistent
    [line] = [line for line in log_lines(capsys) if line["reason"] == "source_check_failed"]
    assert (line["table"], line["location"]) == ("gold.blue/win_rates", f"s3://{GOLD.source}/{WIN_RATES}/")
    assert (line["error_type"], line["error_code"], line["error"]) == (error.error_type, code, str(error))


@pytest.mark.parametrize(
    "failing",
    [
        "paginate:orders/_delta_log/",  # the replica's log listing
        "get_object:orders/_delta_log/00000000000000000004.json",  # a commit of the snapshot
        "paginate:orders/",  # the table's objects
    ],
)
def test_a_replica_table_that_cannot_be_read_is_unknown_not_consistent(fake: FakeAws, capsys, failing) -> None:
    fake.replica.errors[failing] = THROTTLED

    results = verify_failing(fake, r"table\(s\) silver\.orders ")

    orders = results["silver.orders"]
    assert (orders.status, orders.consistent, orders.lag_versions) == ("error", None, None)
    assert orders.errors == (f"replica: ClientError: {THROTTLED}",)
    assert fake.metrics.values(m.REPLICA_CONSISTENT, "silver.orders") == []
    assert fake.metrics.values(m.REPLICA_MISSING_FILES, "silver.orders") == []
    assert fake.metrics.values(m.REPLICA_CONSISTENT, "silver.customers") == [1]
    assert fake.metrics.values(m.REPLICA_CONSISTENT) == []  # unknown is not "consistent"
    [line] = [line for line in log_lines(capsys) if line["reason"] == "replica_check_failed"]
    assert (line["table"], line["error_code"]) == ("silver.orders", "SlowDown")


def test_an_inconsistency_is_published_even_when_another_table_failed(fake: FakeAws) -> None:
    fake.replica.errors["paginate:orders/_delta_log/"] = UNANSWERED
    fake.replica.delete(SILVER.replica, "customers/region=eu west/part-0.parquet")

    results = verify_failing(fake, "silver.orders")

    assert results["silver.customers"].consistent is False
    assert fake.metrics.values(m.REPLICA_CONSISTENT) == [0]


def test_a_source_log_that_cannot_be_read_for_the_lag_leaves_the_lag_unknown(fake: FakeAws, capsys) -> None:
    fake.replica = FakeObjectStore(page_size=2)
    write_lake(fake.replica, side="replica", orders_upto=3)
    fake.source.errors["get_object:orders/_delta_log/00000000000000000004.json"] = THROTTLED  # the oldest lacking

    results = verify_failing(fake, r"table\(s\) silver\.orders ")

    orders = results["silver.orders"]
    assert (orders.status, orders.source_version, orders.replica_version) == ("consistent", LATEST, 3)
    assert (orders.lag_versions, orders.lag_minutes) == (None, None)
    assert fake.metrics.values(m.REPLICA_CONSISTENT, "silver.orders") == [1]
    assert fake.metrics.values(m.REPLICA_LAG_MINUTES, "silver.orders") == []
    [line] = [line for line in log_lines(capsys) if line["reason"] == "source_check_failed"]
    assert line["message"] == "cannot read the source log for the replica lag"


@pytest.mark.parametrize(("error", "code"), [(THROTTLED, "SlowDown"), (UNANSWERED, None)])
def test_an_unlistable_replica_bucket_fails_its_layers_and_publishes_no_environment_figure(
    fake: FakeAws, capsys, error, code
) -> None:
    fake.replica.errors["paginate:"] = error  # the listing of a bucket's root: every layer

    results = verify_failing(fake, r"could not check layer\(s\) silver, gold \(the rest were published\)")

    assert results == {}
    assert fake.metrics.published == []
    lines = [line for line in log_lines(capsys) if line["reason"] == "layer_unlistable"]
    assert [(line["layer"], line["error_code"]) for line in lines] == [("silver", code), ("gold", code)]
    assert lines[0]["replica"] == f"s3://{SILVER.replica}/"


def test_a_missing_replica_bucket_fails_only_its_layer(fake: FakeAws, capsys) -> None:
    pairs = {**PAIRS, "bronze": BucketPair(source=SILVER.source, replica="no-such-replica")}

    results = verify_failing(fake, r"could not check layer\(s\) bronze", pairs=pairs)

    assert results["silver.orders"].consistent
    assert fake.metrics.values(m.REPLICA_CONSISTENT, "silver.orders") == [1]
    assert fake.metrics.values(m.REPLICA_CONSISTENT) == []  # unknown is not "consistent"
    [line] = [line for line in log_lines(capsys) if line["reason"] == "layer_unlistable"]
    assert (line["error_type"], line["error_code"]) == ("NoSuchBucket", "NoSuchBucket")


def test_a_failed_publish_fails_the_run(fake: FakeAws) -> None:
    fake.metrics.errors["publish"] = THROTTLED

    with pytest.raises(RepositoryError) as raised:
        verify(fake)

    assert raised.value is THROTTLED and fake.metrics.published == []


def test_now_must_be_timezone_aware(fake: FakeAws) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(fake, now=NOW.replace(tzinfo=None))
    assert fake.source.calls == []


# --- the boto3 repositories -------------------------------------------------------------------------------


def test_the_aws_repositories_create_no_client_until_called() -> None:
    """Wiring the boto3 repositories (what the handler does) calls no AWS API: the fixture would fail it."""
    repositories = aws_module.aws_repositories(REPLICA_REGION)

    assert repositories.source.region is None  # type: ignore[attr-defined]
    assert repositories.replica.region == REPLICA_REGION  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="AWS client was requested"):
        list(repositories.replica.get_paginator("list_objects_v2").paginate(Bucket=SILVER.replica))


class StubS3:
    """What ``client("s3", region)`` returns in the conversion test: every call raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_object(self, **params: Any) -> Any:
        raise self.error

    def list_objects_v2(self, **params: Any) -> Any:
        raise self.error


def client_error(code: str, operation: str = "GetObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "it failed"}}, operation)


@pytest.mark.parametrize(
    ("error", "kind", "code", "throttled"),
    [
        (client_error("SlowDown"), RepositoryError, "SlowDown", True),
        (client_error("AccessDenied"), RepositoryError, "AccessDenied", False),
        (client_error("NoSuchKey"), ObjectMissingError, "NoSuchKey", False),
        (EndpointConnectionError(endpoint_url="https://s3.eu-central-1.amazonaws.com"), RepositoryError, "", False),
    ],
)
def test_botocore_errors_become_repository_errors_naming_the_botocore_class(
    monkeypatch: pytest.MonkeyPatch, error: Exception, kind: type, code: str, throttled: bool
) -> None:
    calls: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        aws_module, "client", lambda service, region=None: calls.append((service, region)) or StubS3(error)
    )
    store = aws_module.S3ObjectStore(REPLICA_REGION)

    with pytest.raises(RepositoryError) as raised:
        store.get_object(Bucket=SILVER.replica, Key="orders/_delta_log/_last_checkpoint")

    assert type(raised.value) is kind and raised.value.__cause__ is error
    assert (raised.value.code, raised.value.throttled) == (code, throttled)
    assert (raised.value.error_type, str(raised.value)) == (type(error).__name__, str(error))
    assert calls == [("s3", REPLICA_REGION)]


def test_a_missing_key_through_the_aws_store_is_what_delta_log_treats_as_missing(monkeypatch) -> None:
    monkeypatch.setattr(aws_module, "client", lambda service, region=None: StubS3(client_error("NoSuchKey")))

    assert delta_log.last_checkpoint_version(aws_module.S3ObjectStore(), SILVER.source, "orders") is None

    monkeypatch.setattr(aws_module, "client", lambda service, region=None: StubS3(client_error("SlowDown")))
    with pytest.raises(RepositoryError, match="SlowDown"):
        delta_log.last_checkpoint_version(aws_module.S3ObjectStore(), SILVER.source, "orders")
