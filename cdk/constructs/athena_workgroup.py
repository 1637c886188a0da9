"""AnalyticsWorkgroup: an Athena (engine v3) workgroup whose results are SSE-KMS encrypted."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_athena as athena
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

ONE_TIB = 1024**4


@dataclass(frozen=True, kw_only=True)
class AnalyticsWorkgroupProps:
    name: str
    results_bucket: s3.IBucket
    results_prefix: str
    encryption_key: kms.IKey
    bytes_scanned_cutoff_per_query: int = ONE_TIB


class AnalyticsWorkgroup(Construct):
    """Engine v3 (needed for Delta Lake), enforced settings so clients cannot turn encryption off."""

    def __init__(self, scope: Construct, construct_id: str, *, props: AnalyticsWorkgroupProps) -> None:
        super().__init__(scope, construct_id)
        self.name = props.name
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=props.name,
            description="Queries over the gold Delta Lake tables; results encrypted with the artifacts key.",
            state="ENABLED",
            recursive_delete_option=False,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=props.bytes_scanned_cutoff_per_query,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=props.results_bucket.s3_url_for_object(props.results_prefix),
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=props.encryption_key.key_arn
                    ),
                ),
            ),
        )
