"""PipelineAlarms: the alerting baseline for the Spark jobs and the state machines that run them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.constructs.catalog_alarm import CatalogAlarm, CatalogAlarmFactory
from cdk.constructs.emr_spark_application import EmrSparkApplication
from job_assets.contracts import metrics as catalog


@dataclass(frozen=True, kw_only=True)
class PipelineAlarmsProps:
    alarm_prefix: str
    application: EmrSparkApplication
    state_machines: Mapping[str, sfn.IStateMachine]
    """Label (e.g. ``Pipeline``) -> state machine."""
    alarms: CatalogAlarmFactory


class PipelineAlarms(Construct):
    """EMR Serverless FailedJobs, and per state machine ExecutionsFailed and ExecutionsTimedOut.

    All three come from the metric catalog (``emr_failed_jobs``, ``sfn_executions_failed``,
    ``sfn_executions_timed_out``): first occurrence in a 5-minute period, missing data is OK (no runs is
    not a failure), the alert topic on ALARM and OK, the runbook linked. Besides, the application's capacity:
    vCPU and memory allocated at 90% or more of its maximum for 10 minutes (``emr_application_cpu_allocated``,
    ``emr_application_memory_allocated``, each a percent of its ``MaxCPUAllowed`` / ``MaxMemoryAllowed``).
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: PipelineAlarmsProps) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[CatalogAlarm] = []

        def alarm(construct_id: str, key: str, name: str, subject: str, dimensions: Mapping[str, str]) -> None:
            self.alarms.append(
                props.alarms.alarm(
                    self, construct_id, metric_key=key, name=name, subject=subject, dimensions=dimensions
                )
            )

        application = props.application
        alarm(
            "EmrFailedJobs",
            "emr_failed_jobs",
            f"{props.alarm_prefix}-emr-failed-jobs",
            f"EMR Serverless application {application.name}",
            {catalog.APPLICATION_ID: application.application_id, catalog.APPLICATION_NAME: application.name},
        )
        for construct, key, name in (
            ("EmrCpuCapacity", "emr_application_cpu_allocated", "emr-cpu-capacity"),
            ("EmrMemoryCapacity", "emr_application_memory_allocated", "emr-memory-capacity"),
        ):
            alarm(
                construct,
                key,
                f"{props.alarm_prefix}-{name}",
                f"EMR Serverless application {application.name}",
                {catalog.APPLICATION_ID: application.application_id, catalog.APPLICATION_NAME: application.name},
            )
        for label, state_machine in props.state_machines.items():
            dimensions = {catalog.STATE_MACHINE_ARN: state_machine.state_machine_arn}
            subject = f"{label.lower()} state machine"
            alarm(
                f"{label}ExecutionsFailed",
                "sfn_executions_failed",
                f"{props.alarm_prefix}-{label.lower()}-executions-failed",
                subject,
                dimensions,
            )
            alarm(
                f"{label}ExecutionsTimedOut",
                "sfn_executions_timed_out",
                f"{props.alarm_prefix}-{label.lower()}-executions-timed-out",
                subject,
                dimensions,
            )
