"""No import cycle between our modules (the packages' layers are import-linter's, in `make lint`).

A cycle is a strongly connected component of more than one module in the import graph of every package we
ship (grimp, import-linter's graph: :func:`lakehouse.docs.architecture.module_imports`), counting imports
inside functions too: a function-level import that closes a loop still ties the modules together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lakehouse.docs.architecture import module_imports

ROOT = Path(__file__).resolve().parents[2]


def _cycles(imports: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for target in imports.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_back():
    imports = module_imports(ROOT)
    assert {"lakehouse.cli", "lakehouse.local.runner", "platform_model.dashboards", "lambdas.ops_common.slots"} <= set(
        imports
    )
    assert "lakehouse.errors" in imports["lakehouse.local.runner"]  # imports inside functions are counted
    assert _cycles(imports) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a.x": ["a.y"], "a.y": ["a.x", "a.z"], "a.z": []}) == [["a.x", "a.y"]]
