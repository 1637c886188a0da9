"""One function per component of the monthly estimate; :func:`estimate` adds them up.

Each returns a :class:`~.model.Component` whose lines are ``quantity x unit price``; the model of each is in
its docstring and in docs/guides/COST_OPTIMIZATION.md.
"""

from __future__ import annotations

import math
from typing import Any

from .data import Measured, PriceTable
from .model import (
    ATHENA_MINIMUM_BYTES,
    GB,
    GLACIER_MINIMUM_DAYS,
    IA_MINIMUM_DAYS,
    JOBS,
    REPLICATED_LAYERS,
    REPLICATION_METRICS_PER_RULE,
    TB,
    Component,
    Estimate,
    Inputs,
)
from .settings import EnvSettings, JobWorkers, Worker


def job_cpu_seconds(i: Inputs) -> dict[str, float]:
    """CPU-seconds of each job of one run: the delivery's records at the measured CPU-seconds per million
    (split over the jobs by their measured wall times), plus, for silver and gold, the rewrite of what the
    lake already holds: the measured re-run share of a full run's work per record held, times the share of
    silver a run rewrites (MERGE rewrites every file with a changed key; gold is rebuilt from all of silver)."""
    m = i.measured
    per_million = m.value("compute", "cpu_seconds_per_million")
    shares = m.value("compute", "job_seconds")
    rewrite_share = m.value("compute", "rerun_share_of_full_run") * m.value("storage", "silver_rewritten_per_run")
    held = i.records_per_day * i.history_days
    rewriting = {job: shares[job] for job in ("silver", "gold")}
    return {
        job: per_million * i.records_per_run / 1e6 * shares[job] / sum(shares.values())
        + per_million * rewrite_share * held / 1e6 * rewriting.get(job, 0.0) / sum(rewriting.values())
        for job in JOBS
    }


def job_workers(i: Inputs, job: str) -> JobWorkers:
    """The job's sizes from ``cdk.json``, else the default worker of ``measured.json`` for driver and executors."""
    if job in i.env.workers:
        return i.env.workers[job]
    a = i.measured.assumed
    return JobWorkers(
        driver=Worker(**{k: a("driver")[k] for k in ("vcpu", "memory_gb", "disk_gb")}),
        executor=Worker(**{k: a("executor")[k] for k in ("vcpu", "memory_gb", "disk_gb")}),
        max_executors=None,
    )


def executor_slots(i: Inputs, w: JobWorkers) -> int:
    """Executors a job may hold: what the maximum capacity leaves beside its driver, at most its own cap."""
    slots = min(
        (i.env.max_vcpu - w.driver.vcpu) // w.executor.vcpu,
        (i.env.max_memory_gb - w.driver.memory_gb) // w.executor.memory_gb,
    )
    return max(1, min(slots, w.max_executors) if w.max_executors else slots)


SIZES = ("vcpu", "memory_gb", "disk_gb")
INCLUDED_DISK_GB = 20


def billed(worker: Worker, count: float, seconds: float) -> dict[str, float]:
    """Hours of vCPU, memory GB and disk GB beyond the included 20 GB of ``count`` workers for ``seconds``."""
    sizes = {"vcpu": worker.vcpu, "memory_gb": worker.memory_gb, "disk_gb": max(worker.disk_gb - INCLUDED_DISK_GB, 0)}
    return {size: count * seconds * sizes[size] / 3600 for size in SIZES}


def idle_capacity(i: Inputs, jobs: dict[str, dict[str, float]]) -> list[dict[str, float]]:
    """What pre-initialized capacity bills beyond the jobs' own workers: its executors a job leaves idle,
    for the job's duration, and all of it for the idle timeout after the run (auto-stop)."""
    ic = i.env.initial_capacity
    if ic is None:
        return []
    parts = [billed(ic.executor, max(ic.executors - j["executors"], 0), j["seconds"]) for j in jobs.values()]
    tail = i.env.idle_timeout_minutes * 60
    parts += [billed(ic.driver, ic.drivers, tail), billed(ic.executor, ic.executors, tail)]
    return parts


