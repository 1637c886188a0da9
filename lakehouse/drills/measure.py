"""A lake's state as the drills compare it: every row of the tables a scenario protects, as a multiset.

Rows are read through the CLI's one read path (:class:`job_assets.delta_read.DeltaReader`), so a table that
does not open counts as holding nothing: a recovery that leaves it broken has lost all of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from job_assets.context import LakeLocations
from job_assets.delta_read import DeltaReader

State = dict[str, Counter]
"""Table name -> its rows (each a repr of its values in column order) with their multiplicity."""


def snapshot(root: Path, tables: Sequence[str]) -> State:
    """The rows of ``tables`` in the local lake at ``root`` (an empty Counter for a table that does not open)."""
    reader = DeltaReader()
    locations = LakeLocations.for_root(str(root))
    state: State = {}
    for name in tables:
        try:
            table = reader.open(locations.table_uri(name))
            rows = reader.rows(table) if table is not None else []
        except Exception:  # a damaged table holds nothing a reader can use
            rows = []
        state[name] = Counter(repr(tuple(r.values())) for r in rows)
    return state


@dataclass(frozen=True)
class Loss:
    """What a recovered lake lacks against the state before the failure."""

    rows_before: int
    rows_lost: int
    rows_extra: int
    tables_short: tuple[str, ...]
    """Tables missing rows they held before."""
    tables_extra: tuple[str, ...] = ()
    """Tables holding rows they did not hold before (newer deliveries, or older versions of changed rows)."""

    @property
    def none(self) -> bool:
        return self.rows_lost == 0 and self.rows_extra == 0


def loss(before: State, after: State) -> Loss:
    """Rows of ``before`` missing from ``after`` (lost) and rows ``after`` holds that ``before`` did not."""
    lost = extra = 0
    short, grown = [], []
    for name, rows in before.items():
        now = after.get(name, Counter())
        missing, added = sum((rows - now).values()), sum((now - rows).values())
        lost, extra = lost + missing, extra + added
        short += [name] if missing else []
        grown += [name] if added else []
    return Loss(sum(sum(r.values()) for r in before.values()), lost, extra, tuple(short), tuple(grown))
