"""An S3 lake, for real: bronze -> silver -> gold with every layer in its own bucket on moto's S3 server.

Spark reaches the server through s3a (``s3://`` mapped to S3A, as EMR maps it to EMRFS) and writes with the
default engine, delta-spark, the way EMR does. The buckets are laid out as the Storage stack lays them out:
landing files under ``<source>/<entity>/dt=<day>/``, one table per prefix, gold under its slot, the
quarantine and the operational tables beside the data. Then everything that reads the lake on AWS reads it
from the same server: the Lambdas' Delta log reader, the freshness monitor, the DR replica verifier (after
the replica buckets receive a copy, as replication would make it) and `lakehouse status --env`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable
from rich.console import Console

from job_assets.context import LakeLocations, RunContext
from job_assets.contracts import ALL_TABLES, GOLD_TABLES, SILVER_TABLES, contract
from job_assets.jobs.pipeline import run_pipeline
from lakehouse.generator import generate
from platform_model import aws_names
from tests.aws_server import REGION, fail_fast, patched_environment

from .lake_checks import gold_matches_duckdb, reconcile

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "lambdas") not in sys.path:  # the Lambdas' import root, as their code asset has it
    sys.path.insert(0, str(REPO / "lambdas"))

pytestmark = pytest.mark.spark
ENV = "dev"
BUCKETS = {layer: f"lakehouse-s3test-{layer}" for layer in ("landing", "bronze", "silver", "gold")}
REPLICA_REGION = "eu-central-1"
REPLICAS = {layer: f"{BUCKETS[layer]}-replica" for layer in ("silver", "gold")}
SLOT = "blue"


def s3_locations() -> LakeLocations:
    return LakeLocations(
        landing=f"s3://{BUCKETS['landing']}/",
        bronze=f"s3://{BUCKETS['bronze']}/",
        silver=f"s3://{BUCKETS['silver']}/",
        gold=f"s3://{BUCKETS['gold']}/{aws_names.gold_slot_prefix(SLOT)}",
    )


def download(s3, bucket: str, target: Path, prefix: str = "") -> int:
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            path = target / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            count += 1
    return count


@pytest.fixture(scope="module")
def s3_lake(aws_server, s3_spark, default_engine, tmp_path_factory):
    """Landing files uploaded to the landing bucket, then the pipeline run on the S3 lake."""
    base = tmp_path_factory.mktemp("s3lake")
    manifest = generate(base / "generated", 3_000, seed=21, bad_ratio=0.02)
    with patched_environment(aws_server.environment):
        s3 = aws_server.client("s3")
        for bucket in BUCKETS.values():
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        landing = base / "generated" / "landing"
        for path in sorted(p for p in landing.rglob("*") if p.is_file()):
            s3.put_object(Bucket=BUCKETS["landing"], Key=path.relative_to(landing).as_posix(), Body=path.read_bytes())
        ctx = RunContext(s3_spark, default_engine, s3_locations(), "s3b1", env=ENV)
        results = run_pipeline(ctx)
        # a byte-for-byte copy of the lake, to check it with the same helpers as a local lake
        mirror = base / "mirror"
        for layer in ("landing", "bronze", "silver"):
            download(s3, BUCKETS[layer], mirror / layer)
        download(s3, BUCKETS["gold"], mirror / "gold")
        yield {"ctx": ctx, "results": results, "manifest": manifest, "mirror": mirror, "s3": s3, "server": aws_server}


def test_the_pipeline_runs_on_s3_and_every_record_is_accounted_for(s3_lake):
    results = s3_lake["results"]
    assert [(r.job, r.status, r.engine) for r in results] == [
        ("bronze", "succeeded", "delta-spark"),
        ("silver", "succeeded", "delta-spark"),
        ("gold", "succeeded", "delta-spark"),
    ]
    for r in results:
        for t in r.tables:
            assert t.balanced(), f"{r.job} {t.table}: {t}"
    reconcile(s3_lake["mirror"], s3_lake["manifest"])
    gold_matches_duckdb(s3_lake["mirror"])


def test_the_buckets_are_laid_out_as_the_storage_stack_lays_them_out(s3_lake):
    s3 = s3_lake["s3"]

    def prefixes(bucket: str, prefix: str = "") -> set[str]:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        return {p["Prefix"][len(prefix) :].rstrip("/") for p in listing.get("CommonPrefixes", [])}

    def names(layer: str) -> set[str]:
        return {c.name.split(".", 1)[1] for c in ALL_TABLES if c.layer == layer}

    bronze, silver, gold = names("bronze"), names("silver"), names("gold")
    assert {"quarantine", "ingestion_log", "run_summary", "dq_results"} <= bronze
    data = {"crm_accounts", "quarantine", "ingestion_log", "run_summary", "dq_results"}
    assert data <= prefixes(BUCKETS["bronze"]) <= bronze  # (profiles: written only when a profile is taken)
    assert {"orders", "accounts_history", "quarantine", "run_summary"} <= prefixes(BUCKETS["silver"]) <= silver
    assert prefixes(BUCKETS["gold"]) == {SLOT}  # gold only under its slot
    assert {"revenue_attribution", "profiles", "run_summary"} <= prefixes(BUCKETS["gold"], f"{SLOT}/") <= gold
    assert {"crm", "snowflake", "reference"} <= prefixes(BUCKETS["landing"])


def test_delta_rs_reads_the_s3_tables_delta_spark_wrote(s3_lake):
    """The light reader (CLI, notebooks, Lambdas' pyarrow layer) on the same server: same versions, same rows."""
    ctx, options = s3_lake["ctx"], s3_lake["server"].storage_options
    for name in ("silver.orders", "gold.revenue_attribution", "bronze.quarantine"):
        uri = ctx.uri(name)
        table = DeltaTable(uri, storage_options=options)
        assert table.version() == ctx.engine.version(uri), name
        # rows per the log's file statistics (reading the data runs in the subprocess test below: delta-rs holds
        # the GIL while it waits for S3, and moto's server is a thread of this process)
        stats = table.get_add_actions(flatten=True).column("num_records").to_pylist()
        assert sum(stats) == ctx.engine.read(uri).count(), name
        writer = 4 if contract(name).change_feed else 2  # ADR 0005; ADR 0011 for the change data feed
        assert (table.protocol().min_reader_version, table.protocol().min_writer_version) == (1, writer), name


def test_a_process_that_read_an_s3_table_exits_cleanly(s3_lake):
    """The CLI's reads of an S3 table leave nothing running at exit. Read through a pyarrow dataset over a Python
    file system (``DeltaTable.to_pyarrow_table()``), 7 exits in 10 aborted here with SIGABRT ("terminate called
    without an active exception") after printing their output: `lakehouse status --env` failed that way."""
    uri = s3_lake["ctx"].uri("silver.orders")
    rows = s3_lake["ctx"].engine.read(uri).count()
    script = (
        "import json, sys; from deltalake import DeltaTable; from job_assets.delta_read import arrow_table; "
        "t = DeltaTable(sys.argv[1], storage_options=json.loads(sys.argv[2])); print(arrow_table(t).num_rows)"
    )
    options = json.dumps(s3_lake["server"].storage_options)
    for attempt in range(6):
        done = subprocess.run(
            [sys.executable, "-c", script, uri, options],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
        assert done.returncode == 0, f"exit {attempt + 1} of 6: {done.returncode} {done.stderr[-300:]}"
        assert int(done.stdout) == rows  # every row, read from the Parquet files on S3


def test_the_lambdas_read_the_lake_from_the_same_server(s3_lake):
    from freshness_monitor.freshness import OK, check_freshness
    from ops_common import delta_log
    from ops_common.aws import reset_clients
    from replica_verifier.verifier import BucketPair, verify_replicas

    ctx, s3, server = s3_lake["ctx"], s3_lake["s3"], s3_lake["server"]
    with patched_environment(server.environment):
        reset_clients()
        try:
            # the Delta log reader: every table's newest version and live files, as delta-spark sees them
            for c in (*SILVER_TABLES, *GOLD_TABLES):
                bucket, _, prefix = ctx.uri(c.name).removeprefix("s3://").partition("/")
                commit = delta_log.latest_commit(s3, bucket, prefix)
                assert commit is not None and commit.version == ctx.engine.version(ctx.uri(c.name)), c.name
                live = delta_log.snapshot(s3, bucket, prefix)
                assert sorted(live.files) == sorted(
                    f"{prefix}/{f.split(prefix + '/', 1)[1]}" for f in ctx.engine.read(ctx.uri(c.name)).inputFiles()
                ), c.name

            # the freshness monitor: gold from the active slot the SSM parameter names
            ssm = server.client("ssm")
            parameter = aws_names.slots_parameter_name(ENV)
            ssm.put_parameter(
                Name=parameter,
                Type="String",
                Overwrite=True,
                Value=json.dumps({"active": SLOT, "slots": {"blue": "", "green": ""}, "rollback": None}),
            )
            now = dt.datetime.now(dt.UTC)
            results = check_freshness(
                environment=ENV,
                layer_buckets={"silver": BUCKETS["silver"], "gold": BUCKETS["gold"]},
                slots_parameter=parameter,
                now=now,
            )
            assert results and all(r.status == OK for r in results), [r for r in results if r.status != OK]
            assert all(0 <= r.freshness_minutes < 30 for r in results)

            # the replica verifier: a copy in the DR region (what replication makes) is consistent
            replica = server.client("s3", REPLICA_REGION)
            for layer, target in REPLICAS.items():
                replica.create_bucket(Bucket=target, CreateBucketConfiguration={"LocationConstraint": REPLICA_REGION})
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKETS[layer]):
                    for item in page.get("Contents", []):
                        body = s3.get_object(Bucket=BUCKETS[layer], Key=item["Key"])["Body"].read()
                        replica.put_object(Bucket=target, Key=item["Key"], Body=body)
            pairs = {layer: BucketPair(source=BUCKETS[layer], replica=REPLICAS[layer]) for layer in REPLICAS}
            checks = verify_replicas(environment=ENV, replica_region=REPLICA_REGION, bucket_pairs=pairs, now=now)
            assert checks and all(c.consistent for c in checks), [c.as_dict() for c in checks if not c.consistent]
            # the verifier names a table by its prefix in the bucket: gold's carry their slot
            assert {c.table for c in checks} >= {"silver.orders", f"gold.{SLOT}/revenue_attribution"}
        finally:
            reset_clients()


def test_lakehouse_status_reads_a_deployed_environment(s3_lake, tmp_path):
    """`lakehouse status --env dev` finds the buckets in the deployment parameter and gold in the active slot.

    As an operator runs it: its own process (delta-rs holds the GIL while it waits for S3, and moto's server
    is a Python thread of this process, so in-process calls would wait on each other until they time out).
    """
    server = s3_lake["server"]
    ctx = s3_lake["ctx"]
    arguments = []
    for layer in ("landing", "bronze", "silver"):
        arguments += [f"--{layer}-uri", f"s3://{BUCKETS[layer]}/"]
    document = {
        "version": "0123456789abcdef",
        "application_id": "app",
        "artifacts_uri": "s3://artifacts/jobs/",
        "gold_uri": f"s3://{BUCKETS['gold']}/",
        "job_role_arns": {},
        "arguments": [*arguments, "--env", ENV, "--metrics", "cloudwatch", "--lineage", "none"],
        "spark_submit_parameters": "--conf spark.submit.pyFiles=s3://artifacts/jobs/{version}/job_assets.zip",
    }

    def lakehouse(*argv: str) -> subprocess.CompletedProcess:
        env = {**os.environ, **server.environment, "COLUMNS": "200"}
        command = [sys.executable, "-m", "lakehouse.cli", *argv, "--env", ENV, "--region", REGION]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False, cwd=REPO)

    with patched_environment(server.environment):
        ssm = server.client("ssm")
        ssm.put_parameter(
            Name=aws_names.deployment_parameter_name(ENV), Type="String", Overwrite=True, Value=json.dumps(document)
        )
        ssm.put_parameter(
            Name=aws_names.slots_parameter_name(ENV),
            Type="String",
            Overwrite=True,
            Value=json.dumps({"active": SLOT, "slots": {"blue": "", "green": ""}, "rollback": None}),
        )
        status = lakehouse("status")
        assert status.returncode == 0, status.stderr
        assert f"Environment {ENV} (gold: {SLOT} slot)" in status.stdout
        for name in ("bronze.crm_accounts", "silver.orders", "gold.revenue_attribution"):
            line = next(x for x in status.stdout.splitlines() if name in x)
            assert f" {ctx.engine.version(ctx.uri(name))} " in line, line
        history = lakehouse("history", "silver.orders")
        assert history.returncode == 0 and "MERGE" in history.stdout, history.stderr
        ssm.delete_parameter(Name=aws_names.deployment_parameter_name(ENV))
        missing = lakehouse("status")
        assert missing.returncode == 2
        assert aws_names.deployment_parameter_name(ENV) in missing.stderr and "not found" in missing.stderr


