"""Table-level recovery (issue 17): `lakehouse table check|restore|repair`, on a local lake or an S3 lake.

- :mod:`.check`: is a table whole? Its log and files read by hand (:mod:`.log`, :mod:`.store`), no Spark.
- :mod:`.restore`: Delta RESTORE through the table engine, validated first, refused while a writer runs.
- :mod:`.repair`: rebuild a damaged checkpoint, bring back lost files from S3 versions, or say what to restore.
- :mod:`.writer_guard`: one writer at a time (the local lake's writer lock; the state machines on ``--env``).
- :mod:`.journal`: the record of what a restore or repair changed.

The package imports no Spark and no delta-rs: :mod:`.target` (which names a lake's tables) and the writing
commands are imported by the CLI when a command runs, so ``lakehouse --help`` stays light.
"""

from __future__ import annotations

from .check import CheckResult, Finding, NoTableError, check_table, report_check
from .errors import RecoveryError
from .writer_guard import WriterRunningError, writer_lock

__all__ = [
    "CheckResult",
    "Finding",
    "NoTableError",
    "RecoveryError",
    "WriterRunningError",
    "check_table",
    "report_check",
    "writer_lock",
]
