"""A Delta log, read by hand (pure functions over file names and bytes): which commits and checkpoints the
listing holds, which versions are missing, and the live files the actions leave.

Reader 1 / writer 2 tables only (docs/adr/0005): classic single- or multi-part checkpoints, JSON commits,
``add`` and ``remove`` actions. The same reading as ``lambdas/ops_common/delta_log.py`` (which the CLI may
not import), on names and bytes instead of S3 calls, so that the checks are unit-tested without a table.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

LOG = "_delta_log"
LAST_CHECKPOINT = "_last_checkpoint"
_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$")


def commit_name(version: int) -> str:
    """``_delta_log/<version>.json``."""
    return f"{LOG}/{version:020d}.json"


@dataclass(frozen=True)
class Listing:
    """What ``_delta_log/`` holds: commit versions, checkpoint parts per version, and ``_last_checkpoint``."""

    commits: frozenset[int]
    checkpoints: Mapping[int, tuple[str, ...]]
    """Version -> the part names present, for the checkpoints whose parts are all present."""
    incomplete: Mapping[int, tuple[str, ...]]
    """Version -> the part names present, for multi-part checkpoints missing a part."""
    has_last_checkpoint: bool

    @property
    def empty(self) -> bool:
        return not self.commits and not self.checkpoints and not self.incomplete

    @property
    def latest(self) -> int | None:
        """The newest version the listing names (a commit or a checkpoint)."""
        versions = [*self.commits, *self.checkpoints]
        return max(versions) if versions else None


def parse_listing(names: Iterable[str]) -> Listing:
    """Classify the names found directly in ``_delta_log/``."""
    commits: set[int] = set()
    parts: dict[int, list[str]] = {}
    expected: dict[int, int] = {}
    for name in names:
        if m := _COMMIT.match(name):
            commits.add(int(m.group(1)))
        elif m := _CHECKPOINT.match(name):
            version = int(m.group(1))
            parts.setdefault(version, []).append(name)
            expected[version] = int(m.group(3)) if m.group(3) else 1
    complete = {v: tuple(sorted(p)) for v, p in parts.items() if len(p) == expected[v]}
    incomplete = {v: tuple(sorted(p)) for v, p in parts.items() if len(p) != expected[v]}
    return Listing(frozenset(commits), complete, incomplete, LAST_CHECKPOINT in set(names))


def missing_versions(commits: Iterable[int], after: int, through: int) -> list[int]:
    """Versions in ``(after, through]`` with no commit file: a reader cannot cross them."""
    present = set(commits)
    return [v for v in range(after + 1, through + 1) if v not in present]


def runs(versions: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted versions as runs of consecutive ones: [3, 4, 5, 9] -> [(3, 5), (9, 9)]."""
    out: list[tuple[int, int]] = []
    for v in sorted(versions):
        if out and out[-1][1] == v - 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def last_checkpoint_version(body: bytes) -> int:
    """The version ``_last_checkpoint`` names (ValueError when it is not such a document)."""
    doc = json.loads(body.decode("utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
        raise ValueError("no integer 'version'")
    return int(doc["version"])


def commit_actions(body: bytes) -> list[dict[str, Any]]:
    """The actions of one JSON commit, one per line (ValueError naming the line that does not parse)."""
    actions = []
    for number, line in enumerate(body.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            actions.append(json.loads(line))
        except ValueError as error:
            raise ValueError(f"line {number} is not JSON ({error.msg})") from None
    if not actions:
        raise ValueError("no actions")
    return actions


def checkpoint_actions(bodies: Iterable[bytes]) -> list[dict[str, Any]]:
    """The ``add`` and ``remove`` actions of a classic checkpoint's parts (pyarrow; errors as raised)."""
    import pyarrow.parquet as pq

    actions: list[dict[str, Any]] = []
    for body in bodies:
        table = pq.read_table(io.BytesIO(body))
        wanted = [c for c in ("add", "remove") if c in table.column_names]
        for row in table.select(wanted).to_pylist():
            actions += [{kind: row[kind]} for kind in wanted if row.get(kind)]
    return actions


@dataclass
class LiveFiles:
    """Replay of add/remove actions: each live file's add action and the version that added it."""

    adds: dict[str, dict[str, Any]] = field(default_factory=dict)
    added_in: dict[str, int] = field(default_factory=dict)

    def apply(self, actions: Iterable[dict[str, Any]], version: int) -> None:
        """Apply one commit's (or a checkpoint's) actions, in order."""
        for action in actions:
            if add := action.get("add"):
                self.adds[add["path"]] = add
                self.added_in[add["path"]] = version
            elif remove := action.get("remove"):
                self.adds.pop(remove["path"], None)
                self.added_in.pop(remove["path"], None)


def parquet_footer_ok(tail: bytes) -> str | None:
    """None when ``tail`` (a file's last bytes) ends with a Parquet footer pyarrow reads, else why not."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if len(tail) < 12 or tail[-4:] != b"PAR1":
        return "no Parquet footer (the file is truncated or not Parquet)"
    length = int.from_bytes(tail[-8:-4], "little")
    if length + 8 > len(tail):
        return f"footer of {length} bytes is longer than the {len(tail)} bytes read"
    try:
        pq.read_metadata(pa.BufferReader(b"PAR1" + tail[-(length + 8) :]))
    except (pa.ArrowException, OSError, ValueError) as error:
        return f"footer does not parse ({error})"
    return None


FOOTER_BYTES = 1 << 20
"""How much of a data file's end :func:`parquet_footer_ok` reads (a footer larger than 1 MiB is reported)."""
