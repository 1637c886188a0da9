"""The guardrail runbooks (issue 17) run as written, and each guardrail command on its own, against moto.

:func:`deploy_guardrails` builds in moto what the stacks deploy for one environment and what these commands
read: the four KMS keys (the replica key in the DR region), the lake buckets and their deployment parameter,
the queues, the alert topic, the DynamoDB tables and the backup vault, each encrypted with its key; the monthly
budget; the EMR Serverless application and its capacity metrics; the cost reporter's figures; the intake
manifest; the state machines; AWS Backup jobs (``tests/moto_gaps.py`` ``BackupJobs``: moto lists none). It is
idempotent (what exists is kept), so the runbook harness can call it beside its own deployment.
:func:`prepare` then puts the environment, just before a runbook's first step, in the state that runbook
answers (a key pending deletion, a failed backup, rejected landing objects; the budget overrun and the EMR
application near its maximum come with the deployment), and :func:`expected_exit` says which status steps
report the problem (exit 1). tests/cli/test_runbook_commands.py leaves these runbooks to the test below
(its RUN_BY), which runs every command of them as written, in the order listed here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto_gaps import BackupJobs

from job_assets.contracts import metrics as catalog
from lakehouse.cli import main
from platform_model import aws_names

ROOT = Path(__file__).resolve().parents[2]
ENV = "test"
REGION = "eu-west-1"
DR_REGION = "eu-central-1"
RUNBOOKS = (
    "kms-key-disabled.md",
    "budget-exceeded.md",
    "emr-capacity-exhausted.md",
    "landing-rejected.md",
    "credential-rotation.md",
    "backup-failed.md",
    "security-finding.md",
)
"""Followed in this order, on one environment: the key recovered first is Enabled for the runbooks after it."""
COMMAND = re.compile(r"`(lakehouse [^`]+)`")
BUDGET_LIMIT, BUDGET_ACTUAL, BUDGET_FORECAST = 100.0, 123.45, 180.0
MAX_CPU, MAX_MEMORY = 32, 128


@dataclass
class Guardrails:
    """What :func:`deploy_guardrails` deployed: key ids by role, the EMR application, the backup jobs' filler."""

    env: str
    keys: dict[str, str]
    application_id: str
    backup_jobs: BackupJobs


def _client(service: str, region: str = REGION) -> Any:
    return boto3.client(service, region_name=region)


def _key(env: str, role: str, region: str) -> str:
    """The key of ``role`` (created with its alias and rotation on unless it exists): its id."""
    kms = _client("kms", region)
    alias = aws_names.kms_alias(env, role)
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    except ClientError:
        key_id = kms.create_key(Description=f"{alias} (test)")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        kms.enable_key_rotation(KeyId=key_id)
        return key_id


def _arn(key_id: str, region: str = REGION) -> str:
    return _client("kms", region).describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def _bucket(name: str, key_arn: str, region: str = REGION) -> None:
    s3 = _client("s3", region)
    try:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})


def _storage(env: str, key_arns: dict[str, str]) -> None:
    """The lake buckets, each under its layer's key, named in the deployment parameter (kept when it exists)."""
    buckets = {layer: f"lakehouse-{env}-{layer}-bucket" for layer in ("landing", "bronze", "silver", "gold")}
    for layer, bucket in (*buckets.items(), ("artifacts", f"lakehouse-{env}-artifacts-bucket")):
        _bucket(bucket, key_arns[layer])
    data_arn = key_arns["artifacts"]
    arguments = [a for layer in ("landing", "bronze", "silver") for a in (f"--{layer}-uri", f"s3://{buckets[layer]}/")]
    deployment = {
        "version": "v1",
        "application_id": "app",
        "artifacts_uri": f"s3://lakehouse-{env}-artifacts-bucket/jobs/",
        "gold_uri": f"s3://{buckets['gold']}/",
        "job_role_arns": {},
        "arguments": [*arguments, "--env", env],
        "spark_submit_parameters": "",
    }
    ssm = _client("ssm")
    with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):  # the runbook harness's, kept
        ssm.put_parameter(Name=aws_names.deployment_parameter_name(env), Value=json.dumps(deployment), Type="String")
    backup = _client("backup")
    vault = aws_names.backup_vault_name(env)
    if vault not in {v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]}:
        backup.create_backup_vault(BackupVaultName=vault, EncryptionKeyArn=data_arn)


