"""FailureNotifier: the Lambda that turns failed job runs and executions into one readable alert, and its rules.

EMR job runs FAILED/CANCELLED and pipeline/maintenance executions FAILED/TIMED_OUT -> the function (async).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.constructs.emr_spark_application import EmrSparkApplication
from cdk.constructs.ops_function import OpsCommon, OpsFunction


@dataclass(frozen=True, kw_only=True)
class FailureNotifierProps:
    common: OpsCommon
    application: EmrSparkApplication
    """Whose failed job runs are reported."""
    state_machines: Sequence[sfn.IStateMachine]
    """Whose failed or timed-out executions are reported."""
    alert_topic: sns.ITopic
    alert_publish_policy: iam.IManagedPolicy
    """Publish to ``alert_topic`` (with its key)."""
    reader_policies: Sequence[iam.IManagedPolicy]
    """Read what the alert describes: job runs, executions."""
    runbook_base_url: str
    emr_log_group: str
    """The EMR Serverless log group the alert links."""
    name_prefix: str
    """Names the rules ``<prefix>-job-run-failed`` and ``<prefix>-execution-failed``."""


class FailureNotifier(OpsFunction):
    """The ``failure-notifier`` function (an :class:`OpsFunction`), invoked asynchronously by its two rules.

    The rules are created beside the function, in ``scope`` (the Ops stack), where they stood before this
    construct existed, so their logical IDs (and their Lambda permissions') stay as deployed. One per scope.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: FailureNotifierProps) -> None:
        common = props.common
        super().__init__(
            scope,
            construct_id,
            props=common.function_props(
                "failure-notifier",
                handler="failure_notifier.handler.handler",
                description=(
                    "Turns failed EMR job runs and pipeline executions into one readable alert with links and runbook."
                ),
                environment={
                    "ENVIRONMENT": common.environment,
                    "ALERT_TOPIC_ARN": props.alert_topic.topic_arn,
                    "RUNBOOK_BASE_URL": props.runbook_base_url,
                    "LOG_GROUP": props.emr_log_group,
                    "APPLICATION_ID": props.application.application_id,
                    "PROJECT": common.project,
                },
                reserved_concurrency=2,
                managed_policies=[props.alert_publish_policy, *props.reader_policies],
                failed_events_queue=common.failed_events,
            ),
        )
        self.rules = [self._job_run_failed(scope, props), self._execution_failed(scope, props)]

    def _job_run_failed(self, scope: Construct, props: FailureNotifierProps) -> events.Rule:
        return events.Rule(
            scope,
            "JobRunFailed",
            rule_name=f"{props.name_prefix}-job-run-failed",
            description="EMR Serverless job runs of the lakehouse application that end FAILED or CANCELLED.",
            event_pattern=events.EventPattern(
                source=["aws.emr-serverless"],
                detail_type=["EMR Serverless Job Run State Change"],
                detail={"state": ["FAILED", "CANCELLED"], "applicationId": [props.application.application_id]},
            ),
            targets=[props.common.async_target(self)],
        )

    def _execution_failed(self, scope: Construct, props: FailureNotifierProps) -> events.Rule:
        return events.Rule(
            scope,
            "ExecutionFailed",
            rule_name=f"{props.name_prefix}-execution-failed",
            description="Pipeline and maintenance executions that end FAILED or TIMED_OUT.",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["FAILED", "TIMED_OUT"],
                    "stateMachineArn": [s.state_machine_arn for s in props.state_machines],
                },
            ),
            targets=[props.common.async_target(self)],
        )
