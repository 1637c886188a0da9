"""Ops stack: the operational Lambdas, their queues, rules, schedules and alarms (template assertions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cdk_testkit import Synthesized, resources

from job_assets.contracts import GOLD_TABLES, SILVER_TABLES
from platform_model import aws_names

FUNCTIONS = {
    "landing-intake": "landing_intake.handler.handler",
    "failure-notifier": "failure_notifier.handler.handler",
    "cost-reporter": "cost_reporter.handler.handler",
    "freshness-monitor": "freshness_monitor.handler.handler",
    "replica-verifier": "replica_verifier.handler.handler",
}
ENVS = ("dev", "staging", "prod")
SLOT_READERS = ("cost-reporter", "freshness-monitor")
"""The functions that read gold, so the active blue/green slot (the SSM slots parameter)."""
RUNBOOKS_DIR = Path(__file__).resolve().parents[2] / "runbooks"


def _ops(lakehouse: Synthesized, env: str) -> dict[str, Any]:
    return lakehouse.template(lakehouse.environments[env].ops)


def _our_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Our functions by name (CDK's own cross-region reference handler has no FunctionName)."""
    return {
        f["Properties"]["FunctionName"]: f
        for f in resources(template, "AWS::Lambda::Function").values()
        if "FunctionName" in f["Properties"]
    }


def _expected(env: str, env_config: dict[str, Any]) -> dict[str, str]:
    expected = dict(FUNCTIONS)
    if not env_config[env].features.replication:
        expected.pop("replica-verifier")
    return {f"lakehouse-{env}-{name}": handler for name, handler in expected.items()}


