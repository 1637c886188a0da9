"""Blue/green promotion with write-audit-publish (docs/PROMOTION.md).

An environment has two slots, blue and green. Each names a job-assets version (the content hash of the
package, ``cdk/packaging.py``) and owns a gold folder (``<gold>/<slot>/``); the *active* slot is the one
the pipeline runs and readers read. ``promote`` writes the candidate version to the inactive slot, runs its
gold job into the audit location (``<gold>/audit/``: shadow gold, neither slot), compares the shadow with
the published gold (gates), and only when every gate passes moves the shadow into the inactive slot and
flips the active slot: one atomic write of the slots document (locally ``<lake>/_control/slots.json``; on
AWS the SSM parameter the state machines read at the start of every execution). Otherwise the document is
written back as it was. ``rollback`` flips back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from .gates import evaluate_gates
from .model import Control, Gate, PromotionError, Record, SlotState, now_iso


@dataclass
class Outcome:
    """What a promotion or rollback did: its history record, the gates, and the slots' state after it."""

    record: Record
    gates: list[Gate]
    state: SlotState


def _new_id(action: str) -> str:
    return f"{action[:4]}-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


def promote(
    control: Control,
    auditor: Any,
    version: str,
    *,
    thresholds: Any,
    actor: str,
    source_env: str = "",
    confirm: Any = None,
) -> Outcome:
    """Write-audit-publish ``version`` into ``control``'s environment (see the module docstring).

    ``confirm(record, gates) -> bool`` is asked after the gates passed and before publishing. Until the
    flip nothing readers see changes, and a refusal, a cancellation or an error puts the slots document
    back exactly as it was (the inactive slot's gold, the rollback target, is never touched before publish).
    """
    auditor.ensure(version)
    record = Record(
        id=_new_id("promote"),
        env=control.env,
        action="promote",
        version=version,
        from_slot="",
        to_slot="",
        actor=actor,
        started_at=now_iso(),
        source_env=source_env,
    )
    with control.lock(record):
        attempt = _stage(control, record, actor)
        try:
            gates = attempt.run(auditor, thresholds, confirm)
        except BaseException as error:
            attempt.fail(error)
            raise
        attempt.finish()
    return Outcome(record, gates, attempt.final)


def _stage(control: Control, record: Record, actor: str) -> _Attempt:
    """Check that ``record.version`` may be promoted, put the promotion on record as in progress and stage it.

    Staged: the candidate in the inactive slot, the active slot pinned to its version ("" would follow
    deploys) and no rollback target (no rollback to a slot whose version is being replaced).
    """
    control.check_no_writer_running()
    state = control.read()
    version = record.version
    active_version = state.version(state.active, control.deployed_version())
    if version == active_version:
        raise PromotionError(
            f"--version {version}: already the active version of --env {control.env} (slot {state.active})"
        )
    target = state.inactive
    record.from_slot, record.to_slot, record.previous_version = state.active, target, active_version
    record.previous_state, record.result = state.to_json(), "in-progress"
    control.record(record)  # an interrupted promotion is on record, with the document to restore
    staged = replace(
        state,
        slots={state.active: active_version, target: version},
        rollback=None,
        updated_at=now_iso(),
        updated_by=actor,
        change=f"{record.id}: auditing {version} for {target}",
    )
    return _Attempt(control, record, state, staged, final=state)


@dataclass
class _Attempt:
    """One staged promotion, from the audit to its end: the document to restore and how far it got.

    ``moving``: the inactive slot's previous gold (the rollback target) is being replaced; ``flipped``: the
    active slot flipped, the candidate is published; ``final``: the slots document at the end.
    """

    control: Control
    record: Record
    state: SlotState
    staged: SlotState
    final: SlotState
    moving: bool = False
    flipped: bool = False

    def run(self, auditor: Any, thresholds: Any, confirm: Any) -> list[Gate]:
        """Write the staged document, audit the candidate, judge the gates and publish when they all pass."""
        control, record = self.control, self.record
        # 1. the candidate is written to the inactive slot
        control.write(self.staged)
        # 2. audit: the candidate's gold job writes the audit location, never a slot readers can see
        control.clear_audit()
        audit = auditor.run(record.version, slot_uri=control.audit_uri(), batch_id=f"audit-{record.id}")
        # 3. gates
        gates = evaluate_gates(
            audit,
            published_uri=control.gold_uri(self.state.active).rstrip("/"),
            candidate_uri=control.audit_uri().rstrip("/"),
            thresholds=thresholds,
            control=control,
        )
        record.gates = [asdict(g) for g in gates]
        if self._accepted(gates, confirm):
            self._publish()
        return gates

    def _accepted(self, gates: list[Gate], confirm: Any) -> bool:
        """Every gate passed and the operator (when asked) confirmed; otherwise the record says why not."""
        record = self.record
        passed = all(g.passed for g in gates)
        if passed and confirm is not None and not confirm(record, gates):
            passed, record.result, record.message = False, "cancelled", "not confirmed by the operator"
        elif not passed:
            record.result = "refused"
            record.message = "; ".join(f"{g.name}: {g.detail}" for g in gates if not g.passed)
        return passed

    def _publish(self) -> None:
        """4. publish: the audited gold becomes the inactive slot's, then one write flips the active slot."""
        control, record, state = self.control, self.record, self.state
        target = record.to_slot
        self.moving = True  # from here the inactive slot's previous gold (the rollback target) is replaced
        control.move_audit_to(target)
        self.final = replace(
            self.staged,
            active=target,
            rollback=state.active,
            updated_at=now_iso(),
            change=f"{record.id}: published {record.version} in {target}",
        )
        control.write(self.final)
        self.flipped = True
        record.result = "published"
        record.message = f"active slot {state.active} -> {target}"
        moved = control.publish_readers(target)
        if moved:
            record.message += f"; re-pointed {len(moved)} Glue tables"

    def fail(self, error: BaseException) -> None:
        """After ``error``: unless published, the document as it was (without a half-replaced rollback target)."""
        record = self.record
        if not self.flipped:
            self.control.write(replace(self.state, rollback=None) if self.moving else self.state)
        record.result = "published" if self.flipped else "failed"
        record.message = (record.message + "; " if self.flipped else "") + f"{type(error).__name__}: {error}"
        self._close()

    def finish(self) -> None:
        """The normal end: unless published (refused, cancelled), the document as it was and no audit left."""
        if not self.flipped:
            self.control.write(self.state)
            self.control.clear_audit()
        self._close()

    def _close(self) -> None:
        """Put the ended promotion on record."""
        self.record.ended_at = now_iso()
        self.control.record(self.record)


