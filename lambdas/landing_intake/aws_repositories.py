"""The repositories on AWS (boto3): the manifest and the pending marker in DynamoDB, the pipeline in Step
Functions, the metrics in CloudWatch (:func:`aws_repositories` wires them from the settings).

No client is created at import or construction: each call takes ``ops_common.aws.client``'s cached client
(adaptive retries: throttling is retried before it surfaces). botocore errors become :class:`RepositoryError`.
"""

from __future__ import annotations

from collections.abc import Collection

from ops_common.aws import client
from ops_common.aws_repositories import CloudWatchMetrics, aws_call

from landing_intake.repositories import ManifestItem, Repositories
from landing_intake.settings import Settings

PENDING_KEY = "#pipeline-pending"
"""The pending marker's ``object_key``: no landing object has it (landing keys start with a source name)."""
PENDING_VERSION = "-"
CONDITION_FAILED = "ConditionalCheckFailedException"
NAME_TAKEN = "ExecutionAlreadyExists"
MAX_PAGE_SIZE = 1000
"""ListExecutions' largest ``maxResults``."""


def _attribute(value: str | int) -> dict[str, str]:
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


class DynamoManifestStore:
    """The manifest table (key: ``object_key``, ``object_version``): the write is conditional on the object version
    not being recorded yet."""

    def __init__(self, table: str) -> None:
        self.table = table

    def add(self, item: ManifestItem) -> bool:
        """PutItem, conditional on no item with this key (``attribute_not_exists`` tests the item of the same
        ``object_key`` and ``object_version``: another version of the key is written)."""
        with aws_call(CONDITION_FAILED) as call:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={name: _attribute(value) for name, value in item.items()},
                ConditionExpression="attribute_not_exists(object_key)",
            )
        return not call.expected_error


class DynamoPendingMarker:
    """The pending marker: the item ``(PENDING_KEY, PENDING_VERSION)`` of the manifest table."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.key = {"object_key": {"S": PENDING_KEY}, "object_version": {"S": PENDING_VERSION}}

    def set(self, token: str, stamp: str) -> None:
        """UpdateItem; ``since`` only if not there (``if_not_exists``)."""
        with aws_call():
            client("dynamodb").update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="SET pending_token = :token, updated_at = :now, since = if_not_exists(since, :now)",
                ExpressionAttributeValues={":token": {"S": token}, ":now": {"S": stamp}},
            )

    def token(self) -> str | None:
        """GetItem with ``ConsistentRead``."""
        with aws_call():
            item = client("dynamodb").get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item")
        return item["pending_token"]["S"] if item and "pending_token" in item else None

    def clear(self, token: str) -> bool:
        """DeleteItem, conditional on the token."""
        with aws_call(CONDITION_FAILED) as call:
            client("dynamodb").delete_item(
                TableName=self.table,
                Key=self.key,
                ConditionExpression="pending_token = :token",
                ExpressionAttributeValues={":token": {"S": token}},
            )
        return not call.expected_error


class StepFunctionsPipeline:
    """The pipeline state machine ``state_machine_arn``; any state machine's running executions."""

    def __init__(self, state_machine_arn: str) -> None:
        self.state_machine_arn = state_machine_arn

    def running_execution(self, state_machine_arn: str, ignore: Collection[str] = ()) -> str | None:
        """ListExecutions, RUNNING only: the first not in ``ignore``. A page holds ``len(ignore) + 1``
        executions, so a full first page always answers; a short one with a next token is followed."""
        with aws_call():
            paginator = client("stepfunctions").get_paginator("list_executions")
            pages = paginator.paginate(
                stateMachineArn=state_machine_arn,
                statusFilter="RUNNING",
                PaginationConfig={"PageSize": min(len(ignore) + 1, MAX_PAGE_SIZE)},
            )
            for page in pages:
                for execution in page["executions"]:
                    if execution["executionArn"] not in ignore:
                        return str(execution["executionArn"])
        return None

    def execution_error(self, execution_arn: str) -> str:
        """DescribeExecution: its ``error`` ("" when it has none)."""
        with aws_call():
            described = client("stepfunctions").describe_execution(executionArn=execution_arn)
        return str(described.get("error") or "")

    def start(self, name: str) -> str | None:
        """StartExecution with input ``{}`` (so a RUNNING execution of this name is the same one)."""
        with aws_call(NAME_TAKEN) as call:
            response = client("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input="{}"
            )
        return None if call.expected_error else str(response["executionArn"])


def aws_repositories(settings: Settings) -> Repositories:
    """The repositories the deployed function uses: the manifest table and the pipeline of ``settings``."""
    return Repositories(
        manifest=DynamoManifestStore(settings.manifest_table),
        pending=DynamoPendingMarker(settings.manifest_table),
        pipeline=StepFunctionsPipeline(settings.state_machine_arn),
        metrics=CloudWatchMetrics(),
    )