@pytest.mark.parametrize("env", ENVS)
def test_every_function_is_traced_arm64_latest_python_with_own_role(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    template = _ops(lakehouse, env)
    functions = _our_functions(template)
    assert {n: f["Properties"]["Handler"] for n, f in functions.items()} == _expected(env, env_config)
    roles = set()
    for name, function in functions.items():
        props = function["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["Runtime"] == "python3.14" and props["Architectures"] == ["arm64"], name
        assert props["ReservedConcurrentExecutions"] >= 1, name
        assert props["Environment"]["Variables"]["ENVIRONMENT"] == env, name
        roles.add(props["Role"]["Fn::GetAtt"][0])
    assert len(roles) == len(functions), "one role per function"
    for function in resources(template, "AWS::Lambda::Function").values():  # CDK's own handlers too
        if "FunctionName" not in function["Properties"]:
            assert function["Properties"]["Handler"] == "__entrypoint__.handler", "only CDK's provider is untraced"


@pytest.mark.parametrize("env", ENVS)
def test_each_function_has_a_retained_encrypted_log_group_and_an_errors_alarm(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    template = _ops(lakehouse, env)
    config = env_config[env]
    groups = {g["Properties"]["LogGroupName"]: g for g in resources(template, "AWS::Logs::LogGroup").values()}
    alarms = {a["Properties"]["AlarmName"]: a for a in resources(template, "AWS::CloudWatch::Alarm").values()}
    for name in _our_functions(template):
        group = groups[f"/aws/lambda/{name}"]
        assert group["Properties"]["RetentionInDays"] == config.retention.log_group_retention_days
        assert "KmsKeyId" in group["Properties"]
        assert group["DeletionPolicy"] == ("Delete" if config.features.allow_destroy else "Retain")
        alarm = alarms[f"{name}-errors"]["Properties"]
        assert alarm["MetricName"] == "Errors" and alarm["Namespace"] == "AWS/Lambda"
        assert alarm["Threshold"] == 1


@pytest.mark.parametrize("env", ENVS)
def test_every_alarm_notifies_and_links_its_runbook(lakehouse: Synthesized, env: str) -> None:
    template = _ops(lakehouse, env)
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        assert props["AlarmActions"] and props["OKActions"], name
        assert "Runbook: https://" in props["AlarmDescription"] and props["AlarmDescription"].endswith(".md"), name
        runbook = props["AlarmDescription"].rsplit("/", 1)[1]
        assert (RUNBOOKS_DIR / runbook).is_file(), f"{name} links runbooks/{runbook}, which does not exist"


def test_alarm_counts(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    slo_tables = [c for c in (*SILVER_TABLES, *GOLD_TABLES) if c.freshness_slo_minutes is not None]
    assert len(slo_tables) >= 10
    for env in ENVS:
        alarms = resources(_ops(lakehouse, env), "AWS::CloudWatch::Alarm")
        replication = env_config[env].features.replication
        functions = 5 if replication else 4
        # errors per function + freshness per table + two dead-letter queues + rejected landing objects
        # (+ replica consistency)
        assert len(alarms) == functions + len(slo_tables) + 2 + 1 + (1 if replication else 0), env


@pytest.mark.parametrize("env", ENVS)
def test_freshness_alarm_per_table_at_its_contract_slo(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    minutes = env_config[env].ops.freshness_check_minutes
    alarms = [
        a["Properties"]
        for a in resources(_ops(lakehouse, env), "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "FreshnessMinutes"
    ]
    by_table = {{d["Name"]: d["Value"] for d in a["Dimensions"]}["Table"]: a for a in alarms}
    expected = {c.name: c.freshness_slo_minutes for c in (*SILVER_TABLES, *GOLD_TABLES) if c.freshness_slo_minutes}
    assert {t: a["Threshold"] for t, a in by_table.items()} == expected
    for table, alarm in by_table.items():
        assert alarm["Namespace"] == f"Lakehouse/{env}" and alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"Environment": env, "Table": table}
        # one datapoint per check: the period is the schedule, and 1 of 2 periods tolerates a late check
        assert alarm["Period"] == minutes * 60
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (2, 1)
    rules = {
        r["Properties"]["Name"]: r["Properties"] for r in resources(_ops(lakehouse, env), "AWS::Events::Rule").values()
    }
    assert rules[f"lakehouse-{env}-freshness-monitor"]["ScheduleExpression"] == f"rate({minutes} minutes)"


def test_replica_alarm_waits_out_the_replication_time_control_window(
    lakehouse: Synthesized, env_config: dict[str, Any]
) -> None:
    for env in ENVS:
        alarms = [
            a["Properties"]
            for a in resources(_ops(lakehouse, env), "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("MetricName") == "ReplicaConsistent"
        ]
        if not env_config[env].features.replication:
            assert alarms == [], env
            continue
        (alarm,) = alarms
        assert alarm["Statistic"] == "Minimum" and alarm["ComparisonOperator"] == "LessThanThreshold"
        assert alarm["Threshold"] == 1
        assert alarm["Period"] == env_config[env].ops.replica_check_minutes * 60
        assert alarm["Period"] * alarm["EvaluationPeriods"] > 15 * 60
        assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
        assert alarm["Dimensions"] == [{"Name": "Environment", "Value": env}]


@pytest.mark.parametrize("env", ENVS)
def test_every_queue_is_encrypted_tls_only_and_has_a_dead_letter_queue(lakehouse: Synthesized, env: str) -> None:
    template = _ops(lakehouse, env)
    queues = resources(template, "AWS::SQS::Queue")
    dead_letter_targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    for f in resources(template, "AWS::Lambda::Function").values():
        if "DeadLetterConfig" in f["Properties"]:
            dead_letter_targets.add(f["Properties"]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0])
    for rule in resources(template, "AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            assert "DeadLetterConfig" in target, rule["Properties"]["Name"]
            dead_letter_targets.add(target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    policies = [p["Properties"] for p in resources(template, "AWS::SQS::QueuePolicy").values()]
    for queue_id, queue in queues.items():
        props = queue["Properties"]
        assert "KmsMasterKeyId" in props, queue_id
        assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert "RedrivePolicy" in props or queue_id in dead_letter_targets, f"{queue_id}: no DLQ and not a DLQ"
        assert any(
            {"Ref": queue_id} in p["Queues"]
            and any(
                s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                for s in p["PolicyDocument"]["Statement"]
            )
            for p in policies
        ), f"{queue_id}: TLS not enforced"
    assert dead_letter_targets <= set(queues)


@pytest.mark.parametrize("env", ENVS)
def test_landing_events_reach_the_intake_with_partial_batch_responses(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    config = env_config[env]
    storage = lakehouse.template(lakehouse.environments[env].storage)
    landing = [
        b for b in resources(storage, "AWS::S3::Bucket").values() if b["Properties"].get("NotificationConfiguration")
    ]
    assert len(landing) == 1
    assert landing[0]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    template = _ops(lakehouse, env)
    queues = {q["Properties"]["QueueName"]: (k, q) for k, q in resources(template, "AWS::SQS::Queue").items()}
    intake_id, intake = queues[f"lakehouse-{env}-landing-intake"]
    dlq_id, _ = queues[f"lakehouse-{env}-landing-intake-dlq"]
    assert intake["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": config.ops.intake_max_receive_count,
    }
    assert (
        intake["Properties"]["VisibilityTimeout"]
        >= 6 * _our_functions(template)[f"lakehouse-{env}-landing-intake"]["Properties"]["Timeout"]
    )
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [intake_id, "Arn"]}
    assert mapping["Properties"]["BatchSize"] == config.ops.intake_batch_size
    rules = {r["Properties"]["Name"]: r["Properties"] for r in resources(template, "AWS::Events::Rule").values()}
    rule = rules[f"lakehouse-{env}-landing-object-created"]
    assert rule["EventPattern"]["source"] == ["aws.s3"] and rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [intake_id, "Arn"]}
    writer_ended = rules[f"lakehouse-{env}-writer-ended"]
    assert writer_ended["EventPattern"]["source"] == ["aws.states"]
    assert writer_ended["EventPattern"]["detail"]["status"] == ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    assert writer_ended["Targets"][0]["Arn"] == {"Fn::GetAtt": [intake_id, "Arn"]}
    orchestration = lakehouse.template(lakehouse.environments[env].orchestration)
    machines = {
        m["Properties"]["StateMachineName"]: m
        for m in resources(orchestration, "AWS::StepFunctions::StateMachine").values()
    }
    assert set(machines) == {f"lakehouse-{env}-pipeline", f"lakehouse-{env}-maintenance"}
    assert len(writer_ended["EventPattern"]["detail"]["stateMachineArn"]) == len(machines)
    variables = _our_functions(template)[f"lakehouse-{env}-landing-intake"]["Properties"]["Environment"]["Variables"]
    pipeline_arn, maintenance_arn = (_import_of(orchestration, name) for name in ("Pipeline", "Maintenance"))
    assert variables["STATE_MACHINE_ARN"] == pipeline_arn
    assert variables["WRITER_STATE_MACHINE_ARNS"] == {"Fn::Join": ["", [pipeline_arn, ",", maintenance_arn]]}
    statements = {
        st["Sid"]: st
        for pol in resources(template, "AWS::IAM::ManagedPolicy").values()
        for st in pol["Properties"]["PolicyDocument"]["Statement"]
        if st.get("Sid") in ("FindRunningWriters", "StartPipeline", "RecordObjectsAndPendingMarker")
    }
    assert sorted(map(json.dumps, statements["FindRunningWriters"]["Resource"])) == sorted(
        map(json.dumps, [pipeline_arn, maintenance_arn])
    )
    assert statements["StartPipeline"]["Resource"] == pipeline_arn  # never maintenance
    assert statements["RecordObjectsAndPendingMarker"]["Action"] == [
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ]
    (table,) = resources(template, "AWS::DynamoDB::GlobalTable").values()
    assert table["Properties"]["SSESpecification"]["SSEType"] == "KMS"
    assert table["Properties"]["Replicas"][0]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }


def _import_of(orchestration: dict[str, Any], construct: str) -> dict[str, str]:
    """``Fn::ImportValue`` of the Orchestration stack's export of ``<construct>StateMachine``'s ARN."""
    (export,) = [
        o["Export"]["Name"]
        for key, o in orchestration.get("Outputs", {}).items()
        if key.startswith(f"ExportsOutputRef{construct}StateMachine")
    ]
    return {"Fn::ImportValue": export}


@pytest.mark.parametrize("env", ENVS)
def test_failure_and_cost_rules_filter_on_this_application_and_states(lakehouse: Synthesized, env: str) -> None:
    template = _ops(lakehouse, env)
    rules = {r["Properties"]["Name"]: r["Properties"] for r in resources(template, "AWS::Events::Rule").values()}
    failed = rules[f"lakehouse-{env}-job-run-failed"]["EventPattern"]
    assert failed["source"] == ["aws.emr-serverless"]
    assert failed["detail"]["state"] == ["FAILED", "CANCELLED"] and len(failed["detail"]["applicationId"]) == 1
    executions = rules[f"lakehouse-{env}-execution-failed"]["EventPattern"]
    assert executions["detail"]["status"] == ["FAILED", "TIMED_OUT"]
    assert len(executions["detail"]["stateMachineArn"]) == 2
    notifier = _our_functions(template)[f"lakehouse-{env}-failure-notifier"]["Properties"]["Environment"]["Variables"]
    assert notifier["PROJECT"] == "lakehouse"  # the alert subject's [<project>-<env>] tag
    succeeded = rules[f"lakehouse-{env}-job-run-succeeded"]["EventPattern"]
    assert succeeded["detail"]["state"] == ["SUCCESS"]
    for name in (f"lakehouse-{env}-freshness-monitor",):
        assert rules[name]["ScheduleExpression"].startswith("rate(")


def _identity_statements(lakehouse: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for stack, template in lakehouse.templates():
        for cfn_type in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            for key, policy in resources(template, cfn_type).items():
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    found.append((f"{stack.stack_name}/{key}", statement))
        for key, role in resources(template, "AWS::IAM::Role").items():
            for inline in role["Properties"].get("Policies", []):
                for statement in inline["PolicyDocument"]["Statement"]:
                    found.append((f"{stack.stack_name}/{key}", statement))
    return found


def test_no_identity_policy_allows_a_wildcard_action(lakehouse: Synthesized) -> None:
    statements = _identity_statements(lakehouse)
    assert len(statements) > 50
    for where, statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert "*" not in action, f"{where}: wildcard action {action}"


def test_metric_publishing_is_scoped_to_the_environments_namespace(lakehouse: Synthesized) -> None:
    publishers = set()
    for where, statement in _identity_statements(lakehouse):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if "cloudwatch:PutMetricData" in actions:
            env = where.split("/")[0].split("-")[1]  # Lakehouse-<env>-<Part>/<resource>
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": f"Lakehouse/{env}"}}, where
            publishers.add(where.split("/")[0].rsplit("-", 1)[1])
    # one policy per application: the primary's (the Spark jobs and the Lambdas attach it) and the DR standby's
    assert publishers == {"Compute", "Dr"}
    for env in ("dev", "staging", "prod"):
        roles = resources(_ops(lakehouse, env), "AWS::IAM::Role")
        publishing = {k.split("Role")[0] for k, r in roles.items() if "JobMetricsPolicy" in json.dumps(r)}
        expected = {"LandingIntake", "CostReporter", "FreshnessMonitor"}
        if lakehouse.environments[env].dr is not None:
            expected.add("ReplicaVerifier")
        assert publishing == expected, env  # the failure notifier publishes none


def test_function_settings_match_what_the_code_reads(lakehouse: Synthesized, env_config: dict[str, Any]) -> None:
    config = env_config["prod"]
    functions = _our_functions(_ops(lakehouse, "prod"))
    cost = functions["lakehouse-prod-cost-reporter"]["Properties"]["Environment"]["Variables"]
    assert json.loads(cost["PRICES"]) == {
        "vcpu_hour": config.pricing.vcpu_hour,
        "memory_gb_hour": config.pricing.memory_gb_hour,
        "storage_gb_hour": config.pricing.storage_gb_hour,
    }
    verifier = functions["lakehouse-prod-replica-verifier"]["Properties"]
    assert verifier["Environment"]["Variables"]["REPLICA_REGION"] == config.dr_region
    assert len(verifier["Layers"]) == 1 and len(functions["lakehouse-prod-cost-reporter"]["Properties"]["Layers"]) == 1
    assert "Layers" not in functions["lakehouse-prod-landing-intake"]["Properties"]


def _flatten_arn(value: Any) -> str:
    """An ARN as text: ``Fn::Join`` joined, ``AWS::Partition`` as ``aws``; any other intrinsic fails the test."""
    if isinstance(value, str):
        return value
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_flatten_arn(p) for p in parts)
    raise AssertionError(f"not a deterministic ARN: {json.dumps(value)}")


def _exported_policies(lakehouse: Synthesized, env: str) -> dict[str, dict[str, Any]]:
    """Export name (or cross-region export parameter) -> the managed policy it exports, over the env's stacks."""
    found = {}
    for _stack, template in lakehouse.templates(env):
        stack_resources = template.get("Resources", {})
        exports = {o["Export"]["Name"]: o["Value"] for o in template.get("Outputs", {}).values() if "Export" in o}
        for writer in resources(template, "Custom::CrossRegionExportWriter").values():
            exports.update(writer["Properties"]["WriterProps"]["exports"])
        for name, value in exports.items():
            resource = stack_resources.get(value.get("Ref", "")) if isinstance(value, dict) else None
            if resource and resource["Type"] == "AWS::IAM::ManagedPolicy":
                found[name] = resource
    return found


def _function_statements(lakehouse: Synthesized, env: str) -> dict[str, list[dict[str, Any]]]:
    """Every statement of every managed policy attached to each function's role (its own and imported ones)."""
    template = _ops(lakehouse, env)
    exported = _exported_policies(lakehouse, env)
    roles = resources(template, "AWS::IAM::Role")
    statements: dict[str, list[dict[str, Any]]] = {}
    for name, function in _our_functions(template).items():
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert "Policies" not in role, f"{name}: inline policies"
        found = []
        for arn in role["ManagedPolicyArns"]:
            if "Ref" in arn:
                policy = template["Resources"][arn["Ref"]]
            elif "Fn::ImportValue" in arn:
                policy = exported[arn["Fn::ImportValue"]]
            elif "Fn::GetAtt" in arn and arn["Fn::GetAtt"][0].startswith("ExportsReader"):  # cross-region (DR)
                policy = exported[arn["Fn::GetAtt"][1]]
            else:
                raise AssertionError(f"{name}: unexpected managed policy {json.dumps(arn)}")
            found += policy["Properties"]["PolicyDocument"]["Statement"]
        statements[name.removeprefix(f"lakehouse-{env}-")] = found
    return statements


@pytest.mark.parametrize("env", ENVS)
def test_only_the_gold_readers_may_read_the_slots_parameter_and_only_it(
    lakehouse: Synthesized, env_config: dict[str, Any], env: str
) -> None:
    config = env_config[env]
    parameter = aws_names.slots_parameter_name(env, config.project)
    assert parameter == f"/lakehouse/{env}/slots"
    parameter_arn = f"arn:aws:ssm:{config.region}:{config.account}:parameter{parameter}"
    functions = _our_functions(_ops(lakehouse, env))
    statements = _function_statements(lakehouse, env)
    assert set(SLOT_READERS) <= set(statements)
    for name, found in statements.items():
        variables = functions[f"lakehouse-{env}-{name}"]["Properties"]["Environment"]["Variables"]
        ssm = [st for st in found if any(a.startswith("ssm:") for a in _actions(st))]
        if name in SLOT_READERS:
            assert variables["SLOTS_PARAMETER"] == parameter, name
            assert len(ssm) == 1, f"{name}: {ssm}"
            (statement,) = ssm
            assert statement["Effect"] == "Allow" and "Condition" not in statement, name
            assert _actions(statement) == ["ssm:GetParameter"], name
            assert _flatten_arn(statement["Resource"]) == parameter_arn, name  # exactly it: not a path, no wildcard
        else:
            assert "SLOTS_PARAMETER" not in variables, name
            assert ssm == [], f"{name} may use SSM: {ssm}"


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


@pytest.mark.parametrize("env", ENVS)
def test_who_may_describe_the_writers_executions(lakehouse: Synthesized, env: str) -> None:
    """The failure notifier (its alert) and the landing intake (whether an ended run was one the single-writer
    guard refused) describe the pipeline's and maintenance's executions, and nothing else does."""
    describing = {
        name: [st for st in found if "states:DescribeExecution" in _actions(st)]
        for name, found in _function_statements(lakehouse, env).items()
    }
    assert {name for name, found in describing.items() if found} == {"failure-notifier", "landing-intake"}
    for name in ("failure-notifier", "landing-intake"):
        (statement,) = describing[name]
        assert _actions(statement) == ["states:DescribeExecution"], name
        resources_ = sorted(_flatten_arn(r) for r in statement["Resource"])
        assert [r.rsplit(":", 2)[-2] for r in resources_] == [
            f"lakehouse-{env}-maintenance",
            f"lakehouse-{env}-pipeline",
        ]
        assert all(":execution:" in r and r.endswith(":*") for r in resources_), resources_
