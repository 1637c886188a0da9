"""Reading ``cdk.json`` context with every error naming its key: :class:`ConfigError` and :class:`Section`,
shared by the environment configuration (:mod:`cdk.config`) and its recovery section (:mod:`cdk.recovery`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """Invalid ``cdk.json`` context; the message starts with the dotted path of the offending key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


class Section:
    """A mapping read with its dotted path, so every error names the exact key."""

    def __init__(self, raw: Any, path: str) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(path, f"expected an object, got {type(raw).__name__}")
        self.raw = raw
        self.path = path
        self.read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def get(self, name: str, kind: type[T]) -> T:
        self.read.add(name)
        if name not in self.raw:
            raise ConfigError(self.key(name), "missing required field")
        value = self.raw[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(self.key(name), f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
        return value

    def section(self, name: str) -> Section:
        self.read.add(name)
        if name not in self.raw:
            raise ConfigError(self.key(name), "missing required section")
        return Section(self.raw[name], self.key(name))

    def integer(self, name: str, *, minimum: int, maximum: int | None = None) -> int:
        value = self.get(name, int)
        if value < minimum or (maximum is not None and value > maximum):
            bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise ConfigError(self.key(name), f"must be {bound}, got {value}")
        return value

    def matching(self, name: str, pattern: re.Pattern[str], what: str) -> str:
        value = self.get(name, str)
        if not pattern.match(value):
            raise ConfigError(self.key(name), f"{value!r} is not a valid {what}")
        return value

    def close(self) -> None:
        """Reject keys nobody read: a typo must not silently fall back to a default."""
        unknown = sorted(set(self.raw) - self.read)
        if unknown:
            raise ConfigError(self.key(unknown[0]), f"unknown field (known: {', '.join(sorted(self.read))})")
