"""OpsFunction: an operational Lambda with X-Ray, its own least-privilege role, log group and error alarm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.compliance import LAMBDA_DLQ, LAMBDA_IN_VPC, acknowledge
from cdk.constructs.catalog_alarm import CatalogAlarmFactory
from job_assets.contracts import metrics as catalog

RUNTIME = lambda_.Runtime.PYTHON_3_14
"""The newest Python runtime the pinned aws-cdk-lib knows (cdk/lambda_packaging.py builds wheels for it)."""
ARCHITECTURE = lambda_.Architecture.ARM_64
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


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


class OpsFunction(Construct):
    """Python on arm64, X-Ray active, no VPC, reserved concurrency, one role per function.

    The role carries only customer-managed policies: the function's own (its log group, X-Ray, what
    ``statements`` names) plus the ones passed in. CDK's automatic grants are dropped
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
        statements = [
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            iam.PolicyStatement(sid="Tracing", actions=[*XRAY_ACTIONS], resources=["*"]),
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
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"{props.function_name}: its own logs, X-Ray, and its work.",
            statements=statements,
        )
        acknowledge(
            self.policy,
            rules=["AwsSolutions-IAM5"],
            findings=["Resource::*"],
            reason=(
                "X-Ray PutTraceSegments/PutTelemetryRecords and CloudWatch PutMetricData take no resource ARN "
                "(AWS documents '*'); PutMetricData is limited to our namespace by the cloudwatch:namespace condition."
            ),
        )
        self.role = iam.Role(
            self,
            "Role",
            description=f"Execution role of the {props.function_name} Lambda function.",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[self.policy, *props.managed_policies],
        )
        self.function = lambda_.Function(
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
        )
        acknowledge(
            self.function,
            rules=LAMBDA_IN_VPC,
            reason="It calls only AWS APIs over TLS (S3, CloudWatch, SQS, ...); a VPC would add NAT cost, no control.",
        )
        if props.failed_events_queue is None:
            acknowledge(
                self.function,
                rules=LAMBDA_DLQ,
                reason="Invoked by an SQS event source mapping: failed messages go to that queue's dead-letter queue.",
            )
        self.errors_alarm = props.alarms.alarm(
            self,
            "ErrorsAlarm",
            metric_key="lambda_errors",
            name=f"{props.function_name}-errors",
            subject=f"Lambda function {props.function_name}",
            dimensions={catalog.FUNCTION_NAME: self.function.function_name},
        )

    def add_statements(self, *statements: iam.PolicyStatement) -> None:
        self.policy.add_statements(*statements)
