"""One snapshot per stack, asset hashes and the job-assets version masked.

Review a snapshot diff like code: it is the exact CloudFormation change a deploy would make.
Update with ``python -m pytest tests/cdk/test_cdk_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cdk_testkit import Synthesized, cdk_context
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from cdk.config import load_config

_MASKS = (
    (re.compile(r"\b[0-9a-f]{64}\b"), "<asset-hash>"),  # CDK asset hashes (S3 keys, asset paths)
    (re.compile(r"jobs/[0-9a-f]{16}/"), "jobs/<job-assets-version>/"),  # content hash of job_assets/
)
STACKS = [
    stack
    for env in load_config(cdk_context()["lakehouse"]).select("all")
    for stack in [
        env.stack_name(part)
        for part in (("Network",) if env.network.enabled else ())
        + (("Dr",) if env.features.replication else ())
        + ("Storage", "Alerting", "Compute", "Orchestration", "Ops", "Observability")
        + (("Security",) if env.security.detection.any else ())
    ]
]


def masked(template: dict[str, Any], version: str) -> dict[str, Any]:
    """``version`` (the job-assets version) is masked wherever it stands: URIs, parameters, the fallback state."""
    text = json.dumps(template, sort_keys=True)
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return json.loads(text.replace(version, "<job-assets-version>"))


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.with_defaults(extension_class=JSONSnapshotExtension)


@pytest.mark.parametrize("stack_name", STACKS)
def test_stack_template(lakehouse: Synthesized, snapshot_json: SnapshotAssertion, stack_name: str) -> None:
    template = lakehouse.assembly.get_stack_by_name(stack_name).template
    (version,) = {stacks.compute.job_assets.version for stacks in lakehouse.environments.values()}
    assert masked(template, version) == snapshot_json
