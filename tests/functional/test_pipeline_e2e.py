"""End to end on generated data: exact reconciliation with the generator's manifest, contract schemas,
gold equal to an independent DuckDB computation, idempotent re-runs, an incremental delivery, and a
late-arriving parent released from quarantine. The tests run in file order on one lake."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil

import pytest

from job_assets.context import LakeLocations, RunContext
from job_assets.contracts import BRONZE_TABLES, ERROR_CODES, GOLD_TABLES, SILVER_TABLES, contract
from job_assets.jobs import gold_build
from job_assets.jobs import silver as silver_job
from job_assets.jobs.pipeline import run_pipeline
from lakehouse.generator import generate

from .lake_checks import all_versions, gold_matches_duckdb, held_rdds, reconcile, table, version

pytestmark = pytest.mark.spark
RECORDS = 20_000


@pytest.fixture(scope="module")
def lake(tmp_path_factory, spark, default_engine):
    root = tmp_path_factory.mktemp("lake")
    manifest = generate(root, RECORDS, seed=11, bad_ratio=0.02)
    ctx = RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "b1")
    held_before = held_rdds(spark)
    results = run_pipeline(ctx)
    held = held_rdds(spark) - held_before
    return {"root": root, "ctx": ctx, "manifest": manifest, "results": results, "held_after_run": held}


def test_the_jobs_leave_no_materialized_blocks_behind(lake):
    # every job's checkpointed frames are dropped when it ends, not when a full GC lets Spark's cleaner see them
    assert lake["held_after_run"] == set()


def test_every_record_reconciles_with_the_manifest(lake):
    reconcile(lake["root"], lake["manifest"])


def test_every_landing_record_is_accounted_for(lake):
    root, manifest = lake["root"], lake["manifest"]
    log = [r for r in table(root, "bronze.ingestion_log").to_pylist() if r["status"] in ("ingested", "empty")]
    assert sum(r["records"] for r in log) == sum(f["records"] for f in manifest["files"])
    for r in lake["results"]:
        for t in r.tables:
            assert t.balanced(), f"{r.job} {t.table}: {t}"
    for layer in ("bronze", "silver"):
        for s in table(root, f"{layer}.run_summary").to_pylist():
            assert s["rows_in"] + s["rows_released"] == s["rows_out"] + s["rows_quarantined"] + s["rows_superseded"], s


def test_schemas_equal_contracts(lake):
    from job_assets.contracts.spark_schema import schema_of

    engine = lake["ctx"].engine
    for c in BRONZE_TABLES + SILVER_TABLES + GOLD_TABLES:
        got = engine.spark_schema(lake["ctx"].uri(c.name))
        assert [(f.name, f.dataType) for f in got.fields] == [(f.name, f.dataType) for f in schema_of(c).fields], c.name


def test_tables_are_protocol_1_2_or_1_4_with_the_change_feed(lake):
    """ADR 0005 and 0011: no table features; writer 4 only for the silver tables that keep a change data feed."""
    for name in ("bronze.crm_accounts", "silver.orders", "gold.revenue_attribution", "silver.quarantine"):
        p = lake["ctx"].engine.protocol(lake["ctx"].uri(name))
        writer = 4 if contract(name).change_feed else 2
        assert (p["min_reader_version"], p["min_writer_version"]) == (1, writer) and not p["writer_features"], name
        assert not p["reader_features"], name


def test_gold_equals_independent_duckdb_computation(lake):
    gold_matches_duckdb(lake["root"])


def test_quarantine_rows_name_reason_rule_file_and_batch(lake):
    allowed = set(ERROR_CODES)
    for layer in ("bronze", "silver"):
        for r in table(lake["root"], f"{layer}.quarantine").to_pylist():
            assert r["_error"] in allowed and r["_rule"] and r["_source_file"] and r["_batch_id"] == "b1"
            assert r["_payload"]


def test_run_metrics_published_on_aws_equal_the_run_summary(lake, monkeypatch, caplog):
    """The figures the jobs send to CloudWatch on EMR (moto here) are the ones the run summary holds."""
    import boto3
    from moto import mock_aws

    from job_assets.contracts import metrics as catalog
    from job_assets.run_metrics import publish

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    silver = next(r for r in lake["results"] if r.job == "silver")
    summary = [r for r in table(lake["root"], "silver.run_summary").to_pylist() if r["batch_id"] == "b1"]
    by_table = {r["table_name"]: r for r in summary if r["table_name"] != "*"}
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
        assert publish(silver, "dev", client=cloudwatch)
        listed = cloudwatch.list_metrics(Namespace="Lakehouse/dev")["Metrics"]
        assert {m["MetricName"] for m in listed} == {
            catalog.metric(k).name
            for k in ("records_in", "records_out", "records_quarantined", "dq_score", "job_duration")
        } | {catalog.metric("quarantined_by_reason").name} | {m.name for m in catalog.SPARK_METRICS}

        def value(key: str, **dims: str) -> float:
            spec = catalog.metric(key)
            stats = cloudwatch.get_metric_statistics(
                Namespace="Lakehouse/dev",
                MetricName=spec.name,
                Dimensions=[{"Name": n, "Value": dims[n]} for n in spec.dimensions],
                StartTime=silver_end - dt.timedelta(minutes=5),
                EndTime=silver_end + dt.timedelta(minutes=5),
                Period=600,
                Statistics=["Sum"],
            )["Datapoints"]
            return sum(point["Sum"] for point in stats)

        silver_end = dt.datetime.fromtimestamp(silver.ended, dt.UTC)
        job = {"Environment": "dev", "Job": "silver"}
        for name, row in by_table.items():
            assert value("records_in", **job, Table=name) == row["rows_in"], name
            assert value("records_out", **job, Table=name) == row["rows_out"], name
            assert value("records_quarantined", **job, Table=name) == row["rows_quarantined"], name
        reasons = {m["Dimensions"][2]["Value"] for m in listed if m["MetricName"] == "QuarantinedByReason"}
        assert reasons and reasons <= set(ERROR_CODES)
        total = sum(value("quarantined_by_reason", **job, Reason=reason) for reason in reasons)
        assert total == sum(r["rows_quarantined"] for r in by_table.values())
        # what the run cost Spark: as the pipeline driver collected it (job_assets/spark_metrics.py)
        assert silver.spark is not None and silver.spark.shuffle_write_bytes > 0
        assert value("spark_shuffle_write", **job) == silver.spark.shuffle_write_bytes
        assert value("spark_executor_run_time", **job) == silver.spark.executor_run_time_s

        class Refusing:
            def put_metric_data(self, **_):
                raise PermissionError("AccessDenied: cloudwatch:PutMetricData")

        assert publish(silver, "dev", client=Refusing()) is False  # logged, never raised
        assert "run metrics not published to Lakehouse/dev" in caplog.text


def test_report_shows_every_run_and_the_quarantine_of_the_lake(lake, tmp_path):
    from lakehouse.local.report import load, outline, write_report

    root = lake["root"]
    path = write_report(root, tmp_path / "report.html")
    page = outline(path.read_text(encoding="utf-8"))
    summaries = [r for layer in ("bronze", "silver", "gold") for r in table(root, f"{layer}.run_summary").to_pylist()]
    runs = [r for r in summaries if r["table_name"] == "*"]
    data = load(root)
    assert len(data.runs) == len(runs) >= 3
    succeeded_layer_runs = sum(1 for r in runs if r["status"] == "succeeded" and r["job"] != "maintenance")
    assert page.marks["records-per-layer"] == page.marks["job-durations"] == succeeded_layer_runs
    held_or_quarantined = sum(
        1
        for layer in ("bronze", "silver")
        for r in table(root, f"{layer}.quarantine").to_pylist()
        if r["_status"] != "released"
    )
    assert sum(data.quarantine.values()) == held_or_quarantined > 0
    assert page.marks["quarantine-by-reason"] == len(data.quarantine)
    slo_tables = [c for c in (*SILVER_TABLES, *GOLD_TABLES) if c.freshness_slo_minutes is not None]
    assert page.marks["freshness"] == len(slo_tables)
    assert page.external == [] and page.scripts == 0


@pytest.mark.slow
def test_report_charts_are_drawn_in_headless_chromium(lake, tmp_path):
    """Chromium (Debian's, `make test-slow` installs it) lays out every chart with every mark visible."""
    from lakehouse.local.report import write_report
    from tests.browser import dump_dom, screenshot

    page = write_report(lake["root"], tmp_path / "report.html").read_text(encoding="utf-8")
    probe = (
        "<script>addEventListener('load',()=>{for(const s of document.querySelectorAll('svg.chart')){"
        "const b=s.getBoundingClientRect();const marks=[...s.querySelectorAll('.mark')];"
        "s.dataset.width=Math.round(b.width);s.dataset.marks=marks.length;"
        "s.dataset.visible=marks.filter(m=>{const r=m.getBoundingClientRect();return r.width>0&&r.height>0}).length;}"
        "document.body.dataset.probed='yes'});</script>"
    )
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = dump_dom(probed, tmp_path, window="1000,3000")
    assert 'data-probed="yes"' in dom
    charts = re.findall(
        r'<svg class="chart" id="([^"]+)"[^>]*data-width="(\d+)" data-marks="(\d+)" data-visible="(\d+)"', dom
    )
    assert {c[0] for c in charts} == {
        "records-per-layer",
        "quarantine-by-reason",
        "dq-score-trend",
        "job-durations",
        "freshness",
    }
    for chart_id, width, marks, visible in charts:
        assert int(width) > 300 and int(marks) > 0 and visible == marks, (chart_id, width, marks, visible)
    shot = tmp_path / "report.png"
    screenshot(tmp_path / "report.html", shot, tmp_path, window="1000,3000")
    assert shot.stat().st_size > 10_000


def test_status_and_history_name_our_operation_and_batch(lake, capsys, monkeypatch):
    """`lakehouse status` and `lakehouse history` show each commit as our metadata names it (operation, Txn),
    read through the CLI's reader and normalised as the engines' history() is."""
    from lakehouse.cli import main

    monkeypatch.setenv("COLUMNS", "250")  # rich wraps a table at 80 columns when not on a terminal
    root = str(lake["root"])
    assert main(["history", "silver.orders", "--lake-root", root]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    assert len(rows) == 1 and re.search(r"│ 0 +│ .* │ MERGE +│ txn=silver:b1@1 +│", rows[0]), rows
    assert main(["history", "gold.customer_ltv_cohorts", "--lake-root", root]) == 0  # how gold was built
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    assert re.search(r"│ OVERWRITE +│ build=full \(first build\)(, rows=\d+)?, txn=gold:b1@1 +│", rows[-1]), rows
    assert main(["status", "--lake-root", root]) == 0
    status = capsys.readouterr().out
    assert re.search(r"bronze\.crm_accounts .* APPEND +│", status) and re.search(
        r"gold\.win_rates .* OVERWRITE +│", status
    )


def test_rerunning_a_batch_changes_nothing(lake, spark, default_engine):
    root = lake["root"]
    before = all_versions(root)
    same = RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "b1")
    results = run_pipeline(same)
    assert [r.status for r in results] == ["skipped", "skipped", "skipped"]
    fresh = RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "b2")  # new id, no new files
    assert [r.status for r in run_pipeline(fresh)] == ["skipped", "skipped", "skipped"]
    assert all_versions(root) == before  # no commit anywhere


