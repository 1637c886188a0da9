"""`lakehouse dr status | failover | failback` on moto across two regions (eu-west-1 and its DR region).

:func:`deploy_dr` deploys what the stacks deploy in both regions (the primary's buckets, parameters, state
machines and schedules; the DR stack's replicas, standby parameters and state machines). Real Delta tables
(delta-rs, three commits each) are uploaded to the primary; moto performs no replication, so
:func:`replicate` copies objects to the replicas, and a test leaves one out (a missing file, the newest
commit) to make the replica inconsistent. The runbooks' commands run here as written (`E` filled in), each
runbook from the state :func:`prepare_dr_runbook` brings the regions to (for the runbook harness too).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from ops_common.aws import client

from cdk.constructs.release_slots import INITIAL_VALUE
from lakehouse.cli import main
from lakehouse.dr import DrSetup
from lakehouse.drills import regions
from platform_model import aws_names

ENV = "prod"
SETUP = DrSetup.load(ENV)
PRIMARY, DR = SETUP.region, SETUP.dr_region
ACCOUNT = "123456789012"
LAYERS = ("landing", "bronze", "silver", "gold", "artifacts")
TABLES = {"bronze": "reference_fx_rates", "silver": "fx_rates", "gold": "blue/revenue_attribution"}
"""Layer -> key prefix in its bucket of the tables written (gold under its slot)."""
REPO = Path(__file__).resolve().parents[2]


def _regional(region: str, service: str):
    return client(service, region)


def intake_states(region: str = PRIMARY) -> set[str]:
    """The states of the landing intake's event source mappings in ``region``."""
    function = aws_names.function_name(ENV, "landing-intake")
    return {
        m["State"]
        for m in _regional(region, "lambda").list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    }


def deploy_infrastructure(env: str = ENV) -> dict[str, dict[str, str]]:
    """What `cdk deploy -c env=<env>` leaves in both regions that the dr commands use: per region, the
    buckets by layer (the DR region's are the replicas, named as ``aws_names.replica_bucket_name``)."""
    setup = DrSetup.load(env)
    account = _config_account(env)
    primary = {layer: f"lakehouse-{env}-{layer}-primary" for layer in LAYERS}
    replicas = {
        layer: aws_names.replica_bucket_name(env, layer, account=account, dr_region=setup.dr_region) for layer in LAYERS
    }
    regions.deploy_region(env, setup.region, primary, schedules=True)
    regions.deploy_region(env, setup.dr_region, replicas, schedules=False)
    return {setup.region: primary, setup.dr_region: replicas}


def deploy_dr(env: str = ENV, work_dir: Path | None = None) -> tuple[dict[str, dict[str, str]], dict[str, Path]]:
    """Both regions deployed (:func:`deploy_infrastructure`; call it under moto, the ``aws`` fixture), a
    Delta table per layer written under ``work_dir`` (a temporary folder by default) with its first two commits
    in the primary, a landing file, and everything replicated: the state every runbook step starts from.
    Returns the buckets per region and the local tables (their third commit is for the tests to place)."""
    import tempfile

    deployed = deploy_infrastructure(env)
    primary = next(iter(deployed))  # then the DR region
    tables = write_tables(work_dir or Path(tempfile.mkdtemp(prefix="dr-lake-")))
    upload(tables, deployed[primary], primary, range(2))
    _regional(primary, "s3").put_object(Bucket=deployed[primary]["landing"], Key="crm/a.jsonl", Body=b"{}\n")
    replicate(deployed)
    return deployed, tables


def _config_account(env: str) -> str:
    return json.loads((REPO / "cdk.json").read_text())["context"]["lakehouse"]["environments"][env]["account"]


def write_tables(root: Path) -> dict[str, Path]:
    """Three commits (appends) of one small Delta table per layer, written by delta-rs under ``root``."""
    from deltalake import write_deltalake

    tables = {}
    for layer, prefix in TABLES.items():
        path = root / layer / prefix
        for batch in range(3):
            data = pa.table({"id": pa.array([batch * 10 + i for i in range(5)], pa.int64()), "layer": [layer] * 5})
            write_deltalake(str(path), data, mode="append")
        tables[layer] = path
    return tables


