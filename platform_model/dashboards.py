"""Dashboards from the metric catalog: one layout, rendered as CloudWatch dashboard bodies and Grafana JSON.

Every panel line names a catalog entry (``job_assets/contracts/metrics.py``) and the dimension values it
fixes; a dimension it leaves open means "every series": a ``SEARCH`` expression in CloudWatch, a ``*``
wildcard in Grafana's CloudWatch data source. That is also how a panel reaches metrics whose dimension
values exist only after deploy (the EMR application id, the generated source bucket names): it fixes the
names it knows (application name, replica bucket names) and searches the rest. So a body holds no
CloudFormation token: the CDK stack deploys exactly the JSON ``lakehouse dashboards export`` writes to
``dashboards/cloudwatch/`` and ``dashboards/grafana/``, and a test fails when those files are stale.

Pure Python (no CDK, no AWS calls): the Observability stack deploys the CloudWatch bodies rendered here, and
``lakehouse dashboards export`` (``lakehouse/docs/dashboards.py``) writes them with the Grafana JSON and
docs/METRICS.md. It sits in ``platform_model/`` so that the stacks and the installed CLI both import it
downwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from job_assets.contracts import GOLD_TABLES, SILVER_TABLES
from job_assets.contracts import metrics as catalog
from job_assets.contracts.layout import JOBS, LAYERS, ZONES
from platform_model import aws_names

GRID_WIDTH = 24
"""Both CloudWatch and Grafana lay dashboards out on a 24-column grid."""
BILLING_REGION = "us-east-1"


@dataclass(frozen=True, kw_only=True)
class Targets:
    """The dimension values of one environment, all known before deploy."""

    env: str
    project: str
    account: str
    region: str
    dr_region: str
    replication: bool
    budget_usd: float

    @classmethod
    def from_config(cls, config: Any) -> Targets:
        """From a ``cdk.config.EnvironmentConfig`` (duck-typed: the CLI and the stacks both pass one)."""
        return cls(
            env=config.name,
            project=config.project,
            account=config.account,
            region=config.region,
            dr_region=config.dr_region,
            replication=config.features.replication,
            budget_usd=config.budget.monthly_limit_usd,
        )

    @property
    def prefix(self) -> str:
        return aws_names.prefix(self.env, self.project)

    def state_machine_arn(self, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"

    @property
    def pipeline_arn(self) -> str:
        return self.state_machine_arn(aws_names.pipeline_state_machine_name(self.env, self.project))

    @property
    def maintenance_arn(self) -> str:
        return self.state_machine_arn(aws_names.maintenance_state_machine_name(self.env, self.project))

    @property
    def functions(self) -> tuple[str, ...]:
        names = [f for f in aws_names.OPS_FUNCTIONS if self.replication or f != "replica-verifier"]
        return tuple(aws_names.function_name(self.env, f, self.project) for f in names)

    @property
    def dead_letter_queues(self) -> tuple[str, ...]:
        return (
            aws_names.intake_dlq_name(self.env, self.project),
            aws_names.failed_events_queue_name(self.env, self.project),
        )

    def replica_bucket(self, layer: str) -> str:
        return aws_names.replica_bucket_name(
            self.env, layer, account=self.account, dr_region=self.dr_region, project=self.project
        )


# --- the layout -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    metric: str
    """Catalog key."""
    dims: Mapping[str, str] = field(default_factory=dict)
    """Fixed dimension values; the metric's other dimensions are searched (every series)."""
    label: str = ""
    region: str = ""
    """Only when the metric lives outside the environment's region (billing: us-east-1)."""


@dataclass(frozen=True)
class Panel:
    title: str
    lines: tuple[Line, ...]
    width: int = 8
    height: int = 6
    stacked: bool = False
    thresholds: tuple[tuple[str, float], ...] = ()
    """Horizontal lines: (label, value), e.g. an alarm threshold or an SLO."""
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    key: str
    title: str
    panels: tuple[Panel, ...]


def _alarm_line(key: str, env: str) -> tuple[tuple[str, float], ...]:
    rule = catalog.metric(key).alarm
    threshold = rule.threshold_for(env) if rule else None
    return () if threshold is None else ((f"alarm {threshold:g}", float(threshold)),)


