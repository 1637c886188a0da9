"""JobRunnerPolicy: what a Step Functions role needs to run jobs with ``emr-serverless:startJobRun.sync``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk.compliance import acknowledge
from cdk.constructs.emr_spark_application import EmrSparkApplication

# Step Functions manages this EventBridge rule to learn when a .sync job run ends.
EMR_SYNC_RULE = "StepFunctionsGetEventsForEMRServerlessJobRule"


@dataclass(frozen=True, kw_only=True)
class JobRunnerPolicyProps:
    application: EmrSparkApplication
    job_roles: Sequence[iam.IRole]


class JobRunnerPolicy(Construct):
    """Start, track and cancel job runs of one application, passing only the given runtime roles.

    Written out by hand: aws-cdk-lib has no Step Functions task for EMR Serverless
    (https://docs.aws.amazon.com/step-functions/latest/dg/emr-serverless-iam.html).
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: JobRunnerPolicyProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        application = props.application
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Run and track job runs on the {application.name} EMR Serverless application.",
            statements=[
                iam.PolicyStatement(
                    sid="StartJobRuns",
                    actions=["emr-serverless:StartJobRun"],
                    resources=[application.application_arn],
                ),
                iam.PolicyStatement(
                    sid="TrackJobRuns",
                    actions=[
                        "emr-serverless:GetJobRun",
                        "emr-serverless:CancelJobRun",
                        "emr-serverless:TagResource",
                    ],
                    resources=[application.job_runs_arn],
                ),
                iam.PolicyStatement(
                    sid="PassJobRuntimeRoles",
                    actions=["iam:PassRole"],
                    resources=[role.role_arn for role in props.job_roles],
                    conditions={"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="SyncJobRunEvents",
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[stack.format_arn(service="events", resource="rule", resource_name=EMR_SYNC_RULE)],
                ),
            ],
        )
        logical_id = stack.resolve(stack.get_logical_id(application.application))
        acknowledge(
            self.policy,
            rules=["AwsSolutions-IAM5"],
            findings=[f"Resource::<{logical_id}.Arn>/jobruns/*"],
            reason="Job run ids are created per run; access stays within this one application's job runs.",
        )
