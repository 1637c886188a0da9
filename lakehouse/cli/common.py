"""What the command groups share: the consoles, the default lake, a command's errors as bad input."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from platform_model import aws_names

from ..errors import UsageError

# Outside a terminal (CI logs, `make run | tee`) rich would wrap at 80 columns: give tables room instead.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_LAKE = os.environ.get("LAKEHOUSE_LAKE_ROOT", ".lake")

Command = Callable[[argparse.Namespace, Console], int]
"""A command of another subpackage: ``fn(args, console) -> exit code``."""
Handler = Callable[[argparse.Namespace], int]
"""What the parser calls: ``func(args) -> exit code``."""


def lake_root(value: str) -> Path:
    """The absolute path of a ``--lake-root``."""
    return Path(value).expanduser().resolve()


def usage_errors(*errors: type[Exception]) -> Callable[[Command], Handler]:
    """Adapt ``fn(args, console)`` to a handler whose ``errors`` become one clear line and exit 2.

    With no ``errors``: a command that raises :class:`UsageError` itself.
    """

    def adapt(fn: Command) -> Handler:
        def call(args: argparse.Namespace) -> int:
            try:
                return fn(args, console)
            except errors as exc:
                raise UsageError(str(exc)) from exc

        return call

    return adapt


def add_aws_account(c: argparse.ArgumentParser) -> None:
    """``--project`` and ``--region``: where a deployed environment's resources are."""
    c.add_argument("--project", default=aws_names.DEFAULT_PROJECT, help="project prefix of the physical names")
    c.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")


def add_deployed(c: argparse.ArgumentParser) -> None:
    """``--env`` (required), ``--project`` and ``--region``: a deployed environment."""
    c.add_argument("--env", required=True, help="environment name as deployed: dev, staging, prod")
    add_aws_account(c)
