"""`lakehouse env diff A B`: how two environments differ, in their configuration and in what they deploy.

Two views:

* **config**: every ``cdk.json`` setting of ``environments.<A>`` and ``<B>`` by dotted path, where the
  values differ or one side lacks it;
* **templates**: both environments synthesized (no AWS call, no cdk-nag), stacks paired by their part
  (``Lakehouse-A-Storage`` with ``Lakehouse-B-Storage``), resources by logical id, properties by path.
  Values are compared after each side's own names are replaced by placeholders (``<prefix>``,
  ``<account>``, ``<region>``, ``<dr_region>``), so what shows is what really differs (capacity, retention,
  replication, alarms), not the environment's name in every ARN.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..checkout import CheckoutError, load_cdk_config

MISSING = "<absent>"


class EnvDiffError(Exception):
    """Unknown environment, no checkout here, an invalid cdk.json: one line."""


@dataclass(frozen=True)
class Change:
    """One setting or property that differs: its dotted path and its value in A and in B (``MISSING`` when absent)."""

    path: str
    a: Any
    b: Any


@dataclass
class StackDiff:
    """How one stack differs between two environments: resources only one side deploys, and changed properties."""

    part: str
    only_in_a: list[str] = field(default_factory=list)
    """``LogicalId (Type)`` of resources only A deploys."""
    only_in_b: list[str] = field(default_factory=list)
    changed: dict[str, list[Change]] = field(default_factory=dict)
    """Logical id -> its property changes."""

    @property
    def empty(self) -> bool:
        return not (self.only_in_a or self.only_in_b or self.changed)


@dataclass
class EnvDiff:
    """Everything ``lakehouse env diff A B`` reports: cdk.json settings, stacks only one side deploys, and each
    stack's resource differences.
    """

    a: str
    b: str
    config: list[Change]
    stacks_only_in_a: list[str]
    stacks_only_in_b: list[str]
    stacks: list[StackDiff]

    def as_dict(self) -> dict[str, Any]:
        """The diff as plain data (``lakehouse env diff --json``)."""
        return asdict(self)


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaf values by dotted path (list items as ``[i]``)."""
    if isinstance(value, Mapping):
        if not value and prefix:
            yield prefix, {}
        for key in sorted(value):
            yield from flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        if not value and prefix:
            yield prefix, []
        for i, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{i}]")
    else:
        yield prefix, value


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    """The leaf values that differ between two nested mappings, by dotted path, sorted.

    Examples:
        >>> compare({"emr": {"max_cpu": 8}, "dr": True}, {"emr": {"max_cpu": 16}, "dr": True})
        [Change(path='emr.max_cpu', a=8, b=16)]
    """
    left, right = dict(flatten(a)), dict(flatten(b))
    return [
        Change(path, left.get(path, MISSING), right.get(path, MISSING))
        for path in sorted(set(left) | set(right))
        if left.get(path, MISSING) != right.get(path, MISSING)
    ]


def _placeholders(config: Any) -> list[tuple[str, str]]:
    """Every form the stacks spell an environment's own names in, longest first."""
    env, project = config.name, config.project
    compact = lambda region: region.replace("-", "")  # noqa: E731  (eu-central-1 -> eucentral1, in export names)
    pairs = [
        (f"Lakehouse-{env}-", "Lakehouse-<env>-"),  # stack names
        (f"Lakehouse{env}", "Lakehouse<env>"),  # stack names inside generated ids (Sids, export names)
        (f"Lakehouse{env.capitalize()}", "Lakehouse<Env>"),  # PascalCase state and construct names
        (f"{project}{env.capitalize()}", "<Prefix>"),
        (f"{project}{env}", "<prefix>"),
        (f"{project}_{env}", "<prefix_>"),  # Glue database names
        (f"Lakehouse/{env}", "Lakehouse/<env>"),  # our metric namespace
        (f"/{project}/{env}/", "/<project>/<env>/"),  # SSM parameter names (aws_names.slots_parameter_name)
        (config.prefix, "<prefix>"),
        (config.account, "<account>"),
        (config.dr_region, "<dr_region>"),
        (compact(config.dr_region), "<dr_region>"),
        (config.region, "<region>"),
        (compact(config.region), "<region>"),
    ]
    return sorted(pairs, key=lambda p: -len(p[0]))