def _ops(env: str, ops_arn: str, alerts_arn: str) -> None:
    """The queues, the intake manifest under the ops key; the alert topic under its key, one subscription."""
    sqs = _client("sqs")
    for name in (
        aws_names.intake_queue_name(env),
        aws_names.intake_dlq_name(env),
        aws_names.failed_events_queue_name(env),
    ):
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": ops_arn})
        except ClientError:
            sqs.create_queue(QueueName=name, Attributes={"KmsMasterKeyId": ops_arn})
    dynamodb = _client("dynamodb")
    tables = set(dynamodb.list_tables()["TableNames"])
    for table in (aws_names.intake_manifest_table_name(env), aws_names.promotions_table_name(env)):
        if table in tables:
            continue
        keys = ("object_key", "object_version") if "manifest" in table else ("pk", "sk")
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": keys[0], "KeyType": "HASH"}, {"AttributeName": keys[1], "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": ops_arn},
        )
    sns = _client("sns")
    topic = sns.create_topic(Name=aws_names.alert_topic_name(env), Attributes={"KmsMasterKeyId": alerts_arn})
    sns.subscribe(TopicArn=topic["TopicArn"], Protocol="email", Endpoint="oncall@example.org")


def _compute(env: str) -> str:
    """The EMR application (started, as moto creates it) with an hour of capacity data points; the state
    machines."""
    emr = _client("emr-serverless")
    name = aws_names.emr_application_name(env)
    existing = [a for a in emr.list_applications()["applications"] if a["name"] == name]
    app_id = (
        existing[0]["id"]
        if existing
        else emr.create_application(
            name=name,
            releaseLabel="emr-7.12.0",
            type="SPARK",
            maximumCapacity={"cpu": f"{MAX_CPU} vCPU", "memory": f"{MAX_MEMORY} GB", "disk": "1000 GB"},
        )["applicationId"]
    )
    if not existing:  # a finished run (moto's end at once): moto lists no runs of an application without one
        emr.start_job_run(
            applicationId=app_id,
            executionRoleArn="arn:aws:iam::123456789012:role/job",
            jobDriver={"sparkSubmit": {"entryPoint": "s3://artifacts/jobs/bronze.py"}},
        )
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    dims = [{"Name": catalog.APPLICATION_ID, "Value": app_id}, {"Name": catalog.APPLICATION_NAME, "Value": name}]
    values = {
        "emr_application_cpu_allocated": 31,
        "emr_max_cpu_allowed": MAX_CPU,
        "emr_application_memory_allocated": 120,
    }
    _client("cloudwatch").put_metric_data(
        Namespace="AWS/EMRServerless",
        MetricData=[
            {"MetricName": catalog.metric(k).name, "Dimensions": dims, "Value": v, "Timestamp": now}
            for k, v in values.items()
        ],
    )
    sfn = _client("stepfunctions")
    machines = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    for machine in (aws_names.pipeline_state_machine_name(env), aws_names.maintenance_state_machine_name(env)):
        if machine not in machines:
            sfn.create_state_machine(name=machine, definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn")
    return app_id


def _costs(env: str) -> None:
    """The monthly budget (over its limit) and the cost reporter's figures of this month."""
    budgets = _client("budgets", "us-east-1")
    account = _client("sts").get_caller_identity()["Account"]
    name = aws_names.budget_name(env)
    if not any(b["BudgetName"] == name for b in budgets.describe_budgets(AccountId=account).get("Budgets", [])):
        budgets.create_budget(
            AccountId=account,
            Budget={
                "BudgetName": name,
                "BudgetLimit": {"Amount": str(BUDGET_LIMIT), "Unit": "USD"},
                "CalculatedSpend": {
                    "ActualSpend": {"Amount": str(BUDGET_ACTUAL), "Unit": "USD"},
                    "ForecastedSpend": {"Amount": str(BUDGET_FORECAST), "Unit": "USD"},
                },
                "TimeUnit": "MONTHLY",
                "BudgetType": "COST",
            },
            NotificationsWithSubscribers=[
                {
                    "Notification": {
                        "NotificationType": kind,
                        "ComparisonOperator": "GREATER_THAN",
                        "Threshold": threshold,
                        "ThresholdType": "PERCENTAGE",
                    },
                    "Subscribers": [
                        {"SubscriptionType": "SNS", "Address": "arn:aws:sns:eu-west-1:123456789012:alerts"}
                    ],
                }
                for kind, threshold in (("ACTUAL", 80.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0))
            ],
        )
    now = dt.datetime.now(dt.UTC)
    # this month's, before now: in the month's first minutes, its first second
    stamp = max(now - dt.timedelta(minutes=5), now.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    for key, value in (("job_cost_usd", 4.25), ("cost_per_million_records", 3.1)):
        spec = catalog.metric(key)
        _client("cloudwatch").put_metric_data(
            Namespace=catalog.our_namespace(env),
            MetricData=[
                {
                    "MetricName": spec.name,
                    "Dimensions": [{"Name": "Environment", "Value": env}, {"Name": "Job", "Value": "silver"}],
                    "Value": value,
                    "Timestamp": stamp,
                }
            ],
        )


def deploy_guardrails(env: str, monkeypatch: pytest.MonkeyPatch) -> Guardrails:
    """Deploy in moto (inside the ``aws`` fixture) what the guardrail commands of environment ``env`` read."""
    keys = {role: _key(env, role, REGION) for role in aws_names.KMS_KEY_ROLES if role not in aws_names.DR_KEY_ROLES}
    keys.update({role: _key(env, role, DR_REGION) for role in aws_names.DR_KEY_ROLES})
    _storage(env, {role: _arn(keys[role]) for role in ("landing", "bronze", "silver", "gold", "artifacts")})
    _bucket(aws_names.audit_bucket_name(env, account="123456789012", region=REGION), _arn(keys["audit"]))
    for layer in ("landing", "bronze", "silver", "gold"):
        replica = aws_names.replica_bucket_name(env, layer, account="123456789012", dr_region=DR_REGION)
        _bucket(replica, _arn(keys[f"replica-{layer}"], DR_REGION), DR_REGION)
    _ops(env, _arn(keys["ops"]), _arn(keys["alerts"]))
    app_id = _compute(env)
    _costs(env)
    _detection()
    return Guardrails(env=env, keys=keys, application_id=app_id, backup_jobs=BackupJobs().install(monkeypatch))


def _detection() -> None:
    """Security Hub enabled and a GuardDuty detector watching S3 data events (detection.* on)."""
    hub = _client("securityhub")
    with contextlib.suppress(ClientError):  # enabled already
        hub.enable_security_hub()
    guardduty = _client("guardduty")
    if not guardduty.list_detectors()["DetectorIds"]:
        guardduty.create_detector(Enable=True, DataSources={"S3Logs": {"Enable": True}})


def security_findings(*, hours_ago: float = 3) -> None:
    """A HIGH GuardDuty finding on the gold bucket and a MEDIUM Config one, updated ``hours_ago``."""
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    product = f"arn:aws:securityhub:{REGION}::product/aws/guardduty"
    findings = [
        {
            "SchemaVersion": "2018-10-08",
            "Id": f"finding-{label.lower()}",
            "ProductArn": product,
            "ProductName": "GuardDuty" if label == "HIGH" else "Config",
            "GeneratorId": "test",
            "AwsAccountId": "123456789012",
            "Types": ["TTPs/Exfiltration"],
            "CreatedAt": stamp,
            "UpdatedAt": stamp,
            "Severity": {"Label": label},
            "Title": title,
            "Description": title,
            "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::lakehouse-test-gold-bucket"}],
            "RecordState": "ACTIVE",
            "Workflow": {"Status": "NEW"},
        }
        for label, title in (
            ("HIGH", "Exfiltration:S3/AnomalousBehavior on lakehouse-test-gold-bucket"),
            ("MEDIUM", "s3-logging-enabled NON_COMPLIANT"),
        )
    ]
    _client("securityhub").batch_import_findings(Findings=findings)


