"""docs/QUICK_START.md, followed as written: every command in it is run by a test.

The commands are the lines of the guide's ```bash blocks (tests/markdown_commands.py, which also holds the runbook
harness's inline `lakehouse ...` pattern: the guide may name no command in its prose that the blocks do not hold).

Default tier (cheap, no ``make``): every command of the guide is one of ours or a plain shell tool: each
``make X`` a target of the Makefile, each ``lakehouse ...`` accepted by the CLI's own parser (nothing executed).
The ``lakehouse`` commands that are cheap on a lake that exists (status, the lineage viewer and impact, package,
slots, promotions) run on a copy of the session's two-batch lake (tests/functional/conftest.py) and print what
the guide says they print. The promotion's audit (a gold job in a child process) and the rollback it enables,
``make run``, ``make notebooks`` and ``make synth`` run in the slow tier only.

Slow tier: a fresh clone of the committed HEAD (``git clone`` into tmp_path) follows the guide line by line in
bash, in order, and each step's effect is checked. The clone uses the installed toolchain of the checkout the
test runs from instead of installing its own (no download, minutes saved), through what the Makefile honours:

- its tracked files get an old modification time (git keeps none: a fresh clone's are "now"), so the install
  stamps below are newer than the files they depend on and ``make install`` has nothing to do;
- ``.jars`` (``$LAKEHOUSE_JARS_DIR`` if set), ``.venv-checkov``, ``node_modules``, ``build/emr-deps``,
  ``build/emr-python`` and ``build/lambda`` are symlinks to the checkout's (each with its ``.installed`` stamp);
- ``.venv`` is the clone's own (``python -m venv``), stamped installed: a ``.pth`` file puts the running
  interpreter's site-packages (the pinned dependencies) on its path, ``.venv/share`` is that interpreter's (their
  data files: nbconvert's templates), and the clone's own packages and console
  script are what ``pip install -e .`` would put there, from pyproject.toml (its packages as symlinks into the
  clone, its ``lakehouse`` script), so every command runs the clone's code.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import pytest

from lakehouse.cli import build_parser, main
from lakehouse.promotion.versions import checkout_version
from tests.markdown_commands import LAKEHOUSE_COMMAND, fenced_commands, simple_commands

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "QUICK_START.md"
COMMANDS = fenced_commands(GUIDE.read_text(encoding="utf-8"))
SHELL_TOOLS = {"source", "rm", "mkdir", "cp", "echo"}
"""The plain shell tools the guide may use besides make and lakehouse."""
EXPENSIVE = {"promote", "rollback"}
"""Run in the slow tier only: a promotion audits the candidate with a gold job (about 30 s); a rollback needs it."""
VERSION = re.compile(r"version ([0-9a-f]{16}) packaged")
MAKE_TARGET = re.compile(r"^([a-z][a-z-]*):", re.MULTILINE)
INLINE_MAKE = re.compile(r"`make ([a-z][a-z-]*)`")
SOME_VERSION = "0123456789abcdef"
TOOLCHAIN = (".jars", ".venv-checkov", "node_modules", "build/emr-deps", "build/emr-python", "build/lambda")
"""What ``make install`` puts into a checkout besides ``.venv``, each with its ``.installed`` stamp."""
LONG_AGO = 1_577_836_800  # 2020-01-01: the clone's files are older than every stamp of the installed toolchain


def make_targets() -> set[str]:
    return set(MAKE_TARGET.findall((ROOT / "Makefile").read_text(encoding="utf-8")))


def filled(command: str, version: str) -> str:
    """A guide line with its placeholder filled: ``<version>``, the hash the last ``lakehouse package`` printed."""
    return command.replace("<version>", version)


def problem(words: list[str], targets: set[str]) -> str | None:
    """Why one simple command of the guide is not one of ours (None: it is)."""
    if words[0] == "make":
        missing = [w for w in words[1:] if "=" not in w and w not in targets]
        return f"no Makefile target {missing}" if missing or len(words) == 1 else None
    if words[0] == "lakehouse":
        try:
            build_parser().parse_args(words[1:])
        except SystemExit as exit_:
            return f"the CLI's parser rejects it (exit {exit_.code})"
        return None
    return None if words[0] in SHELL_TOOLS else f"{words[0]!r} is not a tool the guide may use"


def test_every_command_of_the_guide_is_ours(capsys) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    targets = make_targets()
    assert {
        "make run",
        "make notebooks",
        "lakehouse lineage graph",
        "lakehouse rollback --env local",
        "make synth",
    } <= (set(COMMANDS)), "the guide lost a step of issue 20's quick start"
    assert any(c.startswith("lakehouse promote --env local --version") for c in COMMANDS)
    for command in COMMANDS:
        for words in simple_commands(filled(command, SOME_VERSION)):
            assert problem(words, targets) is None, f"`{command}`: {problem(words, targets)}"
    assert set(LAKEHOUSE_COMMAND.findall(text)) <= set(COMMANDS), "a command in the prose that no test runs"
    assert set(INLINE_MAKE.findall(text)) <= targets
    assert "docs/QUICK_START.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    for href in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text):
        assert "://" in href or (GUIDE.parent / href).exists(), f"broken link {href}"
    capsys.readouterr()


def test_the_check_catches_a_command_that_is_not_ours(capsys) -> None:
    targets = make_targets()
    assert problem(["make", "rnu"], targets) == "no Makefile target ['rnu']"
    assert "rejects" in (problem(["lakehouse", "lineage", "graf"], targets) or "")
    assert "rejects" in (problem(["lakehouse", "promote", "--env", "local", "--versoin", SOME_VERSION], targets) or "")
    assert problem(["curl", "https://example.org"], targets) is not None
    assert problem(["lakehouse", "rollback", "--env", "local"], targets) is None
    assert simple_commands(filled("lakehouse promote --env local --version <version> && make synth", "ab")) == [
        ["lakehouse", "promote", "--env", "local", "--version", "ab"],
        ["make", "synth"],
    ]
    capsys.readouterr()


def test_cheap_commands_run_on_a_lake(two_batch_lake: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """The guide's cheap ``lakehouse`` commands, as written, in a folder whose ``.lake`` ran the pipeline."""
    shutil.copytree(two_batch_lake, tmp_path / ".lake")
    monkeypatch.chdir(tmp_path)
    outputs = {}
    for command in COMMANDS:
        argv = shlex.split(command)
        if argv[0] != "lakehouse" or argv[1] in EXPENSIVE or "--source" in argv:
            continue
        code = main(argv[1:])
        captured = capsys.readouterr()
        assert code == 0, f"`{command}` exited {code}: {captured.err.strip()}"
        outputs[command] = captured.out
    assert set(outputs) == {
        "lakehouse status",
        "lakehouse lineage graph",
        "lakehouse lineage impact silver.orders.order_date",
        "lakehouse package",
        "lakehouse slots show --env local",
        "lakehouse promotions --env local",
    }
    assert "revenue_attribution" in outputs["lakehouse status"] and "Last runs" in outputs["lakehouse status"]
    viewer = tmp_path / ".lake" / "lineage.html"
    assert "lineage graph:" in outputs["lakehouse lineage graph"] and viewer.is_file()
    assert "<title>Lakehouse lineage</title>" in viewer.read_text(encoding="utf-8")
    assert "gold." in outputs["lakehouse lineage impact silver.orders.order_date"]
    packaged = VERSION.search(outputs["lakehouse package"])
    assert packaged and packaged.group(1) == checkout_version()
    assert (tmp_path / ".lake" / "_control" / "versions" / packaged.group(1)).is_dir()
    assert "blue" in outputs["lakehouse slots show --env local"]
    assert "no promotion or rollback recorded for local yet" in outputs["lakehouse promotions --env local"]


