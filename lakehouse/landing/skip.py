"""``lakehouse landing skip|retry``: take a landing file that crashes bronze out of the way, and bring it back.

A *poison* file is one bronze cannot get past: a truncated gzip stream, for one, fails the batch's Spark job
every time, and a batch that failed is resumed with the same files by the next run (the ingestion log is a
write-ahead log, job_assets/jobs/bronze.py), so the pipeline stops until the file is dealt with.

``skip`` appends one row to the ingestion log, ``bronze.ingestion_log``: status ``skipped``, the operator's
reason (and who gave it) in ``message``, and in ``batch_id`` the batch that had claimed the file and never
finished it (empty when no batch claimed it yet). From then on bronze leaves the file alone: a batch it
crashed is resumed without it, and no new batch claims it (``job_assets.jobs.bronze.live_rows``). ``retry``
appends a ``retried`` row: the file is new again, and the next run claims it in a batch of its own, normally
after the producer delivered it again or someone repaired it in place.

The file itself is never deleted or moved, on purpose:

- the ingestion log keys every row on the file's landing path; a moved file would be a new file to bronze
  (ingested twice, once fixed) and its skip would point at nothing;
- landing is the lake's raw record: on AWS its bucket's lifecycle keeps every file for the configured
  retention and replicates it to the DR region (``cdk/constructs/lake_bucket.py``), and the landing intake
  records each object it saw; deleting or moving a delivery would break both the audit trail and a replay;
- skipping must be undoable by one command, with the evidence (the file as delivered) still there.

A skip of a file already ingested, empty or rejected is refused: bronze reads a file once, so a skip would
change nothing. ``pending`` lists the files of unfinished batches (the poison file is among them) and the
skipped ones, read through the read-only adapter without Spark.

Both commands act on a local lake (``--lake-root``) or a deployed environment's S3 lake (``--env``), writing
through the table engine on this machine's Spark session as ``lakehouse run`` does. One writer at a time:
locally the lake's writer lock; on AWS the ingestion log's writer is the pipeline's job under the
single-writer guard (docs/adr/0008), and delta-spark commits to S3 assuming no other writer, so the append is
refused while the pipeline or maintenance state machine runs (as ``lakehouse table restore --env`` is). What
remains is the seconds between that check and the commit: pause the schedule first when runs start often.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from job_assets.contracts.ops import INGESTION_LOG
from job_assets.jobs.bronze import FINAL, live_rows

SKIPPED, RETRIED = "skipped", "retried"
NO_BATCH = ""
"""The ``batch_id`` of a skip of a file no batch had claimed, and of every retry: they retire no batch."""


class SkipError(Exception):
    """Bad input for skip or retry (no such file, a file already ingested, not skipped): one clear line."""


@dataclass(frozen=True)
class FileState:
    """What the ingestion log says of one landing file, after its skips and retries."""

    state: str
    """``new`` (no batch claimed it), ``open`` (claimed, never finished), ``skipped``, or a FINAL status."""
    batch: str
    message: str = ""


@dataclass(frozen=True)
class LandingFile:
    """One delivered file: its path relative to landing, its size and its modification time (UTC, naive)."""

    rel: str
    size: int
    modified: dt.datetime
    shown: str
    """Where it is, as the operator reads it (a local path or an ``s3://`` URI)."""


@dataclass(frozen=True)
class LandingLake:
    """The lake whose landing files are skipped or retried: a local folder (``root``) or a deployed
    environment's S3 lake (``env``, with its boto3 ``session``)."""

    locations: Any
    where: str
    root: Path | None = None
    env: str | None = None
    project: str | None = None
    session: Any = None
    storage_options: dict[str, str] | None = None

    @classmethod
    def local(cls, root: Path) -> LandingLake:
        """A local lake; SkipError when ``root`` has no landing folder."""
        from job_assets.context import LakeLocations

        if not (root / "landing").is_dir():
            raise SkipError(f"--lake-root {root}: no landing folder (not a lake root?)")
        return cls(LakeLocations.for_root(str(root)), f"--lake-root {root}", root=root)

    def file(self, file: str) -> LandingFile:
        """FILE (relative to landing, or a local path to it); SkipError when there is no such delivery."""
        if self.root is not None:
            return _local_file(self.root, file)
        bucket, _, prefix = self.locations.landing.split("://", 1)[1].partition("/")
        key = f"{prefix.strip('/')}/{file}".lstrip("/")
        from botocore.exceptions import ClientError

        try:
            head = self.session.client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound"):
                raise SkipError(f"{file}: no such landing object s3://{bucket}/{key}") from None
            raise SkipError(f"{self.where}: s3://{bucket}/{key}: {error}") from None
        modified = head["LastModified"].astimezone(dt.UTC).replace(tzinfo=None)
        return LandingFile(file, int(head["ContentLength"]), modified, f"s3://{bucket}/{key}")


def _local_file(root: Path, file: str) -> LandingFile:
    landing = root / "landing"
    given = Path(file).expanduser()
    path = given.resolve() if given.is_absolute() or given.exists() else (landing / file).resolve()
    try:
        rel = path.relative_to(landing.resolve()).as_posix()
    except ValueError:
        raise SkipError(f"{file}: not under {landing}; give the path relative to landing") from None
    if not path.is_file():
        raise SkipError(f"{file}: no such landing file {path}")
    stat = path.stat()
    modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None)
    return LandingFile(rel, stat.st_size, modified, str(path))


