"""``lakehouse cost estimate``: the arithmetic against figures worked out by hand from the stated model, how
the estimate scales, what differs between environments, the JSON, bad input, the committed inputs (price
table, measurements, the stacks' inventory) and the guide's tables (docs/guides/COST_OPTIMIZATION.md).

Unit tier: no Spark, no synth (the inventory is checked against the committed CDK snapshots)."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from cdk.config import load_config
from lakehouse.cli import main
from lakehouse.cost.components import estimate
from lakehouse.cost.data import Measured, PriceTable
from lakehouse.cost.report import COMPARE_SIZES, GUIDE, GUIDE_ENVS, compare_markdown, guide_table
from lakehouse.cost.settings import (
    EnvSettings,
    LandingLifecycle,
    Worker,
    initial_capacity_from_raw,
    load_settings,
    runs_per_day,
    workers_from_raw,
)

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = REPO / "tests" / "cdk" / "__snapshots__" / "test_cdk_snapshots"
GIB = 2**30


# ---------------------------------------------------------------- a small case worked out by hand


@pytest.fixture
def small_env() -> EnvSettings:
    return EnvSettings(
        name="dev",
        region="eu-west-1",
        dr_region="eu-central-1",
        max_vcpu=32,
        max_memory_gb=128,
        job_timeout_minutes=120,
        pipeline_runs_per_day=1.0,
        maintenance_runs_per_day=0.0,
        landing=LandingLifecycle(ia_after=30, glacier_after=60, expire_after=90, noncurrent_days=3),
        table_noncurrent_days={"bronze": 3, "silver": 3, "gold": 3},
        log_retention_days=14,
        replication=False,
        replica_noncurrent_days=7,
        backup_layers=(),
        availability_zones=2,
        freshness_check_minutes=15,
        replica_check_minutes=5,
        intake_batch_size=10,
    )


@pytest.fixture
def round_prices() -> PriceTable:
    raw = copy.deepcopy(PriceTable.load().raw)
    for key, value in {
        "emr_vcpu_hour": 0.05,
        "emr_memory_gb_hour": 0.005,
        "s3_standard_gb_month": 0.02,
        "s3_standard_ia_gb_month": 0.01,
        "s3_glacier_gb_month": 0.004,
    }.items():
        raw["regions"]["eu-west-1"][key]["usd"] = value
    return PriceTable(raw)


@pytest.fixture
def round_measured() -> Measured:
    raw = copy.deepcopy(Measured.load().raw)
    compute, storage, assumed = raw["compute"], raw["storage"], raw["assumed"]
    compute["cpu_seconds_per_million"]["value"] = 100.0
    compute["wall_seconds"].update(value=50.0, cores=2)  # 100 CPU-s in 50 s on 2 cores: all busy
    compute["job_seconds"]["value"] = {"bronze": 1.0, "silver": 1.0, "gold": 2.0}
    compute["rerun_share_of_full_run"]["value"] = 0.5
    storage["silver_rewritten_per_run"]["value"] = 1.0
    storage["landing_bytes_per_million"]["value"] = GIB
    storage["lake_100k"]["value"] = {"landing": 100, "bronze": 200, "silver": 100, "gold": 50}
    assumed["days_per_month"]["value"] = 30
    assumed["vacuum"].update(retention_hours=168, every_days=7)
    return Measured(raw)


def _component(e, name):
    return next(c for c in e.components if c.name == name)


def test_emr_of_a_small_case_by_hand(small_env, round_prices, round_measured):
    e = estimate(small_env, records_per_day=1_000_000, prices=round_prices, measured=round_measured, history_days=100)
    # CPU-s of one run: the day's 1M records at 100 CPU-s split 1:1:2 (25, 25, 50), plus the rewrite of the
    # 100M records held: 100 CPU-s x 0.5 (re-run share) x 1.0 (silver rewritten) x 100 = 5,000, split 1:2 over
    # silver and gold. Busy share 1, 4-vCPU executors -> worker-seconds:
    bronze, silver, gold = 25 / 4, (25 + 5000 / 3) / 4, (50 + 10000 / 3) / 4  # 6.25, 422.9, 845.8
    # 7 executor slots ((32 - 4) / 4 and (128 - 16) / 16). bronze: 1 executor, billed the 60 s minimum; silver
    # and gold fill all 7 for longer than a minute; a driver per job for the job's duration (at least 60 s).
    assert bronze < 60 < silver / 7  # bronze's one executor is billed the minimum, silver's seven are not
    executor_seconds = 60 + silver + gold
    driver_seconds = 60 + silver / 7 + gold / 7
    vcpu_hours = (executor_seconds + driver_seconds) * 4 / 3600 * 30
    gb_hours = (executor_seconds + driver_seconds) * 16 / 3600 * 30
    emr = _component(e, "EMR Serverless")
    assert emr.lines[0].quantity == pytest.approx(vcpu_hours)
    assert emr.lines[1].quantity == pytest.approx(gb_hours)
    assert emr.usd == pytest.approx(vcpu_hours * 0.05 + gb_hours * 0.005)
    assert emr.usd == pytest.approx(2.6167 + 1.0467, abs=1e-3)  # 52.33 vCPU-h, 209.33 GB-h
    assert [j["executors"] for j in e.facts["emr_run"]["jobs"].values()] == [1, 7, 7]


def test_per_job_worker_sizes_from_cdk_json_by_hand(small_env, round_prices, round_measured):
    # The shape of cdk.json's per-job `spark` section (issue 19, EMR sizing): silver on 8-vCPU / 32 GB / 50 GB
    # executors, at most 2, beside a 2-vCPU / 8 GB driver.
    spark = {
        "silver": {
            "driver": {"cores": 2, "memory_gb": 8, "disk_gb": 20},
            "executor": {"cores": 8, "memory_gb": 32, "disk_gb": 50},
            "max_executors": 2,
        },
        "initial_capacity": False,
    }
    workers = workers_from_raw(spark, "spark")
    assert set(workers) == {"silver"} and workers["silver"].executor == Worker(vcpu=8, memory_gb=32, disk_gb=50)
    env = dataclasses.replace(small_env, workers=workers)
    e = estimate(env, records_per_day=1_000_000, prices=round_prices, measured=round_measured, history_days=100)
    # silver's 25 + 5,000/3 CPU-s on 8-vCPU executors: 211.5 worker-seconds, on 2 executors (capacity would
    # allow 3) for 105.7 s; 30 GB of each executor's disk is beyond the 20 GB included, the driver's is not.
    worker_seconds = (25 + 5000 / 3) / 8
    assert e.facts["emr_run"]["jobs"]["silver"]["executors"] == 2
    disk = _component(e, "EMR Serverless").lines[2]
    assert disk.quantity == pytest.approx(worker_seconds * 30 / 3600 * 30)
    silver_vcpu_hours = (worker_seconds * 8 + worker_seconds / 2 * 2) / 3600 * 30
    default = estimate(
        small_env, records_per_day=1_000_000, prices=round_prices, measured=round_measured, history_days=100
    )
    default_silver = ((25 + 5000 / 3) / 4 * (4 + 4 / 7)) / 3600 * 30  # 7 executors of 4 vCPU and a 4-vCPU driver
    assert _component(e, "EMR Serverless").lines[0].quantity == pytest.approx(
        _component(default, "EMR Serverless").lines[0].quantity - default_silver + silver_vcpu_hours
    )


def test_pre_initialized_capacity_by_hand(small_env, round_prices, round_measured):
    spark = {
        "initial_capacity": {
            "driver": {"workers": 1, "cores": 4, "memory_gb": 16, "disk_gb": 20},
            "executor": {"workers": 4, "cores": 4, "memory_gb": 16, "disk_gb": 20},
        }
    }
    assert initial_capacity_from_raw({"initial_capacity": False}, "spark") is None
    warm = dataclasses.replace(small_env, initial_capacity=initial_capacity_from_raw(spark, "spark"))
    cold_e, warm_e = (
        estimate(env, records_per_day=1_000_000, prices=round_prices, measured=round_measured, history_days=100)
        for env in (small_env, warm)
    )
    # Billed while STARTED: bronze uses 1 of the 4 warm executors for its 60 s (3 idle); silver and gold use 7;
    # then all 5 warm workers until auto-stop, 15 minutes after the run. 4 vCPU / 16 GB each, 30 runs a month.
    extra_worker_seconds = 3 * 60 + 5 * 15 * 60
    cold, warm_lines = _component(cold_e, "EMR Serverless").lines, _component(warm_e, "EMR Serverless").lines
    assert warm_lines[0].quantity - cold[0].quantity == pytest.approx(extra_worker_seconds * 4 / 3600 * 30)
    assert warm_lines[1].quantity - cold[1].quantity == pytest.approx(extra_worker_seconds * 16 / 3600 * 30)


def test_s3_storage_of_a_small_case_by_hand(small_env, round_prices, round_measured):
    e = estimate(small_env, records_per_day=1_000_000, prices=round_prices, measured=round_measured, history_days=100)
    # Landing: 1 GiB a day; 30 days Standard, 30 IA, then Glacier from day 60 to 93 (expiry + 3 noncurrent
    # days), billed its 90-day minimum.
    landing = 30 * 0.02 + 30 * 0.01 + 90 * 0.004
    # Tables: 2, 1 and 0.5 GiB a day for 100 days live; removed files kept 7 (VACUUM retention) + 3.5 (half
    # the week between VACUUMs) + 3 (noncurrent) = 13.5 days: bronze's day once (compaction), all of silver
    # and of gold every day.
    live = 200 + 100 + 50
    removed = 2 * 13.5 + 100 * 13.5 + 50 * 13.5
    storage = _component(e, "S3 storage")
    assert storage.usd == pytest.approx(landing + (live + removed) * 0.02)
    assert storage.usd == pytest.approx(1.26 + 48.04)


def test_totals_and_unit_costs_add_up(small_env, round_prices, round_measured):
    e = estimate(small_env, records_per_day=2_000_000, prices=round_prices, measured=round_measured, history_days=30)
    assert e.total == pytest.approx(sum(line.usd for c in e.components for line in c.lines))
    assert e.per_million_records == pytest.approx(e.total / 60)  # 2M a day x 30 days
    assert e.per_tb_processed == pytest.approx(e.total / (2 * GIB * 30 / 2**40))


# ---------------------------------------------------------------- scaling and environments


def test_emr_cost_is_linear_in_records(small_env):
    # Both sizes keep every job above the one-minute minimum at the full capacity: cost is proportional.
    one, two = (estimate(small_env, records_per_day=n, history_days=30) for n in (100_000_000, 200_000_000))
    assert _component(two, "EMR Serverless").usd == pytest.approx(2 * _component(one, "EMR Serverless").usd)


def test_storage_grows_with_history_and_landing_retention(small_env):
    short, long = (estimate(small_env, records_per_day=10_000_000, history_days=d) for d in (90, 360))
    assert _component(long, "S3 storage").usd > 3 * _component(short, "S3 storage").usd
    kept = dataclasses.replace(small_env, landing=dataclasses.replace(small_env.landing, expire_after=365))
    base, longer = (estimate(s, records_per_day=10_000_000, history_days=730) for s in (small_env, kept))
    glacier = "landing, Glacier Flexible Retrieval"
    assert next(ln for ln in _component(longer, "S3 storage").lines if ln.item == glacier).quantity == pytest.approx(
        next(ln for ln in _component(base, "S3 storage").lines if ln.item == glacier).quantity * (368 - 60) / 90
    )


def test_prod_pays_for_replication_rtc_dr_keys_and_longer_retention():
    dev, prod = (estimate(load_settings(env), records_per_day=10_000_000, history_days=730) for env in ("dev", "prod"))
    assert _component(dev, "S3 replication (DR)").usd == 0
    rtc = next(ln for ln in _component(prod, "S3 replication (DR)").lines if ln.item == "Replication Time Control")
    assert rtc.usd > 0 and rtc.price == "eu-west-1:s3_rtc_gb"
    dr_keys = next(ln for ln in _component(prod, "KMS").lines if ln.item == "keys, DR region")
    assert dr_keys.quantity == 6 and dr_keys.price.startswith("eu-central-1:")
    glacier = {
        e.env: next(ln.quantity for ln in _component(e, "S3 storage").lines if "Glacier" in ln.item)
        for e in (dev, prod)
    }
    # prod: Glacier from day 90 until the 730 days of history end; dev: 33 days, billed Glacier's 90-day minimum
    assert glacier["prod"] / glacier["dev"] == pytest.approx((730 - 90) / 90)
    assert "replica-verifier compute" in [ln.item for ln in _component(prod, "Lambda").lines]
    assert "replica-verifier compute" not in [ln.item for ln in _component(dev, "Lambda").lines]


def test_schedules_give_runs_per_day():
    assert runs_per_day("cron(0 2 * * ? *)") == 1
    assert runs_per_day("cron(0 5 ? * SUN *)") == pytest.approx(1 / 7)
    assert runs_per_day("cron(0/15 * * * ? *)") == 96
    assert runs_per_day("cron(0 6,18 ? * MON-FRI *)") == pytest.approx(2 * 5 / 7)
    assert runs_per_day("rate(6 hours)") == 4


def test_a_job_over_its_timeout_is_warned(capsys):
    assert main(["cost", "estimate", "--env", "dev", "--records-per-day", "100000000", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert any("silver job" in w and "job_timeout_minutes (120)" in w for w in doc["warnings"])


# ---------------------------------------------------------------- output


def test_json_output(capsys):
    assert main(["cost", "estimate", "--env", "prod", "--records-per-day", "1000000", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"env", "region", "dr_region", "records_per_day", "history_days", "prices_as_of", "measured_as_of"} <= set(
        doc
    )
    assert (doc["env"], doc["region"], doc["dr_region"], doc["records_per_day"]) == (
        "prod",
        "eu-west-1",
        "eu-central-1",
        1_000_000,
    )
    names = [c["name"] for c in doc["components"]]
    for name in ("EMR Serverless", "S3 storage", "S3 requests", "S3 replication (DR)", "KMS", "Lambda"):
        assert name in names
    for name in ("Step Functions", "CloudWatch", "Athena", "Network and data transfer", "AWS Backup"):
        assert name in names
    for component in doc["components"]:
        assert component["usd"] == pytest.approx(sum(line["usd"] for line in component["lines"]), abs=0.05)
        for line in component["lines"]:
            assert set(line) == {"item", "quantity", "unit", "price", "unit_usd", "usd"}
    assert doc["total_usd"] == pytest.approx(sum(c["usd"] for c in doc["components"]), abs=0.1)
    assert doc["per_million_records_usd"] == pytest.approx(doc["total_usd"] / (doc["records_per_month"] / 1e6), 1e-3)
    assert doc["per_tb_processed_usd"] == pytest.approx(doc["total_usd"] / doc["tb_processed_per_month"], 1e-3)
    assert doc["unverified_prices"] and all(re.match(r"^eu-(west|central)-1:\w+$", p) for p in doc["unverified_prices"])
    assert set(doc["emr_run"]["jobs"]) == {"bronze", "silver", "gold"}


def test_table_output(capsys):
    assert main(["cost", "estimate", "--env", "dev", "--records-per-day", "1000000"]) == 0
    out = capsys.readouterr().out
    for text in ("EMR Serverless", "total", "per million records", "per TB processed", "not verified"):
        assert text in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--env", "qa", "--records-per-day", "1000"], "--env qa: unknown environment; expected one of: dev, staging"),
        (["--env", "dev", "--records-per-day", "0"], "--records-per-day 0: must be greater than 0"),
        (["--env", "dev", "--records-per-day", "-5"], "--records-per-day -5: must be greater than 0"),
        (["--env", "dev", "--records-per-day", "many"], "--records-per-day 'many': not a whole number"),
        (["--env", "dev", "--records-per-day", "1.5"], "--records-per-day '1.5': not a whole number"),
        (["--env", "dev"], "--records-per-day is required"),
        (["--env", "dev", "--records-per-day", "10", "--history-days", "0"], "--history-days 0: must be greater"),
        (["--env", "dev", "--records-per-day", "10", "--athena-queries-per-day", "x"], "'x': not a number"),
        (["--env", "dev", "--records-per-day", "10", "--athena-queries-per-day", "-1"], "-1: must be 0 or more"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(["cost", "estimate", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.strip().count("\n") == 0 and captured.out == ""


# ---------------------------------------------------------------- committed inputs


def test_price_table_is_dated_sourced_and_covers_the_regions_cdk_json_uses():
    table = PriceTable.load().raw
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", table["as_of"])
    config = load_config(json.loads((REPO / "cdk.json").read_text())["context"]["lakehouse"])
    regions = {r for env in config.environments.values() for r in (env.region, env.dr_region)}
    assert regions <= set(table["regions"])
    keys = set(table["regions"]["eu-west-1"])
    for region in regions:
        assert set(table["regions"][region]) == keys
        for entry in table["regions"][region].values():
            assert table["sources"][entry["source"]].startswith("https://aws.amazon.com/")
            assert isinstance(entry["verified"], bool) and entry["usd"] >= 0 and entry["unit"]
    for env in config.environments.values():  # the cost-reporter Lambda prices EMR runs with cdk.json's figures
        prices = table["regions"][env.region]
        assert (prices["emr_vcpu_hour"]["usd"], prices["emr_memory_gb_hour"]["usd"]) == (
            env.pricing.vcpu_hour,
            env.pricing.memory_gb_hour,
        )


def test_measured_figures_name_their_engine_date_and_source():
    raw = Measured.load().raw
    for section in ("compute", "storage"):
        for name, entry in raw[section].items():
            items = entry if isinstance(entry, list) else [entry]
            for item in items:
                assert re.match(r"^\d{4}-\d{2}-\d{2}$", item["date"]) and item["source"], name
    for item in [raw["compute"]["cpu_seconds_per_million"], *raw["compute"]["peak_memory"]]:
        assert item["engine"]
    for name, entry in raw["assumed"].items():
        assert entry.get("why") or entry.get("source"), name


def _snapshot_resources(env: str) -> list[tuple[str, dict]]:
    resources = []
    for path in sorted(SNAPSHOTS.glob(f"test_stack_template[[]Lakehouse-{env}-*].json")):
        stack = path.name.split(f"Lakehouse-{env}-")[1].split("]")[0]
        resources += [(stack, r) for r in json.loads(path.read_text())["Resources"].values()]
    return resources


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_inventory_matches_the_synthesized_stacks(env):
    resources = _snapshot_resources(env)
    assert resources, "no CDK snapshots"
    kinds = Counter(r["Type"] for _, r in resources)
    inventory = Measured.load().inventory(env)
    keys = [stack for stack, r in resources if r["Type"] == "AWS::KMS::Key"]
    assert inventory["kms_keys_dr"] == keys.count("Dr")
    assert inventory["kms_keys_primary"] == len(keys) - keys.count("Dr")
    assert inventory["alarms"] == kinds["AWS::CloudWatch::Alarm"]
    assert inventory["composite_alarms"] == kinds["AWS::CloudWatch::CompositeAlarm"]
    assert inventory["dashboards"] == kinds["AWS::CloudWatch::Dashboard"]
    endpoints = [r for _, r in resources if r["Type"] == "AWS::EC2::VPCEndpoint"]
    assert inventory["interface_endpoints"] == sum(
        r["Properties"].get("VpcEndpointType") == "Interface" for r in endpoints
    )
    counts = sorted(
        json.dumps(r["Properties"]["DefinitionString"]).count('\\"Type\\":')
        for stack, r in resources
        if r["Type"] == "AWS::StepFunctions::StateMachine" and stack == "Orchestration"
    )
    assert counts == sorted([inventory["pipeline_states"], inventory["maintenance_states"]])
    memory = sorted(
        r["Properties"]["MemorySize"]
        for stack, r in resources
        if r["Type"] == "AWS::Lambda::Function"
        and stack == "Ops"
        and "arm64" in r["Properties"].get("Architectures", [])
    )
    modelled = sorted([*inventory["lambda_memory_mb"].values(), 256])  # + the failure notifier (no failures)
    assert memory == modelled


# ---------------------------------------------------------------- the guide


@pytest.mark.parametrize("env", GUIDE_ENVS)
def test_the_guide_holds_what_the_command_prints(env, capsys):
    assert main(["cost", "estimate", "--env", env, "--compare"]) == 0
    printed = capsys.readouterr().out
    assert printed == compare_markdown([estimate(load_settings(env), records_per_day=n) for n in COMPARE_SIZES])
    assert guide_table(GUIDE.read_text(encoding="utf-8"), env) == printed, (
        f"docs/guides/COST_OPTIMIZATION.md's {env} table is stale: run `python -m lakehouse.cost.report`"
    )


def test_no_athena_queries_cost_nothing_on_athena(capsys):
    argv = ["cost", "estimate", "--env", "dev", "--records-per-day", "1000000", "--json"]
    assert main([*argv, "--athena-queries-per-day", "0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert next(c["usd"] for c in doc["components"] if c["name"] == "Athena") == 0
