"""Every `lakehouse ...` command a runbook tells an operator to type runs, exactly as written.

The commands are read from runbooks/*.md. AWS commands run against moto with the environment the stacks
would have deployed (the state machines, an alarm in ALARM with its runbook link, the queues, data points of
the catalog metrics); local commands run against a small generated lake. Placeholders an operator fills in
are filled with values that exist: `E` (the environment), `.lake`, `<table>`, `<reason>`, `<version>`.

The promotion commands read their gates from cdk.json, which knows dev, staging and prod only: for them `E`
is `dev`, deployed as tests/cli/test_promotion_aws.py deploys it (moto's EMR job runs write no gold, so
a promotion there is refused by its gates: the step ran as written, and says so).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from pathlib import Path

import pytest
from ops_common.aws import client
from test_dlq_cli import (
    move_tasks,  # noqa: F401  (fixture: moto gap filler for SQS message move tasks)
    queues,  # noqa: F401  (fixture: the intake queue and its DLQ)
)
from test_promotion_aws import V1, V2, hold_lock, record
from test_promotion_aws import deploy as deploy_promotion

from cdk.constructs.release_slots import INITIAL_VALUE
from job_assets.contracts import metrics as catalog
from lakehouse.cli import main
from lakehouse.generator import generate
from platform_model import aws_names

PROMOTION_COMMANDS = {"promote", "rollback", "promotions", "slots"}
PROMOTION_ENV = "dev"
STALE = "prom-20261130T100000000Z-dead00"

ROOT = Path(__file__).resolve().parents[2]
ENV = "test"
COMMAND = re.compile(r"`(lakehouse [^`]+)`")
LANDING_FILE = "crm/accounts/dt=2026-12-01/redelivery.jsonl"
"""`<file>`: a delivery the local lake has not ingested yet (poison-landing-file.md skips and retries it)."""
DELETED_PREFIX = "crm/accounts/"
"""`<prefix>`: where environment `test`'s landing bucket lost objects by mistake (accidental-deletion.md)."""


def runbook_commands() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "runbooks").glob("*.md")):
        if path.name == "README.md":
            continue
        found += [(path.name, command) for command in COMMAND.findall(path.read_text(encoding="utf-8"))]
    return found


COMMANDS = runbook_commands()


def argv_of(command: str, lake: Path) -> list[str]:
    filled = (
        command.replace("<table>", "silver.orders")
        .replace("<reason>", "invalid_enum")
        .replace("<version>", V2)
        .replace("<id>", STALE)
        .replace("<file>", LANDING_FILE)
        .replace("<layer>", "landing")
        .replace("<prefix>", DELETED_PREFIX)
        .replace("<since>", "1h")
        .replace("<table-version>", "0")
    )
    argv = [str(lake) if a == ".lake" else a for a in shlex.split(filled)[1:]]
    env = PROMOTION_ENV if argv[0] in PROMOTION_COMMANDS else ENV
    argv = [env if a == "E" and i and argv[i - 1] in ("--env", "--to") else a for i, a in enumerate(argv)]
    if argv[:2] in (["dlq", "redrive"], ["table", "restore"]):
        argv.append("--yes")  # at a terminal the operator answers the confirmation prompt
    return argv


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runbook-lake")
    generate(root, 1_000, seed=3, bad_ratio=0.05)
    return root


def deliver(lake: Path) -> None:
    """`<file>`, delivered after the runs of the runbooks before (a copy of a CRM accounts file)."""
    delivered = sorted((lake / "landing" / "crm" / "accounts").rglob("*.jsonl"))[0]
    redelivery = lake / "landing" / LANDING_FILE
    redelivery.parent.mkdir(parents=True, exist_ok=True)
    redelivery.write_bytes(delivered.read_bytes())


