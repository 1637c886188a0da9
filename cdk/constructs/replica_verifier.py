"""ReplicaVerifier: the DR Lambda that checks replica consistency and lag, its schedule, and the alarm that
fires when the replica stays inconsistent past the replication time control window."""

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

from cdk.config import RTC_WINDOW_MINUTES
from cdk.constructs.ops_function import OUTSIDE_VPC_REASON, OpsCommon, OpsFunction
from job_assets.contracts import metrics as catalog
from platform_model import aws_names


@dataclass(frozen=True, kw_only=True)
class ReplicaVerifierProps:
    common: OpsCommon
    replica_region: str
    source_buckets: Mapping[str, s3.IBucket]
    """Layer -> its bucket in the primary region."""
    replica_buckets: Mapping[str, s3.IBucket]
    """Layer -> its replica bucket in ``replica_region`` (the same layers as ``source_buckets``)."""
    read_policies: Sequence[iam.IManagedPolicy]
    """Read both sides."""
    arrow_layer: lambda_.ILayerVersion
    """pyarrow, to read Delta checkpoints."""
    check_minutes: int
    """How often the function runs (and the alarm's period)."""
    name_prefix: str
    """Names the schedule ``<prefix>-replica-verifier`` and the alarm ``<prefix>-replica-inconsistent``."""


class ReplicaVerifier(OpsFunction):
    """The ``replica-verifier`` function (an :class:`OpsFunction`), its schedule and its alarm.

    The schedule and the alarm are created beside the function, in ``scope`` (the Ops stack), where they
    stood before this construct existed, so their logical IDs stay as deployed. One per scope.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: ReplicaVerifierProps) -> None:
        common = props.common
        pairs = {
            layer: {"source": source.bucket_name, "replica": props.replica_buckets[layer].bucket_name}
            for layer, source in props.source_buckets.items()
        }
        super().__init__(
            scope,
            construct_id,
            props=common.function_props(
                "replica-verifier",
                handler="replica_verifier.handler.handler",
                description=(
                    "Checks every replicated Delta table: all files of the latest replicated version exist; lag."
                ),
                environment={
                    "ENVIRONMENT": common.environment,
                    "REPLICA_REGION": props.replica_region,
                    "BUCKET_PAIRS": json.dumps(pairs),
                },
                timeout=Duration.minutes(5),
                memory_mb=1024,
                layers=[props.arrow_layer],
                reserved_concurrency=1,
                managed_policies=[*props.read_policies, common.metrics_policy],
                failed_events_queue=common.failed_events,
                statements=[_list_tables(props)],
                network=None,
                outside_vpc_reason=OUTSIDE_VPC_REASON,
            ),
        )
        self.schedule = events.Rule(
            scope,
            "ReplicaCheckSchedule",
            rule_name=f"{props.name_prefix}-replica-verifier",
            description=f"Runs the DR replica verifier every {props.check_minutes} minutes.",
            schedule=events.Schedule.rate(Duration.minutes(props.check_minutes)),
            targets=[common.async_target(self)],
        )
        self.replica_alarm = common.alarms.alarm(
            scope,
            "ReplicaInconsistent",
            metric_key="replica_consistent",
            name=f"{props.name_prefix}-replica-inconsistent",
            subject=f"every replicated table in {props.replica_region}",
            dimensions={catalog.ENVIRONMENT: common.environment},
            period=Duration.minutes(props.check_minutes),
            evaluation_periods=RTC_WINDOW_MINUTES // props.check_minutes + 1,
        )
        self.alarms = [self.replica_alarm]


def replica_verifier_role_name(environment: str, project: str) -> str:
    """The verifier's execution role name (every ops function's role is ``<function>-role``, ops_function.py):
    outside the VPC, the lake bucket policies name it as an exception."""
    return f"{aws_names.function_name(environment, 'replica-verifier', project)}-role"


def _list_tables(props: ReplicaVerifierProps) -> iam.PolicyStatement:
    """List both sides whole: it finds the tables (``find_tables``) and checks every file of a replica table is
    there (keys and sizes, no content); its object reads stay on the Delta logs (``read_policies``)."""
    buckets = [*props.source_buckets.values(), *props.replica_buckets.values()]
    return iam.PolicyStatement(
        sid="ListTablesAndReplicaFiles", actions=["s3:ListBucket"], resources=[b.bucket_arn for b in buckets]
    )
