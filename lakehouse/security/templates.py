"""Synthesized CloudFormation templates of one environment, with intrinsics resolved to readable strings.

``Ref``/``Fn::GetAtt`` of a resource become tokens ``{Stack:LogicalId}`` / ``{Stack:LogicalId.Attr}``,
``Fn::ImportValue`` follows the exporting stack's output, ``Fn::Join``/``Fn::Sub`` join, and a bucket's ARN in
any spelling (``GetAtt Arn``, ``arn:aws:s3:::`` + its ``Ref`` or its literal name) becomes one token, so
policies written in different stacks name the same bucket the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CDK_HASH = re.compile(r"[0-9A-F]{8}$")
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")
_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}


class AssemblyError(ValueError):
    """The templates cannot be read: a missing folder, no stack of the environment, a broken file."""


@dataclass(frozen=True)
class Resource:
    """One resource of one stack."""

    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]

    @property
    def token(self) -> str:
        return f"{{{self.stack}:{self.logical_id}}}"

    @property
    def name(self) -> str:
        """``Storage/GoldBucket``: the stack's last part and the logical id without CDK's hash."""
        literal = self.properties.get("RoleName") or self.properties.get("BucketName")
        short = self.stack.rsplit("-", 1)[-1]
        if isinstance(literal, str):
            return f"{short}/{literal}"
        return f"{short}/{_CDK_HASH.sub('', self.logical_id)}"


@dataclass
class Assembly:
    """Every stack of one environment: ``Lakehouse-<env>-*.template.json`` in a cloud assembly folder."""

    templates: dict[str, dict[str, Any]]
    exports: dict[str, tuple[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for stack, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                name = output.get("Export", {}).get("Name")
                if isinstance(name, str):
                    self.exports[name] = (stack, output["Value"])
        for resource in self.resources("AWS::S3::Bucket"):
            arn = f"{resource.token[:-1]}.Arn}}"
            self.aliases[f"arn:aws:s3:::{resource.token}"] = arn
            literal = resource.properties.get("BucketName")
            if isinstance(literal, str):
                self.aliases[f"arn:aws:s3:::{literal}"] = arn

    @classmethod
    def load(cls, directory: Path, env: str) -> Assembly:
        """The environment's templates in ``directory`` (``cdk synth``'s output, e.g. ``cdk.out``)."""
        if not directory.is_dir():
            raise AssemblyError(f"no cloud assembly at {directory}: run `npx cdk synth -c env={env}` first")
        files = sorted(directory.glob(f"Lakehouse-{env}-*.template.json"))
        if not files:
            raise AssemblyError(f"{directory} holds no Lakehouse-{env}-* template: run `npx cdk synth -c env={env}`")
        templates = {}
        for path in files:
            try:
                templates[path.name.removesuffix(".template.json")] = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise AssemblyError(f"{path}: not a JSON template ({exc})") from None
        return cls(templates)

    def resources(self, *types: str) -> Iterator[Resource]:
        """Every resource of the assembly's stacks, or those of the given CloudFormation ``types``."""
        for stack, template in self.templates.items():
            for logical_id, body in template.get("Resources", {}).items():
                if not types or body.get("Type") in types:
                    yield Resource(stack, logical_id, body.get("Type", ""), body.get("Properties", {}))

    def resource(self, token: str) -> Resource | None:
        """The resource a ``{Stack:LogicalId}`` or ``{Stack:LogicalId.Attr}`` token names."""
        match = re.fullmatch(r"\{([^:]+):([^.}]+)(\.[^}]*)?\}", token)
        if not match or match.group(1) not in self.templates:
            return None
        body = self.templates[match.group(1)].get("Resources", {}).get(match.group(2))
        return Resource(match.group(1), match.group(2), body["Type"], body.get("Properties", {})) if body else None

    def resolve(self, value: Any, stack: str) -> Any:
        """``value`` with every intrinsic replaced by a string; lists and objects keep their shape."""
        if isinstance(value, list):
            return [self.resolve(v, stack) for v in value]
        if not isinstance(value, dict):
            return self._canonical(value) if isinstance(value, str) else value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref" or function.startswith("Fn::"):
                return self._canonical(self._intrinsic(function, argument, stack))
        return {k: self.resolve(v, stack) for k, v in value.items()}

    def _intrinsic(self, function: str, argument: Any, stack: str) -> str:
        if function == "Ref":
            return _PSEUDO.get(
                argument, f"{{{argument}}}" if argument.startswith("AWS::") else f"{{{stack}:{argument}}}"
            )
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return f"{{{stack}:{logical_id}.{attribute}}}"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(self.resolve(p, stack)) for p in self.resolve_list(parts, stack))
        if function == "Fn::ImportValue":
            name = self.resolve(argument, stack)
            if name in self.exports:
                exporter, exported = self.exports[name]
                return str(self.resolve(exported, exporter))
            return f"{{import:{name}}}"
        if function == "Fn::Sub":
            return self._sub(argument, stack)
        return f"{{{function}}}"

    def resolve_list(self, parts: Any, stack: str) -> list[Any]:
        """``parts`` resolved in ``stack`` (:meth:`resolve`), as a list."""
        resolved = self.resolve(parts, stack)
        return resolved if isinstance(resolved, list) else [resolved]

    def _sub(self, argument: Any, stack: str) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name], stack))
            if "." in name:
                return self._intrinsic("Fn::GetAtt", name, stack)
            return self._intrinsic("Ref", name, stack)

        return _SUB.sub(replace, text)

    def _canonical(self, text: str) -> str:
        """A bucket ARN in any spelling as its ``{Stack:Bucket.Arn}`` token."""
        for alias, token in self.aliases.items():
            if alias in text:
                text = re.sub(re.escape(alias) + r"(?=$|/)", lambda _m, t=token: t, text)
        return text