@pytest.fixture
def deployed(aws, queues, move_tasks):  # noqa: F811 (fixtures imported above)
    """What the stacks deploy for environment `test`, with a little history."""
    sfn = client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    for name in (aws_names.pipeline_state_machine_name(ENV), aws_names.maintenance_state_machine_name(ENV)):
        arn = sfn.create_state_machine(name=name, definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn")[
            "stateMachineArn"
        ]
        done = sfn.start_execution(stateMachineArn=arn, name="b20261122T020000000000Z")
        sfn.stop_execution(executionArn=done["executionArn"])
    cloudwatch = client("cloudwatch")
    name = f"{aws_names.prefix(ENV)}-freshness-silver-orders"
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        AlarmDescription="A table is stale. Runbook: https://example.org/runbooks/freshness-breach.md",
        Namespace=catalog.our_namespace(ENV),
        MetricName="FreshnessMinutes",
        Dimensions=[{"Name": "Environment", "Value": ENV}, {"Name": "Table", "Value": "silver.orders"}],
        Statistic="Maximum",
        Period=900,
        EvaluationPeriods=2,
        Threshold=60,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="Threshold crossed: 1 datapoint")
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # moto ends a range at the whole second before EndTime
    data = {
        "freshness_minutes": ({"Table": "silver.orders"}, 95.0),
        "dq_score": ({"Job": "silver", "Table": "silver.orders"}, 0.93),
        "quarantined_by_reason": ({"Job": "silver", "Reason": "invalid_enum"}, 41),
        "job_cost_usd": ({"Job": "silver"}, 0.42),
        "cost_per_million_records": ({"Job": "silver"}, 3.1),
    }
    for key, (dims, value) in data.items():
        spec = catalog.metric(key)
        dimensions = [{"Name": "Environment", "Value": ENV}] + [{"Name": k, "Value": v} for k, v in dims.items()]
        cloudwatch.put_metric_data(
            Namespace=catalog.our_namespace(ENV),
            MetricData=[
                {"MetricName": spec.name, "Dimensions": dimensions, "Value": value, "Unit": spec.unit, "Timestamp": now}
            ],
        )
    client("sqs").send_message(QueueUrl=queues["dlq"], MessageBody='{"dead": "letter"}')
    deleted_by_mistake()
    deploy_promotion(PROMOTION_ENV)
    deploy_promotion("staging")
    promoted_before("staging")
    record(
        "staging",
        id="prom-s1",
        version=V2,
        started_at="2026-11-29T10:00:00.000Z",
        ended_at="2026-11-29T10:20:00.000Z",
        result="published",
        previous_version=V1,
    )


def deleted_by_mistake() -> None:
    """Environment `test`'s lake buckets (versioned, named in its deployment parameter, as the stacks deploy
    them) and a recursive delete of landing's crm/accounts/."""
    s3 = client("s3")
    buckets = {layer: f"lakehouse-{ENV}-{layer}-bucket" for layer in ("landing", "bronze", "silver", "gold")}
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    arguments = [a for layer in ("landing", "bronze", "silver") for a in (f"--{layer}-uri", f"s3://{buckets[layer]}/")]
    deployment = {
        "version": V1,
        "application_id": "app",
        "artifacts_uri": "s3://artifacts/jobs/",
        "gold_uri": f"s3://{buckets['gold']}/",
        "job_role_arns": {},
        "arguments": [*arguments, "--env", ENV],
        "spark_submit_parameters": "",
    }
    client("ssm").put_parameter(
        Name=aws_names.deployment_parameter_name(ENV), Value=json.dumps(deployment), Type="String"
    )
    for day in ("2026-12-01", "2026-12-02"):
        key = f"{DELETED_PREFIX}dt={day}/part-0.jsonl"
        s3.put_object(Bucket=buckets["landing"], Key=key, Body=b'{"Id": "001"}\n')
        s3.delete_object(Bucket=buckets["landing"], Key=key)


def interrupted_promotion() -> None:
    """What a promotion killed mid-audit leaves: its lock, its in-progress record, its staged document."""
    promoted_before()
    previous = json.dumps({"active": "green", "slots": {"blue": V1, "green": V2}, "rollback": "blue"})
    record(
        PROMOTION_ENV,
        id=STALE,
        version=V1,
        from_slot="green",
        to_slot="blue",
        actor="bob",
        started_at="2026-11-30T10:00:00.000Z",
        result="in-progress",
        previous_version=V2,
        previous_state=previous,
    )
    hold_lock(PROMOTION_ENV, STALE, actor="bob", expires=9999999999)


def promoted_before(env: str = PROMOTION_ENV) -> None:
    """The environment as a published promotion of V2 leaves it: the other slot is the rollback target."""
    value = json.dumps({"active": "green", "slots": {"blue": V1, "green": V2}, "rollback": "blue"})
    client("ssm").put_parameter(Name=aws_names.slots_parameter_name(env), Value=value, Type="String", Overwrite=True)
    if env == PROMOTION_ENV:  # and its readers on the published slot, as the promotion left them
        import boto3

        from lakehouse.promotion import AwsControl

        AwsControl(env, session=boto3.session.Session(region_name="eu-west-1")).publish_readers("green")