def test_incremental_run_with_new_and_changed_records(lake, spark, default_engine):
    root = lake["root"]
    manifest = generate(root, 4_000, seed=11, bad_ratio=0.02, increment=1)
    silver_before = {n: table(root, n).num_rows for n in manifest["expected_silver_rows"]}
    by_month = {"gold_by_month": "always"}  # off by default; gold equals DuckDB's computation either way
    results = run_pipeline(RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "b3", flags=by_month))
    assert [r.status for r in results] == ["succeeded", "succeeded", "succeeded"]
    silver = next(r for r in results if r.job == "silver")
    assert sum(t.rows_out for t in silver.tables) > 0
    assert any(table(root, n).num_rows != silver_before[n] for n in silver_before)
    updated = sum(1 for r in table(root, "silver.orders").to_pylist() if r["_batch_id"] == "b3")
    assert updated > 0
    reconcile(root, manifest)
    gold_matches_duckdb(root)
    for name in gold_build.MONTHLY:  # recomputed by month, from the silver versions it read
        build = default_engine.history(lake["ctx"].uri(name), limit=1)[0]["userMetadata"]["build"]
        assert build["mode"] == "months" and build["months"] >= 1 and build["flags"] == gold_build.resolved(by_month)
        assert build["inputs"]["silver.orders"]["version"] == version(root, "silver.orders")
    lake["manifest"] = manifest


