"""Helpers shared by the CDK tests: the synthesized lakehouse and template queries.

(No ``__init__.py`` in tests/cdk: under pytest's default import mode it would make this folder the
package ``cdk`` and shadow the repository's ``cdk`` package; modules here are named uniquely instead.)
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
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
                    # CDK's own (the VPC's literal AZs, cfn-lint W3010) are not ours to count.
                    if not rule_id.startswith("CloudFormation-Validate::"):
                        found.append((construct.node.path, rule_id, str(reason)))
    return found


def flatten_join(value: Any, render: Callable[[Any], str] | None = None) -> str:
    """Render an ``Fn::Join`` (e.g. a state machine definition) as text, each intrinsic as ``TOKEN``.

    ``render`` renders the intrinsics instead (``readable_token`` names them).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten_join(p, render) for p in parts)
    return render(value) if render else "TOKEN"


_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
_CDK_HASH = re.compile(r"[0-9A-F]{8}")


def readable_token(value: Any) -> str:
    """An intrinsic as a readable name: an export of ``GoldBucket…`` -> ``GoldBucket``, ``{"Ref": X}`` -> X.

    The names hold no character reserved in JSON or in intrinsic-function strings, so a definition rendered
    with them stays valid JSON and its ``States.Format`` literals stay evaluable.
    """
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        exported = re.search(r"ExportsOutput(?:Ref|FnGetAtt)(\w+)$", value["Fn::ImportValue"])
        assert exported, value
        return _CDK_HASH.sub("", exported.group(1))
    if isinstance(value, dict) and "Ref" in value:
        return _PSEUDO.get(value["Ref"], _CDK_HASH.sub("", value["Ref"]))
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"{_CDK_HASH.sub('', logical_id)}{attribute}"
    raise AssertionError(f"no readable rendering for {value!r}")


# --- A small, strict emulation of the Step Functions pieces the release states use ---------------------
_PATH = re.compile(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
_FUNCTION = re.compile(r"States\.([A-Za-z]+)\(")


def json_path(data: Any, path: str) -> Any:
    """``$.a.b`` of ``data`` (dotted field names only); a missing field raises, as Step Functions fails."""
    match = _PATH.fullmatch(path)
    if not match:
        raise ValueError(f"unsupported path {path!r}")
    for field in filter(None, match.group(1).split(".")):
        if not isinstance(data, dict) or field not in data:
            raise KeyError(f"{path}: no field {field!r}")
        data = data[field]
    return data


@dataclass(frozen=True)
class _Literal:
    """A string literal, split at its ``{}`` placeholders (escaped braces are plain text)."""

    pieces: tuple[str, ...]


def evaluate_intrinsic(expression: str, data: Any) -> Any:
    """Evaluate ``States.Format``, ``States.Array``, string literals and ``$`` paths against ``data``.

    Strict like the service: a reserved character (``' { } \\``) in a literal must be escaped with a
    backslash, except a ``{}`` placeholder, which only ``States.Format``'s template may hold, and each needs
    exactly one argument. Anything else (other functions, numbers, unknown escapes) raises ``ValueError``.
    """
    value, end = _parse(expression, 0, data)
    if end != len(expression):
        raise ValueError(f"trailing text at {end}: {expression[end:]!r}")
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, _Literal):
        if len(value.pieces) != 1:
            raise ValueError(f"placeholder {{}} outside a States.Format template: {value.pieces}")
        return value.pieces[0]
    return value


def _parse(text: str, at: int, data: Any) -> tuple[Any, int]:
    while at < len(text) and text[at] == " ":
        at += 1
    if text.startswith("'", at):
        return _parse_literal(text, at + 1)
    if text.startswith("$", at):
        match = _PATH.match(text, at)
        assert match
        return json_path(data, match.group(0)), match.end()
    call = _FUNCTION.match(text, at)
    if not call:
        raise ValueError(f"unexpected text at {at}: {text[at:]!r}")
    arguments: list[Any] = []
    at = call.end()
    while not text.startswith(")", at):
        value, at = _parse(text, at, data)
        arguments.append(value)
        while at < len(text) and text[at] == " ":
            at += 1
        if text.startswith(",", at):
            at += 1
        elif not text.startswith(")", at):
            raise ValueError(f"expected ',' or ')' at {at}: {text[at:]!r}")
    return _call(call.group(1), arguments), at + 1


def _parse_literal(text: str, at: int) -> tuple[_Literal, int]:
    pieces, current = [], ""
    while True:
        if at >= len(text):
            raise ValueError("unterminated string literal")
        char = text[at]
        if char == "\\":
            escaped = text[at + 1 : at + 2]
            if escaped not in ("'", "{", "}", "\\"):
                raise ValueError(f"unknown escape \\{escaped} at {at}")
            current += escaped
            at += 2
        elif char == "'":
            return _Literal((*pieces, current)), at + 1
        elif text.startswith("{}", at):
            pieces.append(current)
            current = ""
            at += 2
        elif char in "{}":
            raise ValueError(f"unescaped {char!r} at {at} in a string literal")
        else:
            current += char
            at += 1


def _call(function: str, arguments: list[Any]) -> Any:
    if function == "Array":
        return [_plain(a) for a in arguments]
    if function == "Format":
        if not arguments or not isinstance(arguments[0], _Literal):
            raise ValueError("States.Format takes a string literal template first")
        template, values = arguments[0].pieces, [_plain(a) for a in arguments[1:]]
        if len(values) != len(template) - 1:
            raise ValueError(f"States.Format: {len(template) - 1} placeholders, {len(values)} arguments")
        if not all(isinstance(v, str) for v in values):
            raise ValueError(f"States.Format: only string arguments are emulated, got {values!r}")
        out = template[0]
        for value, piece in zip(values, template[1:], strict=True):
            out += value + piece
        return out
    raise ValueError(f"States.{function} is not emulated")


def run_states(states: dict[str, Any], start: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Run ``Pass`` (``Parameters``, ``ResultPath``) and ``Choice`` (``StringEquals``) states from ``start``.

    Returns the first state of any other type and the data it would get.
    """
    current = start
    data = copy.deepcopy(data)
    while states[current]["Type"] in ("Pass", "Choice"):
        state = states[current]
        if state["Type"] == "Choice":
            assert set(state) <= {"Type", "Comment", "Choices", "Default"}, state
            matching = []
            for rule in state["Choices"]:
                assert set(rule) == {"Variable", "StringEquals", "Next"}, rule
                if json_path(data, rule["Variable"]) == rule["StringEquals"]:
                    matching.append(rule["Next"])
            current = matching[0] if matching else state["Default"]
            continue
        assert set(state) <= {"Type", "Comment", "Parameters", "ResultPath", "Next"}, state
        result = {
            key.removesuffix(".$"): json_path(data, value) if key.endswith(".$") else value
            for key, value in state["Parameters"].items()
        }
        field = state["ResultPath"].removeprefix("$.")
        assert re.fullmatch(r"[A-Za-z]+", field), state["ResultPath"]
        data[field] = result
        current = state["Next"]
    return current, data
