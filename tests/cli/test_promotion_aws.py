"""`lakehouse promote | rollback | promotions | slots` against moto: the AWS control plane.

moto runs no Spark: an EMR Serverless job run "succeeds" at once and writes nothing. So on AWS these tests
check what the CLI asks of AWS (the audit job run exactly as the pipeline would start it, on the shadow
slot), the SSM slots document, the DynamoDB history and lock, the Glue re-pointing, and the refusals; the
audit's gates are exercised on real Delta tables by tests/functional/test_promotion.py.
"""

from __future__ import annotations

import json
import time

import pytest
from ops_common.aws import client

from cdk.constructs.release_slots import INITIAL_VALUE
from job_assets.contracts import GOLD_TABLES
from lakehouse.cli import main
from platform_model import aws_names

V1, V2 = "1111aaaa2222bbbb", "3333cccc4444dddd"
ACCOUNT = "123456789012"


GOLD_SIZING = "--conf spark.driver.cores=2 --conf spark.executor.cores=4 --conf spark.executor.memory=14745m"


def deploy(env: str) -> dict[str, str]:
    """What `cdk deploy -c env=<env>` leaves behind that the promotion commands use."""
    s3 = client("s3")
    names = {"artifacts": f"{env}-artifacts", "gold": f"{env}-gold"}
    for bucket in names.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for version in (V1, V2):
        s3.put_object(Bucket=names["artifacts"], Key=f"jobs/{version}/job_assets.zip", Body=b"zip")
        s3.put_object(Bucket=names["artifacts"], Key=f"jobs/{version}/entrypoints/gold.py", Body=b"py")
    app = client("emr-serverless").create_application(
        name=f"lakehouse-{env}-spark", releaseLabel="emr-7.12.0", type="SPARK"
    )
    ssm = client("ssm")
    ssm.put_parameter(Name=aws_names.slots_parameter_name(env), Value=INITIAL_VALUE, Type="String")
    deployment = {
        "version": V1,
        "application_id": app["applicationId"],
        "artifacts_uri": f"s3://{names['artifacts']}/jobs/",
        "gold_uri": f"s3://{names['gold']}/",
        "job_role_arns": {"gold": f"arn:aws:iam::{ACCOUNT}:role/lakehouse-{env}-gold-job"},
        "arguments": [
            "--landing-uri",
            "s3://l/",
            "--bronze-uri",
            "s3://b/",
            "--silver-uri",
            "s3://s/",
            "--flag",
            "attribution_model=last_touch",
            "--env",
            env,
            "--metrics",
            "cloudwatch",
        ],
        "spark_submit_parameters": f"--conf spark.submit.pyFiles=s3://{names['artifacts']}/jobs/{{version}}/job_assets.zip",
        "job_sizing": {"gold": GOLD_SIZING},
    }
    ssm.put_parameter(Name=aws_names.deployment_parameter_name(env), Value=json.dumps(deployment), Type="String")
    client("dynamodb").create_table(
        TableName=aws_names.promotions_table_name(env),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    glue = client("glue")
    database = aws_names.gold_database_name(env)
    glue.create_database(DatabaseInput={"Name": database})
    for contract in GOLD_TABLES:
        table = contract.name.split(".", 1)[1]
        location = f"s3://{names['gold']}/blue/{table}/"
        glue.create_table(
            DatabaseName=database,
            TableInput={
                "Name": table,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"table_type": "DELTA"},
                "StorageDescriptor": {
                    "Location": location,
                    "Columns": [{"Name": "c", "Type": "string"}],
                    "SerdeInfo": {"Parameters": {"path": location}},
                },
            },
        )
    sfn = client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    for name in (aws_names.pipeline_state_machine_name(env), aws_names.maintenance_state_machine_name(env)):
        arn = sfn.create_state_machine(name=name, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")
        names[name] = arn["stateMachineArn"]
    return names | {"application_id": app["applicationId"]}


def record(env: str, **fields) -> dict:
    """A history record, written the way the CLI writes it (AwsControl.record); returns its fields."""
    import boto3

    from lakehouse.promotion import AwsControl, Record

    defaults = {"env": env, "action": "promote", "from_slot": "blue", "to_slot": "green", "actor": "ci"}
    written = Record(**(defaults | fields))
    AwsControl(env, session=boto3.session.Session(region_name="eu-west-1")).record(written)
    return vars(written)


def hold_lock(env: str, promotion_id: str, *, actor: str, expires: float) -> None:
    """The promotion lock item as a running (or dead) promotion holds it."""
    item = {"id": promotion_id, "action": "promote", "actor": actor, "started_at": "2026-11-30T10:00:00.000Z"}
    client("dynamodb").put_item(
        TableName=aws_names.promotions_table_name(env),
        Item={
            "pk": {"S": "lock"},
            "sk": {"S": "lock"},
            **{k: {"S": v} for k, v in item.items()},
            "expires_at": {"N": str(int(expires))},
        },
    )


def job_runs(application_id: str) -> list[dict]:
    emr = client("emr-serverless")
    try:
        return emr.list_job_runs(applicationId=application_id)["jobRuns"]
    except emr.exceptions.ResourceNotFoundException:  # moto 5.2.5 says so for an application without runs
        return []


def slots(env: str) -> dict:
    return json.loads(client("ssm").get_parameter(Name=aws_names.slots_parameter_name(env))["Parameter"]["Value"])


def glue_locations(env: str) -> set[str]:
    tables = client("glue").get_tables(DatabaseName=aws_names.gold_database_name(env))["TableList"]
    return {
        (t["StorageDescriptor"]["Location"], t["StorageDescriptor"]["SerdeInfo"]["Parameters"]["path"]) for t in tables
    }


def history(env: str, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["promotions", "--env", env, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_promote_audits_in_the_shadow_slot_and_refuses_without_gold(aws, capsys):
    names = deploy("dev")
    assert main(["promote", "--env", "dev", "--version", V2]) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "the audit wrote no table" in out

    # The audit is the version's gold job, started as the pipeline starts it, writing the inactive slot.
    emr = client("emr-serverless")
    [run] = emr.list_job_runs(applicationId=names["application_id"])["jobRuns"]
    job = emr.get_job_run(applicationId=names["application_id"], jobRunId=run["id"])["jobRun"]
    submit = job["jobDriver"]["sparkSubmit"]
    assert submit["entryPoint"] == f"s3://{names['artifacts']}/jobs/{V2}/entrypoints/gold.py"
    assert (  # the release's code, then gold's sizing as the deployment publishes it
        submit["sparkSubmitParameters"]
        == f"--conf spark.submit.pyFiles=s3://{names['artifacts']}/jobs/{V2}/job_assets.zip {GOLD_SIZING}"
    )
    arguments = submit["entryPointArguments"]
    assert arguments[arguments.index("--gold-uri") + 1] == f"s3://{names['gold']}/audit/"  # not a slot
    assert arguments[arguments.index("--metrics") + 1] == "none"  # an audit feeds no alarm
    assert arguments[arguments.index("--batch-id") + 1].startswith("audit-prom-")
    assert job["executionRole"].endswith("role/lakehouse-dev-gold-job")

    # Nothing published, nothing changed: the slots document is back as it was; the history says why.
    assert slots("dev") == json.loads(INITIAL_VALUE) | {
        "rollback": None,
        "updated_at": "",
        "updated_by": "",
        "change": "",
    }
    assert {loc for loc, _ in glue_locations("dev")} == {
        f"s3://{names['gold']}/blue/{t.name.split('.')[1]}/" for t in GOLD_TABLES
    }
    [record] = history("dev", capsys)
    assert (record["action"], record["version"], record["result"], record["previous_version"]) == (
        "promote",
        V2,
        "refused",
        V1,
    )
    assert json.loads(record["previous_state"])["slots"] == {"blue": "", "green": ""}
    assert record["actor"].startswith("arn:aws:") and record["gates"]
    assert "Item" not in client("dynamodb").get_item(
        TableName=aws_names.promotions_table_name("dev"), Key={"pk": {"S": "lock"}, "sk": {"S": "lock"}}
    )


def test_rollback_flips_the_parameter_and_repoints_glue(aws, capsys):
    names = deploy("dev")
    client("ssm").put_parameter(
        Name=aws_names.slots_parameter_name("dev"),
        Overwrite=True,
        Type="String",
        Value=json.dumps({"active": "green", "slots": {"blue": V1, "green": V2}, "rollback": "blue"}),
    )
    assert main(["slots", "show", "--env", "dev"]) == 1  # a deploy left the catalog on blue: said, with the fix
    out = capsys.readouterr().out
    assert "readers do not read the active slot green" in out and "lakehouse slots sync --env dev" in out
    assert main(["slots", "sync", "--env", "dev"]) == 0
    assert all(loc == path and "/green/" in loc for loc, path in glue_locations("dev"))
    assert main(["rollback", "--env", "dev"]) == 0
    assert f"now running version {V1}" in capsys.readouterr().out
    doc = slots("dev")
    assert (doc["active"], doc["rollback"], doc["slots"]) == ("blue", "green", {"blue": V1, "green": V2})
    assert all(loc == path and loc.startswith(f"s3://{names['gold']}/blue/") for loc, path in glue_locations("dev"))
    [record] = history("dev", capsys)
    assert (record["action"], record["from_slot"], record["to_slot"], record["result"]) == (
        "rollback",
        "green",
        "blue",
        "rolled-back",
    )
    assert main(["slots", "show", "--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert "active (published)" in out and "rollback target" in out and V2 in out


def test_a_held_lock_refuses_and_an_expired_one_is_taken_over(aws, capsys):
    deploy("dev")

    def lock(expires: float) -> None:
        hold_lock("dev", "prom-other", actor="arn:aws:iam::1:user/alice", expires=expires)

    lock(time.time() + 3600)
    assert main(["promote", "--env", "dev", "--version", V2]) == 2
    err = capsys.readouterr().err
    assert "prom-other" in err and "alice" in err
    assert main(["rollback", "--env", "dev"]) == 2
    assert slots("dev")["slots"] == {"blue": "", "green": ""}  # untouched
    lock(time.time() - 1)
    assert main(["promote", "--env", "dev", "--version", V2]) == 1  # ran (and was refused by its gates)
    assert [r["result"] for r in history("dev", capsys)] == ["refused"]


def test_promotion_waits_for_a_running_pipeline(aws, capsys):
    names = deploy("dev")
    sfn = client("stepfunctions")
    running = sfn.start_execution(stateMachineArn=names[aws_names.pipeline_state_machine_name("dev")], name="b1")
    assert main(["promote", "--env", "dev", "--version", V2]) == 2
    assert "lakehouse-dev-pipeline execution b1 is running" in capsys.readouterr().err
    assert history("dev", capsys) == []  # refused before anything started
    sfn.stop_execution(executionArn=running["executionArn"])
    assert main(["rollback", "--env", "dev"]) == 2  # a rollback does not wait for executions, but needs a target
    assert "nothing to roll back to" in capsys.readouterr().err


def test_an_interrupted_promotion_is_recovered(aws, capsys):
    deploy("dev")
    before = {"active": "green", "slots": {"blue": V1, "green": V2}, "rollback": "blue"}
    ssm = client("ssm")
    name = aws_names.slots_parameter_name("dev")
    # What a promotion killed during its audit leaves: its lock, its in-progress record, the staged document.
    ssm.put_parameter(
        Name=name,
        Overwrite=True,
        Type="String",
        Value=json.dumps(
            {
                "active": "green",
                "slots": {"blue": "5555eeee6666ffff", "green": V2},
                "rollback": None,
                "change": "prom-dead: auditing 5555eeee6666ffff for blue",
            }
        ),
    )
    record(
        "dev",
        id="prom-dead",
        version="5555eeee6666ffff",
        from_slot="green",
        to_slot="blue",
        actor="bob",
        started_at="2026-11-30T10:00:00.000Z",
        result="in-progress",
        previous_version=V2,
        previous_state=json.dumps(before),
    )
    hold_lock("dev", "prom-dead", actor="bob", expires=time.time() + 3600)
    assert main(["rollback", "--env", "dev"]) == 2  # the dead promotion's lock still stands
    assert "prom-dead" in capsys.readouterr().err
    assert main(["promotions", "--env", "dev", "--recover", "prom-other"]) == 2
    assert "no promotion with that id" in capsys.readouterr().err
    assert main(["promotions", "--env", "dev", "--recover", "prom-dead"]) == 0
    assert "restored the slots document" in capsys.readouterr().out
    doc = slots("dev")
    assert (doc["active"], doc["slots"], doc["rollback"]) == ("green", {"blue": V1, "green": V2}, "blue")
    [recovered] = history("dev", capsys)
    assert (recovered["id"], recovered["result"]) == ("prom-dead", "failed")
    assert main(["rollback", "--env", "dev"]) == 0  # the rollback target survived


def test_stage_promotion_accepts_only_a_version_proven_in_staging(aws, capsys):
    deploy("staging")
    deploy_prod = deploy("prod")
    assert main(["promote", "--env", "prod", "--version", V2, "--yes"]) == 2
    assert "versions reach it from staging only" in capsys.readouterr().err
    assert main(["promote", "--from", "staging", "--to", "prod", "--version", V2, "--yes"]) == 2
    assert "never passed its gates and got published in staging" in capsys.readouterr().err
    assert job_runs(deploy_prod["application_id"]) == []

    # Staging published V2 (recorded by its promotion): now prod may audit it.
    published = record(
        "staging",
        id="prom-s1",
        version=V2,
        started_at="2026-11-29T10:00:00.000Z",
        ended_at="2026-11-29T10:20:00.000Z",
        result="published",
        previous_version=V1,
    )
    assert main(["promote", "--from", "staging", "--to", "prod", "--version", V2, "--yes"]) == 1
    out = capsys.readouterr().out
    assert "passed its gates in staging (prom-s1" in out and "refused" in out
    assert len(job_runs(deploy_prod["application_id"])) == 1
    [prod_record] = history("prod", capsys)
    assert (prod_record["source_env"], prod_record["version"]) == ("staging", V2)

    # Staging then rolled back away from V2 (it misbehaved there): V2 is no longer proven.
    record(
        "staging",
        id="roll-s2",
        action="rollback",
        version=V1,
        previous_version=published["version"],
        started_at="2026-11-29T12:00:00.000Z",
        result="rolled-back",
    )
    assert main(["promote", "--from", "staging", "--to", "prod", "--version", V2, "--yes"]) == 2
    assert "never passed its gates" in capsys.readouterr().err


def test_an_undeployed_environment_is_refused(aws, capsys):
    assert main(["slots", "show", "--env", "dev"]) == 2
    assert "/lakehouse/dev/slots not found" in capsys.readouterr().err
    assert main(["promote", "--env", "local", "--version", V2, "--lake-root", "/nonexistent"]) == 2
    assert "not a lake" in capsys.readouterr().err
    assert main(["promote", "--env", "dev", "--version", "../../etc"]) == 2
    assert "not a job-assets version" in capsys.readouterr().err


@pytest.mark.parametrize(
    "value", ["{", '{"active": "red", "slots": {"blue": "", "green": ""}}', '{"active": "blue", "slots": {"blue": ""}}']
)
def test_a_malformed_slots_parameter_is_named(aws, capsys, value):
    deploy("dev")
    client("ssm").put_parameter(Name=aws_names.slots_parameter_name("dev"), Value=value, Type="String", Overwrite=True)
    assert main(["slots", "show", "--env", "dev"]) == 2
    assert "SSM parameter /lakehouse/dev/slots" in capsys.readouterr().err
