"""PromotionsTable: the DynamoDB table of an environment's promotion history and promotion lock."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk.constructs.backup_plan import BackupMembership

PARTITION_KEY = "pk"
SORT_KEY = "sk"


@dataclass(frozen=True, kw_only=True)
class PromotionsTableProps:
    table_name: str
    """``platform_model.aws_names.promotions_table_name(env)``: the CLI addresses it by this name."""
    encryption_key: kms.IKey
    removal_policy: RemovalPolicy
    """``RETAIN`` unless the environment allows destroy: the history is the audit trail of releases."""
    backup: BackupMembership
    """The environment's snapshot plan: the table is added to it (a selection in this table's stack)."""


class PromotionsTable(Construct):
    """``pk``/``sk`` strings, on demand, point-in-time recovery, in the AWS Backup snapshot plan, encrypted with
    the environment's key.

    ``lakehouse promote`` and ``lakehouse rollback`` keep their history here (``pk="history"``) and take a
    lock (``pk="lock"``) so that two promotions of one environment never interleave.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: PromotionsTableProps) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            table_name=props.table_name,
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(props.encryption_key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=props.removal_policy != RemovalPolicy.DESTROY,
            removal_policy=props.removal_policy,
        )
        self.table_name = props.table_name
        props.backup.add(self, "Backup", self.table.table_arn)
