"""DataAccessRole: a role people assume to query gold with Athena, governed by Lake Formation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import acknowledge
from cdk.constructs.bucket_access_policy import object_arn_finding


@dataclass(frozen=True, kw_only=True)
class DataAccessRoleProps:
    role_name: str
    description: str
    trusted_principals: Sequence[str]
    """IAM ARNs from the environment's config (people's accounts or roles outside the stacks)."""
    workgroup_name: str
    """The Athena workgroup the role queries in (its results location and key are enforced)."""
    results_bucket: s3.Bucket
    results_prefix: str
    """The workgroup's results prefix: the role's own, so no other role reads its results."""
    key: kms.IKey
    """Encrypts the workgroup's results."""
    database_name: str
    table_names: Sequence[str]


class DataAccessRole(Construct):
    """Athena in one workgroup, Glue metadata of the gold tables, ``lakeformation:GetDataAccess``; no S3 access
    to the lake: Lake Formation hands out credentials for exactly the columns the role was granted."""

    def __init__(self, scope: Construct, construct_id: str, *, props: DataAccessRoleProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        principals = [iam.ArnPrincipal(arn) for arn in props.trusted_principals]
        self.role = iam.Role(
            self,
            "Role",
            role_name=props.role_name,
            description=props.description,
            assumed_by=iam.CompositePrincipal(*principals) if len(principals) > 1 else principals[0],
        )
        self.policy = iam.ManagedPolicy(self, "Policy", statements=_statements(stack, props), roles=[self.role])
        acknowledge(
            self.policy,
            rules=["AwsSolutions-IAM5"],
            findings=[
                "Resource::*",
                object_arn_finding(props.results_bucket, f"{props.results_prefix}*"),
            ],
            reason="lakeformation:GetDataAccess has no resource-level permissions (Lake Formation decides per "
            "table and column); the query results are objects under the role's own workgroup prefix.",
        )


def _statements(stack: Stack, props: DataAccessRoleProps) -> list[iam.PolicyStatement]:
    """Query in the workgroup, read the gold tables' metadata, get Lake Formation's credentials, own results."""
    workgroup_arn = stack.format_arn(service="athena", resource="workgroup", resource_name=props.workgroup_name)
    catalog = stack.format_arn(service="glue", resource="catalog")
    database = stack.format_arn(service="glue", resource="database", resource_name=props.database_name)
    tables = [
        stack.format_arn(service="glue", resource="table", resource_name=f"{props.database_name}/{name}")
        for name in props.table_names
    ]
    return [
        iam.PolicyStatement(
            sid="QueryInTheWorkgroup",
            actions=[
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
                "athena:GetWorkGroup",
            ],
            resources=[workgroup_arn],
        ),
        iam.PolicyStatement(
            sid="GoldMetadata",
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
            resources=[catalog, database, *tables],
        ),
        iam.PolicyStatement(sid="LakeFormationCredentials", actions=["lakeformation:GetDataAccess"], resources=["*"]),
        iam.PolicyStatement(
            sid="OwnQueryResults",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[props.results_bucket.arn_for_objects(f"{props.results_prefix}*")],
        ),
        iam.PolicyStatement(
            sid="ListOwnQueryResults",
            actions=["s3:ListBucket", "s3:GetBucketLocation"],
            resources=[props.results_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{props.results_prefix}*"]}},
        ),
        iam.PolicyStatement(
            sid="ResultsKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[props.key.key_arn]
        ),
    ]
