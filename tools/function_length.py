"""Fail when a function is longer than a reader can hold in mind (``make lint``; docs/ARCHITECTURE.md).

A function's length is its lines from ``def`` to its last line, decorators excluded, docstring included:
what a reader scrolls through. ruff has no such rule (its PLR0915 counts statements, so a long literal or a
long call chain passes) and flake8-functions would bring flake8 in for one check; this is the whole check.

    python tools/function_length.py [--max 60] [PATH ...]   (default PATH: the repository)

Tests, notebooks, the virtualenv and synthesized output are not checked (issue 16: "outside generated code
and tests").
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60
SKIP_DIRS = {
    ".venv",
    ".venv-checkov",
    "node_modules",
    "cdk.out",
    "tests",
    "notebooks",
    "build",
    ".git",
    ".bench",
    ".jars",
}


def python_files(paths: list[Path]) -> Iterator[Path]:
    """Every ``*.py`` under ``paths`` outside SKIP_DIRS, sorted."""
    for path in paths:
        if path.is_file():
            yield path
            continue
        for file in sorted(path.rglob("*.py")):
            if not SKIP_DIRS.intersection(file.relative_to(path).parts):
                yield file


def long_functions(source: str, limit: int) -> list[tuple[int, str, int]]:
    """(line, qualified name, length) of each function in ``source`` longer than ``limit`` lines."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = getattr(child, "name", "")
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > limit:
                    found.append((child.lineno, prefix + name, length))
            visit(child, f"{prefix}{name}." if name else prefix)

    visit(ast.parse(source), "")
    return found


def main(argv: list[str] | None = None) -> int:
    """Print one line per function over the limit; exit 1 when there is one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=MAX_LINES, help="longest allowed function, in lines")
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT])
    args = parser.parse_args(argv)
    failures = 0
    for file in python_files(args.paths):
        for line, name, length in long_functions(file.read_text(encoding="utf-8"), args.max):
            shown = file.relative_to(ROOT) if file.is_relative_to(ROOT) else file
            print(f"{shown}:{line}: {name} is {length} lines (at most {args.max}): split it by stage")
            failures += 1
    if failures:
        print(f"{failures} function(s) longer than {args.max} lines", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
