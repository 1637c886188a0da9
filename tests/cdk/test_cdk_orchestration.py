"""Step Functions: bronze -> silver -> gold with retries, catch -> notify -> fail, the single-writer guard, the
release (slot and version) read before the first job."""

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


def walk(states: dict[str, Any], start: str, choose: dict[str, str] | None = None) -> list[str]:
    """The happy path: follow Next, and a Choice's Default unless ``choose`` names one of its rules' Next."""
    choose = choose or {}
    path, current = [], start
    while current:
        path.append(current)
        state = states[current]
        if state["Type"] == "Choice":
            current = choose.get(current, state["Default"])
            assert current in {c["Next"] for c in state["Choices"]} | {state["Default"]}, current
        else:
            current = state.get("Next")
    return path


# A fresh environment: blue active, no version promoted yet, so the deployed version runs.
FRESH = {"ActiveSlot": "SelectBlueSlot", "SlotVersionSet": "UseDeployedVersion"}
RELEASE = ["ReadSlots", "ActiveSlot", "SelectBlueSlot", "SlotVersionSet", "UseDeployedVersion"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_pipeline_runs_the_three_jobs_in_order_after_the_guard(lakehouse: Synthesized, env: str) -> None:
    asl = definition(state_machines(lakehouse, env)[f"lakehouse-{env}-pipeline"])
    assert walk(asl["States"], asl["StartAt"], FRESH) == [
        "StartBatch",
        f"ListRunningLakehouse{env.capitalize()}Pipeline",
        f"ListRunningLakehouse{env.capitalize()}Maintenance",
        "OnlyWriter",
        *RELEASE,
        "RunBronze",
        "RunSilver",
        "RunGold",
        "Done",
    ]
    # A promoted green slot skips the fallback.
    promoted = walk(asl["States"], asl["StartAt"], {"ActiveSlot": "SelectGreenSlot"})
    assert promoted[4:8] == ["ReadSlots", "ActiveSlot", "SelectGreenSlot", "SlotVersionSet"]
    assert promoted[8:] == ["RunBronze", "RunSilver", "RunGold", "Done"]
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
            for flag in ("--landing-uri", "--bronze-uri", "--silver-uri"):
                assert f"'{flag}', 's3://TOKEN/'" in arguments
            flags = "".join(f"'--flag', '{k}={v}', " for k, v in sorted(config.job_flags.items()))
            assert config.job_flags  # the environment's job flags reach every job
            assert (
                f"{flags}'--env', '{env}', '--metrics', 'cloudwatch', '--lineage', 'none', "
                "'--gold-uri', States.Format('s3://TOKEN/{}/', $.release.slot), '--batch-id', $.run.batchId)"
            ) in arguments
            # Entry point and py-files of the execution's release (tests/cdk/test_cdk_release.py in detail).
            job_name = name.removeprefix("Run").lower()
            entrypoint = job["Parameters"]["JobDriver"]["SparkSubmit"]["EntryPoint.$"]
            assert entrypoint == f"States.Format('s3://TOKEN/jobs/{{}}/entrypoints/{job_name}.py', $.release.version)"
            submit = job["Parameters"]["JobDriver"]["SparkSubmit"]["SparkSubmitParameters.$"]
            assert submit.startswith("States.Format('--conf spark.submit.pyFiles=s3://")
            sizing = config.spark.jobs[job_name].submit_parameters()  # cdk.json's spark.<job> (EMR_SIZING.md)
            assert submit.endswith(f"/jobs/{{}}/pydeps.zip#pydeps {sizing}', $.release.version, $.release.version)")
        notify = states["NotifyFailure"]
        assert notify["Resource"].endswith(":states:::sns:publish") and notify["Next"] == "Failed"
        assert states["Failed"]["Type"] == "Fail"


def test_maintenance_runs_the_maintenance_job(lakehouse: Synthesized) -> None:
    asl = definition(state_machines(lakehouse, "prod")["lakehouse-prod-maintenance"])
    assert walk(asl["States"], asl["StartAt"], FRESH)[-7:] == [*RELEASE, "RunMaintenance", "Done"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_failure_of_the_new_states_notifies_then_fails(lakehouse: Synthesized, env: str) -> None:
    for props in state_machines(lakehouse, env).values():
        states = definition(props)["States"]
        assert [c["Next"] for c in states["ReadSlots"]["Catch"]] == ["NotifyFailure"]
        assert walk(states, "ActiveSlot") == ["ActiveSlot", "UnknownActiveSlot", "NotifyFailure", "Failed"]


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
        # the capacity alarms (percent of the maximum, metric math) are checked in test_cdk_guardrails.py
        alarms = {
            k: a for k, a in resources(template, "AWS::CloudWatch::Alarm").items() if "Metrics" not in a["Properties"]
        }
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
