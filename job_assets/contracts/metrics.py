"""The metric catalog: every metric the platform charts or alarms on, ours and AWS's, declared once.

It is the single source for the CDK alarms and dashboards, the exported CloudWatch and Grafana dashboards
(``dashboards/``), the metric reference (``docs/METRICS.md``, generated), the Spark jobs' end-of-run
metrics and the operational Lambdas' metrics. Each entry says where the metric lives (namespace, name,
dimensions), how to read it (unit, statistic, period), who publishes it, and, when it has an alarm, the
threshold per environment and the runbook that answers it.

Our metrics live in one namespace per environment, ``Lakehouse/<env>`` (:func:`our_namespace`), so
nothing of dev can trip a prod alarm; they keep the ``Environment`` dimension too, so a Grafana panel or a
cross-account search that mixes environments stays unambiguous.

Pure Python 3.9 with no dependencies: the Spark jobs on EMR, the Lambdas, the CDK app and the CLI all
import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

OURS = "Lakehouse"
"""Our namespaces are ``Lakehouse/<env>``; a :class:`Metric` with this namespace is one of ours."""

# --- dimensions ---------------------------------------------------------------------------------------------
ENVIRONMENT = "Environment"
JOB = "Job"
TABLE = "Table"
REASON = "Reason"
APPLICATION_ID = "ApplicationId"
APPLICATION_NAME = "ApplicationName"
STATE_MACHINE_ARN = "StateMachineArn"
FUNCTION_NAME = "FunctionName"
QUEUE_NAME = "QueueName"
SOURCE_BUCKET = "SourceBucket"
DESTINATION_BUCKET = "DestinationBucket"
RULE_ID = "RuleId"
CURRENCY = "Currency"
WORKER_TYPE = "WorkerType"
CAPACITY_ALLOCATION_TYPE = "CapacityAllocationType"

# --- CloudWatch vocabulary (the values CloudFormation takes) ---------------------------------------------------
GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"
GREATER = "GreaterThanThreshold"
LESS = "LessThanThreshold"
COMPARISONS = (GREATER_OR_EQUAL, GREATER, LESS, "LessThanOrEqualToThreshold")
MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
UNITS = ("Count", "Seconds", "Milliseconds", "None", "Percent", "Bytes")


def our_namespace(env: str) -> str:
    """``Lakehouse/<env>``: the namespace of our metrics in one environment."""
    if not env or "/" in env:
        raise ValueError(f"environment {env!r} is not a plain name like dev")
    return f"{OURS}/{env}"


@dataclass(frozen=True)
class Alarm:
    """The alarm a metric carries: when it fires, and the runbook that answers it."""

    summary: str
    """What the alarm means, in one sentence (the start of the alarm description)."""
    runbook: str
    """File under ``runbooks/``; the description ends with ``Runbook: <runbook_base_url><file>``."""
    comparison: str
    threshold: Optional[float]
    """``None``: per table, from the table contract (the freshness SLO)."""
    per_environment: Tuple[Tuple[str, float], ...] = ()
    """Thresholds that differ from ``threshold`` in some environments: ``(("prod", 2.0),)``."""
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    missing_data: str = "notBreaching"
    in_pipeline_health: bool = False
    """Part of the composite ``pipeline-unhealthy`` alarm."""

    def threshold_for(self, env: str) -> Optional[float]:
        return dict(self.per_environment).get(env, self.threshold)


@dataclass(frozen=True)
class Metric:
    key: str
    """Stable id used by dashboards, panels and code."""
    namespace: str
    """``AWS/...`` or :data:`OURS` (resolved per environment by :meth:`namespace_for`)."""
    name: str
    dimensions: Tuple[str, ...]
    unit: str
    statistic: str
    period_seconds: int
    description: str
    publisher: str
    """Who puts the data points: a job, a Lambda, or an AWS service."""
    alarm: Optional[Alarm] = None
    label: str = ""
    """Short chart label; defaults to ``name``."""

    @property
    def ours(self) -> bool:
        return self.namespace == OURS

    def namespace_for(self, env: str) -> str:
        return our_namespace(env) if self.ours else self.namespace

    @property
    def title(self) -> str:
        return self.label or self.name


JOBS = "Spark jobs (end of run)"
RUNBOOK_DQ = "dq-score-low.md"

METRICS: Tuple[Metric, ...] = (
    # --- ours: the Spark jobs, at the end of each run (locally the same figures are the run summary) ---------
    Metric(
        key="records_in",
        namespace=OURS,
        name="RecordsIn",
        dimensions=(ENVIRONMENT, JOB, TABLE),
        unit="Count",
        statistic="Sum",
        period_seconds=3600,
        description="Records a job read for a table in one run (run summary rows_in).",
        publisher=JOBS,
        label="records in",
    ),
    Metric(
        key="records_out",
        namespace=OURS,
        name="RecordsOut",
        dimensions=(ENVIRONMENT, JOB, TABLE),
        unit="Count",
        statistic="Sum",
        period_seconds=3600,
        description="Records a job wrote to a table in one run: inserted, updated or deleted (rows_out).",
        publisher=JOBS,
        label="records out",
    ),
    Metric(
        key="records_quarantined",
        namespace=OURS,
        name="RecordsQuarantined",
        dimensions=(ENVIRONMENT, JOB, TABLE),
        unit="Count",
        statistic="Sum",
        period_seconds=3600,
        description="Records a job refused for a table in one run, each kept with its reason (rows_quarantined).",
        publisher=JOBS,
        label="quarantined",
    ),
    Metric(
        key="quarantined_by_reason",
        namespace=OURS,
        name="QuarantinedByReason",
        dimensions=(ENVIRONMENT, JOB, REASON),
        unit="Count",
        statistic="Sum",
        period_seconds=3600,
        description="Records quarantined in one run, by reason code (the closed set of _error values).",
        publisher=JOBS,
        label="quarantined by reason",
    ),
    Metric(
        key="dq_score",
        namespace=OURS,
        name="DQScore",
        dimensions=(ENVIRONMENT, JOB, TABLE),
        unit="None",
        statistic="Minimum",
        period_seconds=86400,
        description=(
            "Share of a table's data-quality rule checks that passed in one run, 0..1 (per day: the worst run; "
            "a run stopped by a fail rule reports its score too)."
        ),
        publisher=JOBS,
        label="DQ score",
        alarm=Alarm(
            summary="A table's data-quality score fell below the threshold: more records than usual fail its rules.",
            runbook=RUNBOOK_DQ,
            comparison=LESS,
            threshold=0.95,
            per_environment=(("dev", 0.9),),
            missing_data="notBreaching",
            in_pipeline_health=True,
        ),
    ),
    Metric(
        key="job_duration",
        namespace=OURS,
        name="JobDurationSeconds",
        dimensions=(ENVIRONMENT, JOB),
        unit="Seconds",
        statistic="Maximum",
        period_seconds=3600,
        description="Wall-clock seconds of one job run, from the job's start to its last commit.",
        publisher=JOBS,
        label="job duration",
    ),
    # --- ours: the operational Lambdas ---------------------------------------------------------------------
    Metric(
        key="freshness_minutes",
        namespace=OURS,
        name="FreshnessMinutes",
        dimensions=(ENVIRONMENT, TABLE),
        unit="None",
        statistic="Maximum",
        period_seconds=900,
        description="Minutes since the table's last Delta commit (freshness monitor, every check interval).",
        publisher="freshness-monitor Lambda",
        label="freshness (min)",
        alarm=Alarm(
            summary="A table has not been committed for longer than its contract's freshness SLO.",
            runbook="freshness-breach.md",
            comparison=GREATER,
            threshold=None,
            evaluation_periods=2,
            datapoints_to_alarm=1,
            missing_data="missing",
            in_pipeline_health=True,
        ),
    ),
    Metric(
        key="job_cost_usd",
        namespace=OURS,
        name="JobCostUSD",
        dimensions=(ENVIRONMENT, JOB),
        unit="None",
        statistic="Sum",
        period_seconds=86400,
        description="USD of one job run: billed vCPU, memory and storage hours times the region's prices.",
        publisher="cost-reporter Lambda",
        label="job cost (USD)",
    ),
    Metric(
        key="cost_per_million_records",
        namespace=OURS,
        name="CostPerMillionRecords",
        dimensions=(ENVIRONMENT, JOB),
        unit="None",
        statistic="Maximum",
        period_seconds=86400,
        description="USD per million records a job read (job cost / records in x 10^6).",
        publisher="cost-reporter Lambda",
        label="USD per 1M records",
        alarm=Alarm(
            summary="A job cost more per million records than the budgeted rate.",
            runbook="job-cost.md",
            comparison=GREATER,
            threshold=5.0,
            per_environment=(("dev", 20.0),),
            missing_data="notBreaching",
        ),
    ),
    Metric(
        key="intake_accepted",
        namespace=OURS,
        name="IntakeObjectsAccepted",
        dimensions=(ENVIRONMENT,),
        unit="Count",
        statistic="Sum",
        period_seconds=300,
        description="Landing objects the intake accepted (valid against the landing contract).",
        publisher="landing-intake Lambda",
        label="accepted",
    ),
    Metric(
        key="intake_rejected",
        namespace=OURS,
        name="IntakeObjectsRejected",
        dimensions=(ENVIRONMENT,),
        unit="Count",
        statistic="Sum",
        period_seconds=300,
        description="Landing objects the intake rejected (never ingestible), each recorded with its reason.",
        publisher="landing-intake Lambda",
        label="rejected",
    ),
    Metric(
        key="replica_consistent",
        namespace=OURS,
        name="ReplicaConsistent",
        dimensions=(ENVIRONMENT,),
        unit="None",
        statistic="Minimum",
        period_seconds=300,
        description="1 when every DR replica table has every file of its latest replicated version, else 0.",
        publisher="replica-verifier Lambda",
        label="replica consistent",
        alarm=Alarm(
            summary=(
                "A DR replica table has referenced files missing for longer than the 15-minute "
                "Replication Time Control window."
            ),
            runbook="replica-inconsistent.md",
            comparison=LESS,
            threshold=1,
            evaluation_periods=4,
            datapoints_to_alarm=4,
            missing_data="missing",
        ),
    ),
    Metric(
        key="replica_table_consistent",
        namespace=OURS,
        name="ReplicaConsistent",
        dimensions=(ENVIRONMENT, TABLE),
        unit="None",
        statistic="Minimum",
        period_seconds=300,
        description="1 when this replica table has every file of its latest replicated version, else 0.",
        publisher="replica-verifier Lambda",
        label="table consistent",
    ),
    Metric(
        key="replica_lag_versions",
        namespace=OURS,
        name="ReplicaLagVersions",
        dimensions=(ENVIRONMENT, TABLE),
        unit="Count",
        statistic="Maximum",
        period_seconds=300,
        description="Delta versions the replica table is behind its source.",
        publisher="replica-verifier Lambda",
        label="replica lag (versions)",
    ),
    Metric(
        key="replica_lag_minutes",
        namespace=OURS,
        name="ReplicaLagMinutes",
        dimensions=(ENVIRONMENT, TABLE),
        unit="None",
        statistic="Maximum",
        period_seconds=300,
        description="Minutes since the oldest source commit a replica table lacks (0 when caught up).",
        publisher="replica-verifier Lambda",
        label="replica lag (min)",
    ),
    Metric(
        key="replica_missing_files",
        namespace=OURS,
        name="ReplicaMissingFiles",
        dimensions=(ENVIRONMENT, TABLE),
        unit="Count",
        statistic="Maximum",
        period_seconds=300,
        description="Files the replica's latest version references that the replica bucket lacks.",
        publisher="replica-verifier Lambda",
        label="missing files",
    ),
    # --- AWS: EMR Serverless (ApplicationId + ApplicationName since emr-7.10) ---------------------------------
    Metric(
        key="emr_failed_jobs",
        namespace="AWS/EMRServerless",
        name="FailedJobs",
        dimensions=(APPLICATION_ID, APPLICATION_NAME),
        unit="Count",
        statistic="Sum",
        period_seconds=300,
        description="Job runs of the application that ended FAILED.",
        publisher="EMR Serverless",
        label="failed jobs",
        alarm=Alarm(
            summary="An EMR Serverless job run of the lakehouse application failed.",
            runbook="emr-job-failed.md",
            comparison=GREATER_OR_EQUAL,
            threshold=1,
            in_pipeline_health=True,
        ),
    ),
    Metric(
        key="emr_success_jobs",
        namespace="AWS/EMRServerless",
        name="SuccessJobs",
        dimensions=(APPLICATION_ID, APPLICATION_NAME),
        unit="Count",
        statistic="Sum",
        period_seconds=300,
        description="Job runs of the application that ended SUCCESS.",
        publisher="EMR Serverless",
        label="succeeded jobs",
    ),
    Metric(
        key="emr_running_workers",
        namespace="AWS/EMRServerless",
        name="RunningWorkerCount",
        dimensions=(APPLICATION_ID, APPLICATION_NAME, WORKER_TYPE, CAPACITY_ALLOCATION_TYPE),
        unit="Count",
        statistic="Maximum",
        period_seconds=60,
        description="Workers (driver and executors) running for the application.",
        publisher="EMR Serverless",
        label="running workers",
    ),
    Metric(
        key="emr_cpu_allocated",
        namespace="AWS/EMRServerless",
        name="CPUAllocated",
        dimensions=(APPLICATION_ID, APPLICATION_NAME, WORKER_TYPE, CAPACITY_ALLOCATION_TYPE),
        unit="None",
        statistic="Maximum",
        period_seconds=60,
        description="vCPUs allocated to the application's workers (the maximum capacity caps it).",
        publisher="EMR Serverless",
        label="vCPU allocated",
    ),
    Metric(
        key="emr_memory_allocated",
        namespace="AWS/EMRServerless",
        name="MemoryAllocated",
        dimensions=(APPLICATION_ID, APPLICATION_NAME, WORKER_TYPE, CAPACITY_ALLOCATION_TYPE),
        unit="None",
        statistic="Maximum",
        period_seconds=60,
        description="GB of memory allocated to the application's workers.",
        publisher="EMR Serverless",
        label="memory allocated (GB)",
    ),
    # --- AWS: Step Functions ---------------------------------------------------------------------------------
    Metric(
        key="sfn_executions_succeeded",
        namespace="AWS/States",
        name="ExecutionsSucceeded",
        dimensions=(STATE_MACHINE_ARN,),
        unit="Count",
        statistic="Sum",
        period_seconds=300,
        description="Executions of a state machine that succeeded.",
        publisher="Step Functions",
        label="succeeded",
    ),
    Metric(
        key="sfn_executions_failed",
        namespace="AWS/States",
        name="ExecutionsFailed",
        dimensions=(STATE_MACHINE_ARN,),
        unit="Count",
        statistic="Sum",
        period_seconds=300,
        description="Executions of a state machine that failed.",
        publisher="Step Functions",
        label="failed",
        alarm=Alarm(
            summary="An execution of a lake-writing state machine failed.",
            runbook="pipeline-execution-failed.md",
            comparison=GREATER_OR_EQUAL,
            threshold=1,
            in_pipeline_health=True,
        ),
    ),
    Metric(
        key="sfn_executions_timed_out",
        namespace="AWS/States",
        name="ExecutionsTimedOut",
        dimensions=(STATE_MACHINE_ARN,),
        unit="Count",
        statistic="Sum",
        period_seconds=300,
        description="Executions of a state machine that hit the state machine's timeout.",
        publisher="Step Functions",
        label="timed out",
        alarm=Alarm(
            summary="An execution of a lake-writing state machine timed out.",
            runbook="pipeline-execution-timed-out.md",
            comparison=GREATER_OR_EQUAL,
            threshold=1,
            in_pipeline_health=True,
        ),
    ),
    Metric(
        key="sfn_execution_time",
        namespace="AWS/States",
        name="ExecutionTime",
        dimensions=(STATE_MACHINE_ARN,),
        unit="Milliseconds",
        statistic="Maximum",
        period_seconds=3600,
        description="Milliseconds from an execution's start to its end.",
        publisher="Step Functions",
        label="execution time (ms)",
    ),
    # --- AWS: Lambda ----------------------------------------------------------------------------------------
    Metric(
        key="lambda_errors",
        namespace="AWS/Lambda",
        name="Errors",
        dimensions=(FUNCTION_NAME,),
        unit="Count",
        statistic="Sum",
        period_seconds=300,
        description="Invocations of an operational Lambda that ended in an error.",
        publisher="Lambda",
        label="errors",
        alarm=Alarm(
            summary="An operational Lambda failed.",
            runbook="lambda-errors.md",
            comparison=GREATER_OR_EQUAL,
            threshold=1,
        ),
    ),
    Metric(
        key="lambda_duration",
        namespace="AWS/Lambda",
        name="Duration",
        dimensions=(FUNCTION_NAME,),
        unit="Milliseconds",
        statistic="Maximum",
        period_seconds=300,
        description="Milliseconds an invocation ran.",
        publisher="Lambda",
        label="duration (ms)",
    ),
    # --- AWS: SQS dead-letter queues ------------------------------------------------------------------------
    Metric(
        key="dlq_depth",
        namespace="AWS/SQS",
        name="ApproximateNumberOfMessagesVisible",
        dimensions=(QUEUE_NAME,),
        unit="Count",
        statistic="Maximum",
        period_seconds=300,
        description="Messages waiting in a dead-letter queue: events the platform could not process.",
        publisher="SQS",
        label="DLQ depth",
        alarm=Alarm(
            summary="Messages reached a dead-letter queue: events were not processed.",
            runbook="intake-dlq-not-empty.md",
            comparison=GREATER_OR_EQUAL,
            threshold=1,
            in_pipeline_health=True,
        ),
    ),
    # --- AWS: S3 replication (Replication Time Control metrics, per rule) -----------------------------------
    Metric(
        key="s3_replication_latency",
        namespace="AWS/S3",
        name="ReplicationLatency",
        dimensions=(SOURCE_BUCKET, DESTINATION_BUCKET, RULE_ID),
        unit="Seconds",
        statistic="Maximum",
        period_seconds=300,
        description="Seconds the replica lags the source bucket (RTC metrics).",
        publisher="S3 replication",
        label="replication latency (s)",
    ),
    Metric(
        key="s3_operations_pending_replication",
        namespace="AWS/S3",
        name="OperationsPendingReplication",
        dimensions=(SOURCE_BUCKET, DESTINATION_BUCKET, RULE_ID),
        unit="Count",
        statistic="Maximum",
        period_seconds=300,
        description="Objects waiting to replicate.",
        publisher="S3 replication",
        label="pending operations",
    ),
    Metric(
        key="s3_operations_failed_replication",
        namespace="AWS/S3",
        name="OperationsFailedReplication",
        dimensions=(SOURCE_BUCKET, DESTINATION_BUCKET, RULE_ID),
        unit="Count",
        statistic="Sum",
        period_seconds=300,
        description="Objects that failed to replicate.",
        publisher="S3 replication",
        label="failed operations",
    ),
    # --- AWS: billing (us-east-1 only; needs "Receive Billing Alerts" on the account) ------------------------
    Metric(
        key="estimated_charges",
        namespace="AWS/Billing",
        name="EstimatedCharges",
        dimensions=(CURRENCY,),
        unit="None",
        statistic="Maximum",
        period_seconds=21600,
        description="The account's estimated charges this month (USD), against the monthly budget.",
        publisher="AWS Billing (us-east-1)",
        label="estimated charges (USD)",
    ),
)

BY_KEY: Dict[str, Metric] = {m.key: m for m in METRICS}


def metric(key: str) -> Metric:
    """The catalog entry ``key``; an unknown key is a ``KeyError`` naming the known ones."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"no metric {key!r} in the catalog; known: {', '.join(sorted(BY_KEY))}") from None


