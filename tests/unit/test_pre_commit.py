"""The pre-commit hooks (.pre-commit-config.yaml, docs/guides/PRE_COMMIT.md) run offline on the project's own
tools and catch what they are there for.

Each test runs pre-commit itself (the pinned one of this venv) in a throw-away git repository holding a copy of
this checkout's files, with ``.venv`` pointing at the venv running the tests: all hooks pass on the checkout as
it is, and each hook fails on a violation planted in the copy (a notebook with outputs, unformatted or unlinted
Python, a stale data catalog or dashboard, an import against the layers). Measured: about 12 s for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")
HOOKS = ("ruff", "ruff-format", "nbstripout", "import-linter", "catalog-check", "dashboards-check")


def _git(repo: Path, *args: str) -> None:
    subprocess.run([GIT, *args], cwd=repo, check=True, capture_output=True, text=True)


def _checkout_files() -> list[str]:
    """The checkout's tracked and untracked, not ignored, files (the lead's build/.jars symlinks left out)."""
    out = subprocess.run(
        [GIT, "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return [p for p in out.split("\0") if p and (ROOT / p).is_file() and not (ROOT / p).is_symlink()]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git repository with a copy of this checkout, committed, and ``.venv`` -> the tests' venv."""
    repo = tmp_path_factory.mktemp("precommit") / "repo"
    for relative in _checkout_files():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, repo / relative)
    (repo / ".venv").symlink_to(Path(sys.executable).parent.parent)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "-qm",
        "copy",
    )
    return repo


def _pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PRE_COMMIT_HOME"] = str(repo.parent / "pre-commit-home")  # never the user's cache
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--color", "never", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _plant(repo: Path, relative: str, text: str) -> Path:
    path = repo / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    _git(repo, "add", relative)  # staged, as for a commit: pre-commit sees a hook's changes against the index
    return path


def _restore(repo: Path) -> None:
    _git(repo, "reset", "-q", "--hard")
    _git(repo, "clean", "-qfd")


def test_every_hook_is_local_and_runs_the_venvs_tools():
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for entry in config["repos"] for hook in entry["hooks"]]
    assert [entry["repo"] for entry in config["repos"]] == ["local"]  # nothing to clone from GitHub
    assert tuple(hook["id"] for hook in hooks) == HOOKS
    for hook in hooks:
        assert ".venv/bin/" in hook["entry"], hook  # the pinned tools of `make install`, not the PATH's


def test_all_hooks_pass_on_the_checkout(repo):
    result = _pre_commit(repo, "--all-files")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    for hook in HOOKS:  # every hook ran (none "(no files to check)Skipped")
        line = next(x for x in result.stdout.splitlines() if x.startswith(_name(hook)))
        assert line.endswith("Passed"), line


def _name(hook: str) -> str:
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    return next(h["name"] for h in config["repos"][0]["hooks"] if h["id"] == hook)


def test_a_notebook_with_outputs_is_stripped_and_the_commit_stopped(repo):
    notebook = json.loads((repo / "notebooks/07_dq_trend_analysis.ipynb").read_text(encoding="utf-8"))
    code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    code["execution_count"] = 3
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["DQ score 99.1\n"]}]
    path = _plant(repo, "notebooks/07_dq_trend_analysis.ipynb", json.dumps(notebook, indent=1) + "\n")
    try:
        result = _pre_commit(repo, "nbstripout", "--files", "notebooks/07_dq_trend_analysis.ipynb")
        assert result.returncode == 1 and "files were modified by this hook" in result.stdout, result.stdout
        stripped = json.loads(path.read_text(encoding="utf-8"))
        assert all(c.get("outputs", []) == [] for c in stripped["cells"])
        assert [c.get("id") for c in stripped["cells"]] == [c.get("id") for c in notebook["cells"]]  # --keep-id
    finally:
        _restore(repo)


def test_unformatted_and_unlinted_python_fail(repo):
    _plant(repo, "lakehouse/planted.py", '"""Planted."""\nimport os, sys\nx = {  "a":1}\n')
    try:
        lint = _pre_commit(repo, "ruff", "--files", "lakehouse/planted.py")
        assert lint.returncode == 1 and "lakehouse/planted.py" in lint.stdout, lint.stdout
        fmt = _pre_commit(repo, "ruff-format", "--files", "lakehouse/planted.py")
        assert fmt.returncode == 1 and "files were modified by this hook" in fmt.stdout, fmt.stdout
        assert 'x = {"a": 1}' in (repo / "lakehouse/planted.py").read_text(encoding="utf-8")
    finally:
        _restore(repo)


def test_an_import_against_the_layers_fails(repo):
    _plant(repo, "job_assets/contracts/planted.py", '"""Planted."""\n\nimport job_assets.engine  # noqa: F401\n')
    try:
        result = _pre_commit(repo, "import-linter", "--files", "job_assets/contracts/planted.py")
        assert result.returncode == 1 and "job_assets.contracts.planted -> job_assets.engine" in result.stdout, (
            result.stdout
        )
    finally:
        _restore(repo)


@pytest.mark.parametrize(
    ("hook", "generated", "command"),
    [
        ("catalog-check", "docs/data_catalog/Gold.md", "lakehouse catalog"),
        ("dashboards-check", "docs/METRICS.md", "lakehouse dashboards export"),
    ],
)
def test_a_stale_generated_file_fails_its_check(repo, hook, generated, command):
    _plant(repo, generated, (repo / generated).read_text(encoding="utf-8") + "\nedited by hand\n")
    try:
        result = _pre_commit(repo, hook, "--files", generated)
        assert result.returncode == 1, result.stdout
        assert generated in result.stdout and command in result.stdout, result.stdout
    finally:
        _restore(repo)