def fresh_clone(target: Path) -> Path:
    """A clone of the checkout's committed HEAD (what a newcomer gets), its tracked files dated long ago."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(target)], check=True)
    subprocess.run(["git", "checkout", "-q", "--detach", head.stdout.strip()], cwd=target, check=True)
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=target, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        os.utime(target / name, (LONG_AGO, LONG_AGO), follow_symlinks=False)
    return target


def with_installed_toolchain(clone: Path) -> None:
    """The checkout's installed toolchain, lent to the clone as the module docstring says."""
    for name in TOOLCHAIN:
        source = Path(os.environ.get("LAKEHOUSE_JARS_DIR") or ROOT / name) if name == ".jars" else ROOT / name
        source = source.resolve()
        if not (source / ".installed").is_file():
            pytest.fail(f"{source}: not installed (no .installed stamp); run make install in {ROOT}")
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).symlink_to(source, target_is_directory=True)
    venv = clone / ".venv"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([str(Path(sys.base_prefix) / "bin" / version), "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / version / "site-packages"
    (site / "_installed_toolchain.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    (venv / "share").symlink_to(
        Path(sys.prefix) / "share", target_is_directory=True
    )  # their data: nbconvert's templates
    project = tomllib.loads((clone / "pyproject.toml").read_text(encoding="utf-8"))
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        (site / pattern.rstrip("*")).symlink_to(clone / pattern.rstrip("*"), target_is_directory=True)
    for script, entry in project["project"]["scripts"].items():
        module, function = entry.split(":")
        path = venv / "bin" / script
        path.write_text(
            f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n",
            encoding="utf-8",
        )
        path.chmod(0o755)
    (venv / ".installed").touch()
    os.utime(venv / ".installed", (LONG_AGO + 3600, LONG_AGO + 3600))


def newcomer_environment() -> dict[str, str]:
    """This process's environment without what the test session set for itself (its interpreter for Spark)."""
    ours = str(Path(sys.prefix) / "bin")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYSPARK_PYTHON", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "LAKEHOUSE_LAKE_ROOT")
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != ours)
    return env


def follow(clone: Path) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
    """The guide's lines in order, each in bash in the clone (after the ``source`` lines before it): each line's
    output, the active gold slot after it, and its duration."""
    env = newcomer_environment()
    prelude, version = "", ""
    outputs: dict[str, str] = {}
    active: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for command in COMMANDS:
        assert "<version>" not in command or version, f"`{command}`: no `lakehouse package` printed a version before"
        line = filled(command, version)
        start = time.monotonic()
        run = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", prelude + line],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        seconds[command] = round(time.monotonic() - start, 1)
        assert run.returncode == 0, f"`{line}` exited {run.returncode}:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
        outputs[command] = run.stdout
        prelude += f"{line}\n" if command.startswith("source ") else ""
        version = (VERSION.findall(run.stdout) or [version])[-1]
        slots = clone / ".lake" / "_control" / "slots.json"
        active[command] = json.loads(slots.read_text(encoding="utf-8"))["active"] if slots.is_file() else "blue"
    return outputs, active, seconds


@pytest.mark.slow  # default tier: test_every_command_of_the_guide_is_ours, test_cheap_commands_run_on_a_lake
def test_a_fresh_clone_follows_the_guide(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "lakehouse")
    with_installed_toolchain(clone)
    outputs, active, seconds = follow(clone)
    print("quick start, seconds per command:", json.dumps(seconds, indent=1))

    report = clone / ".lake" / "report.html"
    assert f"report:{report}" in re.sub(r"\s+", "", outputs["make run"])  # rich wraps long lines at 80 columns
    assert "<h2>DQ score across runs</h2>" in report.read_text(encoding="utf-8")
    assert "revenue_attribution" in outputs["lakehouse status"]
    for notebook in sorted((clone / "notebooks").glob("*.ipynb")):
        assert (clone / "build" / "notebooks" / f"{notebook.stem}.html").is_file(), f"{notebook.name}: no HTML"
    viewer = clone / ".lake" / "lineage.html"
    assert "<title>Lakehouse lineage</title>" in viewer.read_text(encoding="utf-8")

    promote = next(c for c in COMMANDS if c.startswith("lakehouse promote"))
    candidate = VERSION.findall(outputs["lakehouse package --source build/quickstart/job_assets"])[-1]
    assert candidate != VERSION.findall(outputs["lakehouse package"])[-1]
    assert f"published version {candidate} on local" in re.sub(r"\s+", " ", outputs[promote])
    assert (active["lakehouse package"], active[promote]) == ("blue", "green")
    assert "green" in outputs["lakehouse slots show --env local"]
    assert (
        active["lakehouse rollback --env local"] == "blue"
        and "rolled back" in outputs["lakehouse rollback --env local"]
    )
    assert outputs["lakehouse promotions --env local"].count("published") >= 1

    for env in ("dev", "staging", "prod"):
        assert (clone / "cdk.out" / f"Lakehouse-{env}-Storage.template.json").is_file(), f"{env}: not synthesized"