def finish_running_executions() -> None:
    sfn = client("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")["executions"]:
            sfn.stop_execution(executionArn=e["executionArn"])


def test_runbooks_name_commands_of_ours() -> None:
    assert len(COMMANDS) >= 15
    used = {shlex.split(c)[1] for _, c in COMMANDS}
    assert {
        "alarms",
        "pipeline",
        "metric",
        "dlq",
        "run",
        "status",
        "promote",
        "rollback",
        "promotions",
        "slots",
    } <= used


@pytest.mark.usefixtures("deployed")
def test_every_runbook_command_runs_as_written(lake: Path, capsys) -> None:
    outputs = {}
    for runbook, command in COMMANDS:
        argv = argv_of(command, lake)
        if argv[0] == "rollback":
            promoted_before()
        if "--recover" in argv:
            interrupted_promotion()
        if argv[0] == "landing" and not (lake / "landing" / LANDING_FILE).exists():
            deliver(lake)  # a delivery no run ingested yet: poison-landing-file.md skips it
        if argv[0] == "promote":  # as deployed: nothing promoted to dev yet
            client("ssm").put_parameter(
                Name=aws_names.slots_parameter_name(PROMOTION_ENV), Value=INITIAL_VALUE, Type="String", Overwrite=True
            )
        code = main(argv)
        captured = capsys.readouterr()
        if argv[0] == "promote":  # moto's job run wrote no shadow gold: the gates refuse, nothing changes
            assert code == 1 and "refused" in captured.out and "the audit wrote no table" in captured.out, (
                f"{runbook}: `{command}` exited {code}: {captured.err.strip()}"
            )
            continue
        assert code == 0, f"{runbook}: `{command}` exited {code}: {captured.err.strip()}"
        assert captured.out.strip(), f"{runbook}: `{command}` printed nothing"
        outputs[command] = captured.out
        if argv[:2] == ["pipeline", "start"]:
            finish_running_executions()  # the started run ends before the next runbook is followed
    # what the operator reads is the thing the step is about: the seeded alarm and figures
    assert "freshness-breach.md" in outputs["lakehouse alarms --env E"]
    assert "ALARM" in outputs["lakehouse alarms --env E --all"]
    assert "silver.orders" in outputs["lakehouse metric dq_score --env E"]
    assert "0.42" in outputs["lakehouse metric job_cost_usd --env E --dim Job=silver --hours 168"]
    assert "3.1" in outputs["lakehouse metric cost_per_million_records --env E --dim Job=silver --hours 168"]
    reason = "lakehouse metric quarantined_by_reason --env E --dim Job=silver --dim Reason=<reason> --hours 168"
    assert "41" in outputs[reason]
    assert "silver.orders" in outputs["lakehouse metric freshness_minutes --env E"]
    assert "95" in outputs["lakehouse metric freshness_minutes --env E --dim Table=<table>"]
    assert "invalid_enum" in outputs["lakehouse metric quarantined_by_reason --env E --dim Job=silver"]
    assert "started pipeline execution b" in outputs["lakehouse pipeline start --env E"]
    assert "started maintenance execution b" in outputs["lakehouse pipeline start --env E --machine maintenance"]
    assert "b20261122T020000000000Z" in outputs["lakehouse pipeline runs --env E"]
    assert "active (published)" in outputs["lakehouse slots show --env E"]
    assert "prom-" in outputs["lakehouse promotions --env E"]
    assert "rolled back" in outputs["lakehouse rollback --env E"]
    assert "readers point at slot" in outputs["lakehouse slots sync --env E"]
    assert f"recovered {STALE}" in outputs["lakehouse promotions --env E --recover <id>"]
    recover = "lakehouse recover-deleted --env E --bucket <layer> --prefix <prefix> --since <since>"
    assert "restored 2 object(s)" in outputs[f"{recover} --apply"]
    assert "nothing to restore" in outputs[recover]  # the check after the restore
    assert "skipped" in outputs["lakehouse landing skip <file> --reason <reason> --lake-root .lake"]
    assert "retried" in outputs["lakehouse landing retry <file> --lake-root .lake"]
    assert LANDING_FILE in outputs["lakehouse landing pending --lake-root .lake"]