def dashboards(t: Targets) -> tuple[Dashboard, ...]:
    """The environment's dashboards: pipeline overview, EMR capacity, cost, and DR where replication is on."""
    boards = [_pipeline_overview(t), _emr_capacity(t), _cost(t)]
    if t.replication:
        boards.append(_disaster_recovery(t))
    return tuple(boards)


def _env_dims(t: Targets) -> dict[str, str]:
    """The ``Environment`` dimension every metric of ours keeps."""
    return {catalog.ENVIRONMENT: t.env}


def _pipeline_overview(t: Targets) -> Dashboard:
    """Pipeline executions and jobs, then data quality and freshness, then the operational Lambdas."""
    return Dashboard(
        key="pipeline",
        title=f"{t.prefix} pipeline overview",
        panels=(*_run_panels(t), *_data_panels(t), *_operations_panels(t)),
    )


def _run_panels(t: Targets) -> tuple[Panel, ...]:
    """Overview, first row: the state machine's executions, job durations and the dead-letter queues."""
    pipeline = {catalog.STATE_MACHINE_ARN: t.pipeline_arn}
    return (
        Panel(
            "Pipeline executions",
            tuple(
                Line(k, pipeline)
                for k in ("sfn_executions_succeeded", "sfn_executions_failed", "sfn_executions_timed_out")
            ),
            description="Step Functions executions of the pipeline state machine.",
        ),
        Panel(
            "Job duration (s)",
            tuple(Line("job_duration", {**_env_dims(t), catalog.JOB: job}, label=job) for job in JOBS),
            description="Wall-clock seconds per job run, published by the job at its end.",
        ),
        Panel(
            "Dead-letter queues",
            tuple(Line("dlq_depth", {catalog.QUEUE_NAME: q}, label=q) for q in t.dead_letter_queues),
            thresholds=_alarm_line("dlq_depth", t.env),
            description="Events that failed every attempt; each queue alarms at its first message.",
        ),
    )


def _data_panels(t: Targets) -> tuple[Panel, ...]:
    """Overview: records written per layer, quarantined records, DQ scores and table freshness."""
    env = _env_dims(t)
    slos = sorted(
        {c.freshness_slo_minutes for c in (*SILVER_TABLES, *GOLD_TABLES) if c.freshness_slo_minutes is not None}
    )
    return (
        *(
            Panel(
                f"Records written: {layer}",
                (Line("records_out", {**env, catalog.JOB: layer}),),
                stacked=True,
                description=f"Records the {layer} job wrote per table and run.",
            )
            for layer in LAYERS
        ),
        Panel(
            "Quarantined by reason",
            tuple(Line("quarantined_by_reason", {**env, catalog.JOB: job}, label=job) for job in ("bronze", "silver")),
            width=12,
            stacked=True,
            description="Records refused per run, by reason code; every one is in its layer's quarantine table.",
        ),
        Panel(
            "DQ score (silver, gold)",
            tuple(Line("dq_score", {**env, catalog.JOB: job}, label=job) for job in ("silver", "gold")),
            width=12,
            thresholds=_alarm_line("dq_score", t.env),
            description="Share of each table's rule checks that passed per run (1 = all passed).",
        ),
        Panel(
            "Freshness (minutes since last commit)",
            (Line("freshness_minutes", env),),
            width=12,
            thresholds=tuple((f"SLO {m} min", float(m)) for m in slos),
            description="Per silver and gold table, against the freshness SLOs of the table contracts.",
        ),
    )


def _operations_panels(t: Targets) -> tuple[Panel, ...]:
    """Overview, last row: landing intake and the operational Lambdas' errors."""
    env = _env_dims(t)
    return (
        Panel(
            "Landing intake",
            (Line("intake_accepted", env), Line("intake_rejected", env)),
            width=6,
            description="Landing objects accepted and rejected against the landing contract.",
        ),
        Panel(
            "Operational Lambda errors",
            tuple(Line("lambda_errors", {catalog.FUNCTION_NAME: f}, label=f) for f in t.functions),
            width=6,
            thresholds=_alarm_line("lambda_errors", t.env),
            description="Failed invocations per operational Lambda.",
        ),
    )


_CAPACITY_ALARM = "The capacity alarm fires at 90% of the maximum for 10 minutes (emr-capacity-exhausted.md)."