def emr_run(i: Inputs) -> dict[str, Any]:
    """Billed worker time of one pipeline run on EMR Serverless, job by job.

    A job's CPU-seconds (:func:`job_cpu_seconds`) divided by the share of the cores that were busy when they
    were measured is its executors' billed vCPU-seconds. A job gets as many executors as its work fills for at
    least a minute, at most :func:`executor_slots`; each executor is billed its configured size for the job's
    duration and at least one minute, and so is the job's driver; disk beyond 20 GB a worker is billed too;
    pre-initialized capacity adds what :func:`idle_capacity` bills.
    """
    m = i.measured
    minimum = float(m.assumed("worker_minimum_seconds"))
    wall = m.raw["compute"]["wall_seconds"]
    busy = m.value("compute", "cpu_seconds_per_million") / (wall["value"] * wall["cores"])
    jobs, parts = {}, []
    for job, cpu_seconds in job_cpu_seconds(i).items():
        w = job_workers(i, job)
        worker_seconds = cpu_seconds / busy / w.executor.vcpu
        executors = max(1, min(executor_slots(i, w), math.ceil(worker_seconds / minimum)))
        seconds = max(worker_seconds / executors, minimum)
        jobs[job] = {"executors": executors, "seconds": seconds, "executor_seconds": executors * seconds}
        parts += [billed(w.executor, executors, seconds), billed(w.driver, 1, seconds)]
    parts += idle_capacity(i, jobs)
    return {
        "busy_share": busy,
        "jobs": jobs,
        "over_job_timeout": [job for job, j in jobs.items() if j["seconds"] > i.env.job_timeout_minutes * 60],
        **{f"{size}_hours": sum(p[size] for p in parts) for size in SIZES},
    }


def emr(i: Inputs, run: dict[str, Any]) -> Component:
    """vCPU-, memory GB- and disk GB-hours (beyond the 20 GB a worker includes) of the month's pipeline runs."""
    runs = i.env.pipeline_runs_per_day * i.days
    return Component(
        "EMR Serverless",
        (
            i.line("vCPU-hours (executors + drivers)", run["vcpu_hours"] * runs, "vCPU-hour", "emr_vcpu_hour"),
            i.line("memory GB-hours", run["memory_gb_hours"] * runs, "GB-hour", "emr_memory_gb_hour"),
            i.line("disk GB-hours beyond 20 GB/worker", run["disk_gb_hours"] * runs, "GB-hour", "emr_storage_gb_hour"),
        ),
    )


def landing_tier_days(env: EnvSettings, history_days: int) -> dict[str, float]:
    """Days a landing object is billed in each class: Standard until IA, IA until Glacier, Glacier until it
    expires plus the days its noncurrent version is kept; each class's minimum duration applies, and no
    class holds more days than the history."""
    lc = env.landing
    end = min(lc.expire_after + lc.noncurrent_days, history_days)
    standard = min(lc.ia_after, end)
    ia = max(0, min(lc.glacier_after, end) - lc.ia_after)
    glacier = max(0, end - lc.glacier_after)
    return {
        "standard": standard,
        "ia": max(ia, IA_MINIMUM_DAYS) if ia else 0,
        "glacier": max(glacier, GLACIER_MINIMUM_DAYS) if glacier else 0,
    }


def superseded_days(i: Inputs, noncurrent_days: int) -> float:
    """Days a file a Delta commit removed stays billed: VACUUM's retention, half the days between two
    VACUUMs on average, then the noncurrent-version days of the bucket's lifecycle."""
    vacuum = i.measured.assumed("vacuum")
    return vacuum["retention_hours"] / 24 + vacuum["every_days"] / 2 + noncurrent_days


