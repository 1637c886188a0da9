"""docs/TROUBLESHOOTING.md against the code: every message it quotes still exists, every error class is in it.

The guide's quoting convention (stated at its top): a line that starts with ``- **message**:`` quotes one or
more messages, each a code span (double backticks around one that holds a backtick); in a quoted message a
``<placeholder>`` stands for what the code formats in. A message is still in the code when its literal
fragments (the text between placeholders, stripped of spaces and colons at their ends) occur, in that order,
in one string of the code: a Python string literal or f-string (implicitly concatenated parts joined, each
formatted value a gap) of the shipped packages, or a line of the Makefile.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "TROUBLESHOOTING.md"
SOURCE_ROOTS = ("lakehouse", "job_assets", "cdk", "platform_model", "lambdas", "stacks", "tools", "benchmarks")
"""Where messages come from: every shipped or run package (not tests/: a test quoting a message is no source)."""
ERROR_ROOTS = ("lakehouse", "job_assets", "cdk", "platform_model", "lambdas", "stacks")
"""Where the error classes a user can meet are defined."""

INTERNAL_ERRORS = {
    # Raised and caught inside lambdas/landing_intake/pipeline.py: the failed AWS call is logged where it
    # happened and the intake records the start as "failed"; the class never leaves the module.
    "_UnavailableError": "lambdas/landing_intake/pipeline.py",
    # Control flow of the failure notifier: "this event is no failure" is caught in notifier.py and logged
    # as ignored (no alert); it never fails an invocation.
    "IgnoredEventError": "lambdas/failure_notifier/notifier.py",
    # lakehouse/locks.py: every caller (promotion, recovery, dr, pipeline redrive) turns it into its own
    # one-line error naming the missing state machine (PromotionError, WriterRunningError, DrError,
    # OperateError), which the guide quotes.
    "WriterMachineMissingError": "lakehouse/locks.py",
    # A job's wait on a failed parent task (job_assets/jobs/common.py): the task group re-raises the parent's
    # own error (a DataQualityError ...) instead, so a user sees the cause, never this class.
    "UpstreamFailedError": "job_assets/jobs/common.py",
    # The replica verifier's store maps S3's NoSuchKey to it and reports the object as missing in its result
    # (a "missing" count and metric), never as an error.
    "ObjectMissingError": "lambdas/replica_verifier/repositories.py",
}
"""Error classes that can never reach a user, each with where it lives (and, above, why it stays inside)."""

MESSAGE_LINE = re.compile(r"^\s*- \*\*message\*\*:(.*)$")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
PLACEHOLDER = re.compile(r"<[^<>`]+>")
GAP = "\x00"
SEPARATOR = "\x01"
MIN_LITERAL = 10
"""A quoted message holds at least this many literal characters: no message that matches anything."""


def code_spans(text: str) -> list[str]:
    """The contents of the Markdown code spans in ``text`` (one space stripped each side when both have one)."""
    spans = []
    for match in CODE_SPAN.finditer(text):
        body = match.group(2)
        if len(body) > 2 and body.startswith(" ") and body.endswith(" "):
            body = body[1:-1]
        spans.append(body)
    return spans


def quoted_messages(guide: str) -> list[str]:
    """Every message the guide quotes: the code spans of its ``- **message**:`` lines."""
    return [span for line in guide.splitlines() if (m := MESSAGE_LINE.match(line)) for span in code_spans(m.group(1))]


def fragments(message: str) -> list[str]:
    """The literal parts of a quoted message, split at its placeholders, without spaces and colons at the ends."""
    return [part.strip(" :") for part in PLACEHOLDER.split(message) if part.strip(" :")]


def _rendered(node: ast.AST) -> str | None:
    """A string literal's text, or an f-string's with a gap for each formatted value; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else GAP for v in node.values)
    return None