def test_late_arriving_parent_releases_held_orphans(lake, spark, default_engine, monkeypatch):
    """The batch that brings the parents releases the orphans; killed after the release but before its run
    summary, its re-run reports what the first run did (the released rows are still counted as released)."""
    root = lake["root"]
    held = [
        json.loads(r["_payload"])
        for r in table(root, "silver.quarantine").to_pylist()
        if r["_table"] == "silver.orders" and r["_status"] == "held"
    ]
    assert held, "the generator plants orphan orders"
    customer_ids = sorted({int(p["CUSTOMER_ID"]) for p in held})
    order_ids = {int(p["ORDER_ID"]) for p in held}
    orders_before = table(root, "silver.orders").num_rows
    folder = root / "landing" / "snowflake" / "customers" / "dt=2099-01-01"
    folder.mkdir(parents=True)
    with open(folder / "late_parents.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["CUSTOMER_ID", "CRM_ACCOUNT_ID", "EMAIL", "COUNTRY", "SEGMENT", "CREATED_AT", "UPDATED_AT"])
        for cid in customer_ids:
            w.writerow([cid, "", f"late{cid}@example.com", "DE", "SMB", "2023-01-01 00:00:00", "2023-01-01 00:00:00"])
    first: list = []

    def killed_before_the_summary(ctx, layer, result, batch):
        first.append(next(t for t in result.tables if t.table == "silver.orders"))
        raise RuntimeError("killed after the release commit, before the run summary")

    ctx = RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "b4")
    with monkeypatch.context() as patched:
        patched.setattr(silver_job, "write_ops", killed_before_the_summary)
        with pytest.raises(RuntimeError, match="killed after the release commit"):
            run_pipeline(ctx)
    results = run_pipeline(ctx)
    silver = next(r for r in results if r.job == "silver")
    stats = next(t for t in silver.tables if t.table == "silver.orders")
    assert stats.rows_released == len(held) and stats.balanced() and stats.rows_superseded >= 0
    assert (stats.rows_in, stats.rows_out, stats.rows_quarantined, stats.rows_superseded, stats.rows_released) == (
        first[0].rows_in,
        first[0].rows_out,
        first[0].rows_quarantined,
        first[0].rows_superseded,
        first[0].rows_released,
    )
    now_in_silver = {r["order_id"] for r in table(root, "silver.orders").to_pylist()}
    assert order_ids <= now_in_silver
    assert table(root, "silver.orders").num_rows == orders_before + len(order_ids)
    q = [
        r
        for r in table(root, "silver.quarantine").to_pylist()
        if r["_table"] == "silver.orders" and r["_error"] == "orphan_reference"
    ]
    released = [r for r in q if int(json.loads(r["_payload"])["ORDER_ID"]) in order_ids]
    assert released and all(r["_status"] == "released" and r["_released_batch_id"] == "b4" for r in released)
    # nothing lost: the quarantine still holds every refused record, the released ones marked as such
    assert version(root, "silver.quarantine") > 0
    gold_matches_duckdb(root)