def _version_files(table: Path, version: int) -> list[str]:
    """The commit of ``version`` and the data files it adds, relative to the table."""
    commit = f"_delta_log/{version:020d}.json"
    adds = [json.loads(line)["add"]["path"] for line in (table / commit).read_text().splitlines() if '"add"' in line]
    return [commit, *adds]


def upload(tables: dict[str, Path], buckets: dict[str, str], region: str, versions: range) -> None:
    """Put ``versions`` of each table (its commits and the files they add) into ``buckets``."""
    s3 = _regional(region, "s3")
    for layer, path in tables.items():
        for version in versions:
            for relative in _version_files(path, version):
                key = f"{TABLES[layer]}/{relative}"
                s3.put_object(Bucket=buckets[layer], Key=key, Body=(path / relative).read_bytes())


replicate = regions.replicate
"""What S3 replication would do (moto performs none): every object of the primary's lake buckets copied to its
replica, except the ``layer/key`` paths matching a pattern of ``skip``."""


@pytest.fixture
def lake(aws, tmp_path):
    """:func:`deploy_dr`: two commits of each table in the primary and replicated, the third written locally."""
    return deploy_dr(ENV, tmp_path)


def active(region: str) -> dict | None:
    ssm = _regional(region, "ssm")
    try:
        value = ssm.get_parameter(Name=aws_names.active_region_parameter_name(ENV))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return json.loads(value)


def executions(region: str) -> list[dict]:
    sfn = _regional(region, "stepfunctions")
    arn = f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:{aws_names.pipeline_state_machine_name(ENV)}"
    return sfn.list_executions(stateMachineArn=arn)["executions"]


def records(deployed: dict, prefix: str) -> list[dict]:
    s3 = _regional(DR, "s3")
    listed = s3.list_objects_v2(Bucket=deployed[DR]["artifacts"], Prefix=prefix).get("Contents", [])
    return [json.loads(s3.get_object(Bucket=deployed[DR]["artifacts"], Key=o["Key"])["Body"].read()) for o in listed]


def schedule_states() -> set[str]:
    rules = _regional(PRIMARY, "events").list_rules(NamePrefix=f"lakehouse-{ENV}-")["Rules"]
    return {r["State"] for r in rules}


def slots(region: str) -> dict:
    value = _regional(region, "ssm").get_parameter(Name=aws_names.slots_parameter_name(ENV))["Parameter"]["Value"]
    return json.loads(value)


