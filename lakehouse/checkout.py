"""The repository checkout's configuration, for the CLI commands that work from it (export, env diff)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


class CheckoutError(Exception):
    """No checkout here, or its cdk.json is not valid (names the file and the key)."""


def load_cdk_config(repo_root: Path) -> tuple[dict[str, Any], Any]:
    """The CDK context of ``<repo_root>/cdk.json`` and its ``lakehouse`` configuration, validated as
    ``cdk synth`` validates it (``cdk.config.load_config``)."""
    cdk_json = repo_root / "cdk.json"
    if not cdk_json.is_file():
        raise CheckoutError(f"{cdk_json} not found: run from the repository checkout (the folder with cdk.json)")
    if str(repo_root) not in sys.path:  # cdk/ and stacks/ are the checkout's packages, not installed ones
        sys.path.insert(0, str(repo_root))
    from cdk.config import ConfigError, load_config

    try:
        context = json.loads(cdk_json.read_text(encoding="utf-8"))["context"]
        return context, load_config(context["lakehouse"])
    except (ValueError, KeyError, ConfigError) as error:
        raise CheckoutError(f"{cdk_json}: {error}") from error
