"""CostReporter: the Lambda that prices each successful job run, and the rule that invokes it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.constructs.emr_spark_application import EmrSparkApplication
from cdk.constructs.ops_function import OpsCommon, OpsFunction, read_active_slot


@dataclass(frozen=True, kw_only=True)
class CostReporterProps:
    common: OpsCommon
    application: EmrSparkApplication
    """Whose successful job runs are priced."""
    prices: Mapping[str, float]
    """``vcpu_hour``, ``memory_gb_hour``, ``storage_gb_hour`` (the environment's pricing)."""
    layer_buckets: Mapping[str, s3.IBucket]
    """Every layer's bucket (records per run come from the tables' Delta logs)."""
    slots_parameter_name: str
    """The environment's blue/green slots parameter (the active gold slot)."""
    arrow_layer: lambda_.ILayerVersion
    """pyarrow, to read Delta checkpoints."""
    reader_policies: Sequence[iam.IManagedPolicy]
    """Read job runs and the layers' buckets."""
    name_prefix: str
    """Names the rule ``<prefix>-job-run-succeeded``."""


class CostReporter(OpsFunction):
    """The ``cost-reporter`` function (an :class:`OpsFunction`), invoked asynchronously by its rule.

    The rule is created beside the function, in ``scope`` (the Ops stack), where it stood before this
    construct existed, so its logical ID (and its Lambda permission's) stays as deployed. One per scope.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: CostReporterProps) -> None:
        common = props.common
        super().__init__(
            scope,
            construct_id,
            props=common.function_props(
                "cost-reporter",
                handler="cost_reporter.handler.handler",
                description=(
                    "Prices each successful job run (billed utilization) and publishes cost per million records."
                ),
                environment={
                    "ENVIRONMENT": common.environment,
                    "APPLICATION_ID": props.application.application_id,
                    "PRICES": json.dumps(dict(props.prices)),
                    "LAYER_BUCKETS": json.dumps({layer: b.bucket_name for layer, b in props.layer_buckets.items()}),
                    "SLOTS_PARAMETER": props.slots_parameter_name,
                },
                timeout=Duration.minutes(2),
                memory_mb=1024,
                layers=[props.arrow_layer],
                reserved_concurrency=2,
                managed_policies=[*props.reader_policies, common.metrics_policy],
                failed_events_queue=common.failed_events,
                statements=[read_active_slot(scope, props.slots_parameter_name)],
            ),
        )
        self.rule = events.Rule(
            scope,
            "JobRunSucceeded",
            rule_name=f"{props.name_prefix}-job-run-succeeded",
            description="Successful EMR Serverless job runs of the lakehouse application -> the cost reporter.",
            event_pattern=events.EventPattern(
                source=["aws.emr-serverless"],
                detail_type=["EMR Serverless Job Run State Change"],
                detail={"state": ["SUCCESS"], "applicationId": [props.application.application_id]},
            ),
            targets=[common.async_target(self)],
        )
