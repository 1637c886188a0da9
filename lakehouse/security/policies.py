"""IAM policy statements as the access review evaluates them: actions, resources and principals as patterns.

A statement applies to an action and a resource when one of its patterns matches (IAM's ``*`` and ``?``,
actions case-insensitive, ``NotAction``/``NotResource`` inverted). A conditional ``Deny`` (TLS-only, a VPC
endpoint) constrains the way in rather than the principal, so only unconditional denies remove access.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .templates import Assembly

ANYONE = "*"


@lru_cache(maxsize=4096)
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE)


def matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM wildcard match: ``*`` any run of characters (``/`` included), ``?`` one character."""
    return _glob(pattern, case_sensitive).fullmatch(value) is not None


@dataclass(frozen=True)
class Statement:
    """One statement of a policy document, intrinsics resolved."""

    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    principals: tuple[str, ...]
    """Resource policies only: role ARN tokens, ``service:<name>``, external ARNs or ``*``."""
    conditional: bool
    not_principals: tuple[str, ...] = ()
    """``NotPrincipal``: the statement applies to everyone but these."""

    def allows_action(self, action: str) -> bool:
        """Whether the statement's actions (or NotAction) cover ``action``, IAM's wildcards and case rules."""
        if self.not_actions:
            return not any(matches(a, action, case_sensitive=False) for a in self.not_actions)
        return any(matches(a, action, case_sensitive=False) for a in self.actions)

    def covers(self, resource: str) -> bool:
        """Whether the statement's resources (or NotResource) cover ``resource``."""
        if self.not_resources:
            return not any(matches(r, resource) for r in self.not_resources)
        return any(matches(r, resource) for r in self.resources)

    def applies(self, actions: Iterable[str], resource: str) -> bool:
        """Whether the statement grants or denies one of ``actions`` on ``resource``."""
        return any(self.allows_action(a) for a in actions) and self.covers(resource)

    @property
    def removes_access(self) -> bool:
        """An unconditional ``Deny``."""
        return self.effect == "Deny" and not self.conditional


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    return tuple(str(v) for v in values)


def _principals(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if value == ANYONE:
        return (ANYONE,)
    found: list[str] = []
    for kind, names in value.items():
        for name in _strings(names):
            found.append(f"service:{name}" if kind == "Service" else name)
    return tuple(found)


def statements(document: Any, assembly: Assembly, stack: str) -> list[Statement]:
    """The statements of a policy document in ``stack``'s template."""
    resolved = assembly.resolve(document, stack) if document else {}
    raw = resolved.get("Statement", []) if isinstance(resolved, dict) else []
    out = []
    for s in raw if isinstance(raw, list) else [raw]:
        out.append(
            Statement(
                effect=s.get("Effect", "Allow"),
                actions=_strings(s.get("Action")),
                not_actions=_strings(s.get("NotAction")),
                resources=_strings(s.get("Resource")),
                not_resources=_strings(s.get("NotResource")),
                principals=_principals(s.get("Principal")),
                conditional=bool(s.get("Condition")),
                not_principals=_principals(s.get("NotPrincipal")),
            )
        )
    return out


def decide(allowing: Sequence[Statement], denying: Sequence[Statement], actions: Sequence[str], resource: str) -> bool:
    """Allowed by one of ``allowing`` and removed by none of ``denying`` (both already scoped to a principal)."""
    if any(s.removes_access and s.applies(actions, resource) for s in denying):
        return False
    return any(s.effect == "Allow" and s.applies(actions, resource) for s in allowing)
