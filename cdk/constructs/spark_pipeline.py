"""SparkPipeline: a Step Functions state machine running EMR Serverless jobs one after another."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk.constructs.emr_spark_application import EmrSparkApplication
from cdk.constructs.release_slots import SLOT_PLACEHOLDER, SLOTS, VERSION_PLACEHOLDER, ReleaseSlots
from cdk.constructs.star_resource_policy import StarResourcePolicy, StarResourcePolicyProps

START_JOB_RUN_SYNC = "arn:aws:states:::emr-serverless:startJobRun.sync"
# Vended-log delivery and X-Ray APIs take no resource ARN: AWS documents "*" for them.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
XRAY_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
BATCH_ID_PATH = "$.run.batchId"
SLOTS_DOCUMENT_PATH = "$.slots.document"
"""Where ``ReadSlots`` puts the parsed slots parameter."""
RELEASE_PATH = "$.release"
"""``{"slot": <slot>, "version": <job-assets version>}``: what every job of the execution runs."""
RELEASE_FIELDS = {VERSION_PLACEHOLDER: f"{RELEASE_PATH}.version", SLOT_PLACEHOLDER: f"{RELEASE_PATH}.slot"}
# CDK's string-token marker (``${Token[...]}``): left as is, it resolves to a bucket name at deploy time.
_TOKEN = re.compile(r"(\$\{Token\[[a-zA-Z0-9:._-]+\]\})")
_PLACEHOLDER = re.compile("(" + "|".join(re.escape(p) for p in RELEASE_FIELDS) + ")")
_RESERVED = re.compile(r"([\\'{}])")


@dataclass(frozen=True, kw_only=True)
class SparkJobStep:
    """One ``spark-submit``: ``entrypoint`` with ``arguments`` plus ``--batch-id <execution name>``.

    ``entrypoint``, each argument and ``spark_submit_parameters`` are templates: ``{version}`` and
    ``{slot}`` stand for the job-assets version and the slot the execution resolved at its start.
    """

    name: str
    role: iam.IRole
    entrypoint: str
    arguments: Sequence[str]
    spark_submit_parameters: str


@dataclass(frozen=True, kw_only=True)
class SparkPipelineProps:
    state_machine_name: str
    application: EmrSparkApplication
    steps: Sequence[SparkJobStep]
    writer_state_machine_names: Sequence[str]
    """Every state machine that writes the lake (this one included): none may run alongside another."""
    job_runner_policy: iam.IManagedPolicy
    """Start and track job runs of ``application`` (published by the stack that owns it)."""
    telemetry_policy: iam.IManagedPolicy
    """Execution-log delivery and X-Ray (:func:`telemetry_policy`), shared by the stack's state machines."""
    alert_topic: sns.ITopic
    alert_publish_policy: iam.IManagedPolicy
    """Publish to ``alert_topic`` (published by the stack that owns it)."""
    release_slots: ReleaseSlots
    """The environment's slots parameter, read at the start of every execution."""
    deployed_version: str
    """The job-assets version of this deploy: what a slot with version ``""`` runs."""
    encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    job_timeout_minutes: int
    retry_attempts: int
    retry_interval_minutes: int = 2


