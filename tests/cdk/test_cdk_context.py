"""`make synth` (the CDK CLI) works on a fresh clone without AWS credentials.

The CLI answers every context lookup the app registers as missing by calling AWS, unless the committed
cdk.context.json already holds the answer. The one lookup the app makes: CDK's ``Vpc`` reads the stack's
availability zones (``availability-zones:account=...:region=...``) to check the AZs the Network stack names
(``network.availability_zones`` in cdk.json) against them, although it uses the named ones. Without the answer a
synth without credentials fails ("Need to perform AWS calls for account ..."); tests/functional/test_quick_start.py's
slow test runs ``make synth`` itself. Reads the session's synthesized assembly (tests/cdk/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from cdk_testkit import REPO_ROOT, Synthesized

from cdk.config import EnvironmentConfig


def test_every_lookup_is_answered_by_cdk_context_json(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig]
) -> None:
    answered = json.loads((REPO_ROOT / "cdk.context.json").read_text(encoding="utf-8"))
    manifest = json.loads((Path(lakehouse.assembly.directory) / "manifest.json").read_text(encoding="utf-8"))
    missing = {m["key"] for m in manifest.get("missing", [])}
    assert missing <= set(answered), f"lookups cdk.context.json does not answer: {sorted(missing - set(answered))}"
    for env in env_config.values():
        key = f"availability-zones:account={env.account}:region={env.region}"
        if env.network.enabled:
            assert key in missing, f"{env.name}: the Network stack's VPC no longer looks up {key}: drop it"
            assert set(env.network.availability_zones) <= set(answered[key]), f"{env.name}: AZs outside {key}"
