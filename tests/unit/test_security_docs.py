"""docs/security/: every test the security checklist names exists, so a renamed or deleted test shows here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKLIST = ROOT / "docs" / "security" / "SECURITY_CHECKLIST.md"
NODE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_test_the_checklist_names_exists() -> None:
    named = NODE.findall(CHECKLIST.read_text())
    assert len(named) >= 30
    for path, function in named:
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {function}\(", source, re.MULTILINE), f"{path}::{function} does not exist"


def test_the_checklist_keeps_a_section_per_issue_18_area() -> None:
    headings = re.findall(r"^## (.+)$", CHECKLIST.read_text(), re.MULTILINE)
    for area in ("Personal data (PII)", "Compliance scanners", "Network", "Keys", "Audit trail", "Detection"):
        assert any(h.startswith(area) for h in headings), area


def test_relative_links_of_the_security_docs_resolve() -> None:
    for doc in (ROOT / "docs" / "security").glob("*.md"):
        for href in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", doc.read_text()):
            if not href.startswith(("http://", "https://")):
                assert (doc.parent / href).exists(), f"{doc.name}: broken link {href}"
