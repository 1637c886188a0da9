"""Every `lakehouse ...` command a runbook tells an operator to type runs, exactly as written.

The commands are read from runbooks/*.md. AWS commands run against moto with the environment the stacks
would have deployed (the state machines, an alarm in ALARM with its runbook link, the queues, data points of
the catalog metrics); local commands run against a small generated lake. Placeholders an operator fills in
are filled with values that exist: `E` (the environment), `.lake`, `<table>`, `<reason>`, `<version>`,
`<execution>` (a failed pipeline execution), `<run>` (an EMR job run still running), `<function>`, `<day>`,
`<source>`, `<entity>`, `<layer>`, `<prefix>`.

Every numbered step of every runbook holds at least one full `lakehouse` command, and no step is a raw `aws`
command (`test_every_runbook_step_is_a_command_of_ours`): a step with nothing the harness runs fails.

The promotion commands read their gates from cdk.json, which knows dev, staging and prod only: for them `E`
is `dev`, deployed as tests/cli/test_promotion_aws.py deploys it (moto's EMR job runs write no gold, so
a promotion there is refused by its gates: the step ran as written, and says so).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
import shlex
from pathlib import Path

import pytest
import test_dr as dr_harness
import test_guardrail_runbooks as guardrail_runbooks
from ops_common.aws import client
from test_dlq_cli import (
    move_tasks,  # noqa: F401  (fixture: moto gap filler for SQS message move tasks)
    queues,  # noqa: F401  (fixture: the intake queue and its DLQ)
)
from test_incident_commands import (
    FAILED,
    redrives,  # noqa: F401  (fixture: moto gap filler for RedriveExecution, FAILURE execution histories)
    seed_emr,
    seed_events,
    seed_failed_execution,
    seed_logs,
    seed_manifest,
    seed_replication,
    seed_traces,
    trace_summaries,  # noqa: F401  (fixture: moto gap filler for X-Ray GetTraceSummaries with a filter)
)
from test_promotion_aws import V1, V2, hold_lock, record
from test_promotion_aws import deploy as deploy_promotion

from cdk.constructs.release_slots import INITIAL_VALUE
from job_assets.contracts import metrics as catalog
from lakehouse.cli import main
from lakehouse.generator import generate
from platform_model import aws_names
from tests.markdown_commands import LAKEHOUSE_COMMAND
from tests.moto_gaps import fail_execution, set_job_run_state

PROMOTION_COMMANDS = {"promote", "rollback", "promotions", "slots"}
PROMOTION_ENV = "dev"
STALE = "prom-20261130T100000000Z-dead00"

ROOT = Path(__file__).resolve().parents[2]
ENV = "test"
COMMAND = LAKEHOUSE_COMMAND
LANDING_FILE = "crm/accounts/dt=2026-12-01/redelivery.jsonl"
"""`<file>`: a delivery the local lake has not ingested yet (poison-landing-file.md skips and retries it)."""
DELETED_PREFIX = "crm/accounts/"
"""`<prefix>`: where environment `test`'s landing bucket lost objects by mistake (accidental-deletion.md), and
whose objects have no replica (replica-inconsistent.md)."""
SYNC_DAY = "2026-12-03"
"""`<day>`: a day of CRM accounts in environment `test`'s landing bucket (`lakehouse landing sync`)."""
STEP = re.compile(r"^\d+\. ")
RAW_AWS = re.compile(r"`aws [^`]*`")
NO_COMMAND_YET: set[tuple[str, int]] = set()
"""Steps known to have no command yet, as (runbook, step number): none. The step check runs everywhere else;
it fails once a listed step gets a command (remove it then)."""
RUN_BY = {
    **{name: "test_guardrail_runbooks" for name in guardrail_runbooks.RUNBOOKS},
    "dr-failover.md": "test_dr",
    "dr-failback.md": "test_dr",
}
"""Runbooks whose commands another harness runs as written, on the AWS state they need: the guardrails on keys,
budgets, capacity and backup jobs (tests/cli/test_guardrail_runbooks.py), DR on two regions and the `prod`
environment that has a standby (tests/cli/test_dr.py). :func:`test_every_command_is_run_by_one_harness` checks
that they take their commands from the same files, so no command is left unexecuted."""


def runbook_commands() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "runbooks").glob("*.md")):
        if path.name == "README.md" or path.name in RUN_BY:
            continue
        found += [(path.name, command) for command in COMMAND.findall(path.read_text(encoding="utf-8"))]
    return found


COMMANDS = runbook_commands()


def runbook_steps(text: str) -> list[str]:
    """The numbered steps of a runbook, each with its continuation lines (indented: text, sub-bullets, tables);
    a line that is neither ends the steps."""
    steps: list[str] = []
    open_step = False
    for line in text.splitlines():
        if STEP.match(line):
            steps.append(line)
            open_step = True
        elif open_step and (line.startswith(" ") or not line.strip()):
            steps[-1] += "\n" + line if line.strip() else ""
        else:
            open_step = False
    return steps


