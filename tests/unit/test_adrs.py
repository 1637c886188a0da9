"""docs/adr/: every architecture decision record keeps the shape, the numbering, the index entry and the links a
reader relies on. Plain text checks: no Spark, no network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADR_DIR = ROOT / "docs" / "adr"
INDEX = ADR_DIR / "README.md"

RECORD_NAME = re.compile(r"(\d{4})-[a-z0-9]+(?:-[a-z0-9]+)*\.md")
FIRST_SECTIONS = ("Context", "Decision")
"""Every record opens with these two sections, in this order."""
RATIONALE = ("Why", "Why not")
"""Every record says why, in one of these sections (0002 argues by the options it rejects)."""
STATUSES = ("Proposed", "Accepted", "Deprecated", "Superseded", "Rejected")
WITHOUT_STATUS_SECTION = frozenset({"0001", "0002"})
"""Written before the records carried a Status section; their status is the index's. Adding the section to
one of them makes the test below ask for its removal from this set."""
SOURCE_DIRS = ("benchmarks", "cdk", "dashboards", "docs", "job_assets", "lakehouse", "lambdas", "notebooks")
SOURCE_DIRS += ("platform_model", "runbooks", "stacks", "tests")
"""Top-level folders of the repository: a code span starting with one of them names a file that must exist."""

LINK = re.compile(r"\[(?:[^\]\\]|\\.)*\]\(([^()\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
REPO_PATH = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*/?(?:::[A-Za-z0-9_]+)?")
INDEX_ROW = re.compile(r"^\| \[(\d{4})\]\(([^)]+)\) \| (.+?) \| (.+?) \|$")


def records() -> list[Path]:
    return sorted(p for p in ADR_DIR.glob("*.md") if p != INDEX)


def number(path: Path) -> str:
    return path.name[:4]


def prose(text: str) -> str:
    """``text`` without fenced code blocks (links and headings there are examples, not structure)."""
    return re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.S | re.M)


def headings(text: str) -> list[str]:
    return [line[3:].strip() for line in prose(text).splitlines() if line.startswith("## ")]


def section(text: str, heading: str) -> str:
    """The body of ``## heading`` up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", prose(text), flags=re.S | re.M)
    assert match, f"no section {heading!r}"
    return match.group(1)


def documents() -> list[Path]:
    return [*records(), INDEX]


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_records_are_numbered_from_0001_without_gaps() -> None:
    found = records()
    bad = [p.name for p in found if not RECORD_NAME.fullmatch(p.name)]
    assert not bad, f"docs/adr/ holds files not named NNNN-lowercase-words.md: {bad}"
    numbers = [int(number(p)) for p in found]
    assert numbers == list(range(1, len(found) + 1)), f"record numbers must run 0001, 0002, ... without gaps: {numbers}"


@pytest.mark.parametrize("path", records(), ids=ids(records()))
def test_the_title_carries_the_records_number(path: Path) -> None:
    title = path.read_text(encoding="utf-8").splitlines()[0]
    assert re.fullmatch(rf"# {number(path)} — \S.*", title), f"{path.name}: title {title!r} is not '# NNNN — ...'"


@pytest.mark.parametrize("path", records(), ids=ids(records()))
def test_every_record_has_the_sections_the_records_use(path: Path) -> None:
    found = headings(path.read_text(encoding="utf-8"))
    assert tuple(found[:2]) == FIRST_SECTIONS, f"{path.name}: opens with {found[:2]}, not {list(FIRST_SECTIONS)}"
    assert any(h in found for h in RATIONALE), f"{path.name}: no section saying why ({' / '.join(RATIONALE)})"
    assert len(found) == len(set(found)), f"{path.name}: a section appears twice: {found}"
    for heading in found:
        assert section(path.read_text(encoding="utf-8"), heading).strip(), f"{path.name}: section {heading!r} is empty"


