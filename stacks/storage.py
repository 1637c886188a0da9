"""Lakehouse-<env>-Storage: the data key, the layer buckets, access logs, the gold catalog and Athena."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.compliance import BUCKET_REPLICATION, acknowledge
from cdk.config import EnvironmentConfig
from cdk.constructs.access_logs_bucket import AccessLogsBucket, AccessLogsBucketProps
from cdk.constructs.athena_workgroup import AnalyticsWorkgroup, AnalyticsWorkgroupProps
from cdk.constructs.backup_plan import BackupPlan, BackupPlanProps, DrCopy, RestoreTestingProps, VaultLock
from cdk.constructs.bucket_access_policy import BucketAccessPolicy, BucketAccessPolicyProps
from cdk.constructs.endpoint_data_perimeter import EndpointDataPerimeter, EndpointDataPerimeterProps
from cdk.constructs.gold_catalog import GoldCatalog, GoldCatalogProps
from cdk.constructs.lake_bucket import LakeBucket, LakeBucketProps, ReplicationTarget
from cdk.constructs.producer_role import ProducerRole, ProducerRoleProps
from cdk.constructs.replica_verifier import replica_verifier_role_name
from job_assets.contracts.freshness import MONITORED_LAYERS
from job_assets.contracts.gold import GOLD_TABLES
from job_assets.contracts.landing import LANDING_ENTITIES
from job_assets.contracts.layout import LAYERS
from platform_model import aws_names

REPLICATED_BUCKETS = ("landing", *LAYERS)
EMR_LOGS_PREFIX = "emr-logs/"
JOBS_PREFIX = "jobs/"
ATHENA_RESULTS_PREFIX = "athena-results/"
DELTA_LOG_PATTERN = "*/_delta_log/"
"""Every table's Delta log (``<table>/_delta_log/``, gold's ``<slot>/<table>/_delta_log/``): what the monitors read."""
RUN_SUMMARY_PATTERNS = {"bronze": "run_summary/", "silver": "run_summary/", "gold": "*/run_summary/"}
"""Where each layer's ``run_summary`` table lives (gold's under its slot): what the cost reporter reads."""


def replica_bucket_name(config: EnvironmentConfig, layer: str) -> str:
    """Replica buckets are named, so the source side can address them without a cross-region lookup."""
    return aws_names.replica_bucket_name(
        config.name, layer, account=config.account, dr_region=config.dr_region, project=config.project
    )


def vault_lock(config: EnvironmentConfig) -> VaultLock | None:
    """The environment's Vault Lock (the primary and the DR vault alike), or none."""
    lock = config.recovery.backup.vault_lock
    if not lock.enabled:
        return None
    return VaultLock(min_retention_days=lock.min_retention_days, max_retention_days=lock.max_retention_days)


def ops_state_table_names(config: EnvironmentConfig) -> tuple[str, ...]:
    """The DynamoDB tables of the ``ops_state`` recovery layer: promotion history and lock, intake manifest."""
    return (
        aws_names.promotions_table_name(config.name, config.project),
        aws_names.intake_manifest_table_name(config.name, config.project),
    )


def landing_lifecycle(config: EnvironmentConfig) -> tuple[s3.LifecycleRule, ...]:
    """Raw landing files: Infrequent Access, then Glacier, then gone. Landing holds no Delta tables."""
    landing = config.retention.landing
    return (
        s3.LifecycleRule(
            id="landing-tiering-and-expiry",
            transitions=[
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=Duration.days(landing.infrequent_access_after_days),
                ),
                s3.Transition(
                    storage_class=s3.StorageClass.GLACIER,
                    transition_after=Duration.days(landing.glacier_after_days),
                ),
            ],
            expiration=Duration.days(landing.expire_after_days),
        ),
    )