def test_an_object_store_that_does_not_answer_is_named_and_nothing_is_written(aws_server, s3_spark, capsys):
    """Bad input: the landing bucket's endpoint refuses connections. The EMR entrypoint exits 1 with one line
    naming the URI, within seconds (retries cut as on EMR they would not be), and writes nothing."""
    import socket

    from job_assets.entrypoints.main import main

    # a port bound and never listened on, held for the whole test: connections to it are refused, and no other
    # process (a parallel test worker) can take it meanwhile
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
        dead, out = "lakehouse-s3test-unreachable", "lakehouse-s3test-untouched"
        hadoop = s3_spark._jsc.hadoopConfiguration()
        hadoop.set(f"fs.s3a.bucket.{dead}.endpoint", f"http://127.0.0.1:{closed}")
        for key, value in fail_fast(dead).items():
            hadoop.set(key, value)
        with patched_environment(aws_server.environment):
            s3 = aws_server.client("s3")
            s3.create_bucket(Bucket=out, CreateBucketConfiguration={"LocationConstraint": REGION})
            argv = ["--landing-uri", f"s3://{dead}/", "--batch-id", "dead1", "--env", ENV, "--lineage", "none"]
            for layer in ("bronze", "silver", "gold"):
                argv += [f"--{layer}-uri", f"s3://{out}/{layer}/"]
            capsys.readouterr()
            assert main("bronze", argv) == 1
            summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
            assert summary["status"] == "failed"
            assert f"cannot reach the object store for s3://{dead}" in summary["error"], summary
            assert "connection refused" in summary["error"]
            assert s3.list_objects_v2(Bucket=out).get("KeyCount", 0) == 0


