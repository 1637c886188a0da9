"""Lakehouse-<env>-Dr: replica key and buckets in the DR region, targets of the data buckets' replication; with
``dr.standby``, the standby application and state machines over them (:mod:`stacks.dr_standby`)."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import BUCKET_REPLICATION, acknowledge
from cdk.config import EnvironmentConfig
from cdk.constructs.access_logs_bucket import AccessLogsBucket, AccessLogsBucketProps
from cdk.constructs.backup_plan import backup_vault
from cdk.constructs.bucket_access_policy import BucketAccessPolicy, BucketAccessPolicyProps
from cdk.constructs.key_event_forwarder import KeyEventForwarder, KeyEventForwarderProps
from cdk.constructs.lake_bucket import LakeBucket, LakeBucketProps
from cdk.constructs.layer_key import LayerKey, LayerKeyProps, role_arn
from platform_model import aws_names
from stacks.dr_standby import Standby, StandbyProps
from stacks.layer_access import JOBS, READS, job_role_name, replica_key_users, replication_role_name
from stacks.storage import DELTA_LOG_PATTERN, REPLICATED_BUCKETS, landing_lifecycle, replica_bucket_name, vault_lock


class DrStack(Stack):
    """What a region outage leaves us: a copy of landing, bronze, silver and gold under its own key, and the
    vault the ops state's snapshots are copied to."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = RemovalPolicy.DESTROY if config.features.allow_destroy else RemovalPolicy.RETAIN
        self.key = self._general_key(config, removal)
        self.keys: dict[str, kms.IKey] = {
            **{layer: self._replica_key(config, layer, removal) for layer in REPLICATED_BUCKETS},
            "artifacts": self.key,
        }
        """Each replica's own key, and ``artifacts``: the general key (the artifacts replica's)."""
        logs = AccessLogsBucket(
            self,
            "AccessLogs",
            props=AccessLogsBucketProps(
                expire_after_days=config.retention.access_logs_expire_after_days,
                noncurrent_expire_after_days=config.security.audit.access_logs_noncurrent_days,
                removal_policy=removal,
            ),
        )
        self.buckets: dict[str, s3.IBucket] = {
            layer: self._replica(config, layer, logs.bucket, removal) for layer in REPLICATED_BUCKETS
        }
        self.read_policies: dict[str, iam.IManagedPolicy] = {}
        """Read access to a whole replica, for the layers the standby's jobs read (:meth:`add_standby`)."""
        self.delta_log_read_policies = {layer: self._delta_log_read(layer) for layer in REPLICATED_BUCKETS[1:]}
        self.key_events = KeyEventForwarder(
            self,
            "KeyEvents",
            props=KeyEventForwarderProps(rule_name=f"{config.prefix}-dr-kms-key-events", target_region=config.region),
        )
        """The replica keys' disable and deletion events, to the primary's kms-key-disabled rule."""
        self.backup_vault = self._backup_vault(config, removal) if config.recovery.region_loss else None
        """Named: the primary region's snapshot plan copies to it by its name-derived ARN."""
        self.access_logs = logs.bucket
        self.removal = removal
        self.standby: Standby | None = None
        """The standby application and state machines (``dr.standby``): :meth:`add_standby`."""

    def _replica(
        self, config: EnvironmentConfig, layer: str, access_logs: s3.IBucket, removal: RemovalPolicy
    ) -> s3.IBucket:
        """``layer``'s replica bucket under its own key."""
        replica = LakeBucket(
            self,
            f"{layer.capitalize()}Replica",
            props=LakeBucketProps(
                encryption_key=self.keys[layer],
                access_logs_bucket=access_logs,
                noncurrent_expire_after_days=config.security.audit.replica_noncurrent_days,
                lifecycle_rules=landing_lifecycle(config) if layer == "landing" else (),
                removal_policy=removal,
                bucket_name=replica_bucket_name(config, layer),
            ),
        )
        acknowledge(
            replica.bucket,
            rules=BUCKET_REPLICATION,
            reason=f"This is the DR replica of the {layer} bucket; a replica of a replica adds nothing.",
        )
        return replica.bucket

    def _replica_read(self, config: EnvironmentConfig, layer: str) -> iam.IManagedPolicy:
        """Read ``layer``'s whole replica (a standby job that reads the layer)."""
        bucket = self.buckets[layer]
        assert isinstance(bucket, s3.Bucket)
        return BucketAccessPolicy(
            self,
            f"{layer.capitalize()}ReplicaRead",
            props=BucketAccessPolicyProps(
                bucket=bucket,
                encryption_key=self.keys[layer],
                description=f"Read the {layer} replica in {config.dr_region}.",
                read_prefixes=[""],
            ),
        ).policy

    def _delta_log_read(self, layer: str) -> iam.IManagedPolicy:
        """Read the Delta logs of ``layer``'s replica tables only (the replica verifier)."""
        bucket = self.buckets[layer]
        assert isinstance(bucket, s3.Bucket)
        return BucketAccessPolicy(
            self,
            f"{layer.capitalize()}ReplicaDeltaLogRead",
            props=BucketAccessPolicyProps(
                bucket=bucket,
                encryption_key=self.keys[layer],
                description=f"Read the Delta logs of the {layer} replica's tables (replica verifier).",
                read_prefixes=[DELTA_LOG_PATTERN],
                list_prefixes=[f"{DELTA_LOG_PATTERN}*"],
            ),
        ).policy

    def add_standby(self, config: EnvironmentConfig, *, version: str) -> Standby:
        """The standby over these replicas, running job-assets ``version`` (known once the Compute stack has
        packaged it; the standby takes the string, no reference to that stack)."""
        read_by_jobs = sorted({layer for job in JOBS for layer in READS[job]})
        self.read_policies = {layer: self._replica_read(config, layer) for layer in read_by_jobs}
        self.standby = Standby(
            self,
            "Standby",
            props=StandbyProps(
                config=config,
                key=self.key,
                replica_keys=self.keys,
                replicas=self.buckets,
                replica_read_policies=self.read_policies,
                access_logs=self.access_logs,
                version=version,
                removal_policy=self.removal,
            ),
        )
        return self.standby

    def _general_key(self, config: EnvironmentConfig, removal: RemovalPolicy) -> kms.Key:
        """The DR region's key without table data: the artifacts replica (job releases, the standby's EMR
        logs), the standby's log groups and the DR backup vault. The artifacts replication role and the
        standby's jobs by name; otherwise through S3 and AWS Backup only."""
        region = config.dr_region
        standby_jobs = JOBS if config.dr.standby else ()
        return LayerKey(
            self,
            "ReplicaKey",
            props=LayerKeyProps(
                alias=aws_names.kms_alias(config.name, "replica", config.project),
                description=f"Encrypts the {config.prefix} artifacts replica, standby logs and DR backup vault.",
                removal_policy=removal,
                encrypters=[
                    role_arn(self, replication_role_name(config.prefix, "artifacts")),
                    *(role_arn(self, job_role_name(config.prefix, job, standby=True)) for job in standby_jobs),
                ],
                via_services=[f"s3.{region}.amazonaws.com", f"backup.{region}.amazonaws.com"],
                cloudwatch_logs=True,
            ),
        ).key

    def _replica_key(self, config: EnvironmentConfig, layer: str, removal: RemovalPolicy) -> kms.Key:
        """``layer``'s replica key: replication writes it; the replica verifier and the standby jobs use it
        as :func:`~stacks.layer_access.replica_key_users` says."""
        users = replica_key_users(config.name, config.project, layer, standby=config.dr.standby)
        return LayerKey(
            self,
            f"{layer.capitalize()}ReplicaKey",
            props=LayerKeyProps(
                alias=aws_names.kms_alias(config.name, f"replica-{layer}", config.project),
                description=f"Encrypts the {config.prefix} {layer} replica in the DR region.",
                removal_policy=removal,
                decrypters=[role_arn(self, name) for name in users.decrypters],
                encrypters=[role_arn(self, name) for name in users.encrypters],
            ),
        ).key

    def _backup_vault(self, config: EnvironmentConfig, removal: RemovalPolicy) -> backup.BackupVault:
        """The vault the ops state's snapshots are copied to, under the replica key, locked like the primary."""
        return backup_vault(
            self,
            "BackupVault",
            name=aws_names.dr_backup_vault_name(config.name, config.project),
            encryption_key=self.key,
            lock=vault_lock(config),
            removal_policy=removal,
        )