def reject(env: str, key: str, code: str, reason: str, *, ago: dt.timedelta = dt.timedelta(hours=2)) -> None:
    """An object the landing intake recorded as rejected (the manifest item it writes)."""
    recorded = (dt.datetime.now(dt.UTC) - ago).isoformat(timespec="milliseconds")
    item = {"object_key": key, "object_version": "v1", "status": "rejected", "reason_code": code, "reason": reason}
    item["recorded_at"] = recorded
    _client("dynamodb").put_item(
        TableName=aws_names.intake_manifest_table_name(env), Item={k: {"S": v} for k, v in item.items()}
    )


def _backup_history(g: Guardrails) -> None:
    """A failed backup job three days ago and a completed one since, a failed restore test 8 days ago (once)."""
    if g.backup_jobs.jobs["BackupJobs"]:
        return
    now = dt.datetime.now(dt.UTC)
    vault = aws_names.backup_vault_name(g.env)
    bucket = f"arn:aws:s3:::lakehouse-{g.env}-landing-bucket"
    g.backup_jobs.add(
        "BackupJobs",
        BackupJobId="job-failed",
        BackupVaultName=vault,
        ResourceArn=bucket,
        State="FAILED",
        CreationDate=now - dt.timedelta(days=3),
        StatusMessage="Access denied to KMS key",
    )
    g.backup_jobs.add(
        "BackupJobs",
        BackupJobId="job-ok",
        BackupVaultName=vault,
        ResourceArn=bucket,
        State="COMPLETED",
        CreationDate=now - dt.timedelta(hours=1),
    )
    g.backup_jobs.add(  # another environment's failed restore: not this one's business
        "RestoreJobs",
        RestoreJobId="restore-of-another-env",
        Status="FAILED",
        CreationDate=now - dt.timedelta(days=2),
        RestoreTestingPlanArn=f"arn:aws:backup:{REGION}:123456789012:restore-testing-plan:other_restore_testing-1",
    )
    g.backup_jobs.add(
        "RestoreJobs",
        RestoreJobId="restore-failed",
        RestoreTestingPlanArn=(
            f"arn:aws:backup:{REGION}:123456789012:restore-testing-plan:"
            f"{aws_names.restore_testing_plan_name(g.env)}-0a1b2c"
        ),
        Status="FAILED",
        CreationDate=now - dt.timedelta(days=8),
        StatusMessage="validation failed",
    )