def allow_cloudwatch_logs(key: kms.Key) -> None:
    """Let CloudWatch Logs of ``key``'s region use ``key`` for this account's log groups (and no others)."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsForThisAccountsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )


class StorageStack(Stack):
    """Buckets: landing, bronze/silver/gold (Delta tables), artifacts (jobs, EMR logs, Athena), logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        replica_key: kms.IKey | None = None,
        s3_endpoint: ec2.IVpcEndpoint | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = RemovalPolicy.DESTROY if config.features.allow_destroy else RemovalPolicy.RETAIN
        self.key = self._data_key(config, removal)
        self.access_logs = AccessLogsBucket(
            self,
            "AccessLogs",
            props=AccessLogsBucketProps(
                expire_after_days=config.retention.access_logs_expire_after_days, removal_policy=removal
            ),
        ).bucket
        self.buckets = self._layer_buckets(config, removal, replica_key)
        self.artifacts = self._artifacts(config, removal)
        self.catalog = GoldCatalog(
            self,
            "GoldCatalog",
            props=GoldCatalogProps(
                database_name=aws_names.gold_database_name(config.name, config.project),
                bucket=self.buckets["gold"],
                tables=GOLD_TABLES,
                # Gold is per blue/green slot; the tables start on blue and follow promotions (see GoldCatalog).
                key_prefix=aws_names.gold_slot_prefix(aws_names.SLOTS[0]),
            ),
        )
        self.workgroup = AnalyticsWorkgroup(
            self,
            "Analytics",
            props=AnalyticsWorkgroupProps(
                name=f"{config.prefix}-analytics",
                results_bucket=self.artifacts,
                results_prefix=ATHENA_RESULTS_PREFIX,
                encryption_key=self.key,
            ),
        )
        self._access_policies()
        self.backup = self._backup(config, removal)
        self.producer_roles = self._producer_roles(config)
        self.data_perimeters = self._data_perimeters(config, s3_endpoint) if s3_endpoint else {}

    def _producer_roles(self, config: EnvironmentConfig) -> dict[str, iam.IRole]:
        """One role per configured source: put its extracts under ``<source>/`` in landing (PRODUCERS.md)."""
        roles: dict[str, iam.IRole] = {}
        for source, producer in sorted(config.producers.items()):
            trusted: iam.IPrincipal = (
                iam.ArnPrincipal(producer.principal)
                if producer.principal.startswith("arn:")
                else iam.AccountPrincipal(producer.principal)
            )
            roles[source] = ProducerRole(
                self,
                f"{source.capitalize()}Producer",
                props=ProducerRoleProps(
                    role_name=f"{config.prefix}-producer-{source}",
                    source=source,
                    entities=[e.entity for e in LANDING_ENTITIES if e.source == source],
                    landing_bucket=self.buckets["landing"],
                    landing_key=self.key,
                    trusted=trusted,
                    external_id=producer.external_id,
                ),
            ).role
        return roles

    def _data_perimeters(
        self, config: EnvironmentConfig, endpoint: ec2.IVpcEndpoint
    ) -> dict[str, EndpointDataPerimeter]:
        """Each lake bucket's objects only through ``endpoint``, but for the exceptions NETWORK.md lists."""
        configured = [
            iam.Role.from_role_arn(self, f"DataAccessException{i}", arn, mutable=False)
            for i, arn in enumerate(config.network.data_access_exceptions)
        ]
        verifier = (
            [
                iam.Role.from_role_name(
                    self,
                    "ReplicaVerifierRoleRef",
                    replica_verifier_role_name(config.name, config.project),
                    mutable=False,
                )
            ]
            if self.replica_key_ref is not None
            else []
        )
        perimeters = {}
        for layer in REPLICATED_BUCKETS:
            bucket = self.buckets[layer]
            replication = [self._replication_role(bucket)] if self.replica_key_ref is not None else []
            producers = list(self.producer_roles.values()) if layer == "landing" else []
            perimeters[layer] = EndpointDataPerimeter(
                self,
                f"{layer.capitalize()}DataPerimeter",
                props=EndpointDataPerimeterProps(
                    bucket=bucket,
                    endpoint=endpoint,
                    exceptions=[*configured, *replication, self.backup.backup_role, *verifier, *producers],
                ),
            )
        return perimeters

    def _replication_role(self, bucket: s3.Bucket) -> iam.IRole:
        """The role S3 replication of ``bucket`` runs as (its LakeBucket's)."""
        lake = bucket.node.scope
        assert isinstance(lake, LakeBucket) and lake.replication_role is not None
        return lake.replication_role

    def _data_key(self, config: EnvironmentConfig, removal: RemovalPolicy) -> kms.Key:
        """The data key, rotating; CloudWatch Logs may use it for this account's log groups."""
        key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{config.prefix}-data",
            description=f"Encrypts the {config.prefix} lake buckets, EMR logs and Athena results.",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=removal,
        )
        allow_cloudwatch_logs(key)
        return key

    def _layer_buckets(
        self, config: EnvironmentConfig, removal: RemovalPolicy, replica_key: kms.IKey | None
    ) -> dict[str, s3.Bucket]:
        """Landing and the layers, each replicated to its DR bucket when ``replica_key`` is given."""
        # Referenced by ARN on this side, so the replication roles' KMS and S3 grants stay in this stack's
        # IAM policies instead of reaching back into the DR stack's key policy (a dependency cycle).
        local_replica_key = kms.Key.from_key_arn(self, "ReplicaKeyRef", replica_key.key_arn) if replica_key else None
        self.replica_key_ref = local_replica_key
        buckets: dict[str, s3.Bucket] = {}
        for layer in REPLICATED_BUCKETS:
            retention = config.retention.landing if layer == "landing" else config.retention.layer(layer)
            buckets[layer] = self._bucket(
                layer,
                config=config,
                removal=removal,
                noncurrent_days=retention.noncurrent_expire_after_days,
                lifecycle=landing_lifecycle(config) if layer == "landing" else (),
                replication=self._replication_target(config, layer, local_replica_key),
            )
        # New landing objects go to EventBridge (native CloudFormation, no notification custom resource):
        # the Ops stack's rule routes "Object Created" events to the landing intake queue.
        landing = buckets["landing"].node.default_child
        assert isinstance(landing, s3.CfnBucket)
        landing.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        return buckets

    def _replication_target(
        self, config: EnvironmentConfig, layer: str, replica_key: kms.IKey | None, prefix: str = ""
    ) -> ReplicationTarget | None:
        """``layer``'s replica bucket in the DR region, by name (keys under ``prefix`` only); none without a
        replica key."""
        if replica_key is None:
            return None
        return ReplicationTarget(
            bucket=s3.Bucket.from_bucket_attributes(
                self,
                f"{layer.capitalize()}ReplicaRef",
                bucket_name=replica_bucket_name(config, layer),
                account=config.account,
                region=config.dr_region,
            ),
            encryption_key=replica_key,
            region=config.dr_region,
            prefix=prefix,
        )

    def _backup(self, config: EnvironmentConfig, removal: RemovalPolicy) -> BackupPlan:
        """AWS Backup: continuous backup of the configured buckets, snapshots of the ops state (the stacks that
        own the tables add them), copies to the DR vault when region loss is in scope, restore testing."""
        recovery = config.recovery
        settings = recovery.backup
        return BackupPlan(
            self,
            "Backup",
            props=BackupPlanProps(
                name_prefix=config.prefix,
                vault_name=aws_names.backup_vault_name(config.name, config.project),
                encryption_key=self.key,
                removal_policy=removal,
                vault_lock=vault_lock(config),
                continuous_buckets=[self.buckets[layer] for layer in settings.continuous_layers],
                continuous_retention_days=settings.continuous_retention_days,
                snapshot_every_hours=settings.ops_state.every_hours,
                snapshot_retention_days=settings.ops_state.retention_days,
                dr_copy=(
                    DrCopy(vault=self._dr_vault(config), retention_days=settings.ops_state.dr_copy_retention_days)
                    if recovery.region_loss
                    else None
                ),
                restore_testing=self._restore_testing(config),
            ),
        )

    def _dr_vault(self, config: EnvironmentConfig) -> backup.IBackupVault:
        """The DR stack's vault by its name-derived ARN, like the replica buckets: a token would need a
        cross-region reference, and the name is fixed by ``aws_names`` on both sides."""
        return backup.BackupVault.from_backup_vault_arn(
            self,
            "DrBackupVaultRef",
            self.format_arn(
                service="backup",
                region=config.dr_region,
                resource="backup-vault",
                resource_name=aws_names.dr_backup_vault_name(config.name, config.project),
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
        )

    def _restore_testing(self, config: EnvironmentConfig) -> RestoreTestingProps:
        """The sampled layers' buckets and tables; the tables by name, as their stacks deploy after this one."""
        testing = config.recovery.backup.restore_testing
        tables = (
            [
                dynamodb.Table.from_table_name(self, f"OpsStateTableRef{i}", n)
                for i, n in enumerate(ops_state_table_names(config))
            ]
            if "ops_state" in testing.sample
            else []
        )
        return RestoreTestingProps(
            plan_name=aws_names.restore_testing_plan_name(config.name, config.project),
            schedule=testing.schedule,
            buckets=[self.buckets[layer] for layer in testing.sample if layer != "ops_state"],
            tables=tables,
            selection_window_days=testing.selection_window_days,
            start_window_hours=testing.start_window_hours,
            validation_window_hours=testing.validation_window_hours,
        )

    def _artifacts(self, config: EnvironmentConfig, removal: RemovalPolicy) -> s3.Bucket:
        """Job releases, EMR logs and Athena results; the logs and results expire. With a DR standby
        (``dr.standby``) the job releases (``jobs/``) replicate to the DR region, where the standby runs them;
        nothing else of this bucket is replicated."""
        standby = config.dr.standby and self.replica_key_ref is not None
        artifacts = self._bucket(
            "artifacts",
            config=config,
            removal=removal,
            noncurrent_days=config.retention.landing.noncurrent_expire_after_days,
            lifecycle=(
                s3.LifecycleRule(
                    id="expire-emr-logs",
                    prefix=EMR_LOGS_PREFIX,
                    expiration=Duration.days(config.retention.log_group_retention_days),
                ),
                s3.LifecycleRule(
                    id="expire-athena-results",
                    prefix=ATHENA_RESULTS_PREFIX,
                    expiration=Duration.days(config.retention.log_group_retention_days),
                ),
            ),
            replication=(
                self._replication_target(config, "artifacts", self.replica_key_ref, JOBS_PREFIX) if standby else None
            ),
        )
        if standby:
            return artifacts
        acknowledge(
            artifacts,
            rules=BUCKET_REPLICATION,
            reason="Artifacts are rebuilt from git by cdk deploy; logs and query results need no DR copy.",
        )
        return artifacts

    def _access_policies(self) -> None:
        """Access is published as managed policies next to the data; other stacks attach them to roles."""
        self.read_policies: dict[str, iam.IManagedPolicy] = {}
        self.read_write_policies: dict[str, iam.IManagedPolicy] = {}
        for layer, bucket in self.buckets.items():
            self.read_policies[layer] = self._policy(f"{layer.capitalize()}Read", bucket, f"Read {layer}", read=[""])
            if layer in LAYERS:
                self.read_write_policies[layer] = self._policy(
                    f"{layer.capitalize()}ReadWrite", bucket, f"Read, write and delete in {layer}", write=[""]
                )
        self.spark_runtime_policy = self._policy(
            "SparkRuntime",
            self.artifacts,
            "Spark jobs: read job releases, write (never delete) EMR Serverless logs",
            read=[JOBS_PREFIX],
            put=[EMR_LOGS_PREFIX],
        )
        self.delta_log_read_policies: dict[str, iam.IManagedPolicy] = {}
        """Read the tables' Delta logs only (freshness monitor, replica verifier): no data file, no PII."""
        self.run_summary_read_policies: dict[str, iam.IManagedPolicy] = {}
        """Read the ``run_summary`` table only (cost reporter)."""
        # The freshness monitor reads silver's and gold's logs; the replica verifier (with a DR region) every layer's.
        logged = LAYERS if self.replica_key_ref is not None else MONITORED_LAYERS
        for layer in LAYERS:
            bucket = self.buckets[layer]
            name = layer.capitalize()
            if layer in logged:
                self.delta_log_read_policies[layer] = self._policy(
                    f"{name}DeltaLogRead",
                    bucket,
                    f"Read the Delta logs of {layer}'s tables",
                    read=[DELTA_LOG_PATTERN],
                    listed=[f"{DELTA_LOG_PATTERN}*"],
                )
            self.run_summary_read_policies[layer] = self._policy(
                f"{name}RunSummaryRead",
                bucket,
                f"Read {layer}.run_summary",
                read=[RUN_SUMMARY_PATTERNS[layer]],
                listed=[f"{RUN_SUMMARY_PATTERNS[layer]}*"],
            )
        self.job_publisher_policy = self._policy(
            "JobPublisher", self.artifacts, "Publish job releases under jobs/", write=[JOBS_PREFIX]
        )

    def _policy(
        self,
        construct_id: str,
        bucket: s3.Bucket,
        description: str,
        *,
        read: Sequence[str] = (),
        write: Sequence[str] = (),
        put: Sequence[str] = (),
        listed: Sequence[str] | None = None,
    ) -> iam.IManagedPolicy:
        return BucketAccessPolicy(
            self,
            f"{construct_id}Policy",
            props=BucketAccessPolicyProps(
                bucket=bucket,
                encryption_key=self.key,
                description=f"{description}.",
                read_prefixes=read,
                write_prefixes=write,
                put_prefixes=put,
                list_prefixes=listed,
            ),
        ).policy

    def _bucket(
        self,
        name: str,
        *,
        config: EnvironmentConfig,
        removal: RemovalPolicy,
        noncurrent_days: int,
        lifecycle: tuple[s3.LifecycleRule, ...],
        replication: ReplicationTarget | None,
    ) -> s3.Bucket:
        bucket = LakeBucket(
            self,
            name.capitalize(),
            props=LakeBucketProps(
                encryption_key=self.key,
                access_logs_bucket=self.access_logs,
                noncurrent_expire_after_days=noncurrent_days,
                lifecycle_rules=lifecycle,
                removal_policy=removal,
                replication=replication,
            ),
        ).bucket
        if replication is None and name != "artifacts":
            acknowledge(
                bucket,
                rules=BUCKET_REPLICATION,
                reason=f"DR replication is off for {config.name} (features.replication in cdk.json).",
            )
        return bucket