def file_state(rows: list[dict[str, Any]]) -> FileState:
    """The state of one file from its rows of the ingestion log, as bronze plans from them."""
    mine = live_rows(rows)
    if not mine:
        return FileState("new", NO_BATCH)
    statuses = {r["status"]: r for r in mine}
    for status in (SKIPPED, *FINAL):
        if status in statuses:
            return FileState(status, str(statuses[status]["batch_id"]), str(statuses[status].get("message") or ""))
    return FileState("open", str(statuses["claimed"]["batch_id"]))


def read_log(lake: LandingLake) -> dict[str, list[dict[str, Any]]]:
    """The ingestion log's rows by file, read with the read-only adapter (no Spark: bad input is refused
    before one starts); empty before the first run."""
    from job_assets.delta_read import DeltaReader

    uri = lake.locations.table_uri(INGESTION_LOG.name)
    by_file: dict[str, list[dict[str, Any]]] = {}
    for r in DeltaReader(lake.storage_options).rows(uri, ("source_file", "status", "batch_id", "message")):
        by_file.setdefault(r["source_file"], []).append(r)
    return by_file


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment nor the password database
        return "an unknown user"


def _row(f: LandingFile, status: str, batch: str, message: str) -> dict[str, Any]:
    from job_assets.transforms.bronze import classify_landing_path

    entity, dt_part, _ = classify_landing_path(f.rel)
    return {
        "source_file": f.rel,
        "entity": entity.name if entity else f.rel.split("/dt=", maxsplit=1)[0],
        "dt": dt_part,
        "size_bytes": f.size,
        "modified_ts": f.modified,
        "batch_id": batch,
        "status": status,
        "records": None,
        "quarantined": None,
        "logged_ts": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "message": message,
    }


def _append(lake: LandingLake, engine: str, row: dict[str, Any]) -> None:
    """Append ``row`` to the ingestion log through the table engine, as ``lakehouse run`` writes it (the table
    is created when missing: a skip before any run), holding off the other writers (module docstring)."""
    from job_assets.contracts.spark_schema import schema_of

    from ..recovery.writer_guard import check_no_aws_writer, writer_lock

    uri = lake.locations.table_uri(INGESTION_LOG.name)
    if lake.root is not None:
        from ..local.runner import make_context

        with writer_lock(lake.root, f"lakehouse landing {row['status']}"):
            ctx = make_context(lake.root, engine=engine)
            ctx.engine.append_rows(uri, [row], schema_of(INGESTION_LOG))
        return
    from ..recovery.engines import start_engine

    check_no_aws_writer(str(lake.env), project=str(lake.project), session=lake.session)
    start_engine(engine).append_rows(uri, [row], schema_of(INGESTION_LOG))


def pending(lake: LandingLake, *, console: Console) -> int:
    """Print the files claimed by a batch that never finished (a crashed batch: the poison file is among
    them) and the files skipped, with their reasons."""
    states = {rel: file_state(rows) for rel, rows in sorted(read_log(lake).items())}
    listed = {rel: s for rel, s in states.items() if s.state in ("open", SKIPPED)}
    if not listed:
        console.print(f"no landing file is claimed by an unfinished batch or skipped in {lake.where}")
        return 0
    table = Table(title=f"landing files of unfinished batches, and skipped ones: {lake.where}", title_justify="left")
    for column in ("file", "state", "batch", "size", "skip reason"):
        table.add_column(column, overflow="fold", justify="right" if column == "size" else "left")
    for rel, state in listed.items():
        try:
            size = f"{lake.file(rel).size:,}"
        except SkipError:
            size = "gone"
        table.add_row(
            escape(rel),
            "claimed, unfinished" if state.state == "open" else SKIPPED,
            state.batch,
            size,
            escape(state.message),
        )
    console.print(table)
    return 0


def skip(lake: LandingLake, file: str, reason: str, *, engine: str = "auto", console: Console) -> int:
    """Record ``file`` as skipped with ``reason``; bronze leaves it alone until it is retried."""
    if not reason.strip():
        raise SkipError("--reason: say why the file is skipped (it stays in the ingestion log)")
    f = lake.file(file)
    state = file_state(read_log(lake).get(f.rel, []))
    if state.state == SKIPPED:
        raise SkipError(f"{f.rel}: already skipped ({state.message}); `lakehouse landing retry` brings it back")
    if state.state in FINAL:
        raise SkipError(
            f"{f.rel}: already {state.state} in batch {state.batch}: bronze reads a file once, nothing to skip"
        )
    message = f"{reason.strip()} (skipped by {_operator()})"
    _append(lake, engine, _row(f, SKIPPED, state.batch, message))
    claimed = f"; batch {state.batch} resumes without it" if state.state == "open" else ""
    console.print(f"[bold]skipped[/] {escape(f.rel)}: {escape(message)}{claimed}")
    console.print(
        f"the file stays at {escape(f.shown)}; bring it back with "
        f"`lakehouse landing retry {escape(f.rel)} {escape(lake.where)}`"
    )
    return 0


def retry(lake: LandingLake, file: str, *, engine: str = "auto", console: Console) -> int:
    """Make a skipped ``file`` eligible again: the next run claims and ingests it."""
    f = lake.file(file)
    state = file_state(read_log(lake).get(f.rel, []))
    if state.state != SKIPPED:
        raise SkipError(f"{f.rel}: not skipped (ingestion log: {state.state}); only a skipped file can be retried")
    message = f"retried by {_operator()} (skipped for: {state.message})"
    _append(lake, engine, _row(f, RETRIED, NO_BATCH, message))
    console.print(f"[bold]retried[/] {escape(f.rel)}: the next run ingests it")
    return 0
