"""The repositories on AWS (boto3): job runs in EMR Serverless, the slots parameter in SSM, the run summaries'
Delta logs and Parquet files in S3, the metrics in CloudWatch (:func:`aws_repositories` wires them).

No client is created at import or construction: each call takes ``ops_common.aws.client``'s cached client
(adaptive retries: throttling is retried before it surfaces). botocore errors become :class:`RepositoryError`,
chained to the botocore error; a :class:`SlotsParameterError` keeps its type and message, its botocore cause
replaced by that :class:`RepositoryError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from ops_common import delta_log
from ops_common.aws import client
from ops_common.aws_repositories import CloudWatchMetrics, aws_call, repository_error
from ops_common.slots import SlotsParameterError, read_active_slot

from cost_reporter.repositories import Repositories


class EmrServerlessJobRuns:
    """EMR Serverless job runs (``GetJobRun``)."""

    def job_run(self, application_id: str, job_run_id: str) -> Mapping[str, Any]:
        """GetJobRun: its ``jobRun``."""
        with aws_call():
            return client("emr-serverless").get_job_run(applicationId=application_id, jobRunId=job_run_id)["jobRun"]


class SsmSlotReader:
    """The slots parameter (``GetParameter``, read by :func:`ops_common.slots.read_active_slot`)."""

    def active_slot(self, parameter: str) -> str:
        """GetParameter and its ``active`` slot; a botocore cause of the error becomes a :class:`RepositoryError`."""
        try:
            return read_active_slot(parameter)
        except SlotsParameterError as error:
            cause = error.__cause__
            if isinstance(cause, (ClientError, BotoCoreError)):
                raise error from repository_error(cause)
            raise


class S3RunSummaries:
    """Run summary tables read from their Delta log and Parquet files (:mod:`ops_common.delta_log`)."""

    def rows(
        self, bucket: str, prefix: str, columns: Sequence[str], filters: Mapping[str, str]
    ) -> list[dict[str, Any]] | None:
        """ListObjectsV2 of the log, then GetObject of the log files and the live data files (none: no table)."""
        with aws_call():
            s3 = client("s3")
            listing = delta_log.list_log(s3, bucket, prefix)
            if not listing.commits and not listing.checkpoints:
                return None
            return delta_log.read_rows(s3, bucket, prefix, tuple(columns), dict(filters), listing=listing)


def aws_repositories() -> Repositories:
    """The repositories the deployed function uses (buckets and parameter names come with each call)."""
    return Repositories(
        job_runs=EmrServerlessJobRuns(),
        slots=SsmSlotReader(),
        run_summaries=S3RunSummaries(),
        metrics=CloudWatchMetrics(),
    )
