"""What the incident commands of :mod:`lakehouse.ops` share: an AWS client for an environment, its errors as
one :class:`~lakehouse.ops.operate.OperateError` line, and the confirmation a state change asks for."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from .operate import OperateError, _fail, _session, _ts

__all__ = ["OperateError", "aws_client", "confirmed", "error_code", "guarded", "timestamp"]

timestamp = _ts
"""A datetime as ``YYYY-MM-DD HH:MM:SS`` UTC (empty for anything else)."""


def aws_client(service: str, env: str, region: str | None) -> Any:
    """A boto3 client of ``service`` for the environment's region (``--region``, else the AWS configuration's)."""
    try:
        return _session(region).client(service)
    except BotoCoreError as error:  # no region, an unknown AWS_PROFILE
        raise _fail(error, env, service) from error


def error_code(error: ClientError) -> str:
    """The AWS error code of a failed call (``ResourceNotFoundException``...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def guarded(env: str, what: str, call: Callable[[], Any]) -> Any:
    """``call()``, its AWS errors (no credentials, no region, access denied) as one OperateError line."""
    try:
        return call()
    except (BotoCoreError, ClientError) as error:
        raise _fail(error, env, what) from error


def confirmed(
    question: str,
    *,
    yes: bool,
    console: Console,
    flag_hint: str,
    confirm: Callable[[str], bool] | None = None,
) -> bool:
    """True when the operator agrees to a state change: ``--yes``, or a yes at the terminal prompt.

    Outside a terminal without ``--yes`` nothing is asked and nothing changes: an OperateError naming
    ``flag_hint`` (the command to run again with ``--yes``).
    """
    if yes:
        return True
    if confirm is None:
        if not sys.stdin.isatty():
            raise OperateError(f"{flag_hint}: needs --yes when not run from a terminal (nothing changed)")
        from rich.prompt import Confirm

        confirm = lambda text: Confirm.ask(text, console=console, default=False)  # noqa: E731
    return bool(confirm(question))
