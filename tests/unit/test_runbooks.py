"""Every incident the platform can alert on has its runbook file, and the runbook index lists them all."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))

from job_assets.contracts import runbooks  # noqa: E402

RUNBOOKS_DIR = ROOT / "runbooks"


def test_every_incident_has_a_runbook_file_with_steps() -> None:
    for incident, name in [*runbooks.RUNBOOKS.items(), *(("procedure", p) for p in runbooks.PROCEDURES)]:
        path = RUNBOOKS_DIR / name
        assert path.is_file(), f"{incident}: runbooks/{name} is missing"
        text = path.read_text()
        assert text.startswith("# "), name
        assert re.search(r"^\d+\. ", text, flags=re.M), f"{name}: no numbered steps"
        assert "`" in text, f"{name}: steps are commands"


def test_runbook_index_links_every_runbook_and_nothing_else() -> None:
    index = (RUNBOOKS_DIR / "README.md").read_text()
    linked = set(re.findall(r"\]\(([a-z0-9-]+\.md)\)", index))
    assert linked == set(runbooks.RUNBOOKS.values()) | set(runbooks.PROCEDURES)
    on_disk = {p.name for p in RUNBOOKS_DIR.glob("*.md")} - {"README.md"}
    assert on_disk == linked, "a runbook file nobody links, or a link to nothing"


def test_runbook_url_joins_base_and_file() -> None:
    base = "https://example.org/repo/blob/main/runbooks/"
    assert runbooks.runbook_url(base, runbooks.FRESHNESS_BREACH) == f"{base}freshness-breach.md"
    assert runbooks.runbook_url(base.rstrip("/"), runbooks.FRESHNESS_BREACH) == f"{base}freshness-breach.md"
