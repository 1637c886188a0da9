"""``make docs``: the documentation site builds with ``mkdocs build --strict`` (a warning is an error), its
API reference renders the public modules, the links between docs/, runbooks/ and the code resolve, and a
broken link fails the build (the docstrings themselves: tests/unit/test_docstrings.py).

Measured on an idle 2-core machine: the strict build of the whole site about 6 s (5 CPU-s), the rest
about 6 s (the small builds about 1 s each).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lakehouse.docs import site

ROOT = Path(__file__).resolve().parents[2]


def _build(config: Path, site_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(config),
            "--site-dir",
            str(site_dir),
        ],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_site_builds_strict_with_the_api_reference(tmp_path):
    result = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "WARNING" not in result.stderr, result.stderr[-4000:]
    built = tmp_path / "site"
    engine = (built / "docs/reference/engine.html").read_text(encoding="utf-8")
    assert "job_assets.engine.base.TableEngine" in engine and "DeltaSparkEngine" in engine
    assert "job_assets.contracts.model.TableContract" in (built / "docs/reference/contracts.html").read_text("utf-8")
    cli = (built / "docs/reference/cli.html").read_text(encoding="utf-8")
    assert "lakehouse.cli.main" in cli and ":mod:" not in cli  # the docstrings' Sphinx roles shown as code
    home = (built / "index.html").read_text(encoding="utf-8")  # the README is the home page
    assert "Lakehouse platform" in home and 'href="docs/PROMOTION.html"' in home
    operations = (built / "docs/OPERATIONS.html").read_text(encoding="utf-8")
    assert 'href="../runbooks/' in operations and (built / "runbooks/rollback.html").is_file()


def _tiny_site(root: Path, link: str) -> Path:
    """A repository-shaped site on the real hook: README, docs/index.md linking ``link``, one runbook."""
    (root / "docs").mkdir(parents=True)
    (root / "runbooks").mkdir()
    (root / "README.md").write_text("# Home\n\n[guide](docs/index.md)\n", encoding="utf-8")
    (root / "docs/index.md").write_text(f"# Guide\n\n[there]({link})\n", encoding="utf-8")
    (root / "runbooks/rollback.md").write_text("# Rollback\n\n## Steps\n\n[back](../docs/index.md)\n", "utf-8")
    (root / "tool.py").write_text('"""A tool."""\n', encoding="utf-8")
    config = f"""
        site_name: t
        docs_dir: docs
        use_directory_urls: false
        validation:
          {{omitted_files: warn, not_found: warn, absolute_links: warn, unrecognized_links: warn, anchors: warn}}
        hooks: [{Path(site.__file__)}]
        nav: [{{Home: README.md}}, {{Guides: ["docs/*.md", "runbooks/*.md", "docs/none/*.md"]}}]
    """
    (root / "mkdocs.yml").write_text(textwrap.dedent(config), encoding="utf-8")
    return root / "mkdocs.yml"


@pytest.mark.parametrize("link", ["../runbooks/rollback.md#steps", "../tool.py"])
def test_links_out_of_docs_resolve_like_on_disk(tmp_path, link):
    result = _build(_tiny_site(tmp_path / "repo", link), tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site/runbooks/rollback.html").is_file()
    if link.endswith(".py"):
        assert (tmp_path / "site/tool.py").read_text(encoding="utf-8") == '"""A tool."""\n'  # copied as it is


@pytest.mark.parametrize(
    ("link", "warning"),
    [
        ("../runbooks/missing.md", "the target 'runbooks/missing.md' is not found"),
        ("../runbooks/rollback.md#no-such-step", "does not contain an anchor '#no-such-step'"),
        ("../../outside.md", "../../outside.md"),
    ],
)
def test_a_broken_link_fails_the_strict_build(tmp_path, link, warning):
    result = _build(_tiny_site(tmp_path / "repo", link), tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert warning in output and "Aborted with 1 warnings in strict mode" in output, output


def test_nav_globs_expand_to_pages_not_listed_elsewhere():
    nav = [{"Guides": ["docs/PIPELINE.md", "docs/P*.md"]}, {"None": "docs/no-such-*.md"}]
    expanded = site.expand_nav(nav, ROOT)
    assert expanded[0]["Guides"][0] == "docs/PIPELINE.md"
    assert "docs/PROMOTION.md" in expanded[0]["Guides"] and expanded[0]["Guides"].count("docs/PIPELINE.md") == 1
    assert len(expanded) == 1  # a section whose globs match nothing is left out
