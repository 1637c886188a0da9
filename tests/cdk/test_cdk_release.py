"""Blue/green release state: the slots and deployment parameters, the promotions table, and how both state
machines resolve the slot and version they run (structural: moto cannot run ``startJobRun.sync``)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cdk_testkit import (
    Synthesized,
    evaluate_intrinsic,
    flatten_join,
    readable_token,
    resources,
    run_states,
)

from cdk.constructs.release_slots import INITIAL_VALUE
from cdk.constructs.spark_pipeline import intrinsic
from platform_model import aws_names

ENVS = ("dev", "staging", "prod")
START_JOB_RUN_SYNC = "arn:aws:states:::emr-serverless:startJobRun.sync"
DEPLOYMENT_KEYS = [
    "version",
    "application_id",
    "artifacts_uri",
    "gold_uri",
    "job_role_arns",
    "arguments",
    "spark_submit_parameters",
    "job_sizing",
]
SAMPLE = {"run": {"batchId": "b-20260101"}, "release": {"slot": "green", "version": "abc"}}
SSM_STANDARD_VALUE_LIMIT = 4096


def orchestration(lakehouse: Synthesized, env: str) -> dict[str, Any]:
    return lakehouse.template(lakehouse.environments[env].orchestration)


def deployed_version(lakehouse: Synthesized, env: str) -> str:
    return lakehouse.environments[env].compute.job_assets.version


def parameters(lakehouse: Synthesized, env: str) -> dict[str, dict[str, Any]]:
    """Name -> the SSM parameter resource (properties and policies)."""
    return {
        p["Properties"]["Name"]: p for p in resources(orchestration(lakehouse, env), "AWS::SSM::Parameter").values()
    }


def state_machines(lakehouse: Synthesized, env: str) -> dict[str, dict[str, Any]]:
    """Name -> the definition, each intrinsic rendered by name (``GoldBucket``, ``ArtifactsBucket``...)."""
    return {
        sm["Properties"]["StateMachineName"]: json.loads(
            flatten_join(sm["Properties"]["DefinitionString"], readable_token)
        )
        for sm in resources(orchestration(lakehouse, env), "AWS::StepFunctions::StateMachine").values()
    }


def deployment_document(lakehouse: Synthesized, env: str) -> dict[str, Any]:
    value = parameters(lakehouse, env)[aws_names.deployment_parameter_name(env)]["Properties"]["Value"]
    return json.loads(flatten_join(value, readable_token))


def job_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: s for k, s in definition["States"].items() if s.get("Resource") == START_JOB_RUN_SYNC}


# --- the slots parameter -------------------------------------------------------------------------------


def test_initial_value_is_the_documented_constant() -> None:
    assert INITIAL_VALUE == '{"active": "blue", "slots": {"blue": "", "green": ""}}'
    assert tuple(json.loads(INITIAL_VALUE)["slots"]) == aws_names.SLOTS


@pytest.mark.parametrize("env", ENVS)
def test_slots_parameter_is_a_constant_no_deploy_rewrites(lakehouse: Synthesized, env: str) -> None:
    parameter = parameters(lakehouse, env)[aws_names.slots_parameter_name(env)]
    props = parameter["Properties"]
    assert props["Type"] == "String" and props["Tier"] == "Standard"
    # A plain string in the template: no token, nothing derived from the deployed version.
    assert isinstance(props["Value"], str)
    assert json.loads(props["Value"]) == {"active": "blue", "slots": {"blue": "", "green": ""}}
    assert deployed_version(lakehouse, env) not in json.dumps(parameter)
    assert not re.search(r"[0-9a-f]{16}|\$\{Token", json.dumps(parameter))
    # No tags: a change of the stack tags would be an update, and an update writes the constant back.
    assert "Tags" not in props
    assert isinstance(props["Description"], str)


# --- the deployment parameter --------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_deployment_parameter_describes_how_jobs_run(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    props = parameters(lakehouse, env)[aws_names.deployment_parameter_name(env)]["Properties"]
    assert props["Type"] == "String" and props["Tier"] == "Standard"
    document = deployment_document(lakehouse, env)
    assert list(document) == DEPLOYMENT_KEYS
    assert document["version"] == deployed_version(lakehouse, env)
    assert document["application_id"] == "SparkApplicationApplicationId"
    assert document["artifacts_uri"] == "s3://ArtifactsBucket/jobs/"
    assert document["gold_uri"] == "s3://GoldBucket/"
    assert document["job_role_arns"] == {
        job: f"{job.capitalize()}JobRoleArn" for job in ("bronze", "silver", "gold", "maintenance")
    }
    flags = [a for k, v in sorted(env_config[env].job_flags.items()) for a in ("--flag", f"{k}={v}")]
    assert document["arguments"] == [
        "--landing-uri",
        "s3://LandingBucket/",
        "--bronze-uri",
        "s3://BronzeBucket/",
        "--silver-uri",
        "s3://SilverBucket/",
        *flags,
        "--env",
        env,
        "--metrics",
        "cloudwatch",
        "--lineage",
        "none",
    ]
    assert document["spark_submit_parameters"] == (
        "--conf spark.submit.pyFiles=s3://ArtifactsBucket/jobs/{version}/job_assets.zip "
        "--conf spark.archives=s3://ArtifactsBucket/jobs/{version}/pydeps.zip#pydeps"
    )
    # the audit job's sizing, which `lakehouse promote` appends (test_cdk_spark_sizing checks its settings)
    assert document["job_sizing"] == {"gold": env_config[env].spark.jobs["gold"].submit_parameters()}
    # Fits a standard parameter even with every bucket name, id and ARN at a generous 128 characters.
    worst = flatten_join(props["Value"], lambda _: "x" * 128)
    assert len(worst) < SSM_STANDARD_VALUE_LIMIT


@pytest.mark.parametrize("env", ENVS)
def test_a_job_run_from_the_deployment_parameter_is_the_pipelines_job_run(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    """What ``lakehouse promote`` builds from the parameter equals what the state machine evaluates."""
    document = deployment_document(lakehouse, env)
    slot, version, batch = SAMPLE["release"]["slot"], SAMPLE["release"]["version"], SAMPLE["run"]["batchId"]
    for definition in state_machines(lakehouse, env).values():
        for name, state in job_states(definition).items():
            job = name.removeprefix("Run").lower()
            submit = state["Parameters"]["JobDriver"]["SparkSubmit"]
            assert state["Parameters"]["ApplicationId"] == document["application_id"]
            assert state["Parameters"]["ExecutionRoleArn"] == document["job_role_arns"][job]
            assert evaluate_intrinsic(submit["EntryPoint.$"], SAMPLE) == (
                f"{document['artifacts_uri']}{version}/entrypoints/{job}.py"
            )
            assert evaluate_intrinsic(submit["EntryPointArguments.$"], SAMPLE) == [
                *document["arguments"],
                "--gold-uri",
                f"{document['gold_uri']}{slot}/",
                "--batch-id",
                batch,
            ]
            # The document's parameters, then the job's sizing (cdk.json spark.<job>): the promotion audit run
            # keeps the application's defaults; what the state machine adds is exactly the sizing.
            sizing = env_config[env].spark.jobs[job].submit_parameters()
            assert evaluate_intrinsic(submit["SparkSubmitParameters.$"], SAMPLE) == (
                document["spark_submit_parameters"].replace("{version}", version) + f" {sizing}"
            )


# --- the state machines resolve the release ------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_state_machines_read_the_slots_parameter_after_the_guard_before_any_job(
    lakehouse: Synthesized, env: str
) -> None:
    machines = state_machines(lakehouse, env)
    assert set(machines) == {f"lakehouse-{env}-pipeline", f"lakehouse-{env}-maintenance"}
    for definition in machines.values():
        states = definition["States"]
        assert states["OnlyWriter"]["Default"] == "ReadSlots"
        read = states["ReadSlots"]
        assert read["Resource"] == "arn:aws:states:::aws-sdk:ssm:getParameter"
        assert read["Parameters"] == {"Name": aws_names.slots_parameter_name(env)}
        assert read["ResultSelector"] == {"document.$": "States.StringToJson($.Parameter.Value)"}
        assert read["ResultPath"] == "$.slots" and read["Next"] == "ActiveSlot"
        assert read["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}]
        # AWS names the aws-sdk:ssm errors Ssm.*; moto names them ssm.*, so its interpreter never retries here
        # (tests/cdk/test_pipeline_execution.py cannot exercise this retrier): pinned as AWS reads it
        assert read["Retry"] == [
            {
                "ErrorEquals": ["Ssm.SsmException", "Ssm.InternalServerErrorException"],
                "IntervalSeconds": 2,
                "MaxAttempts": 3,
                "BackoffRate": 2,
            }
        ]
        active = states["ActiveSlot"]
        assert active["Type"] == "Choice"
        assert {(c["Variable"], c["StringEquals"], c["Next"]) for c in active["Choices"]} == {
            ("$.slots.document.active", "blue", "SelectBlueSlot"),
            ("$.slots.document.active", "green", "SelectGreenSlot"),
        }
        assert active["Default"] == "UnknownActiveSlot"
        assert states["UnknownActiveSlot"]["Next"] == "NotifyFailure"
        for slot in aws_names.SLOTS:
            select = states[f"Select{slot.capitalize()}Slot"]
            assert select["Parameters"] == {"slot": slot, "version.$": f"$.slots.document.slots.{slot}"}
            assert select["ResultPath"] == "$.release" and select["Next"] == "SlotVersionSet"
        fallback = states["SlotVersionSet"]
        assert fallback["Choices"] == [
            {"Variable": "$.release.version", "StringEquals": "", "Next": "UseDeployedVersion"}
        ]
        first_job = fallback["Default"]
        assert states[first_job]["Resource"] == START_JOB_RUN_SYNC
        use_deployed = states["UseDeployedVersion"]
        assert use_deployed["Parameters"] == {"slot.$": "$.release.slot", "version": deployed_version(lakehouse, env)}
        assert use_deployed["ResultPath"] == "$.release" and use_deployed["Next"] == first_job


@pytest.mark.parametrize(
    ("slots", "expected"),
    [
        ({"active": "blue", "slots": {"blue": "", "green": ""}}, {"slot": "blue", "version": None}),
        ({"active": "green", "slots": {"blue": "", "green": ""}}, {"slot": "green", "version": None}),
        ({"active": "green", "slots": {"blue": "v1", "green": "abc"}}, {"slot": "green", "version": "abc"}),
        ({"active": "blue", "slots": {"blue": "v1", "green": "abc"}}, {"slot": "blue", "version": "v1"}),
    ],
)
def test_release_resolution(lakehouse: Synthesized, slots: dict[str, Any], expected: dict[str, Any]) -> None:
    """Run the release states on a parsed slots parameter: ``None`` stands for the deployed version."""
    version = deployed_version(lakehouse, "dev")
    for definition in state_machines(lakehouse, "dev").values():
        states = definition["States"]
        stop, data = run_states(states, "ActiveSlot", {"run": {"batchId": "b"}, "slots": {"document": slots}})
        assert stop == states["SlotVersionSet"]["Default"] and stop.startswith("Run")
        assert data["release"] == {"slot": expected["slot"], "version": expected["version"] or version}


def test_an_unknown_active_slot_notifies_and_fails_before_any_job(lakehouse: Synthesized) -> None:
    for definition in state_machines(lakehouse, "prod").values():
        states = definition["States"]
        document = {"active": "purple", "slots": {"blue": "", "green": ""}}
        stop, data = run_states(states, "ActiveSlot", {"run": {"batchId": "b"}, "slots": {"document": document}})
        assert stop == "NotifyFailure" and states[stop]["Next"] == "Failed"
        assert data["error"]["Error"] == "Lakehouse.UnknownActiveSlot"
        assert "/lakehouse/prod/slots" in data["error"]["Cause"] and "release" not in data


@pytest.mark.parametrize("env", ENVS)
def test_job_states_build_their_run_from_the_release(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    flags = "".join(f"'--flag', '{k}={v}', " for k, v in sorted(env_config[env].job_flags.items()))
    for definition in state_machines(lakehouse, env).values():
        jobs = job_states(definition)
        assert jobs
        for name, state in jobs.items():
            job = name.removeprefix("Run").lower()
            submit = state["Parameters"]["JobDriver"]["SparkSubmit"]
            assert set(submit) == {"EntryPoint.$", "EntryPointArguments.$", "SparkSubmitParameters.$"}
            assert submit["EntryPoint.$"] == (
                f"States.Format('s3://ArtifactsBucket/jobs/{{}}/entrypoints/{job}.py', $.release.version)"
            )
            # docs/adr/0001 and 0002: the archive alone on pyFiles (no Delta jar: the engine uses no Python
            # `delta` module), the pinned third-party modules as an archive Spark unpacks as pydeps/
            # then the job's sizing from cdk.json (spark.<job>, docs/guides/EMR_SIZING.md)
            sizing = env_config[env].spark.jobs[job].submit_parameters()
            assert submit["SparkSubmitParameters.$"] == (
                "States.Format('--conf spark.submit.pyFiles=s3://ArtifactsBucket/jobs/{}/job_assets.zip "
                f"--conf spark.archives=s3://ArtifactsBucket/jobs/{{}}/pydeps.zip#pydeps {sizing}', "
                "$.release.version, $.release.version)"
            )
            assert submit["EntryPointArguments.$"] == (
                "States.Array('--landing-uri', 's3://LandingBucket/', '--bronze-uri', 's3://BronzeBucket/', "
                f"'--silver-uri', 's3://SilverBucket/', {flags}'--env', '{env}', '--metrics', 'cloudwatch', "
                "'--lineage', 'none', "
                "'--gold-uri', States.Format('s3://GoldBucket/{}/', $.release.slot), '--batch-id', $.run.batchId)"
            )
            assert state["Parameters"]["Tags"] == {
                "Job": job,
                "Slot.$": "$.release.slot",
                "Version.$": "$.release.version",
            }
            # The sample release {slot: green, version: abc}, evaluated.
            assert evaluate_intrinsic(submit["EntryPoint.$"], SAMPLE) == (
                f"s3://ArtifactsBucket/jobs/abc/entrypoints/{job}.py"
            )
            assert evaluate_intrinsic(submit["SparkSubmitParameters.$"], SAMPLE) == (
                "--conf spark.submit.pyFiles=s3://ArtifactsBucket/jobs/abc/job_assets.zip "
                f"--conf spark.archives=s3://ArtifactsBucket/jobs/abc/pydeps.zip#pydeps {sizing}"
            )
            arguments = evaluate_intrinsic(submit["EntryPointArguments.$"], SAMPLE)
            assert arguments[arguments.index("--gold-uri") + 1] == "s3://GoldBucket/green/"
            assert arguments[-2:] == ["--batch-id", "b-20260101"]
            assert arguments.count("--gold-uri") == 1
            assert evaluate_intrinsic(state["Parameters"]["Name.$"], SAMPLE) == f"{job}-b-20260101"


# --- the intrinsic builder and the emulator ------------------------------------------------------------


def test_intrinsic_escapes_reserved_characters_and_keeps_tokens() -> None:
    assert intrinsic("--env") == "'--env'"
    assert (
        intrinsic("s3://${Token[TOKEN.123]}/{slot}/") == "States.Format('s3://${Token[TOKEN.123]}/{}/', $.release.slot)"
    )
    tricky = "it's {x} \\ {version}"
    expression = intrinsic(tricky)
    assert expression == "States.Format('it\\'s \\{x\\} \\\\ {}', $.release.version)"
    assert evaluate_intrinsic(expression, SAMPLE) == "it's {x} \\ abc"
    assert evaluate_intrinsic(intrinsic("a{b}'c"), SAMPLE) == "a{b}'c"


@pytest.mark.parametrize(
    "expression",
    [
        "'a{b'",  # an unescaped brace
        "'a{}'",  # a placeholder outside States.Format
        "States.Format('{} {}', $.release.slot)",  # a placeholder without its argument
        "States.Format('{}', $.release.slot, $.release.version)",  # an argument without its placeholder
        "'\\n'",  # not an escape of the intrinsic grammar
        "States.Format('{}', $.release.nothing)",  # a missing field
        "States.JsonToString($.release)",  # not emulated
        "States.Array('a', 'b'",  # unterminated
    ],
)
def test_emulator_is_strict(expression: str) -> None:
    with pytest.raises((ValueError, KeyError)):
        evaluate_intrinsic(expression, SAMPLE)


# --- IAM and the promotions table ----------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_state_machines_may_read_only_the_slots_parameter(lakehouse: Synthesized, env: str) -> None:
    template = orchestration(lakehouse, env)
    (slots_id,) = [
        k
        for k, p in resources(template, "AWS::SSM::Parameter").items()
        if p["Properties"]["Name"] == aws_names.slots_parameter_name(env)
    ]
    config = lakehouse.config.environments[env]
    prefix = f"arn:aws:ssm:{config.region}:{config.account}:parameter"
    slots_arn = {"Fn::Join": ["", [prefix, {"Ref": slots_id}]]}  # + "/lakehouse/<env>/slots"
    found = []
    for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("ssm:") for a in actions):
                assert statement == {
                    "Sid": "ReadReleaseSlots",
                    "Effect": "Allow",
                    "Action": "ssm:GetParameter",
                    "Resource": slots_arn,
                }, logical_id
                found.append(logical_id)
    assert sorted(id_.split("ExecutionPolicy")[0] for id_ in found) == ["Maintenance", "Pipeline"]


@pytest.mark.parametrize("env", ENVS)
def test_promotions_table(lakehouse: Synthesized, env_config: dict[str, Any], env: str) -> None:
    (table,) = resources(orchestration(lakehouse, env), "AWS::DynamoDB::GlobalTable").values()
    props = table["Properties"]
    assert props["TableName"] == aws_names.promotions_table_name(env)
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    (replica,) = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # The environment's artifacts key (Storage stack), not an AWS owned or managed key.
    assert "ArtifactsKey" in replica["SSESpecification"]["KMSMasterKeyId"]["Fn::ImportValue"]
    allow_destroy = env_config[env].features.allow_destroy
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == ("Delete" if allow_destroy else "Retain")
    assert replica["DeletionProtectionEnabled"] is (not allow_destroy)
    if env == "prod":
        assert table["DeletionPolicy"] == "Retain"