def _emr_capacity(t: Targets) -> Dashboard:
    """The EMR Serverless application's capacity and job runs."""
    app = {catalog.APPLICATION_NAME: aws_names.emr_application_name(t.env, t.project)}
    return Dashboard(
        key="emr",
        title=f"{t.prefix} EMR Serverless capacity",
        panels=(
            Panel("vCPU allocated", (Line("emr_cpu_allocated", app),), width=12, stacked=True),
            Panel("Memory allocated (GB)", (Line("emr_memory_allocated", app),), width=12, stacked=True),
            Panel(
                "vCPU: application against its maximum",
                (Line("emr_application_cpu_allocated", app), Line("emr_max_cpu_allowed", app)),
                width=12,
                description=_CAPACITY_ALARM,
            ),
            Panel(
                "Memory (GB): application against its maximum",
                (Line("emr_application_memory_allocated", app), Line("emr_max_memory_allowed", app)),
                width=12,
                description=_CAPACITY_ALARM,
            ),
            Panel("Running workers", (Line("emr_running_workers", app),), width=12, stacked=True),
            Panel(
                "Job runs",
                (Line("emr_success_jobs", app), Line("emr_failed_jobs", app)),
                width=12,
                thresholds=_alarm_line("emr_failed_jobs", t.env),
            ),
            *_spark_panels(t),
        ),
    )


def _spark_panels(t: Targets) -> tuple[Panel, ...]:
    """EMR board, last rows: what each job run cost Spark, per job (the sizing's evidence, EMR_SIZING.md)."""
    env = _env_dims(t)
    return (
        Panel(
            "Spark executor time per run (s)",
            (Line("spark_executor_run_time", env), Line("spark_executor_cpu_time", env)),
            width=12,
            description="Task run time and CPU time summed over a run's stages, per job.",
        ),
        Panel(
            "Shuffle per run (bytes)",
            (Line("spark_shuffle_read", env), Line("spark_shuffle_write", env)),
            width=12,
            description="Shuffle bytes a run's stages read and wrote, per job.",
        ),
        Panel(
            "Spill per run (bytes)",
            (Line("spark_spill_memory", env), Line("spark_spill_disk", env)),
            width=12,
            description="Above zero: the job's executors ran short of execution memory (raise executor memory).",
        ),
        Panel(
            "Peak executor heap (bytes)",
            (Line("spark_peak_executor_heap", env),),
            width=12,
            description="Largest JVM heap one executor used during a run, per job, against its spark.executor.memory.",
        ),
    )


def _cost(t: Targets) -> Dashboard:
    """Job run cost, cost per million records and the account's charges against the budget."""
    env = _env_dims(t)
    return Dashboard(
        key="cost",
        title=f"{t.prefix} cost",
        panels=(
            Panel(
                "Job cost (USD)",
                tuple(Line("job_cost_usd", {**env, catalog.JOB: job}, label=job) for job in JOBS),
                stacked=True,
                description="Per job run: billed vCPU, memory and storage hours x the region's prices.",
            ),
            Panel(
                "USD per million records",
                tuple(Line("cost_per_million_records", {**env, catalog.JOB: job}, label=job) for job in LAYERS),
                thresholds=_alarm_line("cost_per_million_records", t.env),
            ),
            Panel(
                "Account charges this month (USD)",
                (Line("estimated_charges", {catalog.CURRENCY: "USD"}, region=BILLING_REGION),),
                thresholds=(("monthly budget", float(t.budget_usd)),),
                description="AWS/Billing in us-east-1 (needs billing alerts on); the budget alerts at its thresholds.",
            ),
        ),
    )


def _disaster_recovery(t: Targets) -> Dashboard:
    """S3 replication to the DR region's replica buckets and the replica verifier's findings."""
    env = _env_dims(t)
    replicas = tuple(t.replica_bucket(layer) for layer in ZONES)
    return Dashboard(
        key="dr",
        title=f"{t.prefix} disaster recovery ({t.dr_region})",
        panels=(
            Panel(
                "Replication latency (s)",
                tuple(Line("s3_replication_latency", {catalog.DESTINATION_BUCKET: b}, label=b) for b in replicas),
                width=12,
                thresholds=(("RTC 15 min", 900.0),),
            ),
            Panel(
                "Operations pending replication",
                tuple(
                    Line("s3_operations_pending_replication", {catalog.DESTINATION_BUCKET: b}, label=b)
                    for b in replicas
                ),
                width=12,
            ),
            Panel(
                "Operations failed replication",
                tuple(
                    Line("s3_operations_failed_replication", {catalog.DESTINATION_BUCKET: b}, label=b) for b in replicas
                ),
            ),
            Panel(
                "Replica consistent (all tables)",
                (Line("replica_consistent", env),),
                thresholds=_alarm_line("replica_consistent", t.env),
            ),
            Panel("Replica lag (minutes)", (Line("replica_lag_minutes", env),)),
        ),
    )


