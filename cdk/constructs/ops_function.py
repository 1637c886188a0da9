"""OpsFunction: an operational Lambda with X-Ray, its own least-privilege role, log group and error alarm.

Each operational function is a construct of its own that extends :class:`OpsFunction`
(``landing_intake.py``, ``failure_notifier.py``, ``cost_reporter.py``, ``freshness_monitor.py``,
``replica_verifier.py``); :class:`OpsCommon` is what they share in one environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.compliance import LAMBDA_DLQ, LAMBDA_IN_VPC, acknowledge
from cdk.constructs.catalog_alarm import CatalogAlarm, CatalogAlarmFactory
from cdk.constructs.private_network import FunctionNetwork
from job_assets.contracts import metrics as catalog
from platform_model import aws_names

RUNTIME = lambda_.Runtime.PYTHON_3_14
"""The newest Python runtime the pinned aws-cdk-lib knows (cdk/lambda_packaging.py builds wheels for it)."""
ARCHITECTURE = lambda_.Architecture.ARM_64
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
EVENT_RETRY_ATTEMPTS = 8
"""EventBridge retries of a rule's delivery to its target before the event goes to the failed-events queue."""
EVENT_MAX_AGE = Duration.hours(6)


@dataclass(frozen=True, kw_only=True)
class OpsFunctionProps:
    function_name: str
    description: str
    handler: str
    """``<package>.handler.handler`` inside the code asset."""
    code: lambda_.Code
    environment: Mapping[str, str]
    encryption_key: kms.IKey
    """Encrypts the log group and the failed-event queue."""
    log_retention: logs.RetentionDays
    alarms: CatalogAlarmFactory
    """Builds the Errors alarm (catalog entry ``lambda_errors``, runbook ``lambda-errors.md``)."""
    reserved_concurrency: int
    tracing_policy: iam.IManagedPolicy
    """X-Ray's trace writes (on ``*``), shared by every function of the environment (:class:`OpsCommon`)."""
    timeout: Duration = field(default_factory=lambda: Duration.minutes(1))
    memory_mb: int = 256
    layers: Sequence[lambda_.ILayerVersion] = ()
    managed_policies: Sequence[iam.IManagedPolicy] = ()
    """Access published by the stacks that own the resources (bucket reads, topic publishing, ...)."""
    statements: Sequence[iam.PolicyStatement] = ()
    """Exact actions on exact resources, added to the function's own managed policy."""
    failed_events_queue: sqs.IQueue | None = None
    """Asynchronous invocations that still fail after Lambda's retries land here (``None``: not async)."""
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    network: FunctionNetwork | None = None
    """The private subnets and security group the function runs in (``None``: outside the VPC, see
    :data:`OUTSIDE_VPC_REASON`)."""
    outside_vpc_reason: str = "network.enabled is false for this environment: there is no private network to run in."
    """Why the function runs outside the VPC when ``network`` is ``None`` (its cdk-nag acknowledgement)."""


