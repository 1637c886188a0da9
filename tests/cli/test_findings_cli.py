"""``lakehouse findings list|macie-job`` on its own against moto: what it reports, and bad input (one line,
exit 2, nothing changed). The runbook that uses it (security-finding.md) runs in test_guardrail_runbooks.py."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from test_guardrail_runbooks import ENV, REGION, deploy_guardrails, one_line, run, security_findings

from lakehouse.ops.guard import Deployed


@pytest.fixture
def deployed(aws, monkeypatch) -> Any:
    return deploy_guardrails(ENV, monkeypatch)


def test_list_reports_high_findings_and_guardduty(deployed, capsys) -> None:
    code, out, _ = run(capsys, "findings", "list", "--env", ENV)
    assert code == 0 and "no active finding of severity HIGH or above since 30d" in out
    assert "S3 protection ENABLED" in out
    security_findings(hours_ago=3)
    code, out, _ = run(capsys, "findings", "list", "--env", ENV)
    assert code == 1 and "Exfiltration:S3/AnomalousBehavior" in out and "NON_COMPLIANT" not in out
    assert "1 active finding(s) of severity HIGH or above" in out
    code, out, _ = run(capsys, "findings", "list", "--env", ENV, "--severity", "MEDIUM")
    assert code == 1 and "NON_COMPLIANT" in out and "2 active finding(s)" in out
    code, out, _ = run(capsys, "findings", "list", "--env", ENV, "--since", "1h")
    assert code == 0 and "no active finding" in out


def test_list_bad_input_is_one_line(deployed, capsys) -> None:
    code, _, err = run(capsys, "findings", "list", "--env", ENV, "--severity", "SEVERE")
    assert code == 2 and "--severity 'SEVERE': one of CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL" in one_line(err)
    code, _, err = run(capsys, "findings", "list", "--env", ENV, "--since", "soon")
    assert code == 2 and "--since 'soon'" in one_line(err)
    boto3.client("securityhub", region_name=REGION).disable_security_hub()
    code, _, err = run(capsys, "findings", "list", "--env", ENV)
    assert code == 2 and "Security Hub is not enabled" in one_line(err)


def test_macie_job_prints_the_silver_and_gold_job_and_refuses_without_yes(deployed, capsys) -> None:
    code, out, _ = run(capsys, "findings", "macie-job", "--env", ENV)
    assert code == 0 and '"lakehouse-test-silver-bucket"' in out and '"lakehouse-test-gold-bucket"' in out
    assert "landing" not in out and "_delta_log/" in out
    code, _, err = run(capsys, "findings", "macie-job", "--env", ENV, "--create")  # no terminal, no --yes
    assert code == 2 and "pass --yes" in one_line(err)


def test_macie_job_create_calls_macie(deployed, capsys, monkeypatch) -> None:
    """moto has no classification jobs: the Macie client is stubbed, the call it gets is checked."""
    macie = boto3.client("macie2", region_name=REGION)
    stub = Stubber(macie)
    stub.add_response("create_classification_job", {"jobId": "job-1", "jobArn": "arn:job-1"})
    real = Deployed.client
    monkeypatch.setattr(
        Deployed,
        "client",
        lambda self, service, region=None: macie if service == "macie2" else real(self, service, region),
    )
    with stub:
        code, out, _ = run(capsys, "findings", "macie-job", "--env", ENV, "--create", "--yes")
    assert code == 0 and "created Macie classification job job-1" in out
    stub.assert_no_pending_responses()
