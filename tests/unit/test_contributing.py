"""CONTRIBUTING.md points at things that exist, and CHANGELOG.md keeps an Unreleased section.

CONTRIBUTING.md names real files and targets as the patterns to follow: every backticked path (a name with a
``/``, or a file name with a known extension) must exist in the checkout, every backticked ``make X`` must be a
target of the Makefile, and every relative link must resolve, so a renamed file or target shows here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRIBUTING = ROOT / "CONTRIBUTING.md"
CHANGELOG = ROOT / "CHANGELOG.md"
PATH = re.compile(r"`([\w.-]*/[\w./-]*|[\w.-]+\.(?:py|md|json|toml|txt|ipynb|yaml|yml))`")
MAKE = re.compile(r"`make ([a-z][a-z-]*)`")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
TARGET = re.compile(r"^([a-z][a-z-]*):", re.MULTILINE)
SECTIONS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
"""Keep a Changelog's kinds of change."""


def exists(name: str) -> bool:
    """A path from the checkout's root; a bare file name anywhere up to two folders down (``handler.py``)."""
    if "/" in name:
        return (ROOT / name).exists()
    return (ROOT / name).exists() or any(ROOT.glob(f"*/{name}")) or any(ROOT.glob(f"*/*/{name}"))


def missing_references(text: str, base: Path = ROOT) -> list[str]:
    """The paths, make targets and relative links of ``text`` that do not exist."""
    targets = set(TARGET.findall((ROOT / "Makefile").read_text(encoding="utf-8")))
    missing = [f"`{name}`" for name in PATH.findall(text) if not exists(name)]
    missing += [f"`make {t}`" for t in MAKE.findall(text) if t not in targets]
    missing += [f"link {href}" for href in LINK.findall(text) if "://" not in href and not (base / href).exists()]
    return missing


def test_contributing_names_files_and_targets_that_exist() -> None:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    assert len(PATH.findall(text)) >= 40 and len(MAKE.findall(text)) >= 5
    assert missing_references(text) == []
    for heading in ("## Tests: tiers", "## Adding a stack", "## Adding a Spark job", "## Adding a Lambda"):
        assert heading in text
    assert "## Review checklist" in text and "CHANGELOG.md" in text.split("## Review checklist")[1]


def test_the_check_catches_what_does_not_exist() -> None:
    text = "See `stacks/nowhere.py`, `handler.py`, `nothing.md`, `make rnu`, `make lint` and [x](docs/NOPE.md)."
    assert missing_references(text) == ["`stacks/nowhere.py`", "`nothing.md`", "`make rnu`", "link docs/NOPE.md"]


def test_changelog_keeps_an_unreleased_section_first() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    assert "keepachangelog.com" in text
    releases = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert releases and releases[0] == "[Unreleased]", f"the first section is {releases[:1]}, not [Unreleased]"
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    kinds = re.findall(r"^### (\w+)$", unreleased, re.MULTILINE)
    assert kinds and set(kinds) <= set(SECTIONS), f"Unreleased sections {kinds}; Keep a Changelog's are {SECTIONS}"
    assert re.search(r"^- \S", unreleased, re.MULTILINE)
    assert missing_references(text) == []
