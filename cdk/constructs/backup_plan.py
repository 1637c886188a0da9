"""BackupPlan: an environment's AWS Backup vault, plans, service roles and restore testing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import acknowledge

BACKUP_PRINCIPAL = "backup.amazonaws.com"
# AWS managed policies AWS Backup documents for its service roles (DynamoDB is in the generic pair).
BACKUP_POLICIES = {
    "S3": "AWSBackupServiceRolePolicyForS3Backup",
    "DynamoDB": "service-role/AWSBackupServiceRolePolicyForBackup",
}
RESTORE_POLICIES = {
    "S3": "AWSBackupServiceRolePolicyForS3Restore",
    "DynamoDB": "service-role/AWSBackupServiceRolePolicyForRestores",
}


@dataclass(frozen=True, kw_only=True)
class VaultLock:
    """Vault Lock in governance mode: no ``changeable_for_days``, so it never turns immutable (see the runbook)."""

    min_retention_days: int
    max_retention_days: int


def backup_vault(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    encryption_key: kms.IKey,
    lock: VaultLock | None,
    removal_policy: RemovalPolicy,
) -> backup.BackupVault:
    """A named vault encrypted with ``encryption_key``, locked when ``lock`` is given (the DR stack's too)."""
    return backup.BackupVault(
        scope,
        construct_id,
        backup_vault_name=name,
        encryption_key=encryption_key,
        lock_configuration=(
            backup.LockConfiguration(
                min_retention=Duration.days(lock.min_retention_days),
                max_retention=Duration.days(lock.max_retention_days),
            )
            if lock
            else None
        ),
        removal_policy=removal_policy,
    )


@dataclass(frozen=True, kw_only=True)
class DrCopy:
    """Copy every snapshot to this vault in the DR region, kept there ``retention_days``."""

    vault: backup.IBackupVault
    retention_days: int


@dataclass(frozen=True, kw_only=True)
class RestoreTestingProps:
    """Restore a random recovery point (within ``selection_window_days``) of each sampled resource."""

    plan_name: str
    """Letters, digits and underscores only."""
    schedule: str
    buckets: Sequence[s3.IBucket]
    tables: Sequence[dynamodb.ITable]
    selection_window_days: int
    start_window_hours: int
    validation_window_hours: int
    """How long the restored copy is kept for validation before AWS Backup deletes it."""


@dataclass(frozen=True, kw_only=True)
class BackupPlanProps:
    name_prefix: str
    """``lakehouse-prod``: names the plans."""
    vault_name: str
    encryption_key: kms.IKey
    """The environment's artifacts key: the vault encrypts every recovery point with it."""
    removal_policy: RemovalPolicy
    vault_lock: VaultLock | None
    continuous_buckets: Sequence[s3.IBucket]
    """Buckets under continuous backup (point-in-time restore); each must be versioned."""
    continuous_retention_days: int
    snapshot_every_hours: int
    """How often the snapshot plan runs; its members are added with :meth:`BackupPlan.add_to_snapshots`."""
    snapshot_retention_days: int
    dr_copy: DrCopy | None
    restore_testing: RestoreTestingProps | None


@dataclass(frozen=True, kw_only=True)
class BackupMembership:
    """A plan and the role it backs up with; stacks that own a resource add it here (cdk-nag looks for the
    selection in the resource's own stack)."""

    plan: backup.IBackupPlan
    role: iam.IRole

    def add(self, scope: Construct, construct_id: str, resource_arn: str) -> backup.BackupSelection:
        return backup.BackupSelection(
            scope,
            construct_id,
            backup_plan=self.plan,
            resources=[backup.BackupResource.from_arn(resource_arn)],
            role=self.role,
            disable_default_backup_policy=True,
        )


class BackupPlan(Construct):
    """A vault, a continuous-backup plan for buckets, a snapshot plan (copied to the DR region) for the
    DynamoDB state, the service roles with AWS Backup's managed policies, and restore testing.

    Two plans, because a plan's rules apply to all its members: buckets get point-in-time restore and
    reach the DR region by S3 replication; tables keep DynamoDB's own point-in-time recovery and reach the
    DR region as copies of these snapshots.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: BackupPlanProps) -> None:
        super().__init__(scope, construct_id)
        self.vault = backup_vault(
            self,
            "Vault",
            name=props.vault_name,
            encryption_key=props.encryption_key,
            lock=props.vault_lock,
            removal_policy=props.removal_policy,
        )
        kinds = ("S3", "DynamoDB") if props.continuous_buckets else ("DynamoDB",)
        self.backup_role = self._role("BackupRole", "backs up", {k: BACKUP_POLICIES[k] for k in kinds})
        self.continuous_plan = self._continuous_plan(props)
        self.snapshot_plan = self._snapshot_plan(props)
        self.snapshots = BackupMembership(plan=self.snapshot_plan, role=self.backup_role)
        """Where the DynamoDB tables' stacks add them."""
        self.restore_role: iam.Role | None = None
        self.restore_testing_plan = self._restore_testing(props.restore_testing) if props.restore_testing else None

    def _role(self, construct_id: str, verb: str, policies: dict[str, str]) -> iam.Role:
        """A role AWS Backup assumes, with its managed policies for S3 and for DynamoDB and nothing else."""
        role = iam.Role(
            self,
            construct_id,
            description=f"AWS Backup {verb} this environment's buckets and DynamoDB tables.",
            assumed_by=iam.ServicePrincipal(BACKUP_PRINCIPAL),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(p) for p in policies.values()],
        )
        acknowledge(
            role,
            rules=["AwsSolutions-IAM4"],
            findings=[f"Policy::arn:<AWS::Partition>:iam::aws:policy/{p}" for p in policies.values()],
            reason=f"AWS Backup's own managed policies ({', '.join(policies.values())}), which AWS keeps in step "
            "with the service; the role is assumable by backup.amazonaws.com only.",
        )
        return role

    def _continuous_plan(self, props: BackupPlanProps) -> backup.BackupPlan | None:
        if not props.continuous_buckets:
            return None
        plan = backup.BackupPlan(
            self, "ContinuousPlan", backup_plan_name=f"{props.name_prefix}-continuous", backup_vault=self.vault
        )
        plan.add_rule(
            backup.BackupPlanRule(
                rule_name="continuous",
                enable_continuous_backup=True,
                delete_after=Duration.days(props.continuous_retention_days),
                schedule_expression=events.Schedule.cron(minute="0", hour="0"),
                start_window=Duration.hours(1),
            )
        )
        plan.add_selection(
            "Buckets",
            resources=[backup.BackupResource.from_arn(b.bucket_arn) for b in props.continuous_buckets],
            role=self.backup_role,
            disable_default_backup_policy=True,
        )
        return plan

    def _snapshot_plan(self, props: BackupPlanProps) -> backup.BackupPlan:
        every = props.snapshot_every_hours
        plan = backup.BackupPlan(
            self, "SnapshotPlan", backup_plan_name=f"{props.name_prefix}-snapshots", backup_vault=self.vault
        )
        copy = props.dr_copy
        plan.add_rule(
            backup.BackupPlanRule(
                rule_name=f"every-{every}h",
                delete_after=Duration.days(props.snapshot_retention_days),
                schedule_expression=events.Schedule.cron(minute="0", hour="0" if every == 24 else f"0/{every}"),
                start_window=Duration.hours(1),
                copy_actions=(
                    [
                        backup.BackupPlanCopyActionProps(
                            destination_backup_vault=copy.vault, delete_after=Duration.days(copy.retention_days)
                        )
                    ]
                    if copy
                    else None
                ),
            )
        )
        return plan

    def _restore_testing(self, props: RestoreTestingProps) -> backup.CfnRestoreTestingPlan:
        """The plan and one selection per resource type; restored copies are deleted after validation."""
        samples = {"S3": [b.bucket_arn for b in props.buckets], "DynamoDB": [t.table_arn for t in props.tables]}
        samples = {kind: arns for kind, arns in samples.items() if arns}
        role = self._role("RestoreTestingRole", "restores (restore testing)", {k: RESTORE_POLICIES[k] for k in samples})
        self.restore_role = role
        """The role restore testing restores with (the sampled layers' keys name it)."""
        plan = backup.CfnRestoreTestingPlan(
            self,
            "RestoreTestingPlan",
            restore_testing_plan_name=props.plan_name,
            schedule_expression=props.schedule,
            start_window_hours=props.start_window_hours,
            recovery_point_selection=backup.CfnRestoreTestingPlan.RestoreTestingRecoveryPointSelectionProperty(
                algorithm="RANDOM_WITHIN_WINDOW",
                include_vaults=[self.vault.backup_vault_arn],
                recovery_point_types=[
                    *(["CONTINUOUS"] if props.buckets else []),
                    *(["SNAPSHOT"] if props.tables else []),
                ],
                selection_window_days=props.selection_window_days,
            ),
        )
        for kind, arns in samples.items():
            selection = backup.CfnRestoreTestingSelection(
                self,
                f"RestoreTesting{kind}",
                restore_testing_plan_name=props.plan_name,
                restore_testing_selection_name=f"{kind.lower()}_sample",
                protected_resource_type=kind,
                protected_resource_arns=arns,
                iam_role_arn=role.role_arn,
                validation_window_hours=props.validation_window_hours,
            )
            selection.node.add_dependency(plan)
        return plan