def _python_sources(roots: Iterable[str]) -> Iterator[Path]:
    for root in roots:
        yield from (p for p in sorted((ROOT / root).rglob("*.py")) if "__pycache__" not in p.parts)


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _strings(tree: ast.Module) -> Iterator[str]:
    """The strings of a module the code can show: not its docstrings (nor any other bare string statement)."""
    nodes = list(ast.walk(tree))
    prose = {id(n.value) for n in nodes if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    yield from (text for node in nodes if id(node) not in prose and (text := _rendered(node)))


@cache
def source_strings() -> tuple[str, ...]:
    """Every string the code can show: the Python files' literals and f-strings, and the Makefile's lines."""
    found: list[str] = []
    for path in [*_python_sources(SOURCE_ROOTS), ROOT / "app.py"]:
        found += _strings(_tree(path))
    found += (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    return tuple(found)


def in_order(parts: list[str], text: str) -> bool:
    """Whether ``parts`` occur in ``text`` one after the other."""
    at = 0
    for part in parts:
        found = text.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


def _holds(parts: list[str], joined: str) -> bool:
    """Whether one of the strings ``joined`` by SEPARATOR holds ``parts`` in order (found by the longest one)."""
    longest = max(parts, key=len)
    at = joined.find(longest)
    while at >= 0:
        start, end = joined.rfind(SEPARATOR, 0, at) + 1, joined.find(SEPARATOR, at)
        if in_order(parts, joined[start:end]):
            return True
        at = joined.find(longest, end)
    return False


def missing_messages(messages: Iterable[str], sources: Iterable[str]) -> list[str]:
    """The quoted messages no single source string holds (their fragments in order), or too vague to check."""
    joined = SEPARATOR.join(sources) + SEPARATOR
    missing = []
    for message in messages:
        parts = fragments(message)
        if sum(map(len, parts)) < MIN_LITERAL or not _holds(parts, joined):
            missing.append(message)
    return missing


def _is_exception(bases: list[str], known: set[str]) -> bool:
    for base in bases:
        builtin = getattr(builtins, base, None)
        if base in known or base.endswith(("Error", "Exception")):
            return True
        if isinstance(builtin, type) and issubclass(builtin, BaseException):
            return True
    return False


@cache
def error_classes() -> dict[str, str]:
    """Every exception class defined in the packages, by name: where it is defined (the first definition)."""
    classes: list[tuple[str, list[str], str]] = []
    for path in _python_sources(ERROR_ROOTS):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                classes.append((node.name, bases, str(path.relative_to(ROOT))))
    known: dict[str, str] = {}
    grew = True
    while grew:  # a subclass of one of ours (RecoveryError(UsageError)) needs its base known first
        grew = False
        for name, bases, where in classes:
            if name not in known and _is_exception(bases, set(known)):
                known[name] = where
                grew = True
    return known


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def test_every_quoted_message_is_still_in_the_code(guide: str) -> None:
    messages = quoted_messages(guide)
    assert len(messages) >= 150, "the guide's messages are not found: is the quoting convention kept?"
    assert missing_messages(messages, source_strings()) == []


def test_an_edited_message_is_caught(guide: str) -> None:
    """The check fails a message that is not in the code: an in-memory copy with one message reworded."""
    message = "<table>: no Delta table at <uri> yet (run the pipeline first)"
    assert message in quoted_messages(guide)
    edited = guide.replace(message, "<table>: no Delta table at <uri> yet (run the whole pipeline first)")
    assert set(missing_messages(quoted_messages(edited), source_strings())) == {
        "<table>: no Delta table at <uri> yet (run the whole pipeline first)"
    }
    vague = "<key>: <problem>"  # placeholders only: would match anything, so it is refused as well
    assert missing_messages([vague], source_strings()) == [vague]


def test_placeholders_split_messages_where_the_code_formats_a_value() -> None:
    sources = ["--rate \x00: must be between 1 and \x00 messages per second"]
    assert missing_messages(["--rate <rate>: must be between 1 and <max> messages per second"], sources) == []
    wrote_a_value = "--rate <rate>: must be between 1 and 10 messages per second"
    assert missing_messages([wrote_a_value], sources) == [wrote_a_value]
    assert code_spans("- **message**: ``run `make install` again`` or `x`") == ["run `make install` again", "x"]


def test_every_error_class_is_in_the_guide(guide: str) -> None:
    classes = error_classes()
    assert {"UsageError", "ConfigError", "DataQualityError", "RecoveryError", "SettingsError"} <= set(classes)
    named = set(code_spans(guide))
    missing = sorted(
        f"{name} ({where})" for name, where in classes.items() if name not in named | INTERNAL_ERRORS.keys()
    )
    assert missing == [], "add these error classes to docs/TROUBLESHOOTING.md (or, if internal, to INTERNAL_ERRORS)"


def test_the_allow_list_names_only_internal_classes_that_exist(guide: str) -> None:
    classes = error_classes()
    for name, where in INTERNAL_ERRORS.items():
        assert classes.get(name) == where, f"{name}: not defined in {where} any more"
        assert name not in set(code_spans(guide)), f"{name} is in the guide: drop it from INTERNAL_ERRORS"


def test_the_guides_relative_links_resolve(guide: str) -> None:
    for href in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", guide):
        assert (GUIDE.parent / href).exists(), f"broken link {href}"
