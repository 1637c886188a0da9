"""`lakehouse table check`: is a table whole? Read its log and files without Spark or delta-rs.

Findings, each one line: a ``_last_checkpoint`` that names a missing checkpoint or does not parse, a
checkpoint that does not read or disagrees with the commits it summarises, a gap in the commits after the
checkpoint readers start from, a commit that does not parse (truncated), and every file of the latest version
that is missing, has another size than its add action says, or has no readable Parquet footer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console

from .log import (
    FOOTER_BYTES,
    LAST_CHECKPOINT,
    LOG,
    Listing,
    LiveFiles,
    checkpoint_actions,
    commit_actions,
    commit_name,
    last_checkpoint_version,
    missing_versions,
    parquet_footer_ok,
    parse_listing,
    runs,
)
from .store import TableStore, relative_path

MISSING_CHECKPOINT = "missing-checkpoint"
CORRUPT_CHECKPOINT = "corrupt-checkpoint"
LAST_CHECKPOINT_WRONG = "last-checkpoint"
CHECKPOINT_DISAGREES = "checkpoint-disagrees"
LOG_GAP = "log-gap"
CORRUPT_COMMIT = "corrupt-commit"
MISSING_FILE = "missing-file"
WRONG_SIZE = "wrong-size"
UNREADABLE_FILE = "unreadable-file"
CHECKPOINT_KINDS = frozenset({MISSING_CHECKPOINT, CORRUPT_CHECKPOINT, LAST_CHECKPOINT_WRONG, CHECKPOINT_DISAGREES})
FILE_KINDS = frozenset({MISSING_FILE, WRONG_SIZE, UNREADABLE_FILE})


class NoTableError(LookupError):
    """The location holds no Delta log (the message names it)."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a table: its kind, the file (relative to the table), the version it concerns."""

    kind: str
    path: str
    message: str
    version: int | None = None

    def line(self) -> str:
        """The finding as one line: ``kind: path: message``."""
        return f"{self.kind}: {self.path}: {self.message}"


@dataclass
class CheckResult:
    """What :func:`check_table` found: the listing, the latest version, the live files and the findings."""

    uri: str
    listing: Listing
    latest: int
    checkpoint: int | None
    """The checkpoint the replay started from (None: from version 0)."""
    live: LiveFiles = field(default_factory=LiveFiles)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def check_table(store: TableStore) -> CheckResult:
    """Check the table in ``store`` (NoTableError when there is no log there)."""
    listing = parse_listing(store.list(LOG))
    if listing.empty:
        raise NoTableError(f"no Delta table at {store.uri} (no commit in {LOG}/)")
    result = CheckResult(store.uri, listing, int(listing.latest or 0), None)
    _check_last_checkpoint(store, result)
    base = _start_from_checkpoint(store, result)
    gaps = missing_versions(listing.commits, -1 if base is None else base, result.latest)
    for first, last in runs(gaps):
        what = f"commit {first} is missing" if first == last else f"commits {first}..{last} are missing"
        result.findings.append(Finding(LOG_GAP, commit_name(first), f"{what}: the log is not contiguous", first))
    if not gaps:
        _replay_commits(store, result)
    _check_agreement(store, result)
    _check_files(store, result)
    return result


def _check_last_checkpoint(store: TableStore, result: CheckResult) -> None:
    if not result.listing.has_last_checkpoint:
        return
    path = f"{LOG}/{LAST_CHECKPOINT}"
    try:
        version = last_checkpoint_version(store.read(path))
    except (ValueError, UnicodeDecodeError) as error:
        result.findings.append(Finding(LAST_CHECKPOINT_WRONG, path, f"does not parse ({error})"))
        return
    if version not in result.listing.checkpoints:
        result.findings.append(
            Finding(MISSING_CHECKPOINT, path, f"names checkpoint {version}, which is missing or incomplete", version)
        )


def _read_checkpoint(store: TableStore, parts: tuple[str, ...]) -> list[dict] | None:
    try:
        return checkpoint_actions(store.read(f"{LOG}/{name}") for name in parts)
    except Exception:  # whatever pyarrow raises on a damaged file: the file is reported
        return None