def prepare(g: Guardrails, runbook: str) -> None:
    """The incident ``runbook`` answers, set just before its first step (so the runbooks may be followed in any
    order): the gold key pending deletion; rejected landing objects; the backup history (the budget is over its
    limit and the EMR application near its maximum from the deployment on)."""
    if runbook == "kms-key-disabled.md":
        _client("kms").schedule_key_deletion(KeyId=g.keys["gold"], PendingWindowInDays=30)
    elif runbook == "landing-rejected.md":
        reject(g.env, "crm/accounts/2026-12-01/a.jsonl", "missing_dt", "expected accounts/dt=YYYY-MM-DD/<file>")
        reject(g.env, "crm/.tmp/b.jsonl", "hidden_file", "crm/.tmp/b.jsonl ('.tmp')")
    elif runbook in ("backup-failed.md", "budget-exceeded.md"):
        _backup_history(g)
    elif runbook == "security-finding.md":
        security_findings()


def incident(g: Guardrails) -> None:
    """Every runbook's incident at once."""
    for runbook in RUNBOOKS:
        prepare(g, runbook)


def runbook_commands() -> list[tuple[str, str]]:
    """Every full ``lakehouse`` command of the guardrail runbooks, in order."""
    return [
        (name, c) for name in RUNBOOKS for c in COMMAND.findall((ROOT / "runbooks" / name).read_text(encoding="utf-8"))
    ]


