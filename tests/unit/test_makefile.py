"""`make` explains a missing prerequisite in one line instead of failing obscurely."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def _check_tools(path_dirs, **env):
    return subprocess.run(
        [MAKE, "-s", "--no-print-directory", "check-tools", *[f"{k}={v}" for k, v in env.items()]],
        cwd=ROOT,
        env={"PATH": os.pathsep.join(str(d) for d in path_dirs), "HOME": os.environ.get("HOME", "/tmp")},
        capture_output=True,
        text=True,
        check=False,
    )


def test_missing_python_is_one_clear_line(tmp_path):
    r = _check_tools(["/usr/bin", "/bin"], PYTHON="python3.11-not-installed")
    assert r.returncode != 0
    lines = [x for x in r.stdout.splitlines() + r.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "Python 3.11" in lines[0] and "install" in lines[0]


def test_missing_java_is_one_clear_line(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3.11").symlink_to(sys.executable)
    for tool in ("sh", "grep", "head"):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    r = _check_tools([bindir], PYTHON="python3.11")
    assert r.returncode != 0
    lines = [x for x in r.stdout.splitlines() + r.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "Java" in lines[0] and "17" in lines[0]


def test_tools_present_pass(tmp_path):
    if not shutil.which("java"):
        pytest.skip("no java on this machine")
    r = _check_tools(os.environ["PATH"].split(os.pathsep), PYTHON=sys.executable)
    assert r.returncode == 0, r.stdout + r.stderr
