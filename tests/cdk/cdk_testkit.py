"""Helpers shared by the CDK tests: the synthesized lakehouse and template queries.

(No ``__init__.py`` in tests/cdk: under pytest's default import mode it would make this folder the
package ``cdk`` and shadow the repository's ``cdk`` package; modules here are named uniquely instead.)
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # the cdk/, stacks/ and job_assets/ packages, as app.py sees them
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # major version(s) to silence

from aws_cdk import App, Stack, Validations, cx_api  # noqa: E402

from cdk.compliance import add_compliance_checks  # noqa: E402
from cdk.config import LakehouseConfig, load_config  # noqa: E402
from stacks.environment import EnvironmentStacks, build_environment  # noqa: E402

CDK_JSON = REPO_ROOT / "cdk.json"


def cdk_context() -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text())["context"]


@dataclass(frozen=True, kw_only=True)
class Synthesized:
    app: App
    assembly: cx_api.CloudAssembly
    config: LakehouseConfig
    environments: dict[str, EnvironmentStacks]

    def template(self, stack: Stack) -> dict[str, Any]:
        return self.assembly.get_stack_by_name(stack.stack_name).template

    def stacks(self, env: str | None = None) -> Iterator[Stack]:
        for name, stacks in self.environments.items():
            if env is None or env == name:
                yield from stacks.all()

    def templates(self, env: str | None = None) -> Iterator[tuple[Stack, dict[str, Any]]]:
        for stack in self.stacks(env):
            yield stack, self.template(stack)


def synthesize_all(outdir: Path, build_dir: Path) -> Synthesized:
    """All environments in one app with the compliance packs; raises if any finding is unacknowledged."""
    context = cdk_context()
    config = load_config(context["lakehouse"])
    app = App(outdir=str(outdir), context=context)
    environments = {env.name: build_environment(app, env, build_dir=build_dir) for env in config.select("all")}
    add_compliance_checks(app)
    assembly = app.synth()
    return Synthesized(app=app, assembly=assembly, config=config, environments=environments)


def resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == cfn_type}


def acknowledgements(app: App) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) for every acknowledgement in the app's construct tree."""
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY and entry.data:
                for rule_id, reason in entry.data.items():
                    found.append((construct.node.path, rule_id, str(reason)))
    return found


def flatten_join(value: Any) -> str:
    """Render an ``Fn::Join`` (e.g. a state machine definition) as text, each intrinsic as ``TOKEN``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten_join(p) for p in parts)
    return "TOKEN"
