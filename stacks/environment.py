"""Compose one environment's stacks, in deployment order, with their tags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Environment, Stack, Tags
from constructs import Construct

from cdk.config import EnvironmentConfig
from cdk.lambda_packaging import BUILD_DIR as LAMBDA_BUILD_DIR
from cdk.lambda_packaging import bundle_lambda_code
from stacks.alerting import AlertingStack
from stacks.compute import ComputeStack
from stacks.dr import DrStack
from stacks.observability import ObservabilityStack
from stacks.ops import OpsStack
from stacks.orchestration import OrchestrationStack
from stacks.storage import StorageStack

REPO_ROOT = Path(__file__).resolve().parent.parent
JOB_ASSETS_DIR = REPO_ROOT / "job_assets"
BUILD_DIR = REPO_ROOT / "build" / "job-assets"


@dataclass(frozen=True, kw_only=True)
class EnvironmentStacks:
    storage: StorageStack
    alerting: AlertingStack
    compute: ComputeStack
    orchestration: OrchestrationStack
    ops: OpsStack
    observability: ObservabilityStack
    dr: DrStack | None

    def all(self) -> tuple[Stack, ...]:
        stacks: tuple[Stack | None, ...] = (
            self.dr,
            self.storage,
            self.alerting,
            self.compute,
            self.orchestration,
            self.ops,
            self.observability,
        )
        return tuple(s for s in stacks if s is not None)


def build_environment(
    scope: Construct,
    config: EnvironmentConfig,
    *,
    package_dir: Path = JOB_ASSETS_DIR,
    build_dir: Path = BUILD_DIR,
    lambda_build_dir: Path = LAMBDA_BUILD_DIR,
) -> EnvironmentStacks:
    primary = Environment(account=config.account, region=config.region)
    replication = config.features.replication

    def name(part: str) -> dict[str, str]:
        return {"stack_name": config.stack_name(part)}

    dr = None
    if replication:
        dr = DrStack(
            scope,
            config.stack_name("Dr"),
            config=config,
            env=Environment(account=config.account, region=config.dr_region),
            cross_region_references=True,
            description=f"{config.prefix}: replica key and buckets in {config.dr_region}.",
            **name("Dr"),
        )
    storage = StorageStack(
        scope,
        config.stack_name("Storage"),
        config=config,
        replica_key=dr.key if dr else None,
        env=primary,
        cross_region_references=replication,
        description=f"{config.prefix}: data key, lake buckets, access logs, gold catalog, Athena workgroup.",
        **name("Storage"),
    )
    alerting = AlertingStack(
        scope,
        config.stack_name("Alerting"),
        config=config,
        env=primary,
        description=f"{config.prefix}: alert topic and monthly budget.",
        **name("Alerting"),
    )
    compute = ComputeStack(
        scope,
        config.stack_name("Compute"),
        config=config,
        storage=storage,
        package_dir=package_dir,
        build_dir=build_dir,
        env=primary,
        description=f"{config.prefix}: EMR Serverless application, job roles, job assets.",
        **name("Compute"),
    )
    orchestration = OrchestrationStack(
        scope,
        config.stack_name("Orchestration"),
        config=config,
        storage=storage,
        compute=compute,
        alert_topic=alerting.topic,
        alert_publish_policy=alerting.publish_policy,
        env=primary,
        description=f"{config.prefix}: pipeline and maintenance state machines, schedules, alarms.",
        **name("Orchestration"),
    )
    ops = OpsStack(
        scope,
        config.stack_name("Ops"),
        config=config,
        storage=storage,
        compute=compute,
        orchestration=orchestration,
        alert_topic=alerting.topic,
        alert_publish_policy=alerting.publish_policy,
        dr=dr,
        lambda_build=bundle_lambda_code(lambda_build_dir / "code", build_dir=lambda_build_dir),
        env=primary,
        cross_region_references=replication,
        description=f"{config.prefix}: landing intake, failure notifier, freshness, DR verifier, cost reporter.",
        **name("Ops"),
    )
    observability = ObservabilityStack(
        scope,
        config.stack_name("Observability"),
        config=config,
        alert_topic=alerting.topic,
        health_alarms=[*orchestration.alarms.alarms, *ops.alarms],
        env=primary,
        description=f"{config.prefix}: dashboards, DQ and cost alarms, pipeline-unhealthy, Logs Insights queries.",
        **name("Observability"),
    )
    # The composite alarm names members of these stacks (by ARN, no exports): they deploy first.
    observability.add_stack_dependency(orchestration)
    observability.add_stack_dependency(ops)
    stacks = EnvironmentStacks(
        storage=storage,
        alerting=alerting,
        compute=compute,
        orchestration=orchestration,
        ops=ops,
        observability=observability,
        dr=dr,
    )
    for stack in stacks.all():
        component = stack.stack_name.rsplit("-", 1)[1]
        for key, value in (
            ("Project", config.project),
            ("Environment", config.name),
            ("Component", component),
            ("CostCenter", config.cost_center),
        ):
            Tags.of(stack).add(key, value)
    return stacks
