"""Lakehouse-<env>-Storage: a key per layer, the layer buckets, access logs, the gold catalog and Athena."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from cdk.constructs.audit_trail import AuditTrail, AuditTrailProps
from cdk.constructs.backup_plan import BackupPlan, BackupPlanProps, DrCopy, RestoreTestingProps, VaultLock
from cdk.constructs.bucket_access_policy import BucketAccessPolicy, BucketAccessPolicyProps
from cdk.constructs.data_access_role import DataAccessRole, DataAccessRoleProps, gold_query_policy
from cdk.constructs.endpoint_data_perimeter import EndpointDataPerimeter, EndpointDataPerimeterProps
from cdk.constructs.gold_catalog import GoldCatalog, GoldCatalogProps
from cdk.constructs.lake_bucket import LakeBucket, LakeBucketProps, ReplicationTarget
from cdk.constructs.layer_key import LayerKey, LayerKeyProps, role_arn
from cdk.constructs.pii_access_control import PiiAccessControl, PiiAccessControlProps
from cdk.constructs.producer_role import ProducerRole, ProducerRoleProps
from cdk.constructs.replica_verifier import replica_verifier_role_name
from cdk.log_retention import log_retention
from job_assets.contracts.freshness import MONITORED_LAYERS
from job_assets.contracts.gold import GOLD_TABLES
from job_assets.contracts.landing import LANDING_ENTITIES
from job_assets.contracts.layout import LAYERS
from platform_model import aws_names
from stacks.layer_access import (
    JOBS,
    job_role_name,
    lake_formation_role_name,
    layer_key_users,
    producer_role_name,
    replication_role_name,
)

REPLICATED_BUCKETS = ("landing", *LAYERS)
EMR_LOGS_PREFIX = "emr-logs/"
JOBS_PREFIX = "jobs/"
ATHENA_RESULTS_PREFIX = "athena-results/"
PII_ATHENA_RESULTS_PREFIX = "athena-results-pii/"
"""The privileged role's workgroup's results: outside ``athena-results/``, so the analyst cannot read them."""
DELTA_LOG_PATTERN = "*/_delta_log/"
"""Every table's Delta log (``<table>/_delta_log/``, gold's ``<slot>/<table>/_delta_log/``): what the monitors read."""
RUN_SUMMARY_PATTERNS = {"bronze": "run_summary/", "silver": "run_summary/", "gold": "*/run_summary/"}
"""Where each layer's ``run_summary`` table lives (gold's under its slot): what the cost reporter reads."""


def replica_bucket_name(config: EnvironmentConfig, layer: str) -> str:
    """Replica buckets are named, so the source side can address them without a cross-region lookup."""
    return aws_names.replica_bucket_name(
        config.name, layer, account=config.account, dr_region=config.dr_region, project=config.project
    )


def audit_bucket_name(config: EnvironmentConfig) -> str:
    """The audit bucket (trail logs, AWS Config deliveries): ``lakehouse-dev-audit-<account>-<region>``."""
    return aws_names.audit_bucket_name(
        config.name, account=config.account, region=config.region, project=config.project
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


class StorageStack(Stack):
    """Buckets: landing, bronze/silver/gold (Delta tables), artifacts (jobs, EMR logs, Athena), logs; one key
    per layer bucket (``keys``: landing, bronze, silver, gold, artifacts; ``key`` is the artifacts key, which
    also encrypts the EMR, state machine and promotion state, Athena results and the backup vault)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        replica_keys: Mapping[str, kms.IKey] | None = None,
        s3_endpoint: ec2.IVpcEndpoint | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = RemovalPolicy.DESTROY if config.features.allow_destroy else RemovalPolicy.RETAIN
        self.layer_keys = {
            layer: self._layer_key(config, layer, removal) for layer in (*REPLICATED_BUCKETS, "artifacts")
        }
        self.keys: dict[str, kms.Key] = {layer: k.key for layer, k in self.layer_keys.items()}
        self.key = self.keys["artifacts"]
        self.access_logs = AccessLogsBucket(
            self,
            "AccessLogs",
            props=AccessLogsBucketProps(
                expire_after_days=config.retention.access_logs_expire_after_days,
                noncurrent_expire_after_days=config.security.audit.access_logs_noncurrent_days,
                removal_policy=removal,
            ),
        ).bucket
        self.buckets = self._layer_buckets(config, removal, replica_keys)
        self.artifacts = self._artifacts(config, removal)
        self.audit = self._audit(config, removal)
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
        self._allow_backup_roles(config)
        self._pii_access(config)
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
                    role_name=producer_role_name(config.prefix, source),
                    source=source,
                    entities=[e.entity for e in LANDING_ENTITIES if e.source == source],
                    landing_bucket=self.buckets["landing"],
                    landing_key=self.keys["landing"],
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
            if self.replica_key_refs
            else []
        )
        perimeters = {}
        for layer in REPLICATED_BUCKETS:
            bucket = self.buckets[layer]
            replication = [self._replication_role(bucket)] if self.replica_key_refs else []
            perimeters[layer] = EndpointDataPerimeter(
                self,
                f"{layer.capitalize()}DataPerimeter",
                props=EndpointDataPerimeterProps(
                    bucket=bucket,
                    endpoint=endpoint,
                    exceptions=[
                        *configured,
                        *replication,
                        self.backup.backup_role,
                        *verifier,
                        *self._service_readers(config, layer),
                    ],
                ),
            )
        return perimeters

    def _service_readers(self, config: EnvironmentConfig, layer: str) -> list[iam.IRole]:
        """Roles that reach ``layer``'s bucket from outside the VPC by design: the producers deliver to landing;
        Lake Formation's location role reads gold for Athena; Macie's service-linked role classifies silver and
        gold when ``security.detection.macie`` is on."""
        if layer == "landing":
            return list(self.producer_roles.values())
        readers: list[iam.IRole] = []
        if layer == "gold":
            readers.append(self.pii_access.location_role)
        if layer in ("silver", "gold") and config.security.detection.macie:
            readers.append(
                iam.Role.from_role_arn(
                    self,
                    f"MacieServiceRole{layer.capitalize()}",
                    f"arn:aws:iam::{config.account}:role/aws-service-role/macie.amazonaws.com/"
                    "AWSServiceRoleForAmazonMacie",
                    mutable=False,
                )
            )
        return readers

    def _replication_role(self, bucket: s3.Bucket) -> iam.IRole:
        """The role S3 replication of ``bucket`` runs as (its LakeBucket's)."""
        lake = bucket.node.scope
        assert isinstance(lake, LakeBucket) and lake.replication_role is not None
        return lake.replication_role

    def _pii_access(self, config: EnvironmentConfig) -> None:
        """The analyst and privileged roles, each in its own Athena workgroup, and Lake Formation's grants:
        the analyst reads gold without its personal columns (docs/security/PII.md)."""
        access = config.data_access
        self.pii_workgroup = AnalyticsWorkgroup(
            self,
            "PiiAnalytics",
            props=AnalyticsWorkgroupProps(
                name=f"{config.prefix}-pii-analytics",
                results_bucket=self.artifacts,
                results_prefix=PII_ATHENA_RESULTS_PREFIX,
                encryption_key=self.key,
            ),
        )
        query = gold_query_policy(
            self,
            "GoldQueryPolicy",
            database_name=self.catalog.database_name,
            table_names=[c.table for c in GOLD_TABLES],
        )
        roles = {}
        for name, role, workgroup, prefix, what in (
            ("Analyst", access.analyst, self.workgroup, ATHENA_RESULTS_PREFIX, "without their personal columns"),
            ("Privileged", access.privileged, self.pii_workgroup, PII_ATHENA_RESULTS_PREFIX, "personal columns too"),
        ):
            roles[name] = DataAccessRole(
                self,
                f"{name}Access",
                props=DataAccessRoleProps(
                    role_name=role.role_name,
                    description=f"Queries the {config.prefix} gold tables with Athena, {what} (Lake Formation).",
                    trusted_principals=role.trusted_principals,
                    query_policy=query,
                    workgroup_name=workgroup.name,
                    results_bucket=self.artifacts,
                    results_prefix=prefix,
                    key=self.key,
                ),
            ).role
        self.pii_access = PiiAccessControl(
            self,
            "PiiAccessControl",
            props=PiiAccessControlProps(
                database=self.catalog.database,
                database_name=self.catalog.database_name,
                tables=self.catalog.tables,
                contracts=GOLD_TABLES,
                bucket=self.buckets["gold"],
                bucket_read_policy=self.read_policies["gold"],
                analyst=roles["Analyst"],
                privileged=roles["Privileged"],
                admins=access.lake_formation_admins,
                location_role_name=lake_formation_role_name(config.prefix),
            ),
        )

    def _layer_key(self, config: EnvironmentConfig, layer: str, removal: RemovalPolicy) -> LayerKey:
        """``layer``'s key, used by the roles :func:`~stacks.layer_access.layer_key_users` names; the artifacts
        key holds no table data: any role of the account may use it through S3, DynamoDB and AWS Backup (IAM
        decides which), the job roles directly (EMR Serverless log encryption), CloudWatch Logs for log groups."""
        if layer == "artifacts":
            region = self.region
            return LayerKey(
                self,
                "ArtifactsKey",
                props=LayerKeyProps(
                    alias=aws_names.kms_alias(config.name, "artifacts", config.project),
                    description=f"Encrypts the {config.prefix} artifacts bucket, EMR and pipeline logs, Athena "
                    "results, the promotions table and the backup vault.",
                    removal_policy=removal,
                    encrypters=[role_arn(self, job_role_name(config.prefix, job)) for job in JOBS],
                    via_services=[f"{service}.{region}.amazonaws.com" for service in ("s3", "dynamodb", "backup")],
                    cloudwatch_logs=True,
                ),
            )
        users = layer_key_users(
            config.name,
            config.project,
            layer,
            replication=config.features.replication,
            operators=config.security.keys.operator_roles,
            producers=tuple(config.producers),
        )
        return LayerKey(
            self,
            f"{layer.capitalize()}Key",
            props=LayerKeyProps(
                alias=aws_names.kms_alias(config.name, layer, config.project),
                description=f"Encrypts the {config.prefix} {layer} bucket (its layer's data only).",
                removal_policy=removal,
                decrypters=[role_arn(self, name) for name in users.decrypters],
                encrypters=[role_arn(self, name) for name in users.encrypters],
            ),
        )

    def _audit(self, config: EnvironmentConfig, removal: RemovalPolicy) -> AuditTrail:
        """The audit key and, unless the organization's trail is relied on, the trail over the lake buckets."""
        audit = config.security.audit
        return AuditTrail(
            self,
            "Audit",
            props=AuditTrailProps(
                name_prefix=config.prefix,
                key_alias=aws_names.kms_alias(config.name, "audit", config.project),
                bucket_name=audit_bucket_name(config),
                data_event_buckets=[*self.buckets.values(), self.artifacts],
                access_logs_bucket=self.access_logs,
                object_lock_mode=audit.object_lock_mode,
                retention_days=audit.retention_days,
                log_retention=log_retention(config.retention.log_group_retention_days),
                own_trail=not audit.organization_trail,
                removal_policy=removal,
            ),
        )

    def _allow_backup_roles(self, config: EnvironmentConfig) -> None:
        """AWS Backup reads the continuously backed-up layers; restore testing restores the sampled ones."""
        settings = config.recovery.backup
        for layer in settings.continuous_layers:
            self.layer_keys[layer].allow_roles("DecryptForBackup", [self.backup.backup_role.role_arn], write=False)
        restore_role = self.backup.restore_role
        if restore_role is None:
            return
        for layer in settings.restore_testing.sample:
            if layer in self.layer_keys:
                self.layer_keys[layer].allow_roles("RestoreTesting", [restore_role.role_arn], write=True)

    def _layer_buckets(
        self, config: EnvironmentConfig, removal: RemovalPolicy, replica_keys: Mapping[str, kms.IKey] | None
    ) -> dict[str, s3.Bucket]:
        """Landing and the layers, each replicated to its DR bucket under its replica key when ``replica_keys``
        are given."""
        # Referenced by ARN on this side, so the replication roles' KMS and S3 grants stay in this stack's
        # IAM policies instead of reaching back into the DR stack's key policy (a dependency cycle); the
        # replica keys' policies name the replication roles by their fixed names.
        self.replica_key_refs: dict[str, kms.IKey] = {
            layer: kms.Key.from_key_arn(self, f"{layer.capitalize()}ReplicaKeyRef", key.key_arn)
            for layer, key in (replica_keys or {}).items()
        }
        buckets: dict[str, s3.Bucket] = {}
        for layer in REPLICATED_BUCKETS:
            retention = config.retention.landing if layer == "landing" else config.retention.layer(layer)
            buckets[layer] = self._bucket(
                layer,
                config=config,
                removal=removal,
                noncurrent_days=retention.noncurrent_expire_after_days,
                lifecycle=landing_lifecycle(config) if layer == "landing" else (),
                replication=self._replication_target(config, layer, self.replica_key_refs.get(layer)),
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
            role_name=replication_role_name(config.prefix, layer),
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
        standby = config.dr.standby and "artifacts" in self.replica_key_refs
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
                self._replication_target(config, "artifacts", self.replica_key_refs["artifacts"], JOBS_PREFIX)
                if standby
                else None
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
            key = self.keys[layer]
            self.read_policies[layer] = self._policy(
                f"{layer.capitalize()}Read", bucket, f"Read {layer}", key=key, read=[""]
            )
            if layer in LAYERS:
                self.read_write_policies[layer] = self._policy(
                    f"{layer.capitalize()}ReadWrite", bucket, f"Read, write and delete in {layer}", key=key, write=[""]
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
        logged = LAYERS if self.replica_key_refs else MONITORED_LAYERS
        for layer in LAYERS:
            bucket = self.buckets[layer]
            name = layer.capitalize()
            if layer in logged:
                self.delta_log_read_policies[layer] = self._policy(
                    f"{name}DeltaLogRead",
                    bucket,
                    f"Read the Delta logs of {layer}'s tables",
                    key=self.keys[layer],
                    read=[DELTA_LOG_PATTERN],
                    listed=[f"{DELTA_LOG_PATTERN}*"],
                )
            self.run_summary_read_policies[layer] = self._policy(
                f"{name}RunSummaryRead",
                bucket,
                f"Read {layer}.run_summary",
                key=self.keys[layer],
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
        key: kms.IKey | None = None,
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
                encryption_key=key or self.key,
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
                encryption_key=self.keys[name],
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
