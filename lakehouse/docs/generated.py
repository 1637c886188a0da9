"""Files generated from a single source and committed (dashboards, METRICS.md, the data catalog).

One mechanism for every generator: which committed files are stale (missing, different, or a stray file
in a folder the generator owns), writing them, and the `--check` / write report of the commands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def strays(repo_root: Path, files: Mapping[str, str], owned: Sequence[str]) -> list[str]:
    """Files matching the ``owned`` globs (relative to the root) that the generator no longer produces."""
    found = {p.relative_to(repo_root).as_posix() for pattern in owned for p in repo_root.glob(pattern)}
    return sorted(path for path in found if path not in files)


def stale_files(repo_root: Path, files: Mapping[str, str], owned: Sequence[str]) -> list[str]:
    """Generated files missing or different from ``files``, plus strays."""
    stale = [path for path, text in files.items() if _read(repo_root / path) != text]
    return sorted(stale + strays(repo_root, files, owned))


def write_files(repo_root: Path, files: Mapping[str, str], owned: Sequence[str]) -> tuple[list[str], list[str]]:
    """Write what differs; remove strays. Returns (written, removed)."""
    written = []
    for relative, text in files.items():
        path = repo_root / relative
        if _read(path) != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(relative)
    removed = strays(repo_root, files, owned)
    for relative in removed:
        (repo_root / relative).unlink()
    return sorted(written), removed


def sync(
    repo_root: Path,
    files: Mapping[str, str],
    owned: Sequence[str],
    *,
    check: bool,
    what: str,
    source: str,
    command: str,
    console: Console,
    err: Console,
) -> int:
    """The command side: ``--check`` lists stale files and exits 1; otherwise write and say what changed."""
    if check:
        stale = stale_files(repo_root, files, owned)
        for path in stale:
            err.print(f"stale: {path}")
        if stale:
            err.print(f"run `{command}` and commit the result")
            return 1
        console.print(f"{what} match {source}")
        return 0
    written, removed = write_files(repo_root, files, owned)
    for path in written:
        console.print(f"wrote {path}")
    for path in removed:
        console.print(f"removed {path}")
    if not written and not removed:
        console.print(f"{what} already match {source}")
    return 0
