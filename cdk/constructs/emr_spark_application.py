"""EmrSparkApplication: an EMR Serverless Spark application with Delta Lake configured for every job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emrserverless as emrserverless
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.spark_sizing import InitialCapacity, WorkerSize

# emr-7.x ships Delta; these settings enable it once, for every job of the application.
DELTA_SPARK_DEFAULTS: Mapping[str, str] = {
    "spark.jars": "/usr/share/aws/delta/lib/delta-spark.jar,/usr/share/aws/delta/lib/delta-storage.jar",
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}


@dataclass(frozen=True, kw_only=True)
class EmrSparkApplicationProps:
    name: str
    release_label: str
    max_vcpu: int
    max_memory_gb: int
    max_disk_gb: int
    idle_timeout_minutes: int
    log_group: logs.ILogGroup
    encryption_key: kms.IKey
    logs_bucket: s3.IBucket
    logs_prefix: str = "emr-logs/"
    architecture: str = "ARM64"
    spark_defaults: Mapping[str, str] = field(default_factory=lambda: dict(DELTA_SPARK_DEFAULTS))
    subnets: Sequence[ec2.ISubnet] = ()
    """The private subnets the workers run in (none: EMR Serverless's own network, the DR standby's case)."""
    security_groups: Sequence[ec2.ISecurityGroup] = ()
    initial_capacity: InitialCapacity | None = None
    """Pre-initialized driver and executor workers (none: every worker on demand)."""


class EmrSparkApplication(Construct):
    """ARM64, auto start and stop, capped capacity, encrypted CloudWatch and S3 logs."""

    def __init__(self, scope: Construct, construct_id: str, *, props: EmrSparkApplicationProps) -> None:
        super().__init__(scope, construct_id)
        self.name = props.name
        self.log_group = props.log_group
        self.application = emrserverless.CfnApplication(
            self,
            "Application",
            name=props.name,
            type="SPARK",
            release_label=props.release_label,
            architecture=props.architecture,
            auto_start_configuration=emrserverless.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=emrserverless.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=props.idle_timeout_minutes
            ),
            maximum_capacity=emrserverless.CfnApplication.MaximumAllowedResourcesProperty(
                cpu=f"{props.max_vcpu} vCPU",
                memory=f"{props.max_memory_gb} GB",
                disk=f"{props.max_disk_gb} GB",
            ),
            monitoring_configuration=_monitoring(props),
            network_configuration=(
                emrserverless.CfnApplication.NetworkConfigurationProperty(
                    subnet_ids=[subnet.subnet_id for subnet in props.subnets],
                    security_group_ids=[group.security_group_id for group in props.security_groups],
                )
                if props.subnets
                else None
            ),
            initial_capacity=_initial_capacity(props.initial_capacity),
            runtime_configuration=[
                emrserverless.CfnApplication.ConfigurationObjectProperty(
                    classification="spark-defaults", properties=dict(props.spark_defaults)
                )
            ],
        )
        self.application_id = self.application.attr_application_id
        self.application_arn = self.application.attr_arn
        self.job_logging_policy = self._job_logging_policy(props)

    def _job_logging_policy(self, props: EmrSparkApplicationProps) -> iam.ManagedPolicy:
        """What a job role needs to ship the application's logs: the log group, the key."""
        return iam.ManagedPolicy(
            self,
            "JobLoggingPolicy",
            description=f"Spark jobs of {props.name}: write encrypted driver and executor logs.",
            statements=[
                iam.PolicyStatement(
                    sid="WriteApplicationLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[props.log_group.log_group_arn],
                ),
                # EMR Serverless encrypts the job logs it ships with the configured key, as the job role.
                iam.PolicyStatement(
                    sid="EncryptApplicationLogs",
                    actions=["kms:GenerateDataKey", "kms:Encrypt"],
                    resources=[props.encryption_key.key_arn],
                ),
            ],
        )

    @property
    def job_runs_arn(self) -> str:
        return f"{self.application_arn}/jobruns/*"


def _monitoring(props: EmrSparkApplicationProps) -> emrserverless.CfnApplication.MonitoringConfigurationProperty:
    """Driver and executor stdout and stderr to the log group, and logs to S3; both encrypted with the key."""
    return emrserverless.CfnApplication.MonitoringConfigurationProperty(
        cloud_watch_logging_configuration=emrserverless.CfnApplication.CloudWatchLoggingConfigurationProperty(
            enabled=True,
            log_group_name=props.log_group.log_group_name,
            log_stream_name_prefix=props.name,
            encryption_key_arn=props.encryption_key.key_arn,
            log_type_map=[
                emrserverless.CfnApplication.LogTypeMapKeyValuePairProperty(key=worker, value=["stdout", "stderr"])
                for worker in ("SPARK_DRIVER", "SPARK_EXECUTOR")
            ],
        ),
        s3_monitoring_configuration=emrserverless.CfnApplication.S3MonitoringConfigurationProperty(
            log_uri=props.logs_bucket.s3_url_for_object(props.logs_prefix),
            encryption_key_arn=props.encryption_key.key_arn,
        ),
    )


def _initial_capacity(
    capacity: InitialCapacity | None,
) -> list[emrserverless.CfnApplication.InitialCapacityConfigKeyValuePairProperty] | None:
    """``InitialCapacity``: the pre-initialized ``Driver`` and ``Executor`` workers, or nothing."""
    if capacity is None:
        return None
    workers: tuple[tuple[str, int, WorkerSize], ...] = (
        ("Driver", capacity.driver_workers, capacity.driver),
        ("Executor", capacity.executor_workers, capacity.executor),
    )
    return [
        emrserverless.CfnApplication.InitialCapacityConfigKeyValuePairProperty(
            key=key,
            value=emrserverless.CfnApplication.InitialCapacityConfigProperty(
                worker_count=count,
                worker_configuration=emrserverless.CfnApplication.WorkerConfigurationProperty(
                    cpu=size.cpu, memory=size.memory, disk=size.disk
                ),
            ),
        )
        for key, count, size in workers
        if count
    ]