def unchanged(deployed: dict) -> None:
    """Nothing a failover or failback writes was written."""
    assert active(PRIMARY) is None and active(DR) is None
    assert executions(DR) == []
    assert records(deployed, "dr/") == []
    assert schedule_states() == {"ENABLED"}
    assert slots(DR) == json.loads(INITIAL_VALUE)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_status_reports_consistency_and_the_last_commit_per_table(lake, capsys):
    deployed, _ = lake
    dimensions = {"SourceBucket": deployed[PRIMARY]["bronze"], "DestinationBucket": deployed[DR]["bronze"]}
    _regional(PRIMARY, "cloudwatch").put_metric_data(  # S3 publishes it in the source region
        Namespace="AWS/S3",
        MetricData=[
            {
                "MetricName": "ReplicationLatency",
                "Dimensions": [{"Name": k, "Value": v} for k, v in (dimensions | {"RuleId": "to-dr-region"}).items()],
                "Value": value,
                "Unit": "Seconds",
                "Timestamp": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10 + i),
            }
            for i, value in enumerate((12.0, 42.0))
        ],
    )
    code, out, _ = run(capsys, "dr", "status", "--env", ENV)
    assert code == 0, out
    assert "replication latency bronze: 42 s" in out and "replication latency landing: no data" in out
    assert "all 3 tables consistent in eu-central-1" in out
    assert "bronze.reference_fx_rates" in out and "gold.blue/revenue_attribution" in out
    assert "active region: eu-west-1" in out
    code, out, _ = run(capsys, "dr", "status", "--env", ENV, "--json")
    report = json.loads(out)
    assert code == 0 and report["consistent"] is True
    assert {t["table"]: t["copy_version"] for t in report["tables"]} == {
        "bronze.reference_fx_rates": 1,
        "silver.fx_rates": 1,
        "gold.blue/revenue_attribution": 1,
    }
    assert all(t["copy_timestamp"].endswith("Z") for t in report["tables"])

    # A data file lost in the replica: the replica's latest version references a file it lacks.
    s3 = _regional(DR, "s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=deployed[DR]["silver"])["Contents"]]
    s3.delete_object(Bucket=deployed[DR]["silver"], Key=next(k for k in keys if k.endswith(".parquet")))
    code, out, _ = run(capsys, "dr", "status", "--env", ENV)
    assert code == 1
    assert "1 of 3 tables inconsistent" in out and "silver.fx_rates" in out and "missing-file" in out


def test_failover_refused_while_the_replica_lags_and_nothing_changes(lake, capsys):
    deployed, tables = lake
    upload(tables, deployed[PRIMARY], PRIMARY, range(2, 3))  # the newest commit never reached the replica
    code, out, err = run(capsys, "dr", "failover", "--env", ENV, "--yes")
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert "refused" in line and "3 of 3 tables inconsistent" in line and "--force" in line
    assert "1 commit(s) behind (version 1 of 2)" in line
    unchanged(deployed)


def test_failover_refused_while_the_primary_still_runs_the_pipeline(lake, capsys):
    """A primary run still going would commit into the tables the standby takes over (and replicate there)."""
    deployed, _ = lake
    sfn = _regional(PRIMARY, "stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("-pipeline"))
    sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="b20261206T020000000000Z")
    code, _, err = run(capsys, "dr", "failover", "--env", ENV, "--yes")
    assert code == 2 and "is running in eu-west-1" in err and "nothing changed" in err
    unchanged(deployed)


def test_failover_points_the_environment_at_the_dr_region_and_starts_the_standby(lake, capsys):
    deployed, _ = lake
    published = {"active": "green", "slots": {"blue": "1111aaaa2222bbbb", "green": "3333cccc4444dddd"}}
    _regional(PRIMARY, "ssm").put_parameter(
        Name=aws_names.slots_parameter_name(ENV), Value=json.dumps(published), Type="String", Overwrite=True
    )
    code, out, _ = run(capsys, "dr", "failover", "--env", ENV, "--yes")
    assert code == 0, out
    [record] = records(deployed, "dr/failovers/")
    point = record["recovery_point"]
    assert point["consistent"] is True and point["commits_lost"] == 0 and point["primary_reachable"] is True
    assert point["tables"]["silver.fx_rates"]["version"] == 1
    assert point["tables"]["silver.fx_rates"]["timestamp"].endswith("Z")
    assert f"recovery point s3://{deployed[DR]['artifacts']}/dr/failovers/{record['id']}.json" in out
    for region in (PRIMARY, DR):
        document = active(region)
        assert document["region"] == DR and document["landing_bucket"] == deployed[DR]["landing"]
        assert document["state_machine_arn"].startswith(f"arn:aws:states:{DR}:")
    assert slots(DR) == published  # the standby runs the published release and slot
    assert schedule_states() == {"DISABLED"}
    assert intake_states() == {"Disabled"}  # deliveries wait in the intake queue: no primary run starts
    [execution] = executions(DR)
    assert execution["status"] == "RUNNING" and executions(PRIMARY) == []

    code, _, err = run(capsys, "dr", "failover", "--env", ENV, "--yes")  # twice
    assert code == 2 and "already failed over to eu-central-1" in err


def test_forced_failover_records_the_commits_lost(lake, capsys):
    deployed, tables = lake
    upload(tables, deployed[PRIMARY], PRIMARY, range(2, 3))
    replicate(deployed, skip=(r"^silver/.*00000000000000000002\.json$",))  # silver's newest commit is lost
    code, out, _ = run(capsys, "dr", "failover", "--env", ENV, "--force", "--yes")
    assert code == 0, out
    [record] = records(deployed, "dr/failovers/")
    point = record["recovery_point"]
    assert record["forced"] is True and point["consistent"] is False and point["commits_lost"] == 1
    assert point["tables"]["silver.fx_rates"] == {
        "version": 1,
        "timestamp": point["tables"]["silver.fx_rates"]["timestamp"],
        "commits_lost": 1,
        "primary_version": 2,
    }
    assert point["tables"]["bronze.reference_fx_rates"]["version"] == 2
    assert "commits lost in all: 1" in out


def test_failover_with_the_primary_region_lost(lake, capsys):
    deployed, _ = lake
    _regional(PRIMARY, "ssm").delete_parameter(Name=aws_names.deployment_parameter_name(ENV))  # the region is gone
    code, out, _ = run(capsys, "dr", "status", "--env", ENV)
    assert code == 0 and "eu-west-1 unreachable: lag unknown" in out
    code, out, _ = run(capsys, "dr", "failover", "--env", ENV, "--yes")
    assert code == 0, out
    [record] = records(deployed, "dr/failovers/")
    assert record["recovery_point"]["primary_reachable"] is False
    assert (
        record["recovery_point"]["commits_lost"] is None
        and "cannot read SSM parameter" in record["primary_unreachable"]
    )
    assert active(DR)["region"] == DR and active(PRIMARY) is None  # only the reachable region is written
    assert len(executions(DR)) == 1

    code, _, err = run(capsys, "dr", "failback", "--env", ENV, "--yes")  # not back yet
    assert code == 2 and "failback needs the primary region back; nothing changed" in err
    assert active(DR)["region"] == DR


def _standby_ran(deployed: dict, tables: dict[str, Path]) -> None:
    """What the standby pipeline did after the failover: a new commit of each table in the replicas, a landing
    file producers sent to the DR region; then the execution ended."""
    upload(tables, deployed[DR], DR, range(2, 3))
    _regional(DR, "s3").put_object(Bucket=deployed[DR]["landing"], Key="crm/b.jsonl", Body=b"{}\n")
    sfn = _regional(DR, "stepfunctions")
    for execution in executions(DR):
        sfn.stop_execution(executionArn=execution["executionArn"])


def test_failback_copies_back_checks_caught_up_and_points_back(lake, capsys):
    deployed, tables = lake
    assert run(capsys, "dr", "failover", "--env", ENV, "--yes")[0] == 0
    _standby_ran(deployed, tables)
    code, out, _ = run(capsys, "dr", "failback", "--env", ENV, "--yes")
    assert code == 0, out
    assert "all 3 tables consistent in eu-west-1" in out
    s3 = _regional(PRIMARY, "s3")
    s3.head_object(Bucket=deployed[PRIMARY]["landing"], Key="crm/b.jsonl")
    s3.head_object(Bucket=deployed[PRIMARY]["silver"], Key="fx_rates/_delta_log/00000000000000000002.json")
    for region in (PRIMARY, DR):
        assert active(region)["region"] == PRIMARY
    assert schedule_states() == {"ENABLED"}
    assert intake_states() == {"Enabled"}  # the intake resumes: its queued notifications start the runs
    [record] = records(deployed, "dr/failbacks/")
    assert record["tables"]["silver.fx_rates"] == 2 and record["failover"].endswith(".json")

    code, _, err = run(capsys, "dr", "failback", "--env", ENV, "--yes")  # twice
    assert code == 2 and "not failed over" in err


def test_failback_after_a_forced_failover_sets_the_abandoned_commits_aside_only_when_told(lake, capsys):
    """The primary's newest silver commit never reached the replica: after a forced failover it is a commit the
    DR lineage never had. Failback does not call that caught up; --drop-abandoned moves it aside, then fails back."""
    deployed, tables = lake
    upload(tables, deployed[PRIMARY], PRIMARY, range(2, 3))
    replicate(deployed, skip=(r"^silver/.*00000000000000000002\.json$",))
    assert run(capsys, "dr", "failover", "--env", ENV, "--force", "--yes")[0] == 0
    sfn = _regional(DR, "stepfunctions")
    for execution in executions(DR):
        sfn.stop_execution(executionArn=execution["executionArn"])

    code, out, _ = run(capsys, "dr", "failback", "--env", ENV, "--yes")
    assert code == 1 and "1 commit(s) ahead (version 2 of 1)" in out and "--drop-abandoned" in out
    assert active(DR)["region"] == DR  # still failed over

    code, out, _ = run(capsys, "dr", "failback", "--env", ENV, "--yes", "--drop-abandoned")
    assert code == 0, out
    assert "set aside 1 log object(s)" in out and active(PRIMARY)["region"] == PRIMARY
    s3, bucket = _regional(PRIMARY, "s3"), deployed[PRIMARY]["silver"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any("_recovery/abandoned/failback-" in k and k.endswith("00000000000000000002.json") for k in keys)
    assert f"{TABLES['silver']}/_delta_log/00000000000000000002.json" not in keys


def test_failback_refused_while_the_standby_runs(lake, capsys):
    assert run(capsys, "dr", "failover", "--env", ENV, "--yes")[0] == 0
    code, _, err = run(capsys, "dr", "failback", "--env", ENV, "--yes")
    assert code == 2 and "is running in eu-central-1" in err
    assert active(PRIMARY)["region"] == DR


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dr", "status", "--env", "qa"], "--env qa: unknown environment; expected one of dev, staging, prod"),
        (["dr", "failover", "--env", "dev", "--yes"], "--env dev: no DR standby is configured"),
        (["dr", "failback", "--env", ENV, "--yes"], "--env prod: not failed over"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(lake, capsys, argv, message):
    deployed, _ = lake
    code, _, err = run(capsys, *argv)
    assert code == 2
    [line] = err.strip().splitlines()
    assert message in line
    unchanged(deployed)


def runbook_commands(name: str) -> list[str]:
    """Every `lakehouse ...` command of runbooks/<name>.md, in order, with the environment ``E`` filled in."""
    text = (REPO / "runbooks" / f"{name}.md").read_text()
    return [
        c.replace(" E ", f" {ENV} ").replace("--env E", f"--env {ENV}")
        for c in re.findall(r"`(lakehouse [^`]+)`", text)
    ]


def prepare_dr_runbook(runbook: str, deployed: dict, tables: dict[str, Path], env: str = ENV) -> None:
    """Bring the regions :func:`deploy_dr` deployed to where ``runbook`` starts: dr-failover.md from the
    deployment as it is; dr-failback.md after a failover (``lakehouse dr failover``) whose standby run wrote
    a commit per table and ended (for the runbook harness, which runs each runbook's commands in turn)."""
    if runbook == "dr-failback.md":
        assert main(["dr", "failover", "--env", env, "--yes"]) == 0
        _standby_ran(deployed, tables)


@pytest.mark.parametrize("runbook", ["dr-failover.md", "dr-failback.md"])
def test_runbook_commands_run_as_written(lake, capsys, runbook):
    """Every command of the runbook, as written with `E` filled in, from the state it starts from: exit 0."""
    import shlex

    deployed, tables = lake
    prepare_dr_runbook(runbook, deployed, tables)
    commands = runbook_commands(runbook.removesuffix(".md"))
    assert any(f" dr {runbook.removeprefix('dr-').removesuffix('.md')} " in c for c in commands)
    for command in commands:
        code, out, err = run(capsys, *shlex.split(command)[1:])
        assert code == 0 and out.strip(), (command, out, err)
    ends_in = DR if runbook == "dr-failover.md" else PRIMARY
    assert active(PRIMARY)["region"] == active(DR)["region"] == ends_in


def test_the_drill_deploys_the_slots_parameter_as_the_stack_does():
    assert json.loads(regions.INITIAL_SLOTS) == json.loads(INITIAL_VALUE)
