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


def gold_query_policy(
    scope: Construct, construct_id: str, *, database_name: str, table_names: Sequence[str]
) -> iam.ManagedPolicy:
    """What every data-access role shares: the gold tables' Glue metadata and Lake Formation's credentials."""
    stack = Stack.of(scope)
    tables = [
        stack.format_arn(service="glue", resource="table", resource_name=f"{database_name}/{name}")
        for name in table_names
    ]
    policy = iam.ManagedPolicy(
        scope,
        construct_id,
        description="Query the gold tables under Lake Formation: their Glue metadata, Lake Formation's credentials.",
        statements=[
            iam.PolicyStatement(
                sid="GoldMetadata",
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database", resource_name=database_name),
                    *tables,
                ],
            ),
            iam.PolicyStatement(
                sid="LakeFormationCredentials", actions=["lakeformation:GetDataAccess"], resources=["*"]
            ),
        ],
    )
    acknowledge(
        policy,
        rules=["AwsSolutions-IAM5"],
        findings=["Resource::*"],
        reason="lakeformation:GetDataAccess has no resource-level permissions: Lake Formation itself decides per "
        "table and column what the credentials it hands out may read.",
    )
    return policy


@dataclass(frozen=True, kw_only=True)
class DataAccessRoleProps:
    role_name: str
    description: str
    trusted_principals: Sequence[str]
    """IAM ARNs from the environment's config (people's accounts or roles outside the stacks)."""
    query_policy: iam.IManagedPolicy
    """:func:`gold_query_policy`, shared by the data-access roles."""
    workgroup_name: str
    """The Athena workgroup the role queries in (its results location and key are enforced)."""
    results_bucket: s3.Bucket
    results_prefix: str
    """The workgroup's results prefix: the role's own, so no other role reads its results."""
    key: kms.IKey
    """Encrypts the workgroup's results."""


class DataAccessRole(Construct):
    """Athena in one workgroup with its own results, plus the shared query policy; no S3 access to the lake:
    Lake Formation hands out credentials for exactly the columns the role was granted."""

    def __init__(self, scope: Construct, construct_id: str, *, props: DataAccessRoleProps) -> None:
        super().__init__(scope, construct_id)
        principals = [iam.ArnPrincipal(arn) for arn in props.trusted_principals]
        self.role = iam.Role(
            self,
            "Role",
            role_name=props.role_name,
            description=props.description,
            assumed_by=iam.CompositePrincipal(*principals) if len(principals) > 1 else principals[0],
            managed_policies=[props.query_policy],
        )
        self.policy = iam.ManagedPolicy(
            self, "Policy", statements=_workgroup_statements(Stack.of(self), props), roles=[self.role]
        )
        acknowledge(
            self.policy,
            rules=["AwsSolutions-IAM5"],
            findings=[object_arn_finding(props.results_bucket, f"{props.results_prefix}*")],
            reason="The query results are objects Athena names at run time under the role's own workgroup prefix.",
        )


def _workgroup_statements(stack: Stack, props: DataAccessRoleProps) -> list[iam.PolicyStatement]:
    """Query in the workgroup; read and write its results, encrypted with the key."""
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
            resources=[stack.format_arn(service="athena", resource="workgroup", resource_name=props.workgroup_name)],
        ),
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