def argv_of(command: str, lake: Path, seeded: dict[str, str] | None = None) -> list[str]:
    for placeholder, value in (seeded or {}).items():
        command = command.replace(placeholder, value)
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
        .replace("<execution>", FAILED)
        .replace("<function>", "landing-intake")
        .replace("<day>", SYNC_DAY)
        .replace("<source>", "crm")
        .replace("<entity>", "accounts")
    )
    argv = [str(lake) if a == ".lake" else a for a in shlex.split(filled)[1:]]
    env = PROMOTION_ENV if argv[0] in PROMOTION_COMMANDS else ENV
    argv = [env if a == "E" and i and argv[i - 1] in ("--env", "--to") else a for i, a in enumerate(argv)]
    if argv[:2] in (["dlq", "redrive"], ["table", "restore"], ["pipeline", "redrive"], ["emr", "cancel"]) or argv[
        :2
    ] == ["replication", "retry"]:
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
def deployed(aws, queues, move_tasks, redrives, trace_summaries, lake):  # noqa: F811 (fixtures imported above)
    """What the stacks deploy for environment `test`, with a little history; the placeholders it filled."""
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
    return incident(lake)


def incident(lake: Path) -> dict[str, str]:
    """What the incident runbooks look at: a failed execution, a job run still running and one that failed,
    log lines, X-Ray traces, intake manifest items, EventBridge rules and a failed event, a landing day,
    replication with failed operations. Returns the placeholders only known now (`<run>`, `<failed run>`)."""
    execution = seed_failed_execution(ENV)
    app, running = seed_emr(ENV)
    failed = client("emr-serverless").start_job_run(
        applicationId=app,
        executionRoleArn="arn:aws:iam::123456789012:role/lakehouse",
        name="gold",
        jobDriver={"sparkSubmit": {"entryPoint": "s3://artifacts/jobs/v1/gold.py"}},
    )["jobRunId"]
    set_job_run_state(app, failed, "FAILED")
    seed_logs(ENV, running)
    seed_traces(ENV)
    seed_manifest(ENV)
    seed_events(ENV)
    day = sorted((lake / "landing" / "crm" / "accounts").rglob("*.jsonl"))[0]
    buckets = {layer: f"lakehouse-{ENV}-{layer}-bucket" for layer in ("landing", "bronze", "silver", "gold")}
    key = f"crm/accounts/dt={SYNC_DAY}/synced.jsonl"
    client("s3").put_object(Bucket=buckets["landing"], Key=key, Body=day.read_bytes())
    seed_replication(ENV, buckets)
    return {"<run>": running, "<failed run>": failed, "<execution arn>": execution}


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


def test_every_runbook_step_is_a_command_of_ours() -> None:
    """Each numbered step names a full `lakehouse` command the harness runs; no step is a raw `aws` call."""
    runbooks = sorted(p for p in (ROOT / "runbooks").glob("*.md") if p.name != "README.md")
    assert len(runbooks) >= 18
    for path in runbooks:
        steps = runbook_steps(path.read_text(encoding="utf-8"))
        assert steps, f"{path.name}: no numbered steps"
        for number, step in enumerate(steps, start=1):
            first = step.splitlines()[0][:70]
            if (path.name, number) in NO_COMMAND_YET:
                assert not COMMAND.search(step), f"{path.name}: step {number} has a command now: drop NO_COMMAND_YET"
                continue
            assert COMMAND.search(step), f"{path.name}: step {first!r}... has no `lakehouse ...` command"
            assert not RAW_AWS.search(step), f"{path.name}: step {first!r}... is a raw aws command"


def test_every_command_is_run_by_one_harness() -> None:
    """Each runbook's commands are run by this harness or by the one RUN_BY names, which reads them from the
    same file: every `lakehouse` command of every runbook is executed by a test."""
    every = sorted(p.name for p in (ROOT / "runbooks").glob("*.md") if p.name != "README.md")
    here = {name for name, _ in COMMANDS}
    assert set(every) == here | set(RUN_BY), "a runbook with no command, or one no harness runs"
    assert not here & set(RUN_BY)
    guardrails = {name for name, _ in guardrail_runbooks.runbook_commands()}
    assert guardrails == {n for n, t in RUN_BY.items() if t == "test_guardrail_runbooks"}
    for name in (n for n, t in RUN_BY.items() if t == "test_dr"):
        text = (ROOT / "runbooks" / name).read_text(encoding="utf-8")
        commands = dr_harness.runbook_commands(name.removesuffix(".md"))
        assert len(commands) == len(COMMAND.findall(text)) > 0
    assert set(inspect.signature(dr_harness.test_runbook_commands_run_as_written).parameters) >= {"runbook"}


