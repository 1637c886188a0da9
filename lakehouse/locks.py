"""What every lake writer of the CLI checks before it writes, shared by promotion and recovery.

* :func:`held_lock`: an exclusive ``flock`` on a local lock file for a block. The kernel drops it when its
  holder exits, so a crashed command never leaves the lake locked; the file names the holder for whoever
  is refused (promotion's ``promotion.lock``, the lake's ``writer.lock``).
* :func:`running_writer`: a deployed environment's RUNNING lake writer, an execution of its pipeline or
  maintenance state machine (docs/adr/0008), which promotion and the recovery commands wait for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from platform_model import aws_names


def lock_record(path: Path) -> dict[str, Any]:
    """What the holder of the lock at ``path`` wrote about itself; ``{}`` when nothing readable is there."""
    try:
        return dict(json.loads(path.read_text(encoding="utf-8") or "{}"))
    except (OSError, ValueError, TypeError):
        return {}


@contextmanager
def held_lock(path: Path, record: Mapping[str, Any], refused: Callable[[dict[str, Any]], Exception]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the block, with ``record`` (JSON) in the file; when another
    process holds it, raise ``refused(<its record>)`` without waiting."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise refused(lock_record(path)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(dict(record)).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class WriterMachineMissingError(LookupError):
    """A lake writer's state machine does not exist: the environment is not deployed as expected."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def running_writer(session: Any, env: str, project: str) -> tuple[str, str] | None:
    """(state machine name, execution name) of a RUNNING execution of ``env``'s pipeline or maintenance state
    machine, or None; :class:`WriterMachineMissingError` when one of them does not exist."""
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
            raise WriterMachineMissingError(name) from None
        if running:
            return name, running[0]["name"]
    return None
