"""`lakehouse --help` and every command's --help render (argparse formats help strings with %: a bare % in a
help text crashes the help of the whole CLI, which is how `lakehouse --help` failed on the profile command)."""

from __future__ import annotations

import argparse

import pytest

from lakehouse.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


PARSERS = list(_parsers(build_parser()))


def test_there_are_commands_to_check():
    assert len(PARSERS) > 20


@pytest.mark.parametrize("path,parser", PARSERS, ids=[" ".join(p) or "lakehouse" for p, _ in PARSERS])
def test_help_renders(path, parser):
    text = parser.format_help()
    assert text.startswith("usage:")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name in action.choices:
                assert name in text, f"{' '.join(path)} --help does not list {name}"
