"""Compliance gates: the nag packs pass, acknowledgements stay within budget, cfn-lint finds no error."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from cdk_testkit import Synthesized, acknowledgements
from cfnlint.api import lint

from cdk.compliance import PACKS, add_compliance_checks

BUDGET_FILE = Path(__file__).with_name("nag_acknowledgements_budget.json")


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
