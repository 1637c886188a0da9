"""`lakehouse alarms | pipeline runs|start | metric` against moto: what an operator sees, and clear refusals; the
metric period CloudWatch answers for a range."""

from __future__ import annotations

import json

import pytest
from ops_common.aws import client

from lakehouse.cli import main
from lakehouse.ops.operate import metric_period
from platform_model import aws_names

ENV = "test"


@pytest.fixture
def machines(aws) -> dict[str, str]:
    sfn = client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    return {
        m: sfn.create_state_machine(name=name, definition=definition, roleArn="arn:aws:iam::123456789012:role/r")[
            "stateMachineArn"
        ]
        for m, name in (
            ("pipeline", aws_names.pipeline_state_machine_name(ENV)),
            ("maintenance", aws_names.maintenance_state_machine_name(ENV)),
        )
    }


def test_start_refuses_while_any_writer_runs_and_starts_under_a_batch_id(machines, capsys):
    sfn = client("stepfunctions")
    running = sfn.start_execution(stateMachineArn=machines["maintenance"], name="weekly")
    assert main(["pipeline", "start", "--env", ENV]) == 1
    assert "maintenance execution weekly is running" in capsys.readouterr().out
    assert sfn.list_executions(stateMachineArn=machines["pipeline"])["executions"] == []
    sfn.stop_execution(executionArn=running["executionArn"])
    assert main(["pipeline", "start", "--env", ENV]) == 0
    [started] = sfn.list_executions(stateMachineArn=machines["pipeline"])["executions"]
    assert started["name"].startswith("b") and started["name"].endswith("Z") and len(started["name"]) == 23
    assert main(["pipeline", "runs", "--env", ENV]) == 0
    assert started["name"] in capsys.readouterr().out


@pytest.mark.parametrize(
    ("machine", "missing", "message"),
    [
        ("maintenance", "maintenance", "the maintenance state machine is not deployed in eu-west-1"),
        ("pipeline", "pipeline", "the pipeline state machine is not deployed in eu-west-1"),
        (
            "pipeline",
            "maintenance",
            "the maintenance state machine is not deployed in eu-west-1 (starting pipeline checks that no "
            "maintenance execution runs)",
        ),
        (
            "maintenance",
            "pipeline",
            "the pipeline state machine is not deployed in eu-west-1 (starting maintenance checks that no "
            "pipeline execution runs)",
        ),
    ],
)
def test_start_names_the_missing_state_machine(machines, capsys, machine, missing, message):
    sfn = client("stepfunctions")
    sfn.delete_state_machine(stateMachineArn=machines[missing])
    assert main(["pipeline", "start", "--env", ENV, "--machine", machine]) == 2
    assert f"--env {ENV}: {message}" in " ".join(capsys.readouterr().err.split())
    present = machines["pipeline" if missing == "maintenance" else "maintenance"]
    assert sfn.list_executions(stateMachineArn=present)["executions"] == []


def test_an_environment_that_is_not_deployed_is_one_clear_line(aws, capsys):
    assert main(["pipeline", "runs", "--env", "qa"]) == 2
    assert "--env qa: no state machine lakehouse-qa-pipeline in eu-west-1" in capsys.readouterr().err
    # a wrong account or region must not read as "healthy"
    assert main(["alarms", "--env", "qa"]) == 2
    assert (
        "--env qa: no alarms named lakehouse-qa-* in eu-west-1: is the environment deployed" in capsys.readouterr().err
    )
    assert main(["metric", "dq_score", "--env", "qa"]) == 2
    assert "nothing was ever published to Lakehouse/qa in eu-west-1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["metric", "records_inn", "--env", ENV], "no metric 'records_inn' in the catalog; known: "),
        (["metric", "dq_score", "--env", ENV, "--dim", "Job"], "--dim 'Job': expected Name=Value"),
        (["metric", "job_cost_usd", "--env", ENV, "--dim", "Table=x"], "Table not among its dimensions"),
        (["metric", "job_cost_usd", "--env", ENV, "--dim", "Environment=prod"], "the Environment dimension is --env's"),
        (["metric", "job_cost_usd", "--env", ENV, "--hours", "0"], "--hours 0: give 1 or more"),
    ],
)
def test_metric_input_errors_name_the_input(aws, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_metric_without_credentials_says_so(monkeypatch, tmp_path, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["metric", "dq_score", "--env", ENV]) == 2
    assert "--env test: no AWS credentials for CloudWatch" in capsys.readouterr().err


def test_aws_metrics_list_only_this_environments_resources(aws, capsys):
    cloudwatch = client("cloudwatch")
    for env in (ENV, "prod"):
        function = aws_names.function_name(env, "landing-intake")
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {"MetricName": "Errors", "Value": 1, "Dimensions": [{"Name": "FunctionName", "Value": function}]}
            ],
        )
    assert main(["metric", "lambda_errors", "--env", ENV]) == 0
    out = capsys.readouterr().out
    assert "lakehouse-test-landing-intake" in out and "lakehouse-prod" not in out


def test_a_long_range_uses_a_longer_period(aws, capsys):
    assert (
        main(
            [
                "metric",
                "emr_running_workers",
                "--env",
                ENV,
                "--dim",
                "ApplicationId=a",
                "--dim",
                "ApplicationName=lakehouse-test-spark",
                "--dim",
                "WorkerType=Spark_Driver",
                "--dim",
                "CapacityAllocationType=OnDemandCapacity",
                "--hours",
                "168",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "no data in the last 168 h" in out  # a 60 s metric over a week: 420 s periods, within 1,440 points


@pytest.mark.parametrize(
    ("hours", "minimum", "period"),
    [
        (1, 60, 60),
        (24, 60, 60),
        (168, 60, 420),  # a week: 1,440 points of 420 s
        (359, 60, 900),
        (360, 60, 900),  # 15 days back: a multiple of 300 s
        (361, 60, 1200),  # 902.5 s for 1,440 points, up to 1,200 (960 s, a multiple of 60 only, had no data)
        (720, 60, 1800),
        (1511, 60, 3900),
        (1512, 60, 7200),  # 63 days back: a multiple of 3,600 s
        (2160, 60, 7200),
        (24, 900, 900),  # the metric's own period is the least
        (400, 900, 1200),
        (1600, 900, 7200),
    ],
)
def test_metric_period_is_what_cloudwatch_keeps_at_the_start(hours, minimum, period):
    assert metric_period(hours, minimum) == period
    assert period * 1440 >= hours * 3600  # within GetMetricStatistics' 1,440 points
    assert period % (3600 if hours >= 63 * 24 else 300 if hours >= 15 * 24 else 60) == 0
