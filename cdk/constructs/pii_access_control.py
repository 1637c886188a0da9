"""PiiAccessControl: Lake Formation governs the gold tables; tags derived from the contracts keep personal
columns from the analyst role (docs/security/PII.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import DefaultStackSynthesizer, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lakeformation as lf
from aws_cdk import aws_s3 as s3
from constructs import Construct

from job_assets.contracts.model import LF_TAG_KEY as TAG_KEY
from job_assets.contracts.model import NON_PII_TAG as NON_PII
from job_assets.contracts.model import PII_TAG as PII
from job_assets.contracts.model import TableContract

SELECT = ["SELECT", "DESCRIBE"]


def classification(contract: TableContract) -> dict[str, list[str]]:
    """``{"pii": [...], "non_pii": [...]}``: the table's columns by the tag the contract gives them."""
    return {
        PII: [c.name for c in contract.columns if c.pii],
        NON_PII: [c.name for c in contract.columns if not c.pii],
    }


@dataclass(frozen=True, kw_only=True)
class PiiAccessControlProps:
    database: glue.CfnDatabase
    database_name: str
    tables: Mapping[str, glue.CfnTable]
    """The Glue tables by contract table name."""
    contracts: Sequence[TableContract]
    bucket: s3.IBucket
    """Where the tables' files live: registered with Lake Formation, which reads it for the granted roles."""
    bucket_read_policy: iam.IManagedPolicy
    """The bucket's read policy (objects and their key), for Lake Formation's location role."""
    analyst: iam.IRole
    """SELECT on the columns tagged ``classification=non_pii``."""
    privileged: iam.IRole
    """SELECT on every column."""
    admins: Sequence[str]
    """Role ARNs appended to the data-lake administrators, besides the CDK deployment role."""
    location_role_name: str
    """The name of Lake Formation's location role: the gold key's policy names it (stacks/layer_access.py)."""


class PiiAccessControl(Construct):
    """Data-lake settings (administrators; new databases and tables without the ``IAMAllowedPrincipals``
    default, so Lake Formation's grants are the only way in), the gold bucket registered with its own role, the
    ``classification`` LF-Tag (database ``non_pii``, the contracts' personal columns ``pii``) and the two grants
    on tag expressions."""

    def __init__(self, scope: Construct, construct_id: str, *, props: PiiAccessControlProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._account = stack.account
        deployer = (
            f"arn:{stack.partition}:iam::{stack.account}:role/cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}"
            f"-cfn-exec-role-{stack.account}-{stack.region}"
        )
        self.settings = lf.CfnDataLakeSettings(
            self,
            "Settings",
            mutation_type="APPEND",
            admins=[
                lf.CfnDataLakeSettings.DataLakePrincipalProperty(data_lake_principal_identifier=a)
                for a in (deployer, *props.admins)
            ],
            create_database_default_permissions=[],
            create_table_default_permissions=[],
        )
        props.database.node.add_dependency(self.settings)
        self.location = self._register(props.bucket, props.bucket_read_policy, props.location_role_name)
        self.tag = lf.CfnTag(
            self, "ClassificationTag", catalog_id=self._account, tag_key=TAG_KEY, tag_values=[PII, NON_PII]
        )
        self.tag.node.add_dependency(self.settings)
        associations = [self._tag_database(props.database_name, props.database)]
        for contract in props.contracts:
            columns = classification(contract)[PII]
            if columns:
                associations.append(
                    self._tag_columns(props.database_name, props.tables[contract.table], contract, columns)
                )
        self.grants = {
            "analyst": self._grant("Analyst", props.analyst, props.database_name, [NON_PII], associations),
            "privileged": self._grant(
                "Privileged", props.privileged, props.database_name, [PII, NON_PII], associations
            ),
        }

    def _register(self, bucket: s3.IBucket, read_policy: iam.IManagedPolicy, role_name: str) -> lf.CfnResource:
        """Lake Formation reads the bucket with this role (never a service-linked role with broader reach)."""
        role = iam.Role(
            self,
            "LocationRole",
            role_name=role_name,
            description="Lake Formation reads the gold tables' files for the principals it granted.",
            assumed_by=iam.ServicePrincipal(
                "lakeformation.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": self._account}}
            ),
            managed_policies=[read_policy],
        )
        location = lf.CfnResource(
            self, "GoldLocation", resource_arn=bucket.bucket_arn, role_arn=role.role_arn, use_service_linked_role=False
        )
        location.node.add_dependency(role)
        self.location_role: iam.IRole = role
        """Lake Formation's location role (the gold bucket's data perimeter admits it: Athena reads through it)."""
        return location

    def _lf_tags(self, value: str) -> list[lf.CfnTagAssociation.LFTagPairProperty]:
        return [lf.CfnTagAssociation.LFTagPairProperty(catalog_id=self._account, tag_key=TAG_KEY, tag_values=[value])]

    def _tag_database(self, database_name: str, database: glue.CfnDatabase) -> lf.CfnTagAssociation:
        """Every table and column inherits ``non_pii`` unless tagged otherwise."""
        association = lf.CfnTagAssociation(
            self,
            "DatabaseNonPii",
            lf_tags=self._lf_tags(NON_PII),
            resource=lf.CfnTagAssociation.ResourceProperty(
                database=lf.CfnTagAssociation.DatabaseResourceProperty(catalog_id=self._account, name=database_name)
            ),
        )
        association.node.add_dependency(self.tag)
        association.node.add_dependency(database)
        return association

    def _tag_columns(
        self, database_name: str, table: glue.CfnTable, contract: TableContract, columns: list[str]
    ) -> lf.CfnTagAssociation:
        association = lf.CfnTagAssociation(
            self,
            f"{_pascal(contract.table)}Pii",
            lf_tags=self._lf_tags(PII),
            resource=lf.CfnTagAssociation.ResourceProperty(
                table_with_columns=lf.CfnTagAssociation.TableWithColumnsResourceProperty(
                    catalog_id=self._account, database_name=database_name, name=contract.table, column_names=columns
                )
            ),
        )
        association.node.add_dependency(self.tag)
        association.node.add_dependency(table)
        return association

    def _grant(
        self,
        name: str,
        role: iam.IRole,
        database_name: str,
        values: list[str],
        after: Sequence[lf.CfnTagAssociation],
    ) -> list[lf.CfnPrincipalPermissions]:
        """DESCRIBE on the database, SELECT on the tables' columns whose classification is one of ``values``."""
        principal = lf.CfnPrincipalPermissions.DataLakePrincipalProperty(data_lake_principal_identifier=role.role_arn)
        database = lf.CfnPrincipalPermissions.ResourceProperty(
            database=lf.CfnPrincipalPermissions.DatabaseResourceProperty(catalog_id=self._account, name=database_name)
        )
        tagged = lf.CfnPrincipalPermissions.ResourceProperty(
            lf_tag_policy=lf.CfnPrincipalPermissions.LFTagPolicyResourceProperty(
                catalog_id=self._account,
                resource_type="TABLE",
                expression=[lf.CfnPrincipalPermissions.LFTagProperty(tag_key=TAG_KEY, tag_values=values)],
            )
        )
        grants = [
            lf.CfnPrincipalPermissions(
                self,
                f"{name}{part}",
                principal=principal,
                resource=resource,
                permissions=permissions,
                permissions_with_grant_option=[],
            )
            for part, resource, permissions in (("Database", database, ["DESCRIBE"]), ("Tables", tagged, SELECT))
        ]
        for grant in grants:
            grant.node.add_dependency(self.settings)
            for association in after:
                grant.node.add_dependency(association)
        return grants


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))