_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")
_DERIVED = re.compile(r"[A-Za-z0-9]*(?:Lakehouse<(?:env|Env)>|<(?:prefix|Prefix)>)[A-Za-z0-9<>_]*")
_HASHES = re.compile(r"(?:[0-9A-F]{8})+$")
_CR_OWNED = re.compile(r"aws-cdk:cr-owned:[^\\\"]*")
SINGLETON_ADDRESSES = re.compile(r"(?<=MiB)(?:c8[0-9a-f]{40})+(?:[0-9A-F]{8})?")
"""What CDK appends to its BucketDeployment handler's id (``...512MiBc87c35...``): the addresses of the VPC and
security groups it runs in, which differ by environment, then the id's hash."""


def normalize_text(text: str, config: Any, placeholders: list[tuple[str, str]]) -> str:
    """``text`` (a template as JSON) with the environment's names, account and regions replaced by placeholders
    and CDK's path hashes dropped, so two environments' templates compare by meaning.
    """
    for old, new in placeholders:
        text = text.replace(old, new)
    # the environment's name as a whole string value, at any JSON escaping depth (tags, --env, SEARCH terms)
    text = re.sub(rf'(\\*")({re.escape(config.name)})(\\*")', r"\1<env>\3", text)
    text = re.sub(rf"'{re.escape(config.name)}'", "'<env>'", text)
    # CDK ends names it derives from a path with hashes of that path, and the path names the stack:
    # such a name (export, Sid, logical id) keeps its meaning without them.
    text = _DERIVED.sub(lambda m: _HASHES.sub("", m.group(0)), text)
    text = SINGLETON_ADDRESSES.sub("", text)
    return _CR_OWNED.sub("aws-cdk:cr-owned:<hash>", text)


def normalize(value: Any, config: Any) -> Any:
    """A template (or any JSON value) of environment ``config`` with its environment-specific names replaced by
    placeholders (:func:`normalize_text`).
    """
    return json.loads(normalize_text(json.dumps(value, sort_keys=True), config, _placeholders(config)))


def normalize_template(template: Mapping[str, Any], config: Any) -> dict[str, Any]:
    """The template with placeholders, its resources keyed by logical ids that no longer name the environment.

    CDK derives some logical ids from paths that contain the stack name (event-source permissions, for one),
    and ends them with a hash of that path: such an id pairs across environments without its hash.
    """
    placeholders = _placeholders(config)
    normalized = normalize(template, config)
    resources = {}
    for logical_id, resource in normalized.get("Resources", {}).items():
        key = normalize_text(logical_id, config, placeholders)
        if key != logical_id:
            key = _HASH_SUFFIX.sub("", key)
        resources[key] = resource
    return {**normalized, "Resources": resources}


