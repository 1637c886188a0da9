"""Every public function, class and method of the packages the API reference documents (docs/reference/) has a
docstring: the table contracts, the table engines, the jobs, the CLI and the packages behind its commands.

A method that implements a documented one needs none of its own: an override of a base class's method, or a
method of a class that implements a ``Protocol`` of the same package structurally (``LocalControl`` and
``AwsControl`` implement ``promotion.model.Control``; ``LocalStore`` and ``S3Store`` ``recovery.store.TableStore``).
Read statically with griffe (what mkdocstrings renders), so nothing is imported. Measured: about 2 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import griffe
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = ("job_assets.contracts", "job_assets.engine", "job_assets.jobs", "lakehouse")


def _public(obj: griffe.Object) -> Iterator[griffe.Object]:
    """The public modules, classes and functions of ``obj``, recursively (imports left out)."""
    for name, member in obj.members.items():
        if member.is_alias or name.startswith("_"):
            continue
        yield member
        if member.is_module:
            yield from _public(member)


def _methods(cls: griffe.Object) -> dict[str, griffe.Object]:
    return {n: m for n, m in cls.members.items() if m.is_function and not m.is_alias and not n.startswith("_")}


def _implements_documented(cls: griffe.Class, name: str, protocols: list[griffe.Class]) -> bool:
    """Whether a base class, or a Protocol whose methods ``cls`` all has, documents method ``name``."""
    try:
        bases = cls.mro()
    except (ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):  # a base outside the package
        bases = []
    if any(name in b.members and b.members[name].docstring for b in bases):
        return True
    for protocol in protocols:
        wanted = _methods(protocol)
        if name in wanted and wanted[name].docstring and set(wanted) <= set(cls.members):
            return True
    return False


def _undocumented(package: str, root: Path = ROOT) -> list[str]:
    """``path (file:line)`` of each public function, class and method of ``package`` without a docstring."""
    members = list(_public(griffe.load(package, search_paths=[str(root)])))
    classes = [m for m in members if m.is_class]
    protocols = [c for c in classes if any(str(b).endswith("Protocol") for b in c.bases)]
    missing = [m for m in members if (m.is_function or m.is_class) and not m.docstring]
    for cls in classes:
        missing += [
            m
            for name, m in _methods(cls).items()
            if not m.docstring and not _implements_documented(cls, name, protocols)
        ]
    return [f"{m.path} ({m.filepath.relative_to(root)}:{m.lineno})" for m in missing]


@pytest.mark.parametrize("package", DOCUMENTED)
def test_every_public_function_class_and_method_has_a_docstring(package):
    assert _undocumented(package) == []


def test_an_undocumented_method_is_found(tmp_path):
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe/__init__.py").write_text(
        '"""Probe."""\n\nfrom typing import Protocol\n\n\n'
        'class Store(Protocol):\n    """A store."""\n\n    def read(self) -> bytes:\n        """All of it."""\n\n\n'
        'class Local:\n    """Implements Store."""\n\n    def read(self) -> bytes:\n        return b""\n\n'
        "    def size(self) -> int:\n        return 0\n\n\n"
        "def helper() -> None:\n    pass\n",
        encoding="utf-8",
    )
    assert _undocumented("probe", tmp_path) == [
        "probe.helper (probe/__init__.py:23)",
        "probe.Local.size (probe/__init__.py:19)",
    ]
