"""Every public function and class of the packages the API reference documents (docs/reference/) has a
docstring: the table contracts, the table engines, the jobs, the CLI and the packages behind its commands.

Read statically with griffe (what mkdocstrings renders), so nothing is imported. Measured: about 3 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = ("job_assets.contracts", "job_assets.engine", "job_assets.jobs", "lakehouse")


def _undocumented(package: str) -> list[str]:
    import griffe

    found: list[str] = []

    def walk(obj: griffe.Object) -> None:
        for name, member in obj.members.items():
            if member.is_alias or name.startswith("_"):
                continue
            if member.is_module:
                walk(member)
            elif (member.is_function or member.is_class) and not member.docstring:
                found.append(f"{member.path} ({member.filepath.relative_to(ROOT)}:{member.lineno})")

    walk(griffe.load(package, search_paths=[str(ROOT)]))
    return found


@pytest.mark.parametrize("package", DOCUMENTED)
def test_every_public_function_and_class_has_a_docstring(package):
    assert _undocumented(package) == []
