"""checkov over every synthesized template of every environment, once per session, against a committed baseline.

Every skipped finding in ``checkov_baseline.json`` is ``{check_id: {"<Stack part>/<resource>": reason}}`` (the
resource's logical id without CDK's hash, so one entry covers all environments). The test fails on a finding
the baseline does not explain and on a baseline entry no template produces any more (remove it). checkov runs
from its own venv, ``.venv-checkov`` (``make install``; ``LAKEHOUSE_CHECKOV`` names another executable).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cdk_testkit import REPO_ROOT, Synthesized

from lakehouse.ops.envdiff import SINGLETON_ADDRESSES

BASELINE = Path(__file__).with_name("checkov_baseline.json")
CHECKOV = Path(os.environ.get("LAKEHOUSE_CHECKOV", REPO_ROOT / ".venv-checkov" / "bin" / "checkov"))
_HASH = re.compile(r"[0-9A-F]{8}$")


def _resource_key(file_path: str, resource: str) -> str:
    """``Lakehouse-prod-Storage.template.json`` + ``AWS::S3::Bucket.AccessLogsBucketCD784A59`` ->
    ``Storage/AccessLogsBucket``."""
    part = Path(file_path).name.removesuffix(".template.json").split("-", 2)[2]
    return f"{part}/{_HASH.sub('', SINGLETON_ADDRESSES.sub('', resource.split('.', 1)[1]))}"


@pytest.fixture(scope="module")
def findings(lakehouse: Synthesized) -> dict[tuple[str, str], set[str]]:
    """(check id, resource key) -> the environments with that failed check; one checkov run, all templates."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov not installed at {CHECKOV}: run `make install` (it creates .venv-checkov)")
    files = [f"{s.stack_name}.template.json" for s in lakehouse.stacks()]
    command = [str(CHECKOV), "--framework", "cloudformation", "-o", "json", "--compact", "--quiet", "--skip-download"]
    for name in files:
        command += ["-f", name]
    started = time.monotonic()
    offline = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}  # no PyPI, no API
    run = subprocess.run(
        command, cwd=lakehouse.assembly.directory, capture_output=True, text=True, check=False, env=offline
    )
    print(f"checkov: {len(files)} templates in {time.monotonic() - started:.1f} s")
    assert run.returncode in (0, 1), run.stderr[-2000:]
    reports: Any = json.loads(run.stdout)
    found: dict[tuple[str, str], set[str]] = {}
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report["results"]["failed_checks"]:
            env = Path(check["file_path"]).name.split("-")[1]
            found.setdefault((check["check_id"], _resource_key(check["file_path"], check["resource"])), set()).add(env)
    return found


def test_every_finding_is_in_the_baseline(findings: dict[tuple[str, str], set[str]]) -> None:
    baseline = json.loads(BASELINE.read_text())
    unexplained = [
        f"{c} {r} ({', '.join(sorted(e))})" for (c, r), e in sorted(findings.items()) if r not in baseline.get(c, {})
    ]
    assert not unexplained, "checkov findings without a reason in checkov_baseline.json:\n" + "\n".join(unexplained)


def test_every_baseline_entry_still_matches_a_finding(findings: dict[tuple[str, str], set[str]]) -> None:
    baseline = json.loads(BASELINE.read_text())
    stale = [
        f"{c} {r}"
        for c, entries in baseline.items()
        if not c.startswith("_")
        for r in entries
        if (c, r) not in findings
    ]
    assert not stale, "baseline entries no template produces any more (remove them):\n" + "\n".join(stale)


def test_every_baseline_entry_has_a_reason() -> None:
    baseline = json.loads(BASELINE.read_text())
    for check, entries in baseline.items():
        if check.startswith("_"):
            continue
        assert re.fullmatch(r"CKV2?_AWS_\d+", check), check
        for resource, reason in entries.items():
            assert "/" in resource and len(reason) >= 30, f"{check} {resource}: give the resource and a real reason"
