"""The local lake's control plane, :class:`LocalControl`: files under ``<lake>/_control/``."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from job_assets.context import CONTROL_DIR, SLOTS_FILE
from platform_model import aws_names

from ..locks import held_lock
from .model import INITIAL_STATE, LockedError, PromotionError, Record, SlotState
from .versions import checkout_version

AUDIT_DIR = aws_names.AUDIT_PREFIX.rstrip("/")


class LocalControl:
    """The local lake's control plane: ``<lake>/_control/`` holds the slots document (the stand-in for the
    SSM parameter), ``promotions.jsonl`` (history), ``promotion.lock`` and the packaged ``versions/``."""

    def __init__(self, root: Path) -> None:
        self.env = "local"
        self.root = root
        self.dir = root / CONTROL_DIR
        self.slots_path = self.dir / SLOTS_FILE
        self.history_path = self.dir / "promotions.jsonl"
        self.lock_path = self.dir / "promotion.lock"

    def read(self) -> SlotState:
        if not self.slots_path.exists():
            return INITIAL_STATE
        return SlotState.from_json(self.slots_path.read_text(encoding="utf-8"), str(self.slots_path))

    def write(self, state: SlotState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.slots_path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(state.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.slots_path)  # atomic: readers see the old document or the new one

    def deployed_version(self) -> str:
        """Locally "deployed" is the checkout's code: the version ``lakehouse package`` gives it."""
        return checkout_version()

    def gold_uri(self, slot: str) -> str:
        return str(self.root / "gold" / slot)

    def audit_uri(self) -> str:
        return str(self.root / "gold" / AUDIT_DIR)

    def clear_audit(self) -> None:
        shutil.rmtree(self.audit_uri(), ignore_errors=True)

    def move_audit_to(self, slot: str) -> None:
        """The audited gold becomes ``slot``'s gold (the slot is not published: nobody reads it)."""
        shutil.rmtree(self.gold_uri(slot), ignore_errors=True)
        os.rename(self.audit_uri(), self.gold_uri(slot))  # Delta logs hold relative paths: tables move whole

    def publish_readers(self, slot: str) -> list[str]:
        return []  # local readers resolve gold through the slots document itself (LakeLocations.for_root)

    def readers_elsewhere(self, slot: str) -> list[str]:
        return []

    def check_no_writer_running(self) -> None:
        return None  # a local lake has one writer at a time by convention (docs/PIPELINE.md)

    @contextmanager
    def lock(self, record: Record) -> Iterator[None]:
        """An exclusive ``flock`` on ``promotion.lock`` (:func:`lakehouse.locks.held_lock`): the kernel releases
        it when its holder exits, so a crashed promotion never leaves the lake locked; the file names the
        holder for whoever is refused."""
        holder = {
            "id": record.id,
            "action": record.action,
            "actor": record.actor,
            "pid": os.getpid(),
            "started_at": record.started_at,
        }

        def refused(other: dict[str, Any]) -> LockedError:
            return LockedError(
                f"--env local: {other.get('action', 'a promotion')} {other.get('id', '(starting)')} by "
                f"{other.get('actor', '?')} (pid {other.get('pid', '?')}) holds {self.lock_path} since "
                f"{other.get('started_at', '?')}; wait for it to finish"
            )

        with held_lock(self.lock_path, holder, refused):
            yield

    def release_abandoned(self, promotion_id: str) -> bool:
        """Locally a dead holder's lock is already free (flock); nothing to release."""
        return False

    def record(self, record: Record) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.history_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(record), sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def history(self) -> list[Record]:
        """Every record, the newest state of each (a promotion is written when it starts and when it ends)."""
        if not self.history_path.exists():
            return []
        records: dict[str, Record] = {}
        for number, line in enumerate(self.history_path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = Record(**json.loads(line))
            except (ValueError, TypeError) as error:
                raise PromotionError(f"{self.history_path}:{number}: not a promotion record ({error})") from None
            records[record.id] = record
        return list(records.values())

    def storage_options(self) -> dict[str, str] | None:
        return None

    def table_exists(self, uri: str) -> bool:
        return (Path(uri) / "_delta_log").is_dir()