def table_stock(i: Inputs) -> dict[str, dict[str, float]]:
    """Bytes of each table layer at the history's length: ``live`` (every day's records are kept; bronze
    appends, silver and gold hold every key) and ``superseded`` (files removed but not yet gone: bronze's
    files once, by compaction; the measured share of silver and all of gold on every run)."""
    daily = i.daily_bytes()
    rewritten = i.measured.value("storage", "silver_rewritten_per_run")
    live = {layer: daily[layer] * i.history_days for layer in ("bronze", "silver", "gold")}
    removed_per_day = {
        "bronze": daily["bronze"],
        "silver": live["silver"] * rewritten * i.env.pipeline_runs_per_day,
        "gold": live["gold"] * i.env.pipeline_runs_per_day,
    }
    return {
        layer: {
            "live": live[layer],
            "superseded": removed_per_day[layer] * superseded_days(i, i.env.table_noncurrent_days[layer]),
            "removed_per_day": removed_per_day[layer],
        }
        for layer in live
    }


def s3_storage(i: Inputs, tables: dict[str, dict[str, float]]) -> Component:
    """Landing by lifecycle class; each table layer's live and superseded files in Standard."""
    landing_gb = i.daily_bytes()["landing"] / GB
    tiers = landing_tier_days(i.env, i.history_days)
    lines = [
        i.line("landing, Standard", landing_gb * tiers["standard"], "GB-month", "s3_standard_gb_month"),
        i.line("landing, Standard-IA", landing_gb * tiers["ia"], "GB-month", "s3_standard_ia_gb_month"),
        i.line("landing, Glacier Flexible Retrieval", landing_gb * tiers["glacier"], "GB-month", "s3_glacier_gb_month"),
    ]
    for layer, stock in tables.items():
        lines.append(i.line(f"{layer}, live files", stock["live"] / GB, "GB-month", "s3_standard_gb_month"))
        lines.append(i.line(f"{layer}, removed files", stock["superseded"] / GB, "GB-month", "s3_standard_gb_month"))
    return Component("S3 storage", tuple(lines))


def objects_per_run(i: Inputs, tables: dict[str, dict[str, float]]) -> float:
    """Objects one run writes: landing files, the run's fixed objects (Delta logs, checksums, small tables;
    measured on the 100k lake) and the data it writes to the tables in files of the target size."""
    runs = i.env.pipeline_runs_per_day
    written = i.daily_bytes()["bronze"] / runs + sum(t["removed_per_day"] for t in tables.values()) / runs
    fixed = i.measured.raw["storage"]["lake_100k"]["table_objects"]
    return i.landing_objects_per_run() + fixed + written / i.measured.assumed("target_file_bytes")


def s3_requests(i: Inputs, tables: dict[str, dict[str, float]]) -> Component:
    """PUTs of the objects each run writes, GETs as a stated multiple of them, landing lifecycle transitions."""
    runs = i.env.pipeline_runs_per_day * i.days
    puts = objects_per_run(i, tables) * runs
    landing = i.landing_objects_per_run() * runs
    tiers = landing_tier_days(i.env, i.history_days)
    return Component(
        "S3 requests",
        (
            i.line("PUT/LIST", puts, "request", "s3_put_per_1000"),
            i.line("GET", puts * i.measured.assumed("gets_per_put"), "request", "s3_get_per_1000"),
            i.line("transitions to IA", landing if tiers["ia"] else 0, "request", "s3_transition_ia_per_1000"),
            i.line(
                "transitions to Glacier",
                landing if tiers["glacier"] else 0,
                "request",
                "s3_transition_glacier_per_1000",
            ),
        ),
    )


def replicated_bytes_per_day(i: Inputs, tables: dict[str, dict[str, float]]) -> float:
    """Bytes written a day to the replicated buckets: landing files, bronze's new files, and every table
    file written in place of a removed one (compaction, silver's MERGE rewrites, gold's rebuild)."""
    daily = i.daily_bytes()
    return daily["landing"] + daily["bronze"] + sum(t["removed_per_day"] for t in tables.values())