def template_diff(part: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> StackDiff:
    """How two normalized templates of stack ``part`` differ: resources only in A or B, changed properties."""
    diff = StackDiff(part)
    ra, rb = a.get("Resources", {}), b.get("Resources", {})
    diff.only_in_a = [f"{k} ({ra[k]['Type']})" for k in sorted(set(ra) - set(rb))]
    diff.only_in_b = [f"{k} ({rb[k]['Type']})" for k in sorted(set(rb) - set(ra))]
    for key in sorted(set(ra) & set(rb)):
        changes = compare(ra[key], rb[key])
        if changes:
            diff.changed[key] = changes
    return diff


def diff_environments(
    raw: Mapping[str, Any],
    configs: Mapping[str, Any],
    templates: Mapping[str, Mapping[str, Mapping[str, Any]]],
    a: str,
    b: str,
) -> EnvDiff:
    """``raw``: the ``lakehouse`` context block; ``templates``: env -> stack part -> template."""
    envs = raw.get("environments", {})
    for name in (a, b):
        if name not in envs:
            raise EnvDiffError(f"unknown environment {name!r}; cdk.json has: {', '.join(envs)}")
    config = compare(envs[a], envs[b])
    norm = {env: {part: normalize_template(t, configs[env]) for part, t in templates[env].items()} for env in (a, b)}
    parts_a, parts_b = set(norm[a]), set(norm[b])
    stacks = [template_diff(part, norm[a][part], norm[b][part]) for part in sorted(parts_a & parts_b)]
    return EnvDiff(
        a=a,
        b=b,
        config=config,
        stacks_only_in_a=sorted(parts_a - parts_b),
        stacks_only_in_b=sorted(parts_b - parts_a),
        stacks=[s for s in stacks if not s.empty],
    )


def load(repo_root: Path) -> tuple[dict[str, Any], Any]:
    """The checkout's CDK context (``cdk.json``) and its validated configuration."""
    try:
        return load_cdk_config(repo_root)
    except CheckoutError as error:
        raise EnvDiffError(str(error)) from error


def synthesize(context: Mapping[str, Any], config: Any, envs: tuple[str, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """env -> stack part -> CloudFormation template, synthesized in a scratch folder."""
    from aws_cdk import App

    from stacks.environment import build_environment

    with tempfile.TemporaryDirectory(prefix="lakehouse-env-diff-") as tmp:
        app = App(outdir=tmp, context=dict(context))
        built = {env: build_environment(app, config.environments[env], build_dir=Path(tmp) / "assets") for env in envs}
        assembly = app.synth()
        return {
            env: {
                s.stack_name.removeprefix(f"Lakehouse-{env}-"): assembly.get_stack_by_name(s.stack_name).template
                for s in stacks.all()
            }
            for env, stacks in built.items()
        }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _short(value: Any, other: Any = None, width: int = 70) -> str:
    """``value`` cut to ``width``; a long one around where it first differs from ``other``."""
    text = _text(value)
    if len(text) <= width:
        return text
    start = 0
    if other is not None:
        theirs = _text(other)
        first = next(
            (i for i, (x, y) in enumerate(zip(text, theirs, strict=False)) if x != y), min(len(text), len(theirs))
        )
        start = max(0, first - width // 3)
    piece = text[start : start + width - 2]
    return ("…" if start else "") + piece + ("…" if start + len(piece) < len(text) else "")


def _print_config(diff: EnvDiff, console: Any) -> None:
    from rich.table import Table

    a, b = diff.a, diff.b
    if not diff.config:
        console.print(f"cdk.json: {a} and {b} have the same settings")
        return
    table = Table(title=f"cdk.json: environments.{a} vs environments.{b}")
    for column in ("setting", a, b):
        table.add_column(column, overflow="fold")
    for c in diff.config:
        table.add_row(c.path, _short(c.a, c.b), _short(c.b, c.a))
    console.print(table)


def _stack_table(stack: StackDiff, a: str, b: str) -> Any:
    from rich.table import Table

    table = Table(title=f"Lakehouse-<env>-{stack.part}: {a} vs {b}")
    for column in ("resource", "property", a, b):
        table.add_column(column, overflow="fold")
    for resource in stack.only_in_a:
        table.add_row(resource, "", "deployed", MISSING)
    for resource in stack.only_in_b:
        table.add_row(resource, "", MISSING, "deployed")
    for key, changes in stack.changed.items():
        for c in changes:
            table.add_row(key, c.path, _short(c.a, c.b), _short(c.b, c.a))
    return table


def render(diff: EnvDiff, console: Any) -> None:
    """Print ``diff`` to ``console``: the settings table, stacks only one side deploys, a table per stack."""
    a, b = diff.a, diff.b
    _print_config(diff, console)
    for part in diff.stacks_only_in_a:
        console.print(f"stack Lakehouse-{a}-{part}: only {a} deploys it")
    for part in diff.stacks_only_in_b:
        console.print(f"stack Lakehouse-{b}-{part}: only {b} deploys it")
    for stack in diff.stacks:
        console.print(_stack_table(stack, a, b))
    if not (diff.config or diff.stacks or diff.stacks_only_in_a or diff.stacks_only_in_b):
        console.print(f"{a} and {b} deploy the same resources with the same properties")
