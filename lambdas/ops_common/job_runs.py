"""What an EMR Serverless job run of ours is: job and batch id, from its name and entry-point arguments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def job_and_batch(name: str, arguments: Sequence[Any] = ()) -> tuple[str, str]:
    """``silver-b20261122T031500Z`` -> ``("silver", "b20261122T031500Z")``.

    The batch id is the ``--batch-id`` entry-point argument when there is one (job run names are
    ``<job>-<batch id>``, and a batch id may itself contain ``-``), else what follows the first ``-``.
    ``""`` for a part that cannot be told.
    """
    batch = argument(arguments, "--batch-id")
    if name and batch and name.endswith(f"-{batch}") and len(name) > len(batch) + 1:
        return name[: -len(batch) - 1], batch
    if name and "-" in name:
        job, rest = name.split("-", 1)
        return job, batch or rest
    return name, batch


def argument(arguments: Sequence[Any], flag: str) -> str:
    """The value of ``flag`` (``--flag value`` or ``--flag=value``) in an argument list, else ``""``."""
    items = [str(a) for a in arguments] if isinstance(arguments, (list, tuple)) else []
    for index, item in enumerate(items):
        if item == flag and index + 1 < len(items):
            return items[index + 1].strip()
        if item.startswith(f"{flag}="):
            return item.split("=", 1)[1].strip()
    return ""