def test_gold_rebuilds_whole_when_it_cannot_vouch_for_the_months(lake, spark, default_engine, tmp_path):
    """The gold job's choice per monthly table (job_assets/jobs/gold_build.py), on a copy of the lake."""
    root = tmp_path / "lake"
    shutil.copytree(lake["root"], root)
    ctx = RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "probe")
    pinned = {n: gold_build.pin(ctx, n) for n in ("silver.orders", "silver.customers", "silver.opportunities")}
    silver = {n: default_engine.read(ctx.uri(n)) for n in pinned}
    last = default_engine.history(ctx.uri("gold.customer_ltv_cohorts"), limit=1)[0]["userMetadata"]["build"]
    assert (last["mode"], last["reason"]) == ("full", "flag gold_by_month=never")  # b4, with the flag's default

    def plan(name: str, choice: str = "always", pins=pinned, **flags: str) -> gold_build.Plan:
        return gold_build.plan(ctx, name, pins, silver, {"gold_by_month": choice, **flags})

    # nothing changed in silver since the last build: no month to recompute
    assert plan("gold.revenue_attribution").months == plan("gold.customer_ltv_cohorts").months == []
    assert plan("gold.revenue_attribution", "never") == gold_build.Plan(None, "flag gold_by_month=never")
    assert plan("gold.customer_segments") == gold_build.Plan(None, "a global table")
    # another attribution model: the whole table, once
    other = plan("gold.revenue_attribution", attribution_model="first_touch")
    assert other.months is None and "definition or the flags changed" in other.reason
    # silver.orders created again: its versions mean nothing against the recorded ones
    moved = {**pinned, "silver.orders": gold_build.Pinned("another-table", pinned["silver.orders"].version)}
    assert "created again" in plan("gold.customer_ltv_cohorts", pins=moved).reason
    # a restored gold table: its last data commit is no build of ours
    default_engine.restore(ctx.uri("gold.revenue_attribution"), 0)
    assert "not a build with provenance" in plan("gold.revenue_attribution").reason
    # silver.orders' feed switched off since the last build: its changes cannot be read, so the whole table
    orders = ctx.uri("silver.orders")
    spark.sql(f"ALTER TABLE delta.`{orders}` SET TBLPROPERTIES ('delta.enableChangeDataFeed' = 'false')")
    now = {**pinned, "silver.orders": gold_build.pin(ctx, "silver.orders")}
    unreadable = plan("gold.customer_ltv_cohorts", pins=now)
    assert unreadable.months is None and "silver changes not readable" in unreadable.reason