def argv_of(command: str, env: str = ENV) -> list[str]:
    """The command's arguments, ``E`` filled with ``env``."""
    argv = shlex.split(command)[1:]
    return [env if a == "E" and i and argv[i - 1] == "--env" else a for i, a in enumerate(argv)]


EXITS = {
    ("kms-key-disabled.md", "lakehouse kms status --env E --dr-region eu-central-1"): [1, 0],  # before, after
    ("budget-exceeded.md", "lakehouse budget status --env E"): [1, 1],  # over budget: the limit is not raised here
    ("budget-exceeded.md", "lakehouse backup status --env E"): [1],  # the failed job of 3 days ago
    ("backup-failed.md", "lakehouse backup status --env E --since 7d"): [1],
    ("backup-failed.md", "lakehouse backup status --env E --since 30d"): [1],
    ("security-finding.md", "lakehouse findings list --env E"): [1],  # the high finding of 3 hours ago
    ("security-finding.md", "lakehouse findings list --env E --severity MEDIUM --since 7d"): [1],
}


def expected_exit(runbook: str, command: str, n: int) -> int:
    """The exit code of the ``n``-th (from 0) occurrence of ``command`` in ``runbook`` after :func:`prepare`:
    a status command reports the problem (1) while it lasts; every other step exits 0."""
    codes = EXITS.get((runbook, command), [])
    return codes[n] if n < len(codes) else 0


EXPECTED_OUTPUT = {
    "lakehouse kms cancel-deletion gold --env E --yes": "deletion cancelled",
    "lakehouse kms enable gold --env E --yes": "enabled",
    "lakehouse kms enable-rotation gold --env E --yes": "rotation is on already",  # as deployed
    "lakehouse capacity --env E --max-cpu 400 --max-memory 1600 --stop --yes": "raised",
    "lakehouse landing rejected --env E --since 24h": "missing_dt",
    "lakehouse landing rejected --env E --since 1h": "no landing object rejected",
    "lakehouse credentials status --env E --dr-region eu-central-1": "nothing to rotate now",
    "lakehouse backup status --env E --since 24h": "no failed job",
    "lakehouse budget status --env E": "over budget",
    "lakehouse findings list --env E": "Exfiltration:S3/AnomalousBehavior",
    "lakehouse findings list --env E --severity MEDIUM --since 7d": "NON_COMPLIANT",
    "lakehouse findings list --env E --since 1h": "no active finding",
    "lakehouse findings macie-job --env E": "lakehouse-test-silver-bucket",
}


def test_the_guardrail_runbooks_name_their_commands() -> None:
    found = runbook_commands()
    assert {r for r, _ in found} == set(RUNBOOKS)
    groups = {shlex.split(c)[1] for _, c in found}
    assert {"kms", "budget", "capacity", "landing", "credentials", "backup", "findings"} <= groups
    for name in RUNBOOKS:  # every numbered step carries a full command
        steps = re.split(r"^\d+\. ", (ROOT / "runbooks" / name).read_text(encoding="utf-8"), flags=re.M)[1:]
        assert steps and all(COMMAND.search(step) for step in steps), name


def test_every_guardrail_runbook_command_runs_as_written(aws, monkeypatch, capsys) -> None:
    """Every command of the guardrail runbooks, as written, in RUNBOOKS order (tests/cli/test_runbook_commands.py
    leaves these runbooks to this test: RUN_BY)."""
    g = deploy_guardrails(ENV, monkeypatch)
    commands = runbook_commands()
    seen: dict[tuple[str, str], int] = {}
    outputs: dict[tuple[str, str], str] = {}
    for runbook, command in commands:
        if not any(r == runbook for r, _ in seen):
            prepare(g, runbook)
        n = seen[runbook, command] = seen.get((runbook, command), -1) + 1
        code = main(argv_of(command))
        captured = capsys.readouterr()
        expected = expected_exit(runbook, command, n)
        assert code == expected, f"{runbook}: `{command}` exited {code}, not {expected}: {captured.err.strip()}"
        assert captured.out.strip(), f"{runbook}: `{command}` printed nothing"
        outputs.setdefault((runbook, command), captured.out)
        if command in EXPECTED_OUTPUT:
            assert EXPECTED_OUTPUT[command] in captured.out, f"{runbook}: `{command}`:\n{captured.out}"
    assert "PendingDeletion" in outputs["kms-key-disabled.md", "lakehouse kms status --env E --dr-region eu-central-1"]
    assert "over budget" in outputs["budget-exceeded.md", "lakehouse budget status --env E"]
    assert "FAILED" in outputs["backup-failed.md", "lakehouse backup status --env E --since 7d"]
    assert _client("kms").describe_key(KeyId=g.keys["gold"])["KeyMetadata"]["KeyState"] == "Enabled"
    app = _client("emr-serverless").get_application(applicationId=g.application_id)["application"]
    assert app["maximumCapacity"]["cpu"] == "400 vCPU" and app["maximumCapacity"]["memory"] == "1600 GB"