def test_rebuild_from_bronze_on_the_s3_lake_installs_a_lost_gold_table(s3_lake, default_engine, monkeypatch):
    """`lakehouse rebuild --layers gold` on the S3 lake: gold.win_rates is deleted from its bucket, the rebuild
    stages gold under ``_rebuild/`` in the same bucket, proves the other gold tables equal, installs the lost
    one with the rows it held, and leaves no staging object behind. (Last in the module: it writes.)"""
    import boto3

    from lakehouse.recovery import rebuild as rebuild_module
    from lakehouse.recovery.rebuild import STAGING, Rebuild, parse_request, run_rebuild

    s3, bucket = s3_lake["s3"], BUCKETS["gold"]
    prefix = f"{aws_names.gold_slot_prefix(SLOT).strip('/')}/win_rates/"
    uri = s3_locations().table_uri("gold.win_rates")
    before = sorted(map(repr, default_engine.read(uri).collect()))
    guarded = []
    monkeypatch.setattr(rebuild_module, "check_no_aws_writer", lambda env, **kw: guarded.append(env))
    with patched_environment(s3_lake["server"].environment):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        job = Rebuild(
            s3_locations(),
            lambda: default_engine,
            parse_request("bronze", "gold"),
            env=ENV,
            project="lakehouse",
            session=boto3.session.Session(region_name=REGION),
        )
        written = []
        assert run_rebuild(job, confirm=lambda q: written.append(q) or True, console=Console(record=True)) == 0
        assert guarded == [ENV, ENV] and "gold.win_rates" in written[0]  # before the build, again before the write
        assert sorted(map(repr, default_engine.read(uri).collect())) == before
        keys = [
            i["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for i in p.get("Contents", [])
        ]
        assert not [k for k in keys if f"/{STAGING}/" in k or k.startswith(STAGING)]


def test_landing_skip_and_retry_on_the_s3_lake(s3_lake, default_engine, monkeypatch):
    """`lakehouse landing skip|retry --env`: a poison object in the landing bucket is recorded skipped in the
    S3 ingestion log (after the no-running-writer check), listed by `pending`, brought back by `retry`; the
    object stays where it was delivered. Bad input is refused before anything is written.

    The ingestion log is read here through the engine, not delta-rs: delta-rs holds the GIL while it waits for
    S3 and moto's server is a thread of this process (see the subprocess test above); the delta-rs read of an
    S3 lake is `lakehouse status --env`'s, tested in a process of its own."""
    import boto3

    from lakehouse.landing import skip as skip_module
    from lakehouse.landing.skip import LandingLake, SkipError, pending, retry, skip
    from lakehouse.local.status import s3_storage_options
    from lakehouse.recovery import engines, writer_guard

    guarded = []
    monkeypatch.setattr(writer_guard, "check_no_aws_writer", lambda env, **kw: guarded.append(env))
    monkeypatch.setattr(engines, "start_engine", lambda name: default_engine)
    log = s3_locations().table_uri("bronze.ingestion_log")
    rel, body = "crm/accounts/dt=2026-12-05/poison.jsonl.gz", b"\x1f\x8b\x08 cut short"

    def read_log(lake) -> dict[str, list[dict]]:
        by_file: dict[str, list[dict]] = {}
        for r in default_engine.read(lake.locations.table_uri("bronze.ingestion_log")).collect():
            by_file.setdefault(r["source_file"], []).append(r.asDict())
        return by_file

    monkeypatch.setattr(skip_module, "read_log", read_log)

    def statuses(file: str) -> list[str]:
        rows = default_engine.read(log).filter(f"source_file = '{file}'").orderBy("logged_ts").collect()
        return [r["status"] for r in rows]

    with patched_environment(s3_lake["server"].environment):
        s3 = s3_lake["s3"]
        s3.put_object(Bucket=BUCKETS["landing"], Key=rel, Body=body)
        session = boto3.session.Session(region_name=REGION)
        lake = LandingLake(
            s3_locations(),
            f"--env {ENV}",
            env=ENV,
            project="lakehouse",
            session=session,
            storage_options=s3_storage_options(REGION),
        )
        console = Console(record=True, width=200)
        assert skip(lake, rel, "INC-7 truncated gzip", console=console) == 0
        assert guarded == [ENV] and statuses(rel) == ["skipped"]
        assert pending(lake, console=console) == 0 and "INC-7 truncated gzip" in console.export_text()
        with pytest.raises(SkipError, match="already skipped"):
            skip(lake, rel, "again", console=console)
        with pytest.raises(SkipError, match="no such landing object"):
            skip(lake, "crm/accounts/dt=2026-12-05/never.jsonl", "typo", console=console)
        ingested = default_engine.read(log).filter("status = 'ingested'").first()["source_file"]
        with pytest.raises(SkipError, match="already ingested"):
            skip(lake, ingested, "too late", console=console)
        assert retry(lake, rel, console=console) == 0
        assert statuses(rel) == ["skipped", "retried"] and guarded == [ENV, ENV]
        assert s3.get_object(Bucket=BUCKETS["landing"], Key=rel)["Body"].read() == body  # never moved


def test_a_large_landing_file_is_streamed_from_s3_with_the_rows_of_the_whole_file(s3_lake, s3_spark):
    """Bronze's streamed path (files over LARGE_FILE_BYTES: Spark's text source through s3a, the files' split
    starts from ``_metadata``) reads the landing bucket as the whole-file path does."""
    from job_assets.contracts.landing import ORDER_ITEMS
    from job_assets.lake_fs import list_files
    from job_assets.transforms.bronze import parse_large, parse_whole

    root = f"s3://{BUCKETS['landing']}/{ORDER_ITEMS.source}/{ORDER_ITEMS.entity}/"
    with patched_environment(s3_lake["server"].environment):
        files = [(f.uri, f"{ORDER_ITEMS.source}/{ORDER_ITEMS.entity}/{f.rel}") for f in list_files(s3_spark, root)]
        assert len(files) >= 3 and any(u.endswith(".gz") for u, _ in files)
        whole = sorted(tuple(r) for r in parse_whole(s3_spark, ORDER_ITEMS, files).collect())
        streamed = sorted(tuple(r) for r in parse_large(s3_spark, ORDER_ITEMS, files).collect())
    assert streamed == whole and len(whole) > 1000