def test_gold_refuses_to_build_without_a_lost_silver_table(lake, spark, default_engine, tmp_path):
    """Bad input: a silver table deleted by mistake. Gold would read it as empty and publish tables built
    without it (no win rates, every order unattributed); it refuses, naming the table and the runbooks."""
    from job_assets.engine import TableNotFoundError
    from job_assets.jobs import gold

    root = tmp_path / "lake"
    shutil.copytree(lake["root"], root, ignore=shutil.ignore_patterns("landing"))
    shutil.rmtree(root / "silver" / "opportunities")
    ctx = RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "lost")
    with pytest.raises(TableNotFoundError, match=r"silver.opportunities is missing at .*table-restore.md"):
        gold._read_silver(ctx)


def test_silver_refuses_to_create_a_lost_table_again_from_one_batch(lake, spark, default_engine, tmp_path, capsys):
    """Bad input: silver tables deleted by mistake, then a new delivery. Silver would create them again from that
    batch alone and gold would publish from them; it refuses before writing anything, naming the tables and the
    runbooks, and `lakehouse run` says so and exits 1."""
    from job_assets.engine import TableNotFoundError
    from job_assets.jobs.common import summary_rows
    from lakehouse.cli import main as cli_main

    root = tmp_path / "lake"
    shutil.copytree(lake["root"], root)
    folder = root / "landing" / "snowflake" / "customers" / "dt=2099-02-01"
    folder.mkdir(parents=True)
    (folder / "new.csv").write_text(
        "CUSTOMER_ID,CRM_ACCOUNT_ID,EMAIL,COUNTRY,SEGMENT,CREATED_AT,UPDATED_AT\n"
        "990001,,new@example.com,DE,SMB,2099-02-01 00:00:00,2099-02-01 00:00:00\n"
    )
    ctx = RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "after-loss")
    assert [r.status for r in run_pipeline(ctx, ["bronze"])] == ["succeeded"]
    shutil.rmtree(root / "silver" / "orders")
    shutil.rmtree(root / "silver" / "accounts_history")
    before = all_versions(root)

    summary = summary_rows(ctx, "silver", ("rows_in",))
    assert silver_job.lost_tables(ctx, summary) == ["silver.orders", "silver.accounts_history"]
    # a table no earlier summary names (one a later release added) is created as usual, not refused
    older = [r for r in summary if r["table_name"] not in ("silver.orders", "silver.accounts")]
    assert silver_job.lost_tables(ctx, older) == []
    with pytest.raises(TableNotFoundError) as refused:
        silver_job.run(ctx)
    message = str(refused.value)
    assert f"silver.orders at {ctx.uri('silver.orders')}" in message
    assert f"silver.accounts_history at {ctx.uri('silver.accounts_history')}" in message
    assert "from batch after-loss on" in message and "runbooks/rebuild-from-bronze.md" in message
    assert all_versions(root) == before and not (root / "silver" / "orders").exists()  # nothing written

    assert cli_main(["run", "--lake-root", str(root), "--layers", "silver,gold"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "failed: silver: lost since silver finished batches that wrote them: silver.orders at" in out
    assert "runbooks/table-restore.md" in out
    assert all_versions(root) == before


@pytest.mark.slow  # slow: 50 s; the engine contract covers OPTIMIZE and VACUUM on both engines in the default suite
def test_maintenance_compacts_and_vacuums_without_changing_data(lake, spark, default_engine):
    from job_assets.contracts import ALL_TABLES
    from job_assets.jobs import maintenance

    from .lake_checks import checksum

    root = lake["root"]
    ctx = RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "maint")
    names = [t.name for t in ALL_TABLES if default_engine.exists(ctx.uri(t.name))]
    before = {n: checksum(spark, default_engine, ctx.uri(n)) for n in names}

    def data_files() -> int:  # delta-spark writes part-*.parquet at the table's root, delta-rs under w-*/
        return sum(1 for p in root.rglob("*.parquet") if "_delta_log" not in p.parts and "landing" not in p.parts)

    files_before = data_files()
    result = maintenance.run(ctx, retention_hours=0)  # 0: also drop files only old versions reference
    assert any(t.committed for t in result.tables)  # something was compacted
    assert {n: checksum(spark, default_engine, ctx.uri(n)) for n in names} == before
    assert data_files() < files_before
    for n in ("silver.orders", "gold.revenue_attribution"):  # maintenance raises no protocol (ADR 0005, 0011)
        p = default_engine.protocol(ctx.uri(n))
        writer = 4 if contract(n).change_feed else 2
        assert (p["min_reader_version"], p["min_writer_version"]) == (1, writer) and not p["writer_features"], n


# slow: 94 s of a worker in the default suite. There, the engine contract suite holds delta-rs to delta-spark
# case by case (tests/functional/test_engine_contract.py, each engine on the other's tables too) and
# test_rebuild.py rebuilds a lost gold table on delta-rs; this whole-pipeline pass runs in `make test-slow`.
@pytest.mark.slow
def test_the_second_engine_end_to_end_then_the_default_engine_carries_on(tmp_path, spark, rs_engine, default_engine):
    """delta-rs stays correct end to end on a smaller lake (exact reconciliation, gold equal to DuckDB, a re-run
    that commits nothing); then delta-spark runs the next delivery on delta-rs's tables and still reconciles."""
    root = tmp_path / "lake"
    manifest = generate(root, 3_000, seed=13, bad_ratio=0.02)
    results = run_pipeline(RunContext(spark, rs_engine, LakeLocations.for_root(str(root)), "r1"))
    assert [(r.status, r.engine) for r in results] == [("succeeded", "delta-rs")] * 3
    reconcile(root, manifest)
    gold_matches_duckdb(root)
    before = all_versions(root)
    again = run_pipeline(RunContext(spark, rs_engine, LakeLocations.for_root(str(root)), "r1"))
    assert [r.status for r in again] == ["skipped"] * 3 and all_versions(root) == before

    manifest = generate(root, 1_000, seed=13, bad_ratio=0.02, increment=1)
    results = run_pipeline(RunContext(spark, default_engine, LakeLocations.for_root(str(root)), "r2"))
    assert [(r.status, r.engine) for r in results] == [("succeeded", "delta-spark")] * 3
    reconcile(root, manifest)
    gold_matches_duckdb(root)
