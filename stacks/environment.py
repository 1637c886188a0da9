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
from stacks.network import NetworkStack
from stacks.observability import ObservabilityStack
from stacks.ops import OpsStack
from stacks.orchestration import OrchestrationStack
from stacks.security import SecurityStack
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
    security: SecurityStack | None = None
    """The detection services (only when a ``security.detection`` flag is on)."""
    network: NetworkStack | None = None

    def all(self) -> tuple[Stack, ...]:
        stacks: tuple[Stack | None, ...] = (
            self.network,
            self.dr,
            self.storage,
            self.alerting,
            self.compute,
            self.orchestration,
            self.ops,
            self.observability,
            self.security,
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
    """``config``'s stacks under ``scope``, in deployment order, tagged; the DR stack when it replicates."""
    network = _network_stack(scope, config) if config.network.enabled else None
    dr = _dr_stack(scope, config) if config.features.replication else None
    storage = _storage_stack(scope, config, dr, network)
    alerting = _alerting_stack(scope, config)
    compute = _compute_stack(scope, config, storage, network, package_dir=package_dir, build_dir=build_dir)
    if dr is not None and config.dr.standby:
        dr.add_standby(config, version=compute.job_assets.version)
    orchestration = _orchestration_stack(scope, config, storage, compute, alerting)
    ops = _ops_stack(
        scope,
        config,
        storage=storage,
        compute=compute,
        orchestration=orchestration,
        alerting=alerting,
        dr=dr,
        network=network,
        lambda_build_dir=lambda_build_dir,
    )
    observability = _observability_stack(scope, config, alerting, orchestration, ops)
    stacks = EnvironmentStacks(
        storage=storage,
        alerting=alerting,
        compute=compute,
        orchestration=orchestration,
        ops=ops,
        observability=observability,
        dr=dr,
        security=_security_stack(scope, config, storage, alerting) if config.security.detection.any else None,
        network=network,
    )
    _tag(stacks, config)
    return stacks


def _primary(config: EnvironmentConfig) -> Environment:
    """The account and region every stack but the DR stack deploys to."""
    return Environment(account=config.account, region=config.region)


def _dr_stack(scope: Construct, config: EnvironmentConfig) -> DrStack:
    """The replica key and buckets, in the DR region."""
    return DrStack(
        scope,
        config.stack_name("Dr"),
        config=config,
        env=Environment(account=config.account, region=config.dr_region),
        cross_region_references=True,
        description=f"{config.prefix}: replica key and buckets in {config.dr_region}.",
        stack_name=config.stack_name("Dr"),
    )


def _network_stack(scope: Construct, config: EnvironmentConfig) -> NetworkStack:
    """The private network; deployed first (storage names its S3 endpoint, compute and ops use its subnets)."""
    return NetworkStack(
        scope,
        config.stack_name("Network"),
        config=config,
        env=_primary(config),
        description=f"{config.prefix}: VPC of isolated subnets, VPC endpoints, security groups, flow logs.",
        stack_name=config.stack_name("Network"),
    )


def _storage_stack(
    scope: Construct, config: EnvironmentConfig, dr: DrStack | None, network: NetworkStack | None
) -> StorageStack:
    """The layer keys and the lake buckets, replicated to ``dr``'s when there is one."""
    return StorageStack(
        scope,
        config.stack_name("Storage"),
        config=config,
        replica_keys=dr.keys if dr else None,
        s3_endpoint=network.s3_endpoint if network else None,
        env=_primary(config),
        cross_region_references=config.features.replication,
        description=f"{config.prefix}: layer keys, lake buckets, access logs, gold catalog, Athena workgroup.",
        stack_name=config.stack_name("Storage"),
    )


def _alerting_stack(scope: Construct, config: EnvironmentConfig) -> AlertingStack:
    """The alert topic and the budget."""
    return AlertingStack(
        scope,
        config.stack_name("Alerting"),
        config=config,
        env=_primary(config),
        description=f"{config.prefix}: alert topic and monthly budget.",
        stack_name=config.stack_name("Alerting"),
    )


def _compute_stack(
    scope: Construct,
    config: EnvironmentConfig,
    storage: StorageStack,
    network: NetworkStack | None,
    *,
    package_dir: Path,
    build_dir: Path,
) -> ComputeStack:
    """The EMR Serverless application (in ``network``'s subnets) and the job archive built from ``package_dir``."""
    return ComputeStack(
        scope,
        config.stack_name("Compute"),
        config=config,
        storage=storage,
        network=network,
        package_dir=package_dir,
        build_dir=build_dir,
        env=_primary(config),
        description=f"{config.prefix}: EMR Serverless application, job roles, job assets.",
        stack_name=config.stack_name("Compute"),
    )


def _orchestration_stack(
    scope: Construct, config: EnvironmentConfig, storage: StorageStack, compute: ComputeStack, alerting: AlertingStack
) -> OrchestrationStack:
    """The pipeline and maintenance state machines, alerting through ``alerting``'s topic."""
    return OrchestrationStack(
        scope,
        config.stack_name("Orchestration"),
        config=config,
        storage=storage,
        compute=compute,
        alert_topic=alerting.topic,
        alert_publish_policy=alerting.publish_policy,
        env=_primary(config),
        description=f"{config.prefix}: pipeline and maintenance state machines, schedules, alarms.",
        stack_name=config.stack_name("Orchestration"),
    )


def _ops_stack(
    scope: Construct,
    config: EnvironmentConfig,
    *,
    storage: StorageStack,
    compute: ComputeStack,
    orchestration: OrchestrationStack,
    alerting: AlertingStack,
    dr: DrStack | None,
    network: NetworkStack | None,
    lambda_build_dir: Path,
) -> OpsStack:
    """The operational Lambdas, bundled under ``lambda_build_dir``, in ``network``'s subnets."""
    return OpsStack(
        scope,
        config.stack_name("Ops"),
        config=config,
        storage=storage,
        compute=compute,
        orchestration=orchestration,
        alert_topic=alerting.topic,
        alert_publish_policy=alerting.publish_policy,
        dr=dr,
        network=network,
        lambda_build=bundle_lambda_code(lambda_build_dir / "code", build_dir=lambda_build_dir),
        env=_primary(config),
        cross_region_references=config.features.replication,
        description=f"{config.prefix}: landing intake, failure notifier, freshness, DR verifier, cost reporter.",
        stack_name=config.stack_name("Ops"),
    )


def _observability_stack(
    scope: Construct,
    config: EnvironmentConfig,
    alerting: AlertingStack,
    orchestration: OrchestrationStack,
    ops: OpsStack,
) -> ObservabilityStack:
    """Dashboards and alarms; deploys after ``orchestration`` and ``ops``, whose alarms it watches."""
    observability = ObservabilityStack(
        scope,
        config.stack_name("Observability"),
        config=config,
        alert_topic=alerting.topic,
        health_alarms=[*orchestration.alarms.alarms, *ops.alarms],
        env=_primary(config),
        description=f"{config.prefix}: dashboards, DQ and cost alarms, pipeline-unhealthy, Logs Insights queries.",
        stack_name=config.stack_name("Observability"),
    )
    # The composite alarm names members of these stacks (by ARN, no exports): they deploy first.
    observability.add_stack_dependency(orchestration)
    observability.add_stack_dependency(ops)
    return observability


def _security_stack(
    scope: Construct, config: EnvironmentConfig, storage: StorageStack, alerting: AlertingStack
) -> SecurityStack:
    """GuardDuty, Macie, Security Hub and AWS Config rules by flag; findings to ``alerting``'s topic."""
    return SecurityStack(
        scope,
        config.stack_name("Security"),
        config=config,
        storage=storage,
        alert_topic=alerting.topic,
        env=_primary(config),
        description=f"{config.prefix}: GuardDuty, Macie, Security Hub, AWS Config rules; findings to the alert topic.",
        stack_name=config.stack_name("Security"),
    )


def _tag(stacks: EnvironmentStacks, config: EnvironmentConfig) -> None:
    """Project, Environment, Component (the stack name's last part) and CostCenter on every stack."""
    for stack in stacks.all():
        component = stack.stack_name.rsplit("-", 1)[1]
        for key, value in (
            ("Project", config.project),
            ("Environment", config.name),
            ("Component", component),
            ("CostCenter", config.cost_center),
        ):
            Tags.of(stack).add(key, value)
