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
        control.check_no_writer_running()
        state = control.read()
        deployed = control.deployed_version()
        active_version = state.version(state.active, deployed)
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
            rollback=None,  # no rollback to a slot whose version is being replaced
            updated_at=now_iso(),
            updated_by=actor,
            change=f"{record.id}: auditing {version} for {target}",
        )
        flipped = moving = False
        final = state
        try:
            # 1. the candidate is written to the inactive slot (the active one pinned: "" would follow deploys)
            control.write(staged)
            # 2. audit: the candidate's gold job writes the audit location, never a slot readers can see
            control.clear_audit()
            audit = auditor.run(version, slot_uri=control.audit_uri(), batch_id=f"audit-{record.id}")
            # 3. gates
            gates = evaluate_gates(
                audit,
                published_uri=control.gold_uri(state.active).rstrip("/"),
                candidate_uri=control.audit_uri().rstrip("/"),
                thresholds=thresholds,
                control=control,
            )
            record.gates = [asdict(g) for g in gates]
            passed = all(g.passed for g in gates)
            if passed and confirm is not None and not confirm(record, gates):
                passed, record.result, record.message = False, "cancelled", "not confirmed by the operator"
            elif not passed:
                record.result = "refused"
                record.message = "; ".join(f"{g.name}: {g.detail}" for g in gates if not g.passed)
            if passed:
                # 4. publish: the audited gold becomes the inactive slot's, then one write flips the active slot
                moving = True  # from here the inactive slot's previous gold (the rollback target) is replaced
                control.move_audit_to(target)
                final = replace(
                    staged,
                    active=target,
                    rollback=state.active,
                    updated_at=now_iso(),
                    change=f"{record.id}: published {version} in {target}",
                )
                control.write(final)
                flipped = True
                record.result = "published"
                record.message = f"active slot {state.active} -> {target}"
                moved = control.publish_readers(target)
                if moved:
                    record.message += f"; re-pointed {len(moved)} Glue tables"
        except BaseException as error:
            if not flipped:  # nothing published: back to where it was (without a half-replaced rollback target)
                control.write(replace(state, rollback=None) if moving else state)
            record.result = "published" if flipped else "failed"
            record.message = (record.message + "; " if flipped else "") + f"{type(error).__name__}: {error}"
            record.ended_at = now_iso()
            control.record(record)
            raise
        if not flipped:
            control.write(state)
            control.clear_audit()
        record.ended_at = now_iso()
        control.record(record)
    return Outcome(record, gates, final)


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
