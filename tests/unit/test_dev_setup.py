"""``make dev``: ``make install``, the pre-commit hooks, the editor settings and the environment's smoke test
(``python -m lakehouse.toolchain.smoke``), which passes on this installed machine and names what is broken
when a piece is missing. Measured: about 8 s (two smoke runs of about 3.5 s, mostly the CDK CLI's start)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.toolchain import smoke

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")


def _smoke(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.toolchain.smoke", "--root", str(ROOT)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_dev_target_installs_then_hooks_and_smoke_test():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^dev: install\b", makefile, re.M), "make dev must run make install first"
    if MAKE is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        [MAKE, "-n", "--no-print-directory", "-W", "pyproject.toml", "dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    steps = dry.stdout.splitlines()
    install = next(i for i, line in enumerate(steps) if "pip install" in line and "-e '.[dev,cdk]'" in line)
    hooks = next(i for i, line in enumerate(steps) if line.endswith("pre-commit install"))
    check = next(i for i, line in enumerate(steps) if "-m lakehouse.toolchain.smoke" in line)
    assert install < hooks < check


def test_docs_target_builds_the_site_strict():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs: install\b.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "mkdocs build --strict" in recipe.group(1) and "build/site" in recipe.group(1)


def test_editor_settings_use_the_projects_venv_and_tests():
    settings = json.loads((ROOT / ".vscode/settings.json").read_text(encoding="utf-8"))
    venv = re.search(r"^VENV\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M).group(1)
    assert settings["python.defaultInterpreterPath"] == f"${{workspaceFolder}}/{venv}/bin/python"
    assert settings["python.testing.pytestArgs"][0] == "tests" and settings["python.testing.pytestEnabled"]
    assert settings["[python]"]["editor.defaultFormatter"] == "charliermarsh.ruff"
    recommended = json.loads((ROOT / ".vscode/extensions.json").read_text(encoding="utf-8"))["recommendations"]
    assert {"ms-python.python", "charliermarsh.ruff"} <= set(recommended)
    assert "root = true" in (ROOT / ".editorconfig").read_text(encoding="utf-8")


def test_smoke_test_passes_on_the_installed_environment():
    result = _smoke()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines[:-1]] == ["venv", "cli", "java", "jars", "node", "cdk"]
    assert all(line.startswith("ok ") for line in lines[:-1]) and lines[-1] == "smoke test passed: 6 checks"


def test_smoke_test_names_what_is_broken(tmp_path):
    result = _smoke(LAKEHOUSE_JARS_DIR=str(tmp_path / "nowhere"), JAVA_HOME=str(tmp_path / "no-jdk"))
    assert result.returncode == 1
    failed = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("FAIL")}
    assert set(failed) == {"java", "jars"}, result.stdout
    assert "make install" in failed["jars"] and str(tmp_path / "nowhere") in failed["jars"]
    assert "smoke test failed: java, jars" in result.stderr


def test_jars_of_other_pins_or_not_deltas_fail(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"pins": "old", "jars": []}), encoding="utf-8")
    stale = smoke.check_jars(tmp_path)
    assert not stale.ok and "other pins" in stale.detail
    from lakehouse.toolchain.jars import JARS, pins_digest

    document = {"pins": pins_digest(), "jars": [{"file": j.file_name} for j in JARS]}
    (tmp_path / "manifest.json").write_text(json.dumps(document), encoding="utf-8")
    for jar in JARS:
        (tmp_path / jar.file_name).write_bytes(b"not a jar")
    wrong = smoke.check_jars(tmp_path)
    assert not wrong.ok and JARS[0].file_name in wrong.detail and "not Delta's jar" in wrong.detail


def test_cdk_check_needs_the_checkouts_pinned_cli(tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({"devDependencies": {"aws-cdk": "2.1148.1"}}), encoding="utf-8")
    missing = smoke.check_cdk(tmp_path)
    assert not missing.ok and "CDK CLI 2.1148.1 not installed" in missing.detail and "make install" in missing.detail
