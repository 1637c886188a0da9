"""One writer at a time, for the recovery commands that write (restore, repair).

Locally: ``<lake>/_control/writer.lock``, an exclusive ``flock`` that ``lakehouse run`` holds for the whole
run (:func:`writer_lock`) and that a restore or repair takes for its own writes: whichever comes second is
refused with the holder's name. The kernel drops a ``flock`` when its holder exits, so a killed run never
leaves the lake locked. On a deployed environment (``--env``): a RUNNING execution of the pipeline or the
maintenance state machine refuses the command, as promotion refuses (docs/adr/0008).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..locks import WriterMachineMissingError, held_lock, running_writer

CONTROL_DIR = "_control"
LOCK_FILE = "writer.lock"


class WriterRunningError(UsageError):
    """Another writer holds the lake (the message names it and says what to do): the CLI prints it as one line
    and exits 2, whichever command was refused (``lakehouse run`` included)."""


def lock_path(root: Path) -> Path:
    """``<lake>/_control/writer.lock``."""
    return root / CONTROL_DIR / LOCK_FILE


@contextmanager
def writer_lock(root: Path, holder: str) -> Iterator[None]:
    """Hold the local lake's writer lock for the block; WriterRunningError when another process holds it.

    ``holder`` says who holds it (``lakehouse run``, ``lakehouse table restore silver.orders``): written into
    the lock file for whoever is refused.
    """
    record = {"holder": holder, "pid": os.getpid(), "user": _user(), "since": dt.datetime.now(dt.UTC).isoformat()}

    def refused(other: dict[str, Any]) -> WriterRunningError:
        return WriterRunningError(f"{root}: a writer is running ({_describe(other)}); try again when it has finished")

    with held_lock(lock_path(root), record, refused):
        yield


def _describe(holder: dict[str, Any]) -> str:
    """Who holds the lock, from what it wrote into the lock file."""
    if not holder:
        return "holder unknown"
    name, pid, user, since = (holder.get(k, "?") for k in ("holder", "pid", "user", "since"))
    return f"{name}, pid {pid}, {user}, since {since}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def operator() -> str:
    """Who runs the command: ``$LAKEHOUSE_OPERATOR``, else the login name."""
    return os.environ.get("LAKEHOUSE_OPERATOR") or _user()


def check_no_aws_writer(env: str, *, project: str, session: Any) -> None:
    """WriterRunningError while the environment's pipeline or maintenance state machine has a RUNNING
    execution (or when a machine is not found: the environment is not deployed as expected)."""
    try:
        running = running_writer(session, env, project)
    except WriterMachineMissingError as missing:
        raise WriterRunningError(
            f"--env {env}: state machine {missing.name} not found: is the environment deployed?"
        ) from None
    if running:
        machine, execution = running
        raise WriterRunningError(
            f"--env {env}: {machine} execution {execution} is running; try again when it has finished "
            f"(lakehouse pipeline runs --env {env})"
        )
