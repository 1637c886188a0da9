"""Compliance gates: the nag packs pass, acknowledgements stay within budget, cfn-lint finds no error."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from cdk_testkit import REPO_ROOT, Synthesized, acknowledgements
from cfnlint.api import lint

from cdk.compliance import LAMBDA_DLQ, LAMBDA_IN_VPC, PACKS, add_compliance_checks

BUDGET_FILE = Path(__file__).with_name("nag_acknowledgements_budget.json")
ENVS = ("dev", "staging", "prod")


def test_lakehouse_synthesizes_clean_under_all_packs(lakehouse: Synthesized) -> None:
    """The fixture's synth ran the three packs; reaching here means no unacknowledged finding.

    The only report is CDK's own CloudFormation validation, with nothing but suppressed warnings (the network's
    subnets name their AZs: W3010, acknowledged by CDK itself)."""
    report = json.loads(Path(lakehouse.assembly.directory, "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert (plugin["pluginName"], plugin["conclusion"], plugin["violations"]) == (
            "CloudFormation Validate",
            "success",
            [],
        )
        assert {s["ruleName"] for s in plugin["suppressedViolations"]} == {"W3010"}


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    """The gate bites: one bare bucket breaks synth, naming rules from each pack."""
    app = App(outdir=str(tmp_path))
    s3.Bucket(Stack(app, "Probe"), "Bare")
    add_compliance_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    for pack, rule in (
        ("AwsSolutions", "AwsSolutions-S1"),
        ("NIST.800.53.R5", "NIST.800.53.R5-S3BucketLoggingEnabled"),
        ("HIPAA.Security", "HIPAA.Security-S3BucketLoggingEnabled"),
    ):
        assert f"Acknowledge with '{pack}::{rule}'" in str(failure.value)


def test_acknowledgements_within_committed_budget(lakehouse: Synthesized) -> None:
    budget = json.loads(BUDGET_FILE.read_text())
    found = Counter(path.split("/", 1)[0].split("-")[1] for path, _, _ in acknowledgements(lakehouse.app))
    for env, count in found.items():
        assert count <= budget[env], f"{env}: {count} acknowledgements, budget {budget[env]}: justify the rise"
        assert count == budget[env], f"{env}: {count} acknowledgements; lower the budget in {BUDGET_FILE.name}"
    assert set(found) == set(budget) - {"_comment"}


CHECKLIST = REPO_ROOT / "docs" / "security" / "SECURITY_CHECKLIST.md"
CAUSES_HEADING = "### cdk-nag acknowledgements by cause"


def acknowledgement_cause(path: str, rule_id: str) -> str:
    """The cause an acknowledgement belongs to, as the checklist's table names it."""
    if "/AccessLogs/Bucket" in path:
        return "access-log-bucket"
    if "S3BucketReplicationEnabled" in rule_id:
        return "not-replicated"
    if rule_id == "AwsSolutions-IAM5[Resource::*]":
        return "no-resource-arn"
    if rule_id.startswith("AwsSolutions-IAM5"):
        on_objects = re.search(r"Resource::(<\w*Bucket\w*\.Arn>|arn:aws:s3:::)", rule_id)
        return "bucket-objects" if on_objects else "run-ids"
    if rule_id.startswith("AwsSolutions-IAM4"):
        return "aws-managed-policy"
    if rule_id.endswith("VPCDefaultSecurityGroupClosed"):
        return "default-security-group"
    if "/Custom::CDKBucketDeployment" in path and rule_id in ("AwsSolutions-L1", *LAMBDA_DLQ):
        return "cdk-deploy-handler"
    if rule_id in (*LAMBDA_DLQ, *LAMBDA_IN_VPC):
        return "our-lambda"
    raise AssertionError(f"{path}: {rule_id} has no cause in {CHECKLIST.name}: add a row (and a reason)")


def documented_causes() -> dict[str, tuple[int, ...]]:
    """The checklist's table: cause -> (dev, staging, prod)."""
    section = CHECKLIST.read_text().split(CAUSES_HEADING, 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([a-z-]+)` \| (\d+) \| (\d+) \| (\d+) \|", section, flags=re.MULTILINE)
    return {cause: tuple(int(n) for n in counts) for cause, *counts in rows}


def test_acknowledgements_by_cause_are_the_checklists(lakehouse: Synthesized) -> None:
    """Each acknowledgement falls under one documented cause, and the counts per cause are the checklist's: a new
    acknowledgement shows up in review as a changed row, with the cause that has to justify it."""
    found: Counter[tuple[str, str]] = Counter()
    for path, annotated_id, _ in acknowledgements(lakehouse.app):
        env = path.split("/", 1)[0].split("-")[1]
        found[(acknowledgement_cause(path, annotated_id.removeprefix("Annotation::")), env)] += 1
    computed = {cause: tuple(found[(cause, env)] for env in ENVS) for cause, _ in found}
    assert documented_causes() == computed
    budget = json.loads(BUDGET_FILE.read_text())
    assert tuple(sum(counts[i] for counts in computed.values()) for i in range(3)) == tuple(budget[e] for e in ENVS)


def test_every_acknowledgement_is_specific(lakehouse: Synthesized) -> None:
    for path, annotated_id, reason in acknowledgements(lakehouse.app):
        rule_id = annotated_id.removeprefix("Annotation::")
        assert rule_id.startswith(tuple(f"{p}-" for p in PACKS)), (path, rule_id)
        assert len(reason) >= 25, (path, rule_id, reason)
        if rule_id.startswith("AwsSolutions-IAM5"):
            assert rule_id.endswith("]") and "[" in rule_id, f"{path}: IAM5 must name its finding"
        # on one resource: never on a stack or on the app
        assert path.count("/") >= 1, (path, rule_id)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_cfn_lint_has_no_errors(lakehouse: Synthesized, env: str) -> None:
    for stack, template in lakehouse.templates(env):
        matches = lint(json.dumps(template), regions=[stack.region])
        errors = [str(m) for m in matches if m.rule.id.startswith("E")]
        assert errors == [], (stack.stack_name, errors)
