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
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from platform_model import aws_names

from ..errors import UsageError

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
    import fcntl

    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WriterRunningError(
                f"{root}: a writer is running ({_holder(path)}); try again when it has finished"
            ) from None
        record = {"holder": holder, "pid": os.getpid(), "user": _user(), "since": dt.datetime.now(dt.UTC).isoformat()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        doc = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        doc = {}
    if not doc:
        return "holder unknown"
    return f"{doc.get('holder', '?')}, pid {doc.get('pid', '?')}, {doc.get('user', '?')}, since {doc.get('since', '?')}"


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
    sfn = session.client("stepfunctions")
    account = session.client("sts").get_caller_identity()["Account"]
    partition = session.get_partition_for_region(session.region_name)
    for name in (
        aws_names.pipeline_state_machine_name(env, project),
        aws_names.maintenance_state_machine_name(env, project),
    ):
        arn = f"arn:{partition}:states:{session.region_name}:{account}:stateMachine:{name}"
        try:
            running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1)["executions"]
        except sfn.exceptions.StateMachineDoesNotExist:
            raise WriterRunningError(
                f"--env {env}: state machine {name} not found: is the environment deployed?"
            ) from None
        if running:
            raise WriterRunningError(
                f"--env {env}: {name} execution {running[0]['name']} is running; try again when it has finished "
                f"(lakehouse pipeline runs --env {env})"
            )
