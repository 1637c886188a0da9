"""The installed CLI imports without the checkout: ``cdk/`` and ``stacks/`` are the checkout's packages, not
installed ones (pyproject's packages: lakehouse, platform_model, job_assets), so no module of the CLI may need
them at import time (the commands that do, export and env diff, load them from the checkout they run in)."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = """
import importlib, pkgutil, sys
import lakehouse
for module in pkgutil.walk_packages(lakehouse.__path__, "lakehouse."):
    importlib.import_module(module.name)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("cdk", "stacks"))
assert not leaked, leaked
print("ok")
"""


def test_every_cli_module_imports_outside_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", CODE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
