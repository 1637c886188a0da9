"""EMR Serverless application and job assets."""

from __future__ import annotations

import json
from typing import Any

from cdk_testkit import Synthesized, resources

from cdk.constructs.emr_spark_application import DELTA_SPARK_DEFAULTS


def application(lakehouse: Synthesized, env: str) -> dict[str, Any]:
    (app,) = resources(
        lakehouse.template(lakehouse.environments[env].compute), "AWS::EMRServerless::Application"
    ).values()
    return app["Properties"]


def test_delta_and_session_defaults_are_the_job_contract() -> None:
    assert DELTA_SPARK_DEFAULTS == {
        "spark.jars": "/usr/share/aws/delta/lib/delta-spark.jar,/usr/share/aws/delta/lib/delta-storage.jar",
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    }


def test_delta_is_on_the_jvm_classpath_only(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    """docs/adr/0001: Delta reaches the jobs as JVM classes (the application's spark.jars); nothing puts its
    Python package on the jobs' path, and the application sets no pyFiles a job-level value would replace."""
    for env in env_config:
        [defaults] = [
            c for c in application(lakehouse, env)["RuntimeConfiguration"] if c["Classification"] == "spark-defaults"
        ]
        props = defaults["Properties"]
        assert props["spark.jars"].split(",") == [
            "/usr/share/aws/delta/lib/delta-spark.jar",
            "/usr/share/aws/delta/lib/delta-storage.jar",
        ]
        assert not any(k in props for k in ("spark.submit.pyFiles", "spark.archives", "spark.jars.packages"))


def test_local_sessions_configure_delta_as_the_application_does() -> None:
    from job_assets.spark import DELTA_CONF

    assert {k: DELTA_SPARK_DEFAULTS[k] for k in DELTA_CONF} == DELTA_CONF


def test_emr_application_properties(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    for env, config in env_config.items():
        props = application(lakehouse, env)
        assert props["Name"] == f"lakehouse-{env}-spark"
        assert props["Type"] == "SPARK"
        assert props["ReleaseLabel"] == "emr-7.12.0"
        assert props["Architecture"] == "ARM64"
        assert props["AutoStartConfiguration"] == {"Enabled": True}
        assert props["AutoStopConfiguration"] == {
            "Enabled": True,
            "IdleTimeoutMinutes": config.emr.idle_timeout_minutes,
        }
        assert props["MaximumCapacity"] == {
            "Cpu": f"{config.emr.max_vcpu} vCPU",
            "Memory": f"{config.emr.max_memory_gb} GB",
            "Disk": f"{config.emr.max_disk_gb} GB",
        }
        if config.spark.initial_capacity is None:  # prod's pre-initialized workers: test_cdk_spark_sizing.py
            assert "InitialCapacity" not in props  # nothing billed while idle
        (runtime,) = props["RuntimeConfiguration"]
        assert runtime == {"Classification": "spark-defaults", "Properties": DELTA_SPARK_DEFAULTS}
        cloudwatch = props["MonitoringConfiguration"]["CloudWatchLoggingConfiguration"]
        assert cloudwatch["Enabled"] is True and "EncryptionKeyArn" in cloudwatch
        assert {t["Key"] for t in cloudwatch["LogTypeMap"]} == {"SPARK_DRIVER", "SPARK_EXECUTOR"}
        s3_logs = props["MonitoringConfiguration"]["S3MonitoringConfiguration"]
        assert "EncryptionKeyArn" in s3_logs and "/emr-logs/" in json.dumps(s3_logs["LogUri"])


def test_spark_log_group_is_encrypted_with_configured_retention(
    lakehouse: Synthesized, env_config: dict[str, Any]
) -> None:
    for env, config in env_config.items():
        for stack in (lakehouse.environments[env].compute, lakehouse.environments[env].orchestration):
            for group in resources(lakehouse.template(stack), "AWS::Logs::LogGroup").values():
                assert "KmsKeyId" in group["Properties"]
                assert group["Properties"]["RetentionInDays"] == config.retention.log_group_retention_days


def test_job_assets_deploy_to_a_versioned_prefix(lakehouse: Synthesized) -> None:
    compute = lakehouse.environments["dev"].compute
    version = compute.job_assets.version
    assert len(version) == 16
    (deployment,) = resources(lakehouse.template(compute), "Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert props["DestinationBucketKeyPrefix"] == f"jobs/{version}/"
    assert props["Prune"] is False
    assert props["RetainOnDelete"] is True
    # Unchanged code gives the same version in every environment.
    assert {e.compute.job_assets.version for e in lakehouse.environments.values()} == {version}
