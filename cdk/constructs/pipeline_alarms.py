"""PipelineAlarms: the alerting baseline for the Spark jobs and the state machines that run them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.constructs.emr_spark_application import EmrSparkApplication


@dataclass(frozen=True, kw_only=True)
class PipelineAlarmsProps:
    alarm_prefix: str
    application: EmrSparkApplication
    state_machines: Mapping[str, sfn.IStateMachine]
    """Label (e.g. ``Pipeline``) -> state machine."""
    topic: sns.ITopic


class PipelineAlarms(Construct):
    """EMR Serverless FailedJobs, and per state machine ExecutionsFailed and ExecutionsTimedOut.

    Each alarm fires on the first occurrence in a 5-minute period, treats missing data as OK (no runs is
    not a failure) and notifies the topic on ALARM and on OK.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: PipelineAlarmsProps) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []
        self._alarm(
            "EmrFailedJobs",
            f"{props.alarm_prefix}-emr-failed-jobs",
            props.application.metric_failed_jobs(),
            f"An EMR Serverless job of {props.application.name} failed.",
            props.topic,
        )
        for name, state_machine in props.state_machines.items():
            period = Duration.minutes(5)
            self._alarm(
                f"{name}ExecutionsFailed",
                f"{props.alarm_prefix}-{name.lower()}-executions-failed",
                state_machine.metric_failed(period=period, statistic="Sum"),
                f"An execution of the {name.lower()} state machine failed.",
                props.topic,
            )
            self._alarm(
                f"{name}ExecutionsTimedOut",
                f"{props.alarm_prefix}-{name.lower()}-executions-timed-out",
                state_machine.metric_timed_out(period=period, statistic="Sum"),
                f"An execution of the {name.lower()} state machine timed out.",
                props.topic,
            )

    def _alarm(
        self, construct_id: str, name: str, metric: cloudwatch.Metric, description: str, topic: sns.ITopic
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = actions.SnsAction(topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)