# --- each command on its own: what it reports, and bad input (one line, exit 2, nothing changed) ------------


@pytest.fixture
def deployed(aws, monkeypatch) -> Guardrails:
    return deploy_guardrails(ENV, monkeypatch)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_kms_status_lists_keys_and_what_they_encrypt(deployed, capsys) -> None:
    code, out, _ = run(capsys, "kms", "status", "--env", ENV, "--dr-region", DR_REGION)
    assert code == 0 and "all 14 keys of test are Enabled" in out
    for resource in ("lakehouse-test-landing-bucket", "lakehouse-test-landing-intake-dlq", "lakehouse-test-alerts"):
        assert resource in out
    assert "lakehouse-test-backup" in out and "landing-replica" in out
    assert "(audit)" in out  # the audit bucket, under the audit key
    code, out, _ = run(capsys, "kms", "status", "--env", ENV, "--dr-region", "us-east-1")  # no DR stack there
    assert code == 0 and "no alias/lakehouse-test-replica in us-east-1" in out and "all 9 keys" in out
    _client("kms").disable_key(KeyId=deployed.keys["ops"])
    code, out, _ = run(capsys, "kms", "status", "--env", ENV)
    assert code == 1 and "alias/lakehouse-test-ops is Disabled" in out and "lakehouse kms enable ops --env test" in out


