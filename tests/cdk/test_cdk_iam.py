"""Least privilege: no wildcard actions, '*' resources only where AWS requires them, layers kept apart."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from cdk_testkit import Synthesized, resources

# Actions AWS only accepts on Resource "*": X-Ray traces, CloudWatch metrics, vended log delivery.
STAR_RESOURCE_ALLOWLIST = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "cloudwatch:PutMetricData",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "lakeformation:GetDataAccess",  # no resource-level permissions: Lake Formation decides per table and column
    # Lambda's VPC attachment (AWSLambdaVPCAccessExecutionRole v3 grants the same on "*").
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
WRITE_ACTIONS = {"s3:PutObject", "s3:DeleteObject"}
_BUCKET = re.compile(
    r'"Fn::GetAtt": \["(Landing|Bronze|Silver|Gold|Artifacts)Bucket[0-9A-F]{8}", "Arn"\]\}(?:, "([^"]*)")?'
)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield logical_id, props["PolicyDocument"]
        elif resource["Type"] == "AWS::IAM::Role":
            for inline in props.get("Policies", []):
                yield logical_id, inline["PolicyDocument"]


def statements(lakehouse: Synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack, template in lakehouse.templates():
        for logical_id, document in policy_documents(template):
            for statement in document["Statement"]:
                yield stack.stack_name, logical_id, statement


def test_no_statement_has_a_wildcard_action(lakehouse: Synthesized) -> None:
    for stack, logical_id, statement in statements(lakehouse):
        for action in as_list(statement.get("Action", [])):
            assert action != "*" and not action.endswith(":*"), (stack, logical_id, action)


def test_star_resources_only_for_allowlisted_actions(lakehouse: Synthesized) -> None:
    for stack, logical_id, statement in statements(lakehouse):
        if "*" in as_list(statement.get("Resource", [])):
            actions = set(as_list(statement["Action"]))
            assert actions <= STAR_RESOURCE_ALLOWLIST, (stack, logical_id, actions - STAR_RESOURCE_ALLOWLIST)


def test_no_inline_policies_on_our_roles(lakehouse: Synthesized) -> None:
    """Every role we define gets managed policies; only CDK-internal providers keep inline ones."""
    for stack, template in lakehouse.templates():
        for logical_id, _ in resources(template, "AWS::IAM::Policy").items():
            pytest.fail(f"{stack.stack_name}/{logical_id} is an inline policy")


def bucket_access(lakehouse: Synthesized, env: str) -> dict[str, dict[str, set[tuple[str, str]]]]:
    """job -> {"read"|"write": {(bucket, key pattern)}} from the managed policies on each job role."""
    stacks = lakehouse.environments[env]
    storage, compute = lakehouse.template(stacks.storage), lakehouse.template(stacks.compute)
    exports = {o["Export"]["Name"]: o["Value"] for o in storage.get("Outputs", {}).values() if "Export" in o}
    access: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for logical_id, role in resources(compute, "AWS::IAM::Role").items():
        job = re.match(r"(Bronze|Silver|Gold|Maintenance)JobRole", logical_id)
        if not job:
            continue
        granted = access.setdefault(job.group(1).lower(), {"read": set(), "write": set()})
        for arn in role["Properties"]["ManagedPolicyArns"]:
            if "Fn::ImportValue" not in arn:
                continue
            policy = storage["Resources"][exports[arn["Fn::ImportValue"]]["Ref"]]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = set(as_list(statement["Action"]))
                kind = "write" if actions & WRITE_ACTIONS else "read" if "s3:GetObject" in actions else None
                if kind:
                    for bucket, key in _BUCKET.findall(json.dumps(statement["Resource"])):
                        granted[kind].add((bucket.lower(), key))
    return access


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_layer_role_reads_and_writes_only_its_own_layers(lakehouse: Synthesized, env: str) -> None:
    access = bucket_access(lakehouse, env)
    logs = ("artifacts", "/emr-logs/*")
    jobs = ("artifacts", "/jobs/*")
    assert access["bronze"]["write"] == {("bronze", "/*"), logs}
    assert access["silver"]["write"] == {("silver", "/*"), logs}
    assert access["gold"]["write"] == {("gold", "/*"), logs}
    assert access["maintenance"]["write"] == {("bronze", "/*"), ("silver", "/*"), ("gold", "/*"), logs}
    assert access["bronze"]["read"] == {("landing", "/*"), ("bronze", "/*"), jobs, logs}
    assert access["silver"]["read"] == {("bronze", "/*"), ("silver", "/*"), jobs, logs}
    assert access["gold"]["read"] == {("silver", "/*"), ("gold", "/*"), jobs, logs}
    # The separations the issue names, spelled out.
    assert ("gold", "/*") not in access["bronze"]["write"]
    assert ("bronze", "/*") not in access["gold"]["write"]
    assert ("landing", "/*") not in access["gold"]["read"] | access["silver"]["read"]


def test_job_roles_trust_only_emr_serverless_in_this_account(lakehouse: Synthesized) -> None:
    compute = lakehouse.template(lakehouse.environments["staging"].compute)
    job_roles = {k: v for k, v in resources(compute, "AWS::IAM::Role").items() if "JobRole" in k}
    assert len(job_roles) == 4
    for role in job_roles.values():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "222222222222"}}
        assert "Policies" not in role["Properties"]


def test_state_machines_pass_only_job_roles_to_emr_serverless(lakehouse: Synthesized) -> None:
    compute = lakehouse.template(lakehouse.environments["dev"].compute)
    runner = next(v for k, v in resources(compute, "AWS::IAM::ManagedPolicy").items() if k.startswith("JobRunner"))
    by_sid = {s["Sid"]: s for s in runner["Properties"]["PolicyDocument"]["Statement"]}
    pass_role = by_sid["PassJobRuntimeRoles"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}}
    assert sorted(r["Fn::GetAtt"][0][:-8] for r in pass_role["Resource"]) == [
        "BronzeJobRole",
        "GoldJobRole",
        "MaintenanceJobRole",
        "SilverJobRole",
    ]
    events = by_sid["SyncJobRunEvents"]
    assert sorted(events["Action"]) == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
    assert events["Resource"].endswith(":rule/StepFunctionsGetEventsForEMRServerlessJobRule")
    assert by_sid["StartJobRuns"]["Action"] == "emr-serverless:StartJobRun"
    assert json.dumps(by_sid["TrackJobRuns"]["Resource"]).endswith('"/jobruns/*"]]}')


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_managed_policy_is_attached(lakehouse: Synthesized, env: str) -> None:
    """A customer-managed policy no role attaches is access nobody needs, and each costs an IAM5 acknowledgement:
    every one names its roles, is in a role's ``ManagedPolicyArns`` in its own stack, or is exported (an
    output, or a cross-region export) to the stacks whose roles attach it."""
    templates = [template for _, template in lakehouse.templates(env)]
    unattached = []
    for template in templates:
        for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy").items():
            if policy["Properties"].get("Roles"):
                continue  # attaches itself
            attachments = [
                r["Properties"].get("ManagedPolicyArns", [])
                for r in template["Resources"].values()
                if r["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
            ]
            exports = [
                r["Properties"]
                for r in template["Resources"].values()
                if r["Type"] == "Custom::CrossRegionExportWriter"
            ]
            mentions = json.dumps([attachments, template.get("Outputs", {}), exports])
            if logical_id not in mentions:
                unattached.append(logical_id)
    assert unattached == []


def test_a_star_resource_policy_takes_star_statements_only() -> None:
    """The shared policy of resource-less actions refuses a statement that names a resource (it would be
    acknowledged as '*' without being one) or has no sid."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_iam as iam

    from cdk.constructs.star_resource_policy import StarResourcePolicy, StarResourcePolicyProps

    stack = Stack(App(), "Probe")
    for bad in (
        iam.PolicyStatement(sid="Scoped", actions=["s3:GetObject"], resources=["arn:aws:s3:::b/*"]),
        iam.PolicyStatement(actions=["xray:PutTraceSegments"], resources=["*"]),
    ):
        with pytest.raises(ValueError, match="on '\\*' only"):
            StarResourcePolicy(
                stack,
                f"P{id(bad)}",
                props=StarResourcePolicyProps(
                    description="d", statements=[bad], reason="X-Ray trace writes take no resource ARN."
                ),
            )
    good = iam.PolicyStatement(sid="Tracing", actions=["xray:PutTraceSegments"], resources=["*"])
    policy = StarResourcePolicy(
        stack,
        "Good",
        props=StarResourcePolicyProps(
            description="d", statements=[good], reason="X-Ray trace writes take no resource ARN."
        ),
    )
    assert policy.policy.document.to_json()["Statement"] == [good.to_statement_json()]
