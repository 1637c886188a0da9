"""The repositories on AWS (boto3): job runs in EMR Serverless, executions in Step Functions, alerts on SNS
(:func:`aws_repositories` wires them for an alert topic).

No client is created at import or construction: each call takes ``ops_common.aws.client``'s cached client
(adaptive retries: throttling is retried before it surfaces). botocore errors become :class:`RepositoryError`,
chained to the botocore error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ops_common.aws import client
from ops_common.aws_repositories import aws_call

from .repositories import Repositories


class EmrServerlessJobRuns:
    """Any EMR Serverless application's job runs."""

    def job_run(self, application_id: str, run_id: str) -> Mapping[str, Any]:
        """GetJobRun: its ``jobRun``."""
        with aws_call():
            response = client("emr-serverless").get_job_run(applicationId=application_id, jobRunId=run_id)
        return response["jobRun"]


class StepFunctionsExecutions:
    """Any state machine's executions."""

    def describe(self, execution_arn: str) -> Mapping[str, Any]:
        """DescribeExecution."""
        with aws_call():
            return client("stepfunctions").describe_execution(executionArn=execution_arn)


class SnsAlertTopic:
    """The alert topic ``topic_arn``."""

    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn

    def publish(self, subject: str, message: str) -> str | None:
        """Publish, with the subject; the ``MessageId``."""
        with aws_call():
            response = client("sns").publish(TopicArn=self.topic_arn, Subject=subject, Message=message)
        return response.get("MessageId")


def aws_repositories(topic_arn: str) -> Repositories:
    """The repositories the deployed function uses: alerts go to ``topic_arn``."""
    return Repositories(
        job_runs=EmrServerlessJobRuns(), executions=StepFunctionsExecutions(), alerts=SnsAlertTopic(topic_arn)
    )