def replication(i: Inputs, tables: dict[str, dict[str, float]]) -> Component:
    """Where ``features.replication`` is on: the RTC fee and inter-region transfer per GB replicated, the
    replicas' PUTs and storage in the DR region (live files, landing as its days in the source, removed
    files for the replica buckets' noncurrent days) and the replication metrics RTC turns on."""
    if not i.env.replication:
        return Component("S3 replication (DR)", ())
    gb_month = replicated_bytes_per_day(i, tables) * i.days / GB
    landing_days = sum(landing_tier_days(i.env, i.history_days).values())
    stored = i.daily_bytes()["landing"] * landing_days + sum(t["live"] for t in tables.values())
    removed = sum(t["removed_per_day"] for t in tables.values()) * superseded_days(i, i.env.replica_noncurrent_days)
    puts = (objects_per_run(i, tables) * i.env.pipeline_runs_per_day) * i.days
    metrics = REPLICATION_METRICS_PER_RULE * len(REPLICATED_LAYERS)
    return Component(
        "S3 replication (DR)",
        (
            i.line("Replication Time Control", gb_month, "GB", "s3_rtc_gb"),
            i.line("inter-region transfer", gb_month, "GB", "transfer_inter_region_gb"),
            i.line("replica PUTs", puts, "request", "s3_put_per_1000", dr=True),
            i.line("replica storage", (stored + removed) / GB, "GB-month", "s3_standard_gb_month", dr=True),
            i.line("replication metrics", metrics, "metric-month", "cw_metric_month"),
        ),
    )


def kms(i: Inputs, s3_request_count: float) -> Component:
    """Customer managed keys in both regions; requests as a stated share of the S3 requests (Bucket Keys)."""
    inv = i.measured.inventory(i.env.name)
    return Component(
        "KMS",
        (
            i.line("keys, primary region", inv["kms_keys_primary"], "key-month", "kms_key_month"),
            i.line("keys, DR region", inv["kms_keys_dr"], "key-month", "kms_key_month", dr=True),
            i.line(
                "requests",
                s3_request_count * i.measured.assumed("kms_requests_per_s3_request"),
                "request",
                "kms_per_10000",
            ),
        ),
    )


def lambda_invocations(i: Inputs) -> dict[str, float]:
    """Invocations a month of each ops function: intake per batch of landing objects, the cost reporter per
    EMR job run, the monitors on their schedules (the failure notifier only on failures: none)."""
    runs = i.env.pipeline_runs_per_day * i.days
    counts = {
        "landing-intake": math.ceil(i.landing_objects_per_run() / i.env.intake_batch_size) * runs,
        "cost-reporter": (len(JOBS) * i.env.pipeline_runs_per_day + i.env.maintenance_runs_per_day) * i.days,
        "freshness-monitor": 1440 / i.env.freshness_check_minutes * i.days,
    }
    if i.env.replication:
        counts["replica-verifier"] = 1440 / i.env.replica_check_minutes * i.days
    return counts


def lambdas(i: Inputs) -> Component:
    """Requests and GB-seconds (memory from the stacks, duration assumed) of each ops function."""
    memory = i.measured.inventory(i.env.name)["lambda_memory_mb"]
    seconds = i.measured.assumed("lambda_seconds")
    counts = lambda_invocations(i)
    lines = [i.line("requests", sum(counts.values()), "request", "lambda_per_million")]
    for name, count in counts.items():
        gb_s = count * seconds[name] * memory[name] / 1024
        lines.append(i.line(f"{name} compute", gb_s, "GB-second", "lambda_gb_second"))
    return Component("Lambda", tuple(lines))


def step_functions(i: Inputs) -> Component:
    """State transitions: every state of the pipeline machine per run and of the maintenance machine per
    maintenance run (an upper bound: the failure branches are counted too)."""
    inv = i.measured.inventory(i.env.name)
    per_day = inv["pipeline_states"] * i.env.pipeline_runs_per_day
    per_day += inv["maintenance_states"] * i.env.maintenance_runs_per_day
    return Component("Step Functions", (i.line("state transitions", per_day * i.days, "transition", "sfn_per_1000"),))


