"""FreshnessMonitor: the Lambda that publishes every monitored table's minutes since its last commit, its
schedule, and one alarm per table at the table's freshness SLO."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.constructs.catalog_alarm import CatalogAlarm
from cdk.constructs.ops_function import OpsCommon, OpsFunction, read_active_slot
from job_assets.contracts import metrics as catalog
from job_assets.contracts.freshness import monitored_tables


@dataclass(frozen=True, kw_only=True)
class FreshnessMonitorProps:
    common: OpsCommon
    layer_buckets: Mapping[str, s3.IBucket]
    """The bucket of every monitored layer (silver, gold)."""
    read_policies: Sequence[iam.IManagedPolicy]
    """Read those buckets."""
    slots_parameter_name: str
    """The environment's blue/green slots parameter (the active gold slot)."""
    check_minutes: int
    """How often the function runs (and the alarms' period)."""
    name_prefix: str
    """Names the schedule ``<prefix>-freshness-monitor`` and the alarms ``<prefix>-freshness-<table>``."""


class FreshnessMonitor(OpsFunction):
    """The ``freshness-monitor`` function (an :class:`OpsFunction`), its schedule and the per-table alarms.

    The schedule and the alarms are created beside the function, in ``scope`` (the Ops stack), where they
    stood before this construct existed, so their logical IDs stay as deployed. One per scope.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: FreshnessMonitorProps) -> None:
        common = props.common
        super().__init__(
            scope,
            construct_id,
            props=common.function_props(
                "freshness-monitor",
                handler="freshness_monitor.handler.handler",
                description="Publishes minutes since the last Delta commit of every silver and gold table.",
                environment={
                    "ENVIRONMENT": common.environment,
                    "LAYER_BUCKETS": json.dumps({layer: b.bucket_name for layer, b in props.layer_buckets.items()}),
                    "SLOTS_PARAMETER": props.slots_parameter_name,
                },
                timeout=Duration.minutes(2),
                reserved_concurrency=1,
                managed_policies=[*props.read_policies, common.metrics_policy],
                failed_events_queue=common.failed_events,
                statements=[read_active_slot(scope, props.slots_parameter_name)],
            ),
        )
        self.schedule = events.Rule(
            scope,
            "FreshnessSchedule",
            rule_name=f"{props.name_prefix}-freshness-monitor",
            description=f"Runs the freshness monitor every {props.check_minutes} minutes.",
            schedule=events.Schedule.rate(Duration.minutes(props.check_minutes)),
            targets=[common.async_target(self)],
        )
        self.freshness_alarms = _freshness_alarms(scope, props)
        """Table name -> its freshness alarm."""
        self.alarms = list(self.freshness_alarms.values())


def _freshness_alarms(scope: Construct, props: FreshnessMonitorProps) -> dict[str, CatalogAlarm]:
    """One alarm per monitored table (the same list the function checks), at the table's SLO."""
    alarms = {}
    for monitored in monitored_tables():
        table = monitored.name
        alarms[table] = props.common.alarms.alarm(
            scope,
            f"Freshness{''.join(p.capitalize() for p in table.replace('.', '_').split('_'))}",
            metric_key="freshness_minutes",
            name=f"{props.name_prefix}-freshness-{table.replace('.', '-').replace('_', '-')}",
            subject=table,
            dimensions={catalog.ENVIRONMENT: props.common.environment, catalog.TABLE: table},
            threshold=monitored.slo_minutes,
            # One check per period (the catalog: 1 of 2 periods, so a late check does not flap).
            period=Duration.minutes(props.check_minutes),
        )
    return alarms
