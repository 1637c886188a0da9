"""Headless Chromium for the slow tests that check pages in a real browser (Debian's, `make chromium`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def _command(tmp_path: Path, window: str) -> list[str]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed: `make test-slow` installs it (apt-get install chromium)"
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={window}",
    ]


def dump_dom(page: Path, tmp_path: Path, *, window: str) -> str:
    """The DOM after the page's scripts ran (5 s of virtual time)."""
    return subprocess.run(
        [*_command(tmp_path, window), "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def screenshot(page: Path, shot: Path, tmp_path: Path, *, window: str) -> None:
    subprocess.run(
        [*_command(tmp_path, window), f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