def _start_from_checkpoint(store: TableStore, result: CheckResult) -> int | None:
    """The newest checkpoint that reads (each one that does not is a finding); its files become the live set."""
    for version in sorted(result.listing.checkpoints, reverse=True):
        actions = _read_checkpoint(store, result.listing.checkpoints[version])
        if actions is None:
            name = result.listing.checkpoints[version][0]
            result.findings.append(Finding(CORRUPT_CHECKPOINT, f"{LOG}/{name}", "does not read as Parquet", version))
            continue
        result.checkpoint = version
        result.live.apply(actions, version)
        return version
    for version, parts in result.listing.incomplete.items():
        result.findings.append(
            Finding(MISSING_CHECKPOINT, f"{LOG}/{parts[0]}", "a checkpoint part is missing", version)
        )
    return None


def _replay_commits(store: TableStore, result: CheckResult) -> None:
    start = 0 if result.checkpoint is None else result.checkpoint + 1
    for version in range(start, result.latest + 1):
        try:
            actions = commit_actions(store.read(commit_name(version)))
        except ValueError as error:
            result.findings.append(Finding(CORRUPT_COMMIT, commit_name(version), f"{error}: truncated?", version))
            return
        result.live.apply(actions, version)


def _check_agreement(store: TableStore, result: CheckResult) -> None:
    """The checkpoint holds the files the commits up to it leave (when the log still has them all), and the
    versions that added them (for the advice on a lost file)."""
    if result.checkpoint is None or missing_versions(result.listing.commits, -1, result.checkpoint):
        return
    replay = LiveFiles()
    for version in range(result.checkpoint + 1):
        try:
            replay.apply(commit_actions(store.read(commit_name(version))), version)
        except ValueError as error:
            result.findings.append(Finding(CORRUPT_COMMIT, commit_name(version), f"{error}: truncated?", version))
            return
    at_checkpoint = {p for p, v in result.live.added_in.items() if v <= result.checkpoint}
    if set(replay.adds) != at_checkpoint:
        name = result.listing.checkpoints[result.checkpoint][0]
        differ = len(set(replay.adds) ^ at_checkpoint)
        message = f"lists other live files than commits 0..{result.checkpoint} leave ({differ} differ)"
        result.findings.append(Finding(CHECKPOINT_DISAGREES, f"{LOG}/{name}", message, result.checkpoint))
        return
    result.live.added_in.update(replay.added_in)


def _check_files(store: TableStore, result: CheckResult) -> None:
    for path, add in sorted(result.live.adds.items()):
        relative = relative_path(store.uri, path)
        added = result.live.added_in.get(path)
        size = store.size(relative)
        if size is None:
            result.findings.append(Finding(MISSING_FILE, relative, f"missing (added in version {added})", added))
        elif add.get("size") is not None and size != int(add["size"]):
            message = f"{size} bytes where the log says {add['size']} (added in version {added})"
            result.findings.append(Finding(WRONG_SIZE, relative, message, added))
        elif problem := _footer_problem(store, relative, size):
            result.findings.append(Finding(UNREADABLE_FILE, relative, f"{problem} (added in version {added})", added))


def _footer_problem(store: TableStore, path: str, size: int) -> str | None:
    tail = store.tail(path, min(size, FOOTER_BYTES))
    return parquet_footer_ok(tail)


def report_check(store: TableStore, name: str, console: Console) -> int:
    """Print what :func:`check_table` finds, one line each: 0 when nothing, 1 otherwise."""
    result = check_table(store)
    if result.ok:
        start = "version 0" if result.checkpoint is None else f"checkpoint {result.checkpoint}"
        console.print(
            f"{name}: ok at version {result.latest} ({len(result.live.adds)} files, log contiguous from {start})"
        )
        return 0
    console.print(f"[bold red]{name}[/]: {len(result.findings)} finding(s) at version {result.latest} ({store.uri})")
    for finding in result.findings:
        console.print(f"  {finding.line()}", markup=False, soft_wrap=True)
    return 1
