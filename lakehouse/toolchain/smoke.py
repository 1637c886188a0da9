"""The smoke test of an installed development environment (``make dev``): does each piece ``make install``
provisions actually work here?

``python -m lakehouse.toolchain.smoke [--root DIR]`` checks, in a few seconds and without starting Spark:

* ``venv``: this interpreter is a virtual environment's Python with the project and its dev tools
  (pytest, ruff, pre-commit, nbstripout, mkdocs) installed;
* ``cli``: the ``lakehouse`` console script next to it answers ``--help``;
* ``java``: the Java that Spark will start (``$JAVA_HOME/bin/java``, else ``java`` on ``PATH``) is 17;
* ``jars``: Delta Lake's and S3A's jars are where local Spark looks (``$LAKEHOUSE_JARS_DIR``, else
  ``.jars/``), from the pins of :mod:`lakehouse.toolchain.jars`, and the Delta jar holds Delta's SQL extension;
* ``node``: Node.js >= 20 is on ``PATH``;
* ``cdk``: the checkout's CDK CLI (``node_modules/.bin/cdk``) runs and is the version ``package.json`` pins.

It prints one line per check (``ok`` or ``FAIL`` with what is wrong and what to do) and exits 1 when any
check fails, naming the broken ones on the last line.

Examples:
    >>> from pathlib import Path
    >>> check_venv().name
    'venv'
    >>> [c.name for c in run_checks(Path("."))]
    ['venv', 'cli', 'java', 'jars', 'node', 'cdk']
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from job_assets.spark import DELTA_CONF, JARS_MANIFEST, JarsMissingError, default_jars_dir, java_binary, local_jars

from .jars import JARS, pins_digest

DEV_TOOLS = ("pytest", "ruff", "pre_commit", "nbstripout", "mkdocs", "mkdocstrings_handlers.python")
"""Modules of the dev extra the venv must import (``make install`` installs ``.[dev,cdk]``)."""
TIMEOUT_S = 60


@dataclass(frozen=True)
class Check:
    """One check's outcome: its name, whether it passed, and what was found (or what is wrong and the fix)."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """The check as one printed line, e.g. ``ok    java  openjdk 17.0.15``."""
        return f"{'ok' if self.ok else 'FAIL':<5} {self.name:<5} {self.detail}"


def _run(command: Sequence[str], cwd: Path | None = None) -> tuple[int, str]:
    """Run ``command``; its exit code and its stdout and stderr together (127 when it cannot start)."""
    try:
        proc = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return 127, str(error)
    return proc.returncode, proc.stdout + proc.stderr


def check_venv() -> Check:
    """This interpreter: a venv's Python with the project and the dev tools installed."""
    where = f"Python {sys.version.split()[0]} in {sys.prefix}"
    if sys.prefix == sys.base_prefix:
        return Check(
            "venv", False, f"{where} is not a virtual environment; run `make install` and use .venv/bin/python"
        )
    try:
        version = importlib.metadata.version("lakehouse-platform")
    except importlib.metadata.PackageNotFoundError:
        return Check("venv", False, f"{where}: the project is not installed; run `make install`")
    missing = [m for m in DEV_TOOLS if importlib.util.find_spec(m.split(".")[0]) is None]
    if missing:
        return Check("venv", False, f"{where}: dev tools missing ({', '.join(missing)}); run `make install`")
    return Check("venv", True, f"{where}, lakehouse-platform {version} and the dev tools")


def check_cli() -> Check:
    """The ``lakehouse`` console script next to this interpreter answers ``--help``."""
    script = Path(sys.executable).parent / "lakehouse"
    code, output = _run([str(script), "--help"])
    if code != 0 or "generate" not in output:
        return Check("cli", False, f"{script} --help failed ({output.strip()[-200:]}); run `make install`")
    return Check("cli", True, f"{script} --help")


def check_java() -> Check:
    """The Java that local Spark will start is Java 17."""
    java = java_binary()
    if not java:
        return Check("java", False, "java not found on PATH; install a Java 17 runtime (openjdk-17-jre-headless)")
    code, output = _run([java, "-version"])
    first = output.strip().splitlines()[0] if output.strip() else ""
    if code != 0 or not re.search(r'"17[."]', first):
        return Check("java", False, f"{java}: {first or 'does not run'}; Spark 3.5 needs Java 17 first on PATH")
    return Check("java", True, f"{java}: {first}")


def check_jars(directory: Path | None = None) -> Check:
    """Delta's and S3A's jars are installed from the current pins, and the Delta jar holds Delta's extension."""
    directory = directory or default_jars_dir()
    try:
        files = local_jars(directory)
        pins = json.loads((directory / JARS_MANIFEST).read_text(encoding="utf-8")).get("pins")
    except (JarsMissingError, ValueError) as error:
        return Check("jars", False, str(error))
    if pins != pins_digest():
        return Check(
            "jars", False, f"{directory} holds jars of other pins; run `make install` to fetch the pinned ones"
        )
    delta = directory / JARS[0].file_name
    extension = DELTA_CONF["spark.sql.extensions"].replace(".", "/") + ".class"
    try:
        with zipfile.ZipFile(delta) as jar:
            jar.getinfo(extension)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        return Check("jars", False, f"{delta} is not Delta's jar ({error}); delete it and run `make install`")
    return Check("jars", True, f"{len(files)} jars in {directory} ({JARS[0].coordinates} and its S3A client)")


def check_node() -> Check:
    """Node.js >= 20 is on ``PATH`` (the CDK CLI's runtime)."""
    node = shutil.which("node")
    code, output = _run([node, "--version"]) if node else (127, "")
    found = re.match(r"v(\d+)\.", output.strip())
    if code != 0 or not found or int(found.group(1)) < 20:
        return Check(
            "node", False, f"Node.js >= 20 not found ({output.strip() or 'no node on PATH'}); install Node.js 20"
        )
    return Check("node", True, f"{node} {output.strip()}")


def check_cdk(root: Path) -> Check:
    """The checkout's pinned CDK CLI runs and is the version ``package.json`` pins."""
    cdk = root / "node_modules" / ".bin" / "cdk"
    try:
        pinned = json.loads((root / "package.json").read_text(encoding="utf-8"))["devDependencies"]["aws-cdk"]
    except (OSError, ValueError, KeyError) as error:
        return Check("cdk", False, f"{root / 'package.json'}: no aws-cdk pin ({error}); run from the checkout")
    code, output = _run([str(cdk), "--version"], cwd=root) if cdk.exists() else (127, f"{cdk} is missing")
    if code != 0 or not output.startswith(pinned):
        return Check("cdk", False, f"CDK CLI {pinned} not installed ({output.strip()[-200:]}); run `make install`")
    return Check("cdk", True, f"{cdk} {output.strip()}")


def run_checks(root: Path) -> list[Check]:
    """Every check, in order; ``root`` is the checkout (for ``node_modules`` and ``package.json``)."""
    checks: list[Callable[[], Check]] = [
        check_venv,
        check_cli,
        check_java,
        check_jars,
        check_node,
        lambda: check_cdk(root),
    ]
    return [check() for check in checks]


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line per check; exit 1 naming the failed checks, 0 when all pass."""
    parser = argparse.ArgumentParser(prog="python -m lakehouse.toolchain.smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository checkout (default: here)")
    args = parser.parse_args(argv)
    results = run_checks(args.root.resolve())
    for result in results:
        print(result.line())
    failed = [r.name for r in results if not r.ok]
    if failed:
        print(f"smoke test failed: {', '.join(failed)} (see the FAIL lines above)", file=sys.stderr)
        return 1
    print(f"smoke test passed: {len(results)} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