def test_kms_enable_and_cancel_deletion(deployed, capsys) -> None:
    kms = _client("kms")
    kms.schedule_key_deletion(KeyId=deployed.keys["alerts"], PendingWindowInDays=7)
    code, _, err = run(capsys, "kms", "enable", "alerts", "--env", ENV, "--yes")
    assert code == 2 and "cancel it first" in one_line(err)
    assert kms.describe_key(KeyId=deployed.keys["alerts"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert run(capsys, "kms", "cancel-deletion", f"alias/lakehouse-{ENV}-alerts", "--env", ENV, "--yes")[0] == 0
    assert kms.describe_key(KeyId=deployed.keys["alerts"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert run(capsys, "kms", "enable", deployed.keys["alerts"], "--env", ENV, "--yes")[0] == 0
    assert kms.describe_key(KeyId=deployed.keys["alerts"])["KeyMetadata"]["KeyState"] == "Enabled"
    code, out, _ = run(capsys, "kms", "enable", "alerts", "--env", ENV, "--yes")
    assert code == 0 and "already Enabled" in out


def test_kms_enable_rotation_turns_a_keys_rotation_back_on(deployed, capsys) -> None:
    kms = _client("kms")
    kms.disable_key_rotation(KeyId=deployed.keys["ops"])
    code, out, _ = run(capsys, "kms", "enable-rotation", "ops", "--env", ENV, "--yes")
    assert code == 0 and "rotation on" in out
    assert kms.get_key_rotation_status(KeyId=deployed.keys["ops"])["KeyRotationEnabled"] is True
    kms.disable_key_rotation(KeyId=deployed.keys["ops"])
    kms.disable_key(KeyId=deployed.keys["ops"])
    code, _, err = run(capsys, "kms", "enable-rotation", "ops", "--env", ENV, "--yes")
    assert code == 2 and "enable it first; nothing changed" in err


def test_kms_refuses_a_key_of_no_environment_and_an_environment_not_deployed(deployed, capsys) -> None:
    other = _client("kms").create_key()["KeyMetadata"]["KeyId"]
    _client("kms").disable_key(KeyId=other)
    code, _, err = run(capsys, "kms", "enable", other, "--env", ENV, "--yes")
    assert code == 2 and f"KEY '{other}': not a key of environment test" in one_line(err)
    assert _client("kms").describe_key(KeyId=other)["KeyMetadata"]["KeyState"] == "Disabled"
    code, _, err = run(capsys, "kms", "enable", "replica", "--env", ENV, "--yes")
    assert code == 2 and "the replica key is in the DR region: pass --dr-region" in one_line(err)
    code, _, err = run(capsys, "kms", "status", "--env", "nowhere")
    assert code == 2 and "no key alias/lakehouse-nowhere-*" in one_line(err)
    _client("kms").disable_key(KeyId=deployed.keys["gold"])
    code, _, err = run(capsys, "kms", "enable", "gold", "--env", ENV)  # no terminal, no --yes
    assert code == 2 and "pass --yes" in one_line(err)
    assert _client("kms").describe_key(KeyId=deployed.keys["gold"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_budget_status(deployed, capsys) -> None:
    code, out, _ = run(capsys, "budget", "status", "--env", ENV)
    assert code == 1 and "over budget" in out and "123.45" in out and "180.00" in out
    assert "job silver" in out and "4.25" in out and "ACTUAL > 80%" in out
    code, _, err = run(capsys, "budget", "status", "--env", "nowhere")
    assert code == 2 and "no budget 'lakehouse-nowhere-monthly - runbook budget-exceeded.md'" in one_line(err)


def test_budget_job_costs_in_the_first_second_of_a_month(deployed) -> None:
    """At 00:00:00.4 on the 1st the month so far is under a second: still a window CloudWatch accepts, and the
    cost recorded at the month's first instant counts (moto, as CloudWatch, refuses a start equal to the end)."""
    from lakehouse.ops import budget
    from lakehouse.ops.guard import Deployed

    now = dt.datetime.now(dt.UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spec = catalog.metric("job_cost_usd")
    dims = [{"Name": catalog.ENVIRONMENT, "Value": ENV}, {"Name": catalog.JOB, "Value": "gold"}]
    _client("cloudwatch").put_metric_data(
        Namespace=spec.namespace_for(ENV),
        MetricData=[{"MetricName": spec.name, "Dimensions": dims, "Value": 1.5, "Timestamp": first}],
    )
    costs = budget.job_costs(Deployed(ENV, region=REGION), now=first + dt.timedelta(milliseconds=400))
    assert costs["gold"] == 1.5


def test_capacity_shows_use_and_raises_within_bounds(deployed, capsys) -> None:
    emr = _client("emr-serverless")
    code, out, _ = run(capsys, "capacity", "--env", ENV)
    assert code == 0 and "31 (97% of 32)" in out and "state STARTED" in out
    for argv, message in (
        (["--max-cpu", "16"], "--max-cpu 16: not above the current maximum 32"),
        (["--max-cpu", "5000"], "--max-cpu 5000: above 4000"),
        (["--max-memory", "256"], "is STARTED: AWS updates only a CREATED or STOPPED application"),
    ):
        code, _, err = run(capsys, "capacity", "--env", ENV, *argv, "--yes")
        assert code == 2 and message in one_line(err), err
    assert emr.get_application(applicationId=deployed.application_id)["application"]["state"] == "STARTED"
    run_id = emr.start_job_run(
        applicationId=deployed.application_id,
        executionRoleArn="arn:aws:iam::123456789012:role/r",
        jobDriver={"sparkSubmit": {"entryPoint": "s3://b/e.py"}},
    )["jobRunId"]
    runs = {"jobRuns": [{"id": run_id, "name": "silver", "state": "RUNNING"}]}
    with pytest.MonkeyPatch.context() as patch:  # moto ends job runs at once: one that still runs
        from lakehouse.ops import capacity

        patch.setattr(capacity, "active_runs", lambda target, app: runs["jobRuns"])
        code, _, err = run(capsys, "capacity", "--env", ENV, "--max-cpu", "64", "--stop", "--yes")
    assert code == 2 and "1 job run(s) of lakehouse-test-spark are active" in one_line(err)
    code, out, _ = run(capsys, "capacity", "--env", ENV, "--max-cpu", "64", "--stop", "--yes")
    assert code == 0 and "raised" in out
    maximum = emr.get_application(applicationId=deployed.application_id)["application"]["maximumCapacity"]
    assert (maximum["cpu"], maximum["memory"], maximum["disk"]) == ("64 vCPU", "128 GB", "1000 GB")
    code, _, err = run(capsys, "capacity", "--env", "nowhere")
    assert code == 2 and "no EMR Serverless application lakehouse-nowhere-spark" in one_line(err)


def test_capacity_refuses_a_non_number(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["capacity", "--env", ENV, "--max-cpu", "lots"])
    assert exit_.value.code == 2 and "'lots' is not a whole number" in capsys.readouterr().err


def test_landing_rejected_lists_reasons_since(deployed, capsys) -> None:
    reject(ENV, "crm/accounts/dt=2026-13-01/a.jsonl", "bad_dt", "dt='2026-13-01' in crm/accounts/dt=2026-13-01/a.jsonl")
    reject(
        ENV, "crm/old.jsonl", "bad_layout", "crm/old.jsonl has no <source>/<entity>/ prefix", ago=dt.timedelta(days=3)
    )
    code, out, _ = run(capsys, "landing", "rejected", "--env", ENV, "--since", "24h")
    assert code == 0 and "bad_dt" in out and "crm/old.jsonl" not in out and "1 rejected: bad_dt 1" in out
    code, out, _ = run(capsys, "landing", "rejected", "--env", ENV, "--since", "7d")
    assert "2 rejected" in out
    code, _, err = run(capsys, "landing", "rejected", "--env", ENV, "--since", "yesterday")
    assert code == 2 and "--since 'yesterday'" in one_line(err)
    code, _, err = run(capsys, "landing", "rejected", "--env", "nowhere")
    assert code == 2 and "no intake manifest table lakehouse-nowhere-landing-intake-manifest" in one_line(err)


def test_credentials_status(deployed, capsys) -> None:
    code, out, _ = run(capsys, "credentials", "status", "--env", ENV)
    assert code == 0 and "no IAM user has an access key" in out and "oncall@example.org" in out
    iam = _client("iam")
    iam.create_user(UserName="crm-landing-writer")
    key = iam.create_access_key(UserName="crm-landing-writer")["AccessKey"]["AccessKeyId"]
    _client("kms").disable_key_rotation(KeyId=deployed.keys["gold"])
    code, out, _ = run(capsys, "credentials", "status", "--env", ENV)
    assert code == 1 and "alias/lakehouse-test-gold: automatic rotation is off" in out and key in out
    with pytest.raises(SystemExit) as exit_:
        main(["credentials", "status", "--env", ENV, "--max-age-days", "0"])
    assert exit_.value.code == 2 and "--max-age-days: 0 must be at least 1" in capsys.readouterr().err


def test_backup_status(deployed, capsys) -> None:
    code, out, _ = run(capsys, "backup", "status", "--env", ENV)
    assert code == 0 and "no backup, copy or restore job" in out
    incident(deployed)
    code, out, _ = run(capsys, "backup", "status", "--env", ENV, "--since", "7d")
    assert code == 1 and "job-failed" in out and "Access denied to KMS key" in out and "restore-failed" not in out
    assert "restore-of-another-env" not in out  # the account's other restores are not this environment's
    code, out, _ = run(capsys, "backup", "status", "--env", ENV, "--since", "30d")
    assert code == 1 and "restore-failed" in out
    code, _, err = run(capsys, "backup", "status", "--env", ENV, "--since", "2099-01-01")
    assert code == 2 and "is in the future" in one_line(err)
    code, _, err = run(capsys, "backup", "status", "--env", "nowhere")
    assert code == 2 and "no backup vault lakehouse-nowhere-backup" in one_line(err)