def alarmed() -> Tuple[Metric, ...]:
    """The metrics that carry an alarm."""
    return tuple(m for m in METRICS if m.alarm is not None)


def validate() -> None:
    """Raise ``ValueError`` naming the entry and the field when the catalog is inconsistent."""
    seen = set()
    for m in METRICS:
        where = f"metric {m.key!r}"
        if m.key in seen:
            raise ValueError(f"{where}: key declared twice")
        seen.add(m.key)
        if not (m.ours or m.namespace.startswith("AWS/")):
            raise ValueError(f"{where}: namespace {m.namespace!r} is neither ours nor AWS/...")
        if m.ours and ENVIRONMENT not in m.dimensions:
            raise ValueError(f"{where}: our metrics carry the {ENVIRONMENT} dimension")
        if m.unit not in UNITS:
            raise ValueError(f"{where}: unit {m.unit!r} is not one of {UNITS}")
        if m.statistic not in STATISTICS:
            raise ValueError(f"{where}: statistic {m.statistic!r} is not one of {STATISTICS}")
        if m.period_seconds < 60 or m.period_seconds % 60:
            raise ValueError(f"{where}: period {m.period_seconds}s is not a multiple of 60")
        if not m.description.endswith("."):
            raise ValueError(f"{where}: the description is a sentence ending with '.'")
        a = m.alarm
        if a is None:
            continue
        if a.comparison not in COMPARISONS:
            raise ValueError(f"{where}: alarm comparison {a.comparison!r} is not one of {COMPARISONS}")
        if a.missing_data not in MISSING_DATA:
            raise ValueError(f"{where}: alarm missing_data {a.missing_data!r} is not one of {MISSING_DATA}")
        if not 1 <= a.datapoints_to_alarm <= a.evaluation_periods:
            raise ValueError(f"{where}: alarm needs 1 <= datapoints_to_alarm <= evaluation_periods")
        if m.period_seconds * a.evaluation_periods > 86400:
            raise ValueError(f"{where}: an alarm evaluates at most one day (period x evaluation_periods)")
        if not a.runbook.endswith(".md") or "/" in a.runbook:
            raise ValueError(f"{where}: alarm runbook {a.runbook!r} is a file name under runbooks/")


validate()
