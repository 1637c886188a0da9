"""The documentation site (``make docs``): MkDocs hooks that lay the site out like the repository.

The guides link each other the way they sit in the checkout: ``docs/OPERATIONS.md`` links
``../runbooks/rollback.md``, ``runbooks/*.md`` link ``../docs/PROMOTION.md``, ADRs link the source file they
decide about (``../../job_assets/engine/base.py``). MkDocs resolves links inside its ``docs_dir`` only, and
``docs_dir`` may not contain ``mkdocs.yml``, so with ``docs_dir: docs`` every such link is a warning
(an error under ``--strict``). Rather than turn those warnings off, :func:`on_files` re-roots the site at the
repository: every page keeps its repository path (``docs/PIPELINE.md`` is served at ``docs/PIPELINE/``,
the README is the home page), so each of those links resolves as it does on disk, and a link that resolves
to nothing stays a warning. The pages are :data:`PAGES`; a repository file that a page links and that is not
a page (a Python module, a notebook) is copied into the site as it is, so the link works there too.

:func:`on_config` expands glob entries of the ``nav`` (``docs/*.md``) to the matching pages, in path order,
leaving out pages the nav lists explicitly elsewhere: a new guide appears in its section without an edit
to ``mkdocs.yml``. :func:`on_page_content` shows the docstrings' Sphinx roles (``:func:`x```) as code.
``mkdocs.yml`` names this file under ``hooks:``; MkDocs loads it by path.

Examples:
    >>> from pathlib import Path
    >>> "docs/PIPELINE.md" in site_pages(Path("."))
    True
    >>> expand_nav([{"Decisions": ["docs/adr/README.md", "docs/adr/0001-*.md"]}], Path("."))
    [{'Decisions': ['docs/adr/README.md', 'docs/adr/0001-delta-spark-through-sql.md']}]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # MkDocs is a dev dependency: the installed CLI never imports it
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

PAGES: tuple[str, ...] = (
    "*.md",
    "docs/**/*",
    "runbooks/*.md",
    "notebooks/*.md",
    "dashboards/*.md",
    "lambdas/*.md",
)
"""Repository globs of the site's sources: the top-level documents, everything under ``docs/`` (guides,
security, ADRs, data catalog, API reference pages), the runbooks and the folders' READMEs."""

_ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|exc|obj):<code>(~?)([^<]*)</code>")
_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?(?:\s+\"[^\"]*\")?\)")
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints"}


def _role_as_code(match: re.Match[str]) -> str:
    name = match.group(2).rsplit(".", 1)[-1] if match.group(1) else match.group(2)
    return f"<code>{name}</code>"


def plain_roles(html: str) -> str:
    """``html`` with the docstrings' Sphinx roles shown as code, as Sphinx shows them (mkdocstrings leaves
    ``:func:`x``` as it is): ``:func:`x``` -> ``x``, ``:class:`~a.b.C``` -> ``C``.

    Examples:
        >>> plain_roles("see :class:<code>~job_assets.engine.base.TableEngine</code>")
        'see <code>TableEngine</code>'
    """
    return _ROLE.sub(_role_as_code, html)


def repo_root(config: MkDocsConfig) -> Path:
    """The folder of ``mkdocs.yml``: the repository checkout the site is built from."""
    return Path(config.config_file_path).resolve().parent


def site_pages(root: Path) -> list[str]:
    """Repository-relative paths of every file :data:`PAGES` matches under ``root``, sorted."""
    found: set[str] = set()
    for pattern in PAGES:
        for path in root.glob(pattern):
            relative = path.relative_to(root)
            if path.is_file() and not _SKIP_DIRS.intersection(relative.parts):
                found.add(relative.as_posix())
    return sorted(found)


def linked_files(root: Path, pages: Iterable[str]) -> list[str]:
    """Repository files (not pages) that the Markdown ``pages`` link with a relative link, sorted.

    A link that leaves the repository, names a folder or a missing file is not returned: MkDocs reports it.
    """
    wanted: set[str] = set()
    for page in pages:
        if not page.endswith(".md"):
            continue
        text = (root / page).read_text(encoding="utf-8")
        for target in _LINK.findall(text):
            if "://" in target or target.startswith(("/", "mailto:")):
                continue
            relative = os.path.normpath(PurePosixPath(page).parent / target)
            if not relative.startswith("..") and (root / relative).is_file():
                wanted.add(PurePosixPath(relative).as_posix())
    return sorted(wanted.difference(pages))


def _nav_paths(nav: Any) -> set[str]:
    """Every explicit (non-glob) page path in a nav."""
    if isinstance(nav, str):
        return set() if "*" in nav else {nav}
    if isinstance(nav, dict):
        return set().union(*(_nav_paths(v) for v in nav.values())) if nav else set()
    if isinstance(nav, list):
        return set().union(*(_nav_paths(v) for v in nav)) if nav else set()
    return set()


def _expand(item: Any, root: Path, explicit: set[str]) -> list[Any]:
    if isinstance(item, str) and "*" in item:
        matches = sorted(p.relative_to(root).as_posix() for p in root.glob(item) if p.is_file())
        return [m for m in matches if m not in explicit]
    if isinstance(item, dict):
        expanded = {}
        for title, value in item.items():
            children = (
                _expand(value, root, explicit) if not isinstance(value, list) else expand_nav(value, root, explicit)
            )
            if children:  # a section whose globs match nothing is left out
                expanded[title] = children if isinstance(value, list) or len(children) > 1 else children[0]
        return [expanded] if expanded else []
    return [item]


def expand_nav(nav: list[Any], root: Path, explicit: set[str] | None = None) -> list[Any]:
    """``nav`` with each glob string replaced by the pages it matches (minus those listed explicitly)."""
    explicit = _nav_paths(nav) if explicit is None else explicit
    return [entry for item in nav for entry in _expand(item, root, explicit)]


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """MkDocs hook: expand the nav's globs against the repository."""
    if config.nav:
        config.nav = expand_nav(config.nav, repo_root(config))
    return config


def on_page_content(html: str, **_: Any) -> str:
    """MkDocs hook: :func:`plain_roles` on every page."""
    return plain_roles(html)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """MkDocs hook: replace the ``docs_dir`` files by :func:`site_pages` and :func:`linked_files`, each at
    its repository path; the theme's files stay."""
    from mkdocs.structure.files import File, Files, InclusionLevel

    root = repo_root(config)
    docs_dir = os.path.realpath(config.docs_dir)
    kept = [f for f in files if f.src_dir is None or os.path.realpath(f.src_dir) != docs_dir]
    pages = site_pages(root)
    made = [File(path, str(root), config.site_dir, config.use_directory_urls) for path in pages]
    # A linked file is in the site even when MkDocs' default exclusion (dot files) would leave it out.
    made += [
        File(path, str(root), config.site_dir, config.use_directory_urls, inclusion=InclusionLevel.INCLUDED)
        for path in linked_files(root, pages)
    ]
    return Files(kept + made)