class OpsFunction(Construct):
    """Python on arm64, X-Ray active, in the private network, reserved concurrency, one role per function.

    The role carries only customer-managed policies: the function's own (its log group, what ``statements``
    names, its failed-events queue: exact resources only), the environment's shared X-Ray policy, the network's
    ENI policy when in the VPC, plus the ones passed in. CDK's automatic grants are dropped
    (``without_policy_updates``), so everything the function may do is written out here or by its caller.
    The Errors alarm fires on the first error in five minutes and links the runbook.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: OpsFunctionProps) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{props.function_name}",
            retention=props.log_retention,
            encryption_key=props.encryption_key,
            removal_policy=props.removal_policy,
        )
        self.policy = self._own_policy(props)
        self.role = iam.Role(
            self,
            "Role",
            # Named, so that the data keys' policies can name the functions that read a layer (layer_key.py).
            role_name=f"{props.function_name}-role",
            description=f"Execution role of the {props.function_name} Lambda function.",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[
                self.policy,
                props.tracing_policy,
                *([props.network.interfaces_policy] if props.network else []),
                *props.managed_policies,
            ],
        )
        self.function = self._function(props)
        self.alarms: list[CatalogAlarm] = []
        """The alarms on what the function serves (its queue, its checks), set by each function's construct."""
        self.errors_alarm = props.alarms.alarm(
            self,
            "ErrorsAlarm",
            metric_key="lambda_errors",
            name=f"{props.function_name}-errors",
            subject=f"Lambda function {props.function_name}",
            dimensions={catalog.FUNCTION_NAME: self.function.function_name},
        )

    def _own_policy(self, props: OpsFunctionProps) -> iam.ManagedPolicy:
        """Its own logs, ``props.statements``, and the failed-events queue when invoked asynchronously: exact
        resources only (what takes ``*`` is in the shared policies the role attaches)."""
        statements = [
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            *props.statements,
        ]
        if props.failed_events_queue is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="KeepFailedEvents",
                    actions=["sqs:SendMessage"],
                    resources=[props.failed_events_queue.queue_arn],
                )
            )
            statements.append(
                iam.PolicyStatement(
                    sid="EncryptFailedEvents",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[props.encryption_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sqs.{Stack.of(self).region}.amazonaws.com"}},
                )
            )
        return iam.ManagedPolicy(
            self,
            "Policy",
            description=f"{props.function_name}: its own logs and its work.",
            statements=statements,
        )

    def _function(self, props: OpsFunctionProps) -> lambda_.Function:
        """The function on :data:`RUNTIME`/:data:`ARCHITECTURE`, traced, in the private subnets, on its role alone."""
        network = props.network
        function = lambda_.Function(
            self,
            "Function",
            function_name=props.function_name,
            description=props.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=props.handler,
            code=props.code,
            layers=list(props.layers),
            environment=dict(props.environment),
            timeout=props.timeout,
            memory_size=props.memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            reserved_concurrent_executions=props.reserved_concurrency,
            dead_letter_queue=props.failed_events_queue,
            retry_attempts=2 if props.failed_events_queue is not None else None,
            role=self.role.without_policy_updates(),
            vpc=network.vpc if network else None,
            vpc_subnets=ec2.SubnetSelection(subnets=list(network.subnets)) if network else None,
            security_groups=[network.security_group] if network else None,
        )
        if network is None:
            acknowledge(function, rules=LAMBDA_IN_VPC, reason=props.outside_vpc_reason)
        if props.failed_events_queue is None:
            acknowledge(
                function,
                rules=LAMBDA_DLQ,
                reason="Invoked by an SQS event source mapping: failed messages go to that queue's dead-letter queue.",
            )
        return function

    def add_statements(self, *statements: iam.PolicyStatement) -> None:
        self.policy.add_statements(*statements)


@dataclass(frozen=True, kw_only=True)
class OpsCommon:
    """What every operational function of one environment shares, so each function's construct takes one value.

    ``failed_events`` is the failed-events dead-letter queue: asynchronous invocations that still fail after
    Lambda's retries, and rule deliveries that still fail after EventBridge's, land there.
    """

    environment: str
    project: str
    code: lambda_.Code
    encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    alarms: CatalogAlarmFactory
    failed_events: sqs.IQueue
    removal_policy: RemovalPolicy
    tracing_policy: iam.IManagedPolicy
    """X-Ray's trace writes: every function's role attaches it."""
    metrics_policy: iam.IManagedPolicy
    """``PutMetricData`` to this environment's namespace only: the functions that publish metrics attach it."""
    network: FunctionNetwork | None = None
    """The private network every function runs in unless its props say otherwise."""

    def function_props(self, name: str, *, handler: str, description: str, **props: Any) -> OpsFunctionProps:
        """The props of the function ``name`` (``landing-intake``, ...): the shared values plus ``props``."""
        props.setdefault("network", self.network)
        return OpsFunctionProps(
            function_name=aws_names.function_name(self.environment, name, self.project),
            description=description,
            handler=handler,
            code=self.code,
            encryption_key=self.encryption_key,
            log_retention=self.log_retention,
            alarms=self.alarms,
            removal_policy=self.removal_policy,
            tracing_policy=self.tracing_policy,
            **props,
        )

    def async_target(self, function: OpsFunction) -> targets.LambdaFunction:
        """A rule target that invokes ``function`` asynchronously; undeliverable events go to ``failed_events``."""
        return targets.LambdaFunction(
            function.function,
            dead_letter_queue=self.failed_events,
            retry_attempts=EVENT_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE,
        )

    def queue_target(self, queue: sqs.IQueue) -> targets.SqsQueue:
        """A rule target that sends to ``queue``; undeliverable events go to ``failed_events``."""
        return targets.SqsQueue(
            queue,
            dead_letter_queue=self.failed_events,
            retry_attempts=EVENT_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE,
        )


OUTSIDE_VPC_REASON = (
    "It reads the DR region's replica buckets, which the isolated subnets cannot reach (gateway endpoints serve"
    " their own region only, and the network has no NAT); its role is a named exception of the lake bucket policies."
)
"""Why a function runs outside the private network (the replica verifier only)."""


def read_active_slot(scope: Construct, parameter_name: str) -> iam.PolicyStatement:
    """GetParameter on exactly the slots parameter ``parameter_name`` (a String: no KMS key to decrypt).

    The parameter belongs to another stack; it is addressed by its deterministic name (no cross-stack reference).
    """
    arn = Stack.of(scope).format_arn(service="ssm", resource="parameter", resource_name=parameter_name.lstrip("/"))
    return iam.PolicyStatement(sid="ReadActiveSlot", actions=["ssm:GetParameter"], resources=[arn])
