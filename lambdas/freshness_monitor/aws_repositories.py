"""The repositories on AWS (boto3): the Delta logs on S3, the slots parameter in SSM, the metrics in CloudWatch
(:func:`aws_repositories` wires them).

No client is created at import or construction: each call takes ``ops_common.aws.client``'s cached client
(adaptive retries: throttling is retried before it surfaces). botocore errors become :class:`RepositoryError`
(raised ``from`` the botocore error); the slots parameter is read by ``ops_common.slots.read_active_slot``,
which raises ``SlotsParameterError`` for every failure.
"""

from __future__ import annotations

from collections.abc import Callable

from ops_common import delta_log
from ops_common.aws import client
from ops_common.aws_repositories import CloudWatchMetrics, aws_call
from ops_common.slots import read_active_slot

from .repositories import Repositories


class S3DeltaLogReader:
    """Delta logs on S3, read by ``ops_common.delta_log`` (``_last_checkpoint``, a listing, the newest commits)."""

    def latest_commit(self, bucket: str, prefix: str) -> delta_log.Commit | None:
        """``delta_log.latest_data_commit``: GetObject ``_last_checkpoint``, ListObjectsV2, GetObject the commits
        from the newest back to the first that changed data (OPTIMIZE and VACUUM commits are skipped)."""
        with aws_call():
            return delta_log.latest_data_commit(client("s3"), bucket, prefix)


class SsmSlotsParameter:
    """The slots parameter in SSM, read by ``read`` (``ops_common.slots.read_active_slot``: GetParameter)."""

    def __init__(self, read: Callable[[str], str] = read_active_slot) -> None:
        self.read = read

    def active_slot(self, parameter: str) -> str:
        """``read(parameter)``: the active slot, or ``SlotsParameterError``."""
        return self.read(parameter)


def aws_repositories(*, read_slot: Callable[[str], str] = read_active_slot) -> Repositories:
    """The repositories the deployed function uses; ``read_slot`` reads the slots parameter (GetParameter)."""
    return Repositories(logs=S3DeltaLogReader(), slots=SsmSlotsParameter(read_slot), metrics=CloudWatchMetrics())