class SparkPipeline(Construct):
    """guard -> release -> job 1 -> job 2 -> ... ; any failure notifies the alert topic and fails the execution.

    The single-writer guard lists RUNNING executions of every lake-writing state machine and fails fast
    when this execution is not the only one: two writers on the same Delta tables on S3 could lose data.
    The batch id is the execution name: a redriven execution keeps its name, so it re-runs the same batch
    (the jobs' writes are idempotent per batch id).

    Then the release: ``ReadSlots`` reads the slots parameter, ``ActiveSlot`` picks the active slot and its
    version into ``$.release`` (``SelectBlueSlot`` / ``SelectGreenSlot``), and a slot that names no version
    yet runs the version this stack deployed (``UseDeployedVersion``). It is read after the guard, right
    before the first job: an execution the guard rejects never reads it, and the value read is the newest
    one. Every job of the execution runs that slot and version: its entry point and ``--py-files`` under
    ``jobs/<version>/``, its gold under ``<gold bucket>/<slot>/``. A redriven execution keeps the
    ``$.release`` it resolved, so a batch never mixes versions even when a promotion happened in between.
    A slots parameter whose active slot is neither blue nor green notifies and fails before any job.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: SparkPipelineProps) -> None:
        super().__init__(scope, construct_id)
        if not props.steps:
            raise ValueError("a SparkPipeline needs at least one step")
        if props.state_machine_name not in props.writer_state_machine_names:
            raise ValueError("writer_state_machine_names must include this state machine's own name")
        stack = Stack.of(self)
        self.state_machine_name = props.state_machine_name
        self.steps = tuple(props.steps)
        self.application = props.application

        notify = self._notify_failure(props)
        start = sfn.Pass(
            self,
            "StartBatch",
            comment="The execution name is the batch id every job receives.",
            parameters={"batchId.$": "$$.Execution.Name"},
            result_path="$.run",
        )
        guard_arns = [
            stack.format_arn(
                service="states",
                resource="stateMachine",
                resource_name=name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for name in props.writer_state_machine_names
        ]
        chain = self._single_writer_guard(start, props, guard_arns)
        chain = self._release(chain, props, notify)
        for step in props.steps:
            chain = chain.next(self._retried_job(step, props, notify))
        chain.next(sfn.Succeed(self, "Done"))

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{props.state_machine_name}",
            encryption_key=props.encryption_key,
            retention=props.log_retention,
        )
        self.role = self._role(props, guard_arns)
        self.state_machine = self._state_machine(props, start)

    def _notify_failure(self, props: SparkPipelineProps) -> sfn.IChainable:
        """``NotifyFailure`` -> ``Failed``: publish ``$.error`` to the alert topic, then fail the execution."""
        notify = tasks.SnsPublish(
            self,
            "NotifyFailure",
            topic=props.alert_topic,
            subject=f"{props.state_machine_name} failed",
            message=sfn.TaskInput.from_object(
                {
                    "stateMachine": sfn.JsonPath.string_at("$$.StateMachine.Name"),
                    "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
                    "batchId": sfn.JsonPath.string_at(BATCH_ID_PATH),
                    "error": sfn.JsonPath.string_at("$.error.Error"),
                    "cause": sfn.JsonPath.string_at("$.error.Cause"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        notify.next(sfn.Fail(self, "Failed", error="LakehousePipelineFailed", cause_path="$.error.Cause"))
        return notify

    def _retried_job(self, step: SparkJobStep, props: SparkPipelineProps, notify: sfn.IChainable) -> sfn.CustomState:
        """``step``'s job state, retried on task failures with backoff; any other failure goes to ``notify``."""
        job = self._job_state(step, props)
        job.add_retry(
            errors=["States.TaskFailed"],
            interval=Duration.minutes(props.retry_interval_minutes),
            max_attempts=props.retry_attempts,
            backoff_rate=2.0,
            jitter_strategy=sfn.JitterType.FULL,
        )
        job.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        return job

    def _state_machine(self, props: SparkPipelineProps, start: sfn.IChainable) -> sfn.StateMachine:
        """The state machine from ``start``: traced, logged in full, timed out after every job's worst case."""
        per_job = props.job_timeout_minutes * (props.retry_attempts + 1) + 30
        return sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=props.state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(start),
            timeout=Duration.minutes(per_job * len(props.steps) + 15),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            # Every permission is in the role's managed policies; grants CDK would add inline are dropped.
            role=self.role.without_policy_updates(),
        )

    def _role(self, props: SparkPipelineProps, guard_arns: Sequence[str]) -> iam.Role:
        own = iam.ManagedPolicy(
            self,
            "ExecutionPolicy",
            description=f"{props.state_machine_name}: single-writer guard and release slots.",
            statements=[
                iam.PolicyStatement(sid="SingleWriterGuard", actions=["states:ListExecutions"], resources=guard_arns),
                iam.PolicyStatement(
                    sid="ReadReleaseSlots",
                    actions=["ssm:GetParameter"],
                    resources=[props.release_slots.parameter_arn],
                ),
            ],
        )
        return iam.Role(
            self,
            "Role",
            description=f"Execution role of the {props.state_machine_name} state machine.",
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            managed_policies=[props.job_runner_policy, props.alert_publish_policy, props.telemetry_policy, own],
        )

    def _single_writer_guard(self, start: sfn.Pass, props: SparkPipelineProps, guard_arns: Sequence[str]) -> sfn.Chain:
        conflicts: list[sfn.Condition] = []
        chain: sfn.INextable = start
        for index, (name, arn) in enumerate(zip(props.writer_state_machine_names, guard_arns, strict=True)):
            key = f"w{index}"
            listing = tasks.CallAwsService(
                self,
                f"ListRunning{_pascal(name)}",
                comment=f"RUNNING executions of {name}",
                service="sfn",
                action="listExecutions",
                parameters={"StateMachineArn": arn, "StatusFilter": "RUNNING", "MaxResults": 10},
                iam_resources=[arn],
                iam_action="states:ListExecutions",
                result_selector={"running.$": "States.ArrayLength($.Executions)"},
                result_path=f"$.guard.{key}",
            )
            # a read: retried when throttled, so a busy API does not fail a run that the intake then cannot
            # tell from a refusal (it restarts only runs the guard refused, Lakehouse.ConcurrentExecution)
            listing.add_retry(errors=["States.ALL"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2.0)
            chain.next(listing)
            chain = listing
            allowed = 1 if name == props.state_machine_name else 0
            conflicts.append(sfn.Condition.number_greater_than(f"$.guard.{key}.running", allowed))
        busy = sfn.Fail(
            self,
            "AnotherWriterIsRunning",
            error="Lakehouse.ConcurrentExecution",
            cause="Another lake-writing execution is RUNNING; this one did not start any job.",
        )
        choice = sfn.Choice(self, "OnlyWriter")
        choice.when(sfn.Condition.or_(*conflicts) if len(conflicts) > 1 else conflicts[0], busy)
        chain.next(choice)
        return choice.afterwards(include_otherwise=True)

    def _release(self, chain: sfn.Chain, props: SparkPipelineProps, notify: sfn.IChainable) -> sfn.Chain:
        """ReadSlots -> ActiveSlot -> Select<Slot>Slot -> SlotVersionSet [-> UseDeployedVersion]: ``$.release``."""
        read = self._read_slots(props, notify)
        unknown = sfn.Pass(
            self,
            "UnknownActiveSlot",
            comment="The slots parameter names no active slot this state machine knows.",
            parameters={
                "Error": "Lakehouse.UnknownActiveSlot",
                "Cause": f"The active slot in {props.release_slots.parameter_name} is not one of "
                f"{', '.join(SLOTS)}; no job was started.",
            },
            result_path="$.error",
        )
        unknown.next(notify)
        version_set = sfn.Choice(self, "SlotVersionSet", comment='A slot version "" runs the deployed version.')
        version_set.when(
            sfn.Condition.string_equals(f"{RELEASE_PATH}.version", ""),
            sfn.Pass(
                self,
                "UseDeployedVersion",
                comment="Nobody promoted to this slot yet: run the job-assets version this stack deployed.",
                parameters={"slot.$": f"{RELEASE_PATH}.slot", "version": props.deployed_version},
                result_path=RELEASE_PATH,
            ),
        )
        active = sfn.Choice(self, "ActiveSlot", comment="Run the active slot's version; write its gold.")
        for slot in SLOTS:
            select = sfn.Pass(
                self,
                f"Select{slot.capitalize()}Slot",
                parameters={"slot": slot, "version.$": f"{SLOTS_DOCUMENT_PATH}.slots.{slot}"},
                result_path=RELEASE_PATH,
            )
            select.next(version_set)
            active.when(sfn.Condition.string_equals(f"{SLOTS_DOCUMENT_PATH}.active", slot), select)
        active.otherwise(unknown)
        chain.next(read).next(active)
        return version_set.afterwards(include_otherwise=True)

    def _read_slots(self, props: SparkPipelineProps, notify: sfn.IChainable) -> tasks.CallAwsService:
        """``ReadSlots``: the slots parameter, parsed into ``$.slots.document``; retried, then ``notify``."""
        read = tasks.CallAwsService(
            self,
            "ReadSlots",
            comment="The active blue/green slot and each slot's job-assets version (lakehouse promote writes it).",
            service="ssm",
            action="getParameter",
            parameters={"Name": props.release_slots.parameter_name},
            iam_resources=[props.release_slots.parameter_arn],
            iam_action="ssm:GetParameter",
            result_selector={"document.$": "States.StringToJson($.Parameter.Value)"},
            result_path="$.slots",
        )
        read.add_retry(
            errors=["Ssm.SsmException", "Ssm.InternalServerErrorException"],
            interval=Duration.seconds(2),
            max_attempts=3,
            backoff_rate=2.0,
        )
        read.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        return read

    def _job_state(self, step: SparkJobStep, props: SparkPipelineProps) -> sfn.CustomState:
        arguments = ", ".join(intrinsic(argument) for argument in step.arguments)
        return sfn.CustomState(
            self,
            f"Run{_pascal(step.name)}",
            state_json={
                "Type": "Task",
                "Comment": f"{step.name} job on EMR Serverless; waits for the job run to finish.",
                "Resource": START_JOB_RUN_SYNC,
                "Parameters": {
                    "ApplicationId": props.application.application_id,
                    "ExecutionRoleArn": step.role.role_arn,
                    "Name.$": f"States.Format('{_escape(step.name)}-{{}}', {BATCH_ID_PATH})",
                    "ClientToken.$": "States.UUID()",
                    "ExecutionTimeoutMinutes": props.job_timeout_minutes,
                    "JobDriver": {
                        "SparkSubmit": {
                            "EntryPoint.$": intrinsic(step.entrypoint),
                            "EntryPointArguments.$": f"States.Array({arguments}, '--batch-id', {BATCH_ID_PATH})",
                            "SparkSubmitParameters.$": intrinsic(step.spark_submit_parameters),
                        }
                    },
                    "Tags": {
                        "Job": step.name,
                        "Slot.$": f"{RELEASE_PATH}.slot",
                        "Version.$": f"{RELEASE_PATH}.version",
                    },
                },
                "ResultPath": f"$.jobs.{step.name}",
                "TimeoutSeconds": (props.job_timeout_minutes + 15) * 60,
            },
        )


def intrinsic(template: str) -> str:
    """``template`` as an intrinsic-function argument: a string literal, or ``States.Format`` over ``$.release``.

    ``{version}`` and ``{slot}`` become ``{}`` with ``$.release.version`` / ``$.release.slot`` as arguments;
    the reserved characters ``' { } \\`` of the literal text are escaped with a backslash. CDK tokens are
    left as they are: they resolve to bucket names, which never hold a reserved character.
    """
    text: list[str] = []
    paths: list[str] = []
    for part in _TOKEN.split(template):
        if _TOKEN.fullmatch(part):
            text.append(part)
            continue
        for piece in _PLACEHOLDER.split(part):
            if piece in RELEASE_FIELDS:
                text.append("{}")
                paths.append(RELEASE_FIELDS[piece])
            else:
                text.append(_escape(piece))
    literal = "'" + "".join(text) + "'"
    return f"States.Format({literal}, {', '.join(paths)})" if paths else literal


def _escape(text: str) -> str:
    return _RESERVED.sub(r"\\\1", text)


def _pascal(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("_", "-").split("-"))


def telemetry_policy(scope: Construct) -> iam.IManagedPolicy:
    """``StateMachineTelemetry`` under ``scope``: what a traced state machine with execution logs needs on ``*``
    (CloudWatch Logs' vended delivery, X-Ray), once for every state machine of the stack."""
    return StarResourcePolicy(
        scope,
        "StateMachineTelemetry",
        props=StarResourcePolicyProps(
            description="Execution logs and X-Ray traces of this stack's state machines.",
            statements=[
                iam.PolicyStatement(sid="DeliverExecutionLogs", actions=[*LOG_DELIVERY_ACTIONS], resources=["*"]),
                iam.PolicyStatement(sid="Tracing", actions=[*XRAY_ACTIONS], resources=["*"]),
            ],
            reason="CloudWatch Logs vended delivery and X-Ray trace APIs accept only '*' as resource.",
        ),
    ).policy