# --- positions --------------------------------------------------------------------------------------------------


def panel_positions(panels: Sequence[Panel]) -> list[tuple[int, int]]:
    """(x, y) of each panel, filled left to right in rows of 24 columns."""
    out, x, y, row_height = [], 0, 0, 0
    for p in panels:
        if x + p.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        out.append((x, y))
        x += p.width
        row_height = max(row_height, p.height)
    return out


_NOT_IN_LABELS = (catalog.APPLICATION_ID, catalog.SOURCE_BUCKET, catalog.RULE_ID)
"""Searched dimensions with one value per environment (ids, generated names): they would only add noise."""


def line_label(line: Line) -> str:
    """The line's label, followed by what tells its searched series apart (e.g. the table), if anything."""
    varying = [d for d in searched_dimensions(line) if d not in _NOT_IN_LABELS]
    dynamic = " ".join("${PROP('Dim." + d + "')}" for d in varying)
    if dynamic:
        return f"{line.label} {dynamic}" if line.label else dynamic
    return line.label or catalog.metric(line.metric).title


def searched_dimensions(line: Line) -> tuple[str, ...]:
    spec = catalog.metric(line.metric)
    unknown = set(line.dims) - set(spec.dimensions)
    if unknown:
        raise ValueError(f"panel line {line.metric!r}: {sorted(unknown)} are not dimensions of {spec.name}")
    return tuple(d for d in spec.dimensions if d not in line.dims)


# --- CloudWatch ---------------------------------------------------------------------------------------------------


def _search_expression(line: Line, env: str) -> str:
    spec = catalog.metric(line.metric)
    schema = ",".join((spec.namespace_for(env), *spec.dimensions))
    terms = [f'MetricName="{spec.name}"', *(f'{k}="{v}"' for k, v in line.dims.items())]
    return f"SEARCH('{{{schema}}} {' '.join(terms)}', '{spec.statistic}', {spec.period_seconds})"


def cloudwatch_body(board: Dashboard, t: Targets) -> dict[str, Any]:
    """The ``DashboardBody`` of one dashboard (what PutDashboard and AWS::CloudWatch::Dashboard take)."""
    widgets = []
    for panel, (x, y) in zip(board.panels, panel_positions(board.panels), strict=True):
        metrics: list[list[Any]] = []
        regions = {line.region for line in panel.lines if line.region}
        for n, line in enumerate(panel.lines):
            spec = catalog.metric(line.metric)
            label = line_label(line)
            if searched_dimensions(line):
                metrics.append([{"expression": _search_expression(line, t.env), "id": f"e{n}", "label": label}])
            else:
                values: list[Any] = [spec.namespace_for(t.env), spec.name]
                for name in spec.dimensions:
                    values += [name, line.dims[name]]
                values.append({"stat": spec.statistic, "period": spec.period_seconds, "label": label})
                metrics.append(values)
        properties: dict[str, Any] = {
            "title": panel.title,
            "region": regions.pop() if len(regions) == 1 else t.region,
            "view": "timeSeries",
            "stacked": panel.stacked,
            "metrics": metrics,
            "period": max(catalog.metric(line.metric).period_seconds for line in panel.lines),
        }
        if panel.thresholds:
            properties["annotations"] = {
                "horizontal": [{"label": label, "value": value} for label, value in panel.thresholds]
            }
        widgets.append(
            {"type": "metric", "x": x, "y": y, "width": panel.width, "height": panel.height, "properties": properties}
        )
    return {"start": "-P7D", "periodOverride": "inherit", "widgets": widgets}


def cloudwatch_dashboard_name(board: Dashboard, t: Targets) -> str:
    return f"{t.prefix}-{board.key}"