@pytest.mark.parametrize("path", records(), ids=ids(records()))
def test_every_record_states_its_status(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = headings(text)
    if number(path) in WITHOUT_STATUS_SECTION:
        assert "Status" not in found, f"{path.name} has a Status section now: drop it from WITHOUT_STATUS_SECTION"
        return
    assert found and found[-1] == "Status", f"{path.name}: the last section must be '## Status' (has {found})"
    line = section(text, "Status").strip().splitlines()[0]
    assert line.startswith(STATUSES), f"{path.name}: status line {line!r} starts with none of {STATUSES}"
    assert re.search(r"\b20\d\d-\d\d(?:-\d\d)?\b", line), f"{path.name}: status line {line!r} carries no date"


def index_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in INDEX.read_text(encoding="utf-8").splitlines():
        if match := INDEX_ROW.match(line):
            rows.append(match.groups())
    return rows


def test_the_index_lists_every_record_once_in_order() -> None:
    listed = [(num, target) for num, target, _, _ in index_rows()]
    expected = [(number(p), p.name) for p in records()]
    assert listed == expected, "docs/adr/README.md must list every record, in order, as | [NNNN](NNNN-name.md) | ..."


@pytest.mark.parametrize("path", records(), ids=ids(records()))
def test_the_index_gives_the_records_status(path: Path) -> None:
    [status] = [s for num, _, _, s in index_rows() if num == number(path)]
    assert status.lower().startswith(tuple(s.lower() for s in STATUSES)), f"{path.name}: index status {status!r}"
    if number(path) not in WITHOUT_STATUS_SECTION:
        own = section(path.read_text(encoding="utf-8"), "Status").split()[0].strip(".,:;").lower()
        assert status.lower().startswith(own), f"{path.name}: the index says {status!r}, the record {own!r}"


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in LINK.findall(prose(path.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (http:, https:, mailto:) or an anchor in the same file
        file = (path.parent / target.split("#", 1)[0]).resolve()
        if not file.is_relative_to(root) or not file.exists():
            broken.append(target)
    return broken


@pytest.mark.parametrize("path", documents(), ids=ids(documents()))
def test_every_relative_link_points_at_a_file_of_the_repository(path: Path) -> None:
    assert broken_links(path) == [], f"{path.name}: links to files that do not exist"


def missing_cited_paths(path: Path, root: Path = ROOT) -> list[str]:
    """Code spans naming a repository path (``job_assets/engine/base.py``, ``tests/x.py::test_y``) that does
    not exist, or a test that the named file does not define."""
    missing = []
    for span in CODE_SPAN.findall(prose(path.read_text(encoding="utf-8"))):
        if not REPO_PATH.fullmatch(span) or span.split("/", 1)[0] not in SOURCE_DIRS or "/" not in span:
            continue
        file, _, test = span.partition("::")
        if not (root / file).exists() or (test and not defines(root / file, test)):
            missing.append(span)
    return missing


def defines(file: Path, function: str) -> bool:
    return re.search(rf"^def {function}\(", file.read_text(encoding="utf-8"), flags=re.M) is not None


@pytest.mark.parametrize("path", documents(), ids=ids(documents()))
def test_every_cited_repository_path_exists(path: Path) -> None:
    assert missing_cited_paths(path) == [], f"{path.name}: cites paths or tests that do not exist"


def test_the_checks_catch_a_broken_link_and_a_missing_path(tmp_path: Path) -> None:
    """The link and path checks themselves, on a record in a scratch repository."""
    (tmp_path / "cdk").mkdir()
    (tmp_path / "cdk" / "real.py").write_text("def test_here():\n    pass\n", encoding="utf-8")
    probe = tmp_path / "docs" / "adr" / "0001-probe.md"
    probe.parent.mkdir(parents=True)
    (probe.parent / "README.md").write_text("", encoding="utf-8")
    probe.write_text(
        "See [gone](../NO_SUCH_FILE.md), [ok](README.md#x), [web](https://example.com), [here](#why),\n"
        "`cdk/real.py`, `cdk/real.py::test_here`, `cdk/real.py::test_gone`, `cdk/no_such.py`, `s3://b/k`,\n"
        "`jobs/<version>/`.\n```\n[in a code block](NOWHERE.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(probe, tmp_path) == ["../NO_SUCH_FILE.md"]
    assert missing_cited_paths(probe, tmp_path) == ["cdk/real.py::test_gone", "cdk/no_such.py"]


def test_the_architecture_overview_links_only_existing_records() -> None:
    overview = ROOT / "docs" / "ARCHITECTURE.md"
    assert [t for t in broken_links(overview) if t.startswith("adr/")] == [], "docs/ARCHITECTURE.md links a missing ADR"
