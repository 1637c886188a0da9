"""Recovery drills (issue 17): `lakehouse drill SCENARIO` breaks a lake on purpose, recovers it with the
commands the runbooks name, and measures what the recovery took and what it lost.

- :mod:`.measure`: the lake's state as rows per table, and what a recovery lost against it (RPO in rows).
- :mod:`.scenarios`: the scenarios, each an injection and the runbook's commands, run in-process through
  :func:`lakehouse.cli.main` exactly as an operator types them.
- :mod:`.runner`: prepare a lake (or take a prepared one), time the recovery (RTO: failure injected ->
  recovered and verified), record the result in ``<lake>/_control/drills.jsonl``.

docs/RECOVERY_DRILLS.md holds the measured figures beside the objectives of docs/runbooks/BACKUP_AND_RESTORE.md.
"""

from __future__ import annotations

from .runner import DrillResult, run_drill
from .scenarios import SCENARIOS

__all__ = ["SCENARIOS", "DrillResult", "run_drill"]