def recover(control: Control, promotion_id: str, *, actor: str) -> Record:
    """Finish an interrupted promotion: restore the slots document it replaced and release its lock.

    Only for a promotion recorded ``in-progress`` whose process is gone (killed, lost laptop): the document
    is restored only if it still is the one that promotion wrote.
    """
    records = {r.id: r for r in control.history()}
    record = records.get(promotion_id)
    if record is None or record.action != "promote":
        raise PromotionError(
            f"--recover {promotion_id}: no promotion with that id in the history of --env {control.env}"
        )
    if record.result != "in-progress":
        raise PromotionError(f"--recover {promotion_id}: it ended ({record.result}); nothing to recover")
    released = control.release_abandoned(promotion_id)
    holder = Record(
        id=f"recover-{promotion_id}",
        env=control.env,
        action="recover",
        version=record.version,
        from_slot=record.from_slot,
        to_slot=record.to_slot,
        actor=actor,
        started_at=now_iso(),
    )
    with control.lock(holder):  # refused if the promotion is in fact still running
        state = control.read()
        if state.change.startswith(f"{promotion_id}: auditing") and record.previous_state:
            control.write(SlotState.from_json(record.previous_state, f"record {promotion_id}"))
            restored = "restored the slots document it replaced"
        else:
            restored = f"left the slots document as it is ({state.change or 'initial state'})"
        control.clear_audit()
        record.result = "failed"
        record.message = f"interrupted; recovered by {actor}: {restored}" + ("; released its lock" if released else "")
        record.ended_at = now_iso()
        control.record(record)
    return record


def rollback(control: Control, *, actor: str) -> Outcome:
    """Flip back to the slot published before, whose gold is still as it was when it was left."""
    record = Record(
        id=_new_id("rollback"),
        env=control.env,
        action="rollback",
        version="",
        from_slot="",
        to_slot="",
        actor=actor,
        started_at=now_iso(),
    )
    with control.lock(record):
        state = control.read()
        if state.rollback is None:
            raise PromotionError(
                f"--env {control.env}: nothing to roll back to: slot {state.inactive} holds no published gold "
                f"(no promotion yet, or a promotion attempt replaced it: {state.change or 'initial state'})"
            )
        deployed = control.deployed_version()
        target = state.rollback
        record.from_slot, record.to_slot = state.active, target
        record.previous_version, record.version = state.version(state.active, deployed), state.version(target, deployed)
        final = replace(
            state,
            active=target,
            rollback=state.active,
            updated_at=now_iso(),
            updated_by=actor,
            change=f"{record.id}: rolled back {state.active} -> {target}",
        )
        control.write(final)
        moved = control.publish_readers(target)
        record.result = "rolled-back"
        record.message = f"active slot {state.active} -> {target}" + (
            f"; re-pointed {len(moved)} Glue tables" if moved else ""
        )
        record.ended_at = now_iso()
        control.record(record)
    return Outcome(record, [], final)


def proven(history: Sequence[Record], version: str) -> Record | None:
    """The newest record of ``version`` passing every gate and being published in that environment, unless
    that environment rolled back away from it afterwards (it misbehaved there)."""
    passed = [r for r in history if r.action == "promote" and r.version == version and r.result == "published"]
    if not passed:
        return None
    newest = max(passed, key=lambda r: r.started_at)
    rolled_away = [
        r
        for r in history
        if r.action == "rollback"
        and r.result == "rolled-back"
        and r.previous_version == version
        and r.started_at > newest.started_at
    ]
    return None if rolled_away else newest