def test_step_check_catches_a_step_with_no_command() -> None:
    text = "# R\n\n1. See `lakehouse alarms --env E`\n2. Open the console\n\n   and click.\nAfter `lakehouse x`.\n"
    steps = runbook_steps(text)
    assert steps == ["1. See `lakehouse alarms --env E`", "2. Open the console\n   and click."]
    assert [bool(COMMAND.search(s)) for s in steps] == [True, False]
    assert RAW_AWS.search("3. `aws logs tail /aws/lambda/x`")


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
        "logs",
        "emr",
        "intake",
        "events",
        "replication",
        "landing",
    } <= used


def test_every_runbook_command_runs_as_written(lake: Path, deployed: dict[str, str], capsys, monkeypatch) -> None:
    # The local commands (run, rebuild, landing skip and retry, table restore) on the light engine: what this
    # harness proves is that each runs as written and prints what its step is about; both engines are held to
    # one behaviour by the engine contract suite, and the flows run on delta-spark in their own tests (rebuild:
    # test_rebuild.py; landing skip and retry: test_landing_skip.py, in the slow suite).
    monkeypatch.setenv("LAKEHOUSE_ENGINE", "delta-rs")
    outputs = {}
    for runbook, command in COMMANDS:
        argv = argv_of(command, lake, deployed)
        if argv[0] == "rollback":
            promoted_before()
        if "--recover" in argv:
            interrupted_promotion()
        if argv[:2] in (["landing", "skip"], ["landing", "pending"]) and not (lake / "landing" / LANDING_FILE).exists():
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
        if argv[:2] == ["pipeline", "redrive"]:  # the redriven execution fails again: the next runbook finds it
            fail_execution(deployed["<execution arn>"], error="States.TaskFailed", cause="EMR job run failed again")
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
    rebuilt = outputs["lakehouse rebuild --from bronze --lake-root .lake"]  # an intact lake: proved equal, kept
    assert (
        "equal: kept" in rebuilt and "missing" not in rebuilt and "different" not in rebuilt and "0 written" in rebuilt
    )
    assert_incident_outputs(outputs, deployed)


def assert_incident_outputs(outputs: dict[str, str], seeded: dict[str, str]) -> None:
    """What the incident commands printed is what their steps are about: the seeded failure in each."""
    expected = {
        "lakehouse landing sync --env E --day <day> --source <source> --entity <entity> --lake-root .lake": (
            f"dt={SYNC_DAY}/",
            "synced 1 landing object(s)",
        ),
        "lakehouse intake manifest --env E": ("pending marker set", "no_partition"),
        "lakehouse intake manifest --env E --status rejected": ("bad-key.jsonl",),
        "lakehouse pipeline history --latest-failed --env E": ("ExecutionFailed", "An error occurred!"),
        "lakehouse pipeline describe <execution> --env E": ("States.TaskFailed", FAILED),
        "lakehouse pipeline history <execution> --env E": ("FailStateEntered", FAILED),
        "lakehouse pipeline redrive <execution> --env E": (f"redriven execution {FAILED}",),
        "lakehouse pipeline redrive --latest-failed --env E": ("redriven execution",),
        "lakehouse emr runs --env E": ("64 vCPU", seeded["<run>"], seeded["<failed run>"]),
        "lakehouse emr runs --env E --state FAILED": (seeded["<failed run>"],),
        "lakehouse emr runs --env E --state RUNNING": (seeded["<run>"], "RUNNING"),
        "lakehouse emr cancel <run> --env E": (f"cancelled job run {seeded['<run>']}",),
        "lakehouse logs --env E --job-run <run> --since 2h": ("DataQualityError", "SPARK_DRIVER"),
        "lakehouse logs --env E --function landing-intake --since 6h --filter '\"reason\"'": ("ThrottlingException",),
        "lakehouse logs --env E --function <function> --since 1h --filter ERROR": ("start failed",),
        "lakehouse logs --env E --function replica-verifier --since 1h --filter '\"file_missing_in_replica\"'": (
            "silver.orders",
        ),
        "lakehouse logs --env E --function failure-notifier --since 6h --filter '\"unrecognised_event\"'": (
            "unrecognised event",
        ),
        "lakehouse traces --env E --function <function> --errors": ("1 failing", "yes"),
        "lakehouse events rules --env E": ("lakehouse-test-job-run-failed", "aws.emr-serverless"),
        "lakehouse events failed --env E": ("TooManyRequestsException",),
        "lakehouse replication status --env E": ("to-dr-region", "failed replication operation(s)"),
        "lakehouse replication retry --env E --bucket <layer> --prefix <prefix>": ("re-replicating",),
    }
    for command, texts in expected.items():
        assert command in outputs, f"no runbook step runs `{command}`"
        for text in texts:
            assert text in outputs[command], f"`{command}` did not print {text!r}:\n{outputs[command]}"