def cloudwatch(i: Inputs) -> Component:
    """Custom metrics, alarms and dashboards the stacks create; logs ingested per run (assumed) and kept for
    the environment's log retention."""
    inv = i.measured.inventory(i.env.name)
    ingested_gb = i.measured.assumed("log_mb_per_run") / 1024 * i.env.pipeline_runs_per_day * i.days
    stored_gb = ingested_gb * min(i.env.log_retention_days, i.history_days) / i.days
    return Component(
        "CloudWatch",
        (
            i.line("custom metrics", inv["custom_metrics"], "metric-month", "cw_metric_month"),
            i.line("alarms", inv["alarms"], "alarm-month", "cw_alarm_month"),
            i.line("composite alarms", inv["composite_alarms"], "alarm-month", "cw_composite_alarm_month"),
            i.line("dashboards", inv["dashboards"], "dashboard-month", "cw_dashboard_month"),
            i.line("logs ingested", ingested_gb, "GB", "cw_logs_ingest_gb"),
            i.line("logs stored", stored_gb, "GB-month", "cw_logs_store_gb_month"),
        ),
    )


def athena(i: Inputs, tables: dict[str, dict[str, float]]) -> Component:
    """The assumed queries a day, each scanning the assumed share of gold's live files (at least 10 MB)."""
    per_query = max(tables["gold"]["live"] * i.measured.assumed("athena_scan_share_of_gold"), ATHENA_MINIMUM_BYTES)
    scanned = per_query * i.athena_queries_per_day * i.days
    return Component("Athena", (i.line("data scanned", scanned / TB, "TB", "athena_tb"),))


def network(i: Inputs) -> Component:
    """Interface VPC endpoints of the private network (one per service and availability zone, every hour)
    and the log data they carry; S3 and DynamoDB go through gateway endpoints (no charge), nothing leaves
    AWS, and replication's inter-region transfer is under replication."""
    inv = i.measured.inventory(i.env.name)
    endpoint_hours = inv["interface_endpoints"] * i.env.availability_zones * 24 * i.days
    carried_gb = i.measured.assumed("log_mb_per_run") / 1024 * i.env.pipeline_runs_per_day * i.days
    return Component(
        "Network and data transfer",
        (
            i.line("interface endpoint-hours", endpoint_hours, "endpoint-hour", "vpce_hour"),
            i.line("data through interface endpoints", carried_gb, "GB", "vpce_gb"),
        ),
    )


def backup(i: Inputs, tables: dict[str, dict[str, float]]) -> Component:
    """AWS Backup's continuous backups of the layers that have one: a full copy of the bucket's current data."""
    stock = {layer: t["live"] for layer, t in tables.items()}
    stock["landing"] = i.daily_bytes()["landing"] * sum(landing_tier_days(i.env, i.history_days).values())
    lines = tuple(
        i.line(f"{layer} continuous backup", stock[layer] / GB, "GB-month", "backup_s3_gb_month")
        for layer in i.env.backup_layers
        if layer in stock
    )
    return Component("AWS Backup", lines)


def estimate(
    env: EnvSettings,
    *,
    records_per_day: int,
    prices: PriceTable | None = None,
    measured: Measured | None = None,
    history_days: int | None = None,
    athena_queries_per_day: float | None = None,
) -> Estimate:
    """The monthly estimate of ``env`` at ``records_per_day`` landing records (defaults: the committed price
    table and measurements, their assumed history and Athena volume)."""
    measured = measured or Measured.load()
    i = Inputs(
        env=env,
        prices=prices or PriceTable.load(),
        measured=measured,
        records_per_day=records_per_day,
        history_days=history_days or int(measured.assumed("history_days")),
        athena_queries_per_day=measured.assumed("athena_queries_per_day")
        if athena_queries_per_day is None
        else athena_queries_per_day,
    )
    run, tables = emr_run(i), table_stock(i)
    requests = s3_requests(i, tables)
    request_count = sum(line.quantity for line in requests.lines[:2])
    components = (
        emr(i, run),
        s3_storage(i, tables),
        requests,
        replication(i, tables),
        kms(i, request_count),
        lambdas(i),
        step_functions(i),
        cloudwatch(i),
        athena(i, tables),
        network(i),
        backup(i, tables),
    )
    return Estimate(
        env=env.name,
        region=env.region,
        dr_region=env.dr_region,
        records_per_day=records_per_day,
        history_days=i.history_days,
        components=components,
        records_per_month=records_per_day * i.days,
        landing_bytes_per_month=i.daily_bytes()["landing"] * i.days,
        facts={"emr_run": run, "tables": tables, "objects_per_run": objects_per_run(i, tables)},
    )
