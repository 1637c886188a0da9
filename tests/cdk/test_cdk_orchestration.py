"""Step Functions: bronze -> silver -> gold with retries, catch -> notify -> fail, the single-writer guard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_testkit import Synthesized, flatten_join, resources

START_JOB_RUN_SYNC = "arn:aws:states:::emr-serverless:startJobRun.sync"


def state_machines(lakehouse: Synthesized, env: str) -> dict[str, dict[str, Any]]:
    template = lakehouse.template(lakehouse.environments[env].orchestration)
    return {
        sm["Properties"]["StateMachineName"]: sm["Properties"]
        for sm in resources(template, "AWS::StepFunctions::StateMachine").values()
    }


def definition(props: dict[str, Any]) -> dict[str, Any]:
    return json.loads(flatten_join(props["DefinitionString"]))


def walk(states: dict[str, Any], start: str) -> list[str]:
    """The happy path: follow Next (and a Choice's Default) until an end state."""
    path, current = [], start
    while current:
        path.append(current)
        state = states[current]
        current = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
    return path


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_pipeline_runs_the_three_jobs_in_order_after_the_guard(lakehouse: Synthesized, env: str) -> None:
    asl = definition(state_machines(lakehouse, env)[f"lakehouse-{env}-pipeline"])
    assert walk(asl["States"], asl["StartAt"]) == [
        "StartBatch",
        f"ListRunningLakehouse{env.capitalize()}Pipeline",
        f"ListRunningLakehouse{env.capitalize()}Maintenance",
        "OnlyWriter",
        "RunBronze",
        "RunSilver",
        "RunGold",
        "Done",
    ]
    assert asl["States"]["StartBatch"]["Parameters"] == {"batchId.$": "$$.Execution.Name"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_single_writer_guard(lakehouse: Synthesized, env: str) -> None:
    for name, props in state_machines(lakehouse, env).items():
        states = definition(props)["States"]
        listings = [
            s for s in states.values() if s.get("Resource", "").endswith(":states:::aws-sdk:sfn:listExecutions")
        ]
        assert sorted(s["Parameters"]["StateMachineArn"].rsplit(":", 1)[1] for s in listings) == [
            f"lakehouse-{env}-maintenance",
            f"lakehouse-{env}-pipeline",
        ]
        assert all(s["Parameters"]["StatusFilter"] == "RUNNING" for s in listings)
        (choice,) = states["OnlyWriter"]["Choices"]
        assert choice["Next"] == "AnotherWriterIsRunning"
        own = next(i for i, s in enumerate(listings) if s["Parameters"]["StateMachineArn"].endswith(name))
        limits = {c["Variable"]: c["NumericGreaterThan"] for c in choice["Or"]}
        # This execution itself is RUNNING: one of its own is fine, any other writer is not.
        assert limits[f"$.guard.w{own}.running"] == 1
        assert limits[f"$.guard.w{1 - own}.running"] == 0
        assert states["AnotherWriterIsRunning"]["Type"] == "Fail"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_jobs_retry_time_out_and_notify_on_failure(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    config = env_config[env]
    for props in state_machines(lakehouse, env).values():
        states = definition(props)["States"]
        jobs = {k: s for k, s in states.items() if s.get("Resource") == START_JOB_RUN_SYNC}
        assert jobs
        for name, job in jobs.items():
            (retry,) = job["Retry"]
            assert retry["ErrorEquals"] == ["States.TaskFailed"]
            assert retry["MaxAttempts"] == config.emr.job_retry_attempts
            assert retry["BackoffRate"] == 2 and retry["IntervalSeconds"] == 120
            assert job["TimeoutSeconds"] == (config.emr.job_timeout_minutes + 15) * 60
            assert job["Parameters"]["ExecutionTimeoutMinutes"] == config.emr.job_timeout_minutes
            (catch,) = job["Catch"]
            assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "NotifyFailure"
            arguments = job["Parameters"]["JobDriver"]["SparkSubmit"]["EntryPointArguments.$"]
            for flag in ("--landing-uri", "--bronze-uri", "--silver-uri", "--gold-uri"):
                assert f"'{flag}', 's3://TOKEN/'" in arguments
            flags = "".join(f"'--flag', '{k}={v}', " for k, v in sorted(config.job_flags.items()))
            assert config.job_flags  # the environment's job flags reach every job
            assert f"{flags}'--env', '{env}', '--metrics', 'cloudwatch', '--batch-id', $.run.batchId)" in arguments
            job_name = name.removeprefix("Run").lower()
            entrypoint = job["Parameters"]["JobDriver"]["SparkSubmit"]["EntryPoint"]
            assert entrypoint.endswith(f"/entrypoints/{job_name}.py") and "/jobs/" in entrypoint
            submit = job["Parameters"]["JobDriver"]["SparkSubmit"]["SparkSubmitParameters"]
            assert submit.startswith("--conf spark.submit.pyFiles=s3://") and submit.endswith("/job_assets.zip")
        notify = states["NotifyFailure"]
        assert notify["Resource"].endswith(":states:::sns:publish") and notify["Next"] == "Failed"
        assert states["Failed"]["Type"] == "Fail"


def test_maintenance_runs_the_maintenance_job(lakehouse: Synthesized) -> None:
    asl = definition(state_machines(lakehouse, "prod")["lakehouse-prod-maintenance"])
    assert walk(asl["States"], asl["StartAt"])[-2:] == ["RunMaintenance", "Done"]


def test_state_machines_log_all_and_trace(lakehouse: Synthesized) -> None:
    for env in lakehouse.environments:
        for props in state_machines(lakehouse, env).values():
            assert props["TracingConfiguration"] == {"Enabled": True}
            assert props["LoggingConfiguration"]["Level"] == "ALL"
            assert props["LoggingConfiguration"]["IncludeExecutionData"] is True


def test_schedules_come_from_config(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    for env, config in env_config.items():
        rules = resources(lakehouse.template(lakehouse.environments[env].orchestration), "AWS::Events::Rule")
        expressions = {r["Properties"]["Name"]: r["Properties"] for r in rules.values()}
        assert expressions[f"lakehouse-{env}-pipeline-schedule"]["ScheduleExpression"] == config.schedule.pipeline
        assert expressions[f"lakehouse-{env}-maintenance-schedule"]["ScheduleExpression"] == config.schedule.maintenance
        state = "ENABLED" if config.schedule.enabled else "DISABLED"
        assert {p["State"] for p in expressions.values()} == {state}


def test_every_alarm_has_an_action(lakehouse: Synthesized) -> None:
    for env in lakehouse.environments:
        template = lakehouse.template(lakehouse.environments[env].orchestration)
        alarms = resources(template, "AWS::CloudWatch::Alarm")
        metrics = sorted((a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values())
        assert metrics == [
            ("AWS/EMRServerless", "FailedJobs"),
            ("AWS/States", "ExecutionsFailed"),
            ("AWS/States", "ExecutionsFailed"),
            ("AWS/States", "ExecutionsTimedOut"),
            ("AWS/States", "ExecutionsTimedOut"),
        ]
        for alarm in alarms.values():
            assert len(alarm["Properties"]["AlarmActions"]) == 1
            assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
            assert alarm["Properties"]["Threshold"] == 1
