"""`lakehouse rebuild --from bronze [--layers silver,gold]`: silver and gold built again from bronze, proved
equal to the tables they would replace.

Bronze keeps every record a source delivered (the ingestion log accounts for each file, the quarantine for
each bad row), and silver and gold are functions of it: silver replays bronze's batches in order, gold is a
pure function of silver. So a lost or damaged silver or gold table can be built again, and a healthy one can
be proved to be what bronze says it is.

In order, and nothing live changes before the last step:

1. The input: ``--from`` is bronze; the layers are silver and/or gold. Every bronze table checks whole
   (:func:`lakehouse.recovery.check.check_table`: log contiguous, checkpoint right, every live file there);
   a damaged bronze is repaired first, never rebuilt from.
2. No other writer: the local lake's writer lock, or no running pipeline or maintenance execution (``--env``).
3. Build: the same job code ``lakehouse run`` and EMR run (:func:`job_assets.jobs.pipeline.run_pipeline`), on
   a context whose rebuilt layers point at a staging prefix ``<layer>/_rebuild/<id>/`` beside the live tables
   and whose bronze is the live one. Staged silver has no run history, so silver replays every batch bronze
   finished, oldest first; staged gold is computed from (staged or live) silver.
4. Compare every data table of the rebuilt layers with the live one, row for row (``exceptAll`` both ways on
   the contract's columns) and, for the quarantine, on the columns a replay reproduces (its timestamps say
   when a row was quarantined, which a replay cannot). The operational tables (run summary, DQ results,
   profiles) describe runs, not data: they are compared by nothing and kept.
5. Decide per table: **equal** -> kept, no commit (the proof); **missing** (no table at the location) ->
   installed from the rebuild; **different** -> refused, unless ``--replace-different`` says the rebuild is
   right (e.g. after a bad manual write): then overwritten in one commit, which ``lakehouse table restore``
   can undo. A table whose log does not open is refused with the `table check` / `table repair` commands.
6. Apply (asked first; ``--yes`` for a script), record the rebuild in the recovery journal, remove the
   staging prefix.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from job_assets.context import LakeLocations, RunContext, new_batch_id, table_properties
from job_assets.contracts import BRONZE_TABLES, GOLD_TABLES, SILVER_TABLES, contract
from job_assets.contracts.model import TableContract

from . import journal
from .check import NoTableError, check_table
from .errors import RecoveryError
from .store import LocalStore, S3Store, TableStore
from .writer_guard import check_no_aws_writer, writer_lock

SOURCES = ("bronze",)
"""What a rebuild starts from: bronze, which keeps every record."""
REBUILDABLE = ("silver", "gold")
"""The layers a rebuild builds, in pipeline order."""
STAGING = "_rebuild"
"""The staging prefix inside each rebuilt layer: ``<layer>/_rebuild/<id>/<table>``."""
KEPT_AS_IS = ("run_summary", "dq_results", "profiles")
"""Operational tables: they record runs (when, how long), which a rebuild does not reproduce."""

EQUAL, MISSING, DIFFERENT = "equal", "missing", "different"


@dataclass(frozen=True)
class RebuildRequest:
    """What the operator asked: the layers to rebuild, and whether a different live table may be replaced."""

    layers: tuple[str, ...]
    replace_different: bool = False


@dataclass(frozen=True)
class Comparison:
    """One table, live against rebuilt: row counts and the rows only one side holds."""

    table: str
    live_rows: int | None
    rebuilt_rows: int
    only_live: int = 0
    only_rebuilt: int = 0

    @property
    def verdict(self) -> str:
        if self.live_rows is None:
            return MISSING
        return EQUAL if self.only_live == 0 and self.only_rebuilt == 0 else DIFFERENT


def parse_request(source: str, layers: str | None, replace_different: bool = False) -> RebuildRequest:
    """``--from`` and ``--layers`` checked: RecoveryError naming the input and what is wrong."""
    if source not in SOURCES:
        raise RecoveryError(
            f"--from {source}: a rebuild starts from bronze (it keeps every record; silver and gold are built from it)"
        )
    names = [x.strip() for x in (layers or ",".join(REBUILDABLE)).split(",") if x.strip()]
    unknown = [x for x in names if x not in REBUILDABLE]
    if unknown or not names:
        raise RecoveryError(
            f"--layers {layers}: {', '.join(unknown) or 'nothing'} cannot be rebuilt; "
            f"choose from {', '.join(REBUILDABLE)}"
        )
    return RebuildRequest(tuple(x for x in REBUILDABLE if x in names), replace_different)


def rebuilt_tables(layers: Sequence[str]) -> list[TableContract]:
    """The tables a rebuild of ``layers`` compares (and may install): data tables and the quarantine."""
    data = [c for c in (*SILVER_TABLES, *GOLD_TABLES) if c.layer in layers]
    return data + [contract(f"{layer}.quarantine") for layer in layers]


def compared_columns(c: TableContract) -> list[str]:
    """A data table: every column. The quarantine: all but its timestamps (when a replay quarantined a row)."""
    if c.table != "quarantine":
        return list(c.column_names)
    return [col.name for col in c.columns if col.type != "timestamp"]


def staging_locations(live: LakeLocations, layers: Sequence[str], rebuild_id: str) -> LakeLocations:
    """``live`` with each rebuilt layer moved to its staging prefix; bronze and landing stay live."""
    moved = {layer: f"{live.layer(layer)}/{STAGING}/{rebuild_id}" for layer in layers}
    return replace(live, **moved)


def new_rebuild_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique enough for one operator at a time (the writer lock makes it one)."""
    return "r" + new_batch_id(now)[1:]


def check_bronze(store_for: Callable[[str], TableStore]) -> int:
    """Every bronze data table checks whole; RecoveryError naming the first damaged or missing one."""
    checked = 0
    for c in BRONZE_TABLES:
        store = store_for(c.name)
        try:
            result = check_table(store)
        except NoTableError:
            continue  # a source that never delivered has no bronze table: nothing of it to rebuild
        if not result.ok:
            raise RecoveryError(
                f"{c.name}: bronze is damaged ({result.findings[0].line()}): repair it first "
                f"(lakehouse table check {c.name}); a rebuild never starts from a damaged bronze"
            )
        checked += 1
    if not checked:
        raise RecoveryError("bronze holds no table: there is nothing to rebuild from (run the pipeline first)")
    return checked


def compare(engine: Any, live_uri: str, rebuilt_uri: str, c: TableContract) -> Comparison:
    """Count the rows each side holds that the other does not (multisets: duplicates count).

    One Spark job a table: both sides tagged and grouped by every compared column (nulls group together, as
    ``exceptAll`` matches them), each distinct row's count per side, then ``only_live`` = the sum over rows of
    max(live - rebuilt, 0) and ``only_rebuilt`` the other way: ``live.exceptAll(rebuilt).count()`` and its
    mirror, without the two counts and two set differences (four jobs) a table took before.
    """
    from pyspark.sql import functions as F

    columns = compared_columns(c)
    rebuilt = engine.read(rebuilt_uri).select(*columns)
    if not engine.exists(live_uri):
        return Comparison(c.name, None, rebuilt.count())
    live = engine.read(live_uri).select(*columns)
    side = "__rebuild_side"
    per_row = (
        live.withColumn(side, F.lit(1))
        .unionByName(rebuilt.withColumn(side, F.lit(-1)))
        .groupBy(*columns)
        .agg(
            F.sum(F.when(F.col(side) == 1, 1).otherwise(0)).alias("live"),
            F.sum(F.when(F.col(side) == -1, 1).otherwise(0)).alias("rebuilt"),
        )
    )
    totals = per_row.agg(
        F.sum("live").alias("live"),
        F.sum("rebuilt").alias("rebuilt"),
        F.sum(F.greatest(F.col("live") - F.col("rebuilt"), F.lit(0))).alias("only_live"),
        F.sum(F.greatest(F.col("rebuilt") - F.col("live"), F.lit(0))).alias("only_rebuilt"),
    ).first()
    return Comparison(
        c.name,
        int(totals["live"] or 0),
        int(totals["rebuilt"] or 0),
        only_live=int(totals["only_live"] or 0),
        only_rebuilt=int(totals["only_rebuilt"] or 0),
    )


def live_log_opens(engine: Any, uri: str, name: str) -> None:
    """A live table whose log does not open is not compared nor replaced: the check/repair commands first."""
    try:
        engine.exists(uri) and engine.version(uri)
    except Exception as error:  # the engine's error on a damaged log, one line
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise RecoveryError(
            f"{name}: the live table at {uri} does not open ({first}): run `lakehouse table check {name}` "
            "and `lakehouse table repair`, then rebuild"
        ) from None


def decide(comparisons: Sequence[Comparison], request: RebuildRequest) -> list[Comparison]:
    """The tables to write (missing ones; different ones with ``--replace-different``); RecoveryError when a
    table differs and the operator did not say the rebuild is right."""
    different = [x for x in comparisons if x.verdict == DIFFERENT]
    if different and not request.replace_different:
        names = ", ".join(f"{x.table} ({x.only_live} rows only live, {x.only_rebuilt} only rebuilt)" for x in different)
        raise RecoveryError(
            f"the rebuild differs from the live tables: {names}. Nothing was changed. If bronze is right and the "
            "live tables are not, run again with --replace-different (each replaced table gets one commit that "
            "`lakehouse table restore` can undo)"
        )
    return [x for x in comparisons if x.verdict != EQUAL]


def comparison_table(comparisons: Sequence[Comparison]) -> Table:
    """The proof, one row per table, with what the rebuild does with it."""
    out = Table(title="Rebuild from bronze: live against rebuilt")
    for col in ("table", "live rows", "rebuilt rows", "only live", "only rebuilt", "result"):
        out.add_column(col, justify="left" if col in ("table", "result") else "right")
    action = {EQUAL: "equal: kept", MISSING: "missing: install", DIFFERENT: "different: replace"}
    for x in comparisons:
        live = "-" if x.live_rows is None else f"{x.live_rows:,}"
        out.add_row(x.table, live, f"{x.rebuilt_rows:,}", f"{x.only_live:,}", f"{x.only_rebuilt:,}", action[x.verdict])
    return out


@contextmanager
def no_other_writer(root: Path | None, env: str | None, project: str | None, session: Any) -> Iterator[None]:
    """The local lake's writer lock for the whole rebuild, or (``--env``) no running pipeline/maintenance."""
    if root is not None:
        with writer_lock(root, "lakehouse rebuild --from bronze"):
            yield
        return
    check_no_aws_writer(str(env), project=str(project), session=session)
    yield


def remove_staging(uri: str, session: Any) -> None:
    """Delete everything under a staging prefix (a local folder, or every object under an S3 prefix)."""
    if "://" not in uri or uri.startswith("file://"):
        staged = Path(uri.removeprefix("file://"))
        shutil.rmtree(staged, ignore_errors=True)
        if staged.parent.name == STAGING and not any(staged.parent.iterdir()):
            staged.parent.rmdir()  # the last rebuild's: leave the layer folder as it was
        return
    bucket, _, prefix = uri.split("://", 1)[1].partition("/")
    s3 = session.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def store_for(locations: LakeLocations, session: Any) -> Callable[[str], TableStore]:
    """A table name -> its files' store, in ``locations`` (S3 through the session's client)."""

    def store(name: str) -> TableStore:
        uri = locations.table_uri(name)
        if "://" in uri and not uri.startswith("file://"):
            return S3Store(uri, session.client("s3"))
        return LocalStore(uri.removeprefix("file://"))

    return store


@dataclass
class Rebuild:
    """One rebuild of a lake: where it is, how it writes, and what the operator asked."""

    live: LakeLocations
    engine_factory: Callable[[], Any]
    """Starts the table engine (and its SparkSession) when first called: after bronze checked whole."""
    request: RebuildRequest
    root: Path | None = None
    env: str | None = None
    project: str | None = None
    session: Any = None
    flags: dict[str, str] | None = None
    rebuild_id: str = ""

    def __post_init__(self) -> None:
        self.rebuild_id = self.rebuild_id or new_rebuild_id()
        self.staged = staging_locations(self.live, self.request.layers, self.rebuild_id)

    @property
    def engine(self) -> Any:
        return self.engine_factory()

    def build(self) -> list[Any]:
        """Run the rebuilt layers' jobs on the staged context (no lineage: staging is not the lake's)."""
        from job_assets.jobs.pipeline import run_pipeline

        ctx = RunContext(
            spark=self.engine.spark,
            engine=self.engine,
            locations=self.staged,
            batch_id=self.rebuild_id,
            env=self.env or "local",
            flags=dict(self.flags or {}),
        )
        return run_pipeline(ctx, self.request.layers)

    def compare_all(self) -> list[Comparison]:
        """Every rebuilt table against its live one (a live log that does not open stops the rebuild)."""
        found = []
        for c in rebuilt_tables(self.request.layers):
            rebuilt_uri = self.staged.table_uri(c.name)
            if not self.engine.exists(rebuilt_uri):
                continue  # e.g. no quarantine: nothing was held or rejected
            live_log_opens(self.engine, self.live.table_uri(c.name), c.name)
            found.append(compare(self.engine, self.live.table_uri(c.name), rebuilt_uri, c))
        return found

    def missing_ops_tables(self) -> list[str]:
        """Operational tables the live lake lost (installed from the rebuild so runs go on from it)."""
        names = [f"{layer}.{t}" for layer in self.request.layers for t in KEPT_AS_IS]
        return [
            n
            for n in names
            if self.engine.exists(self.staged.table_uri(n)) and not self.engine.exists(self.live.table_uri(n))
        ]

    def write(self, names: Sequence[str]) -> dict[str, int | None]:
        """Overwrite (or create) each live table with its rebuilt rows, one commit each; the new versions."""
        versions: dict[str, int | None] = {}
        for name in names:
            live = self.live.table_uri(name)
            self.engine.declare(live, table_properties(contract(name)))  # a lost table comes back as created
            result = self.engine.overwrite(live, self.engine.read(self.staged.table_uri(name)))
            versions[name] = result.version
        return versions

    def cleanup(self) -> None:
        """Remove the staging copies the rebuild wrote."""
        for layer in self.request.layers:
            remove_staging(self.staged.layer(layer), self.session)


def run_rebuild(rebuild: Rebuild, *, confirm: Callable[[str], bool], console: Console) -> int:
    """Check bronze, build, compare, write what must be written once confirmed, record: 0 when done."""
    checked = check_bronze(store_for(rebuild.live, rebuild.session))
    layers = ", ".join(rebuild.request.layers)
    console.print(f"bronze: {checked} tables check whole; rebuilding {layers} into {STAGING}/{rebuild.rebuild_id}")
    with no_other_writer(rebuild.root, rebuild.env, rebuild.project, rebuild.session):
        try:
            results = rebuild.build()
            console.print("built: " + ", ".join(f"{r.job} {r.status} in {r.duration_s:.1f} s" for r in results))
            comparisons = rebuild.compare_all()
            console.print(comparison_table(comparisons))
            to_write = [x.table for x in decide(comparisons, rebuild.request)] + rebuild.missing_ops_tables()
            written = _apply(rebuild, to_write, confirm)
        finally:
            rebuild.cleanup()
    return _report(rebuild, comparisons, written, console)


def _apply(rebuild: Rebuild, names: Sequence[str], confirm: Callable[[str], bool]) -> dict[str, int | None]:
    if not names:
        return {}
    if not confirm(f"Write {len(names)} table(s) from the rebuild into the live lake: {', '.join(names)}?"):
        raise RecoveryError("not written: nothing changed (the rebuild was compared, then removed)")
    if rebuild.root is None:  # on AWS nothing holds a lock over the build: a run may have started meanwhile
        check_no_aws_writer(str(rebuild.env), project=str(rebuild.project), session=rebuild.session)
    return rebuild.write(names)


def _report(
    rebuild: Rebuild,
    comparisons: Sequence[Comparison],
    written: dict[str, int | None],
    console: Console,
) -> int:
    verdicts = {x.table: x.verdict for x in comparisons}
    logged = journal.record(
        rebuild.root,
        journal.entry(
            "REBUILD",
            ",".join(rebuild.request.layers),
            source="bronze",
            rebuild_id=rebuild.rebuild_id,
            engine=getattr(rebuild.engine, "name", "?"),
            verdicts=verdicts,
            written=written,
        ),
    )
    equal = sum(1 for v in verdicts.values() if v == EQUAL)
    console.print(
        f"[bold green]rebuilt[/] {', '.join(rebuild.request.layers)} from bronze: {equal} of {len(verdicts)} "
        f"tables equal to the live ones, {len(written)} written"
        + (f" ({', '.join(f'{n} at version {v}' for n, v in written.items())})" if written else "")
        + (f"; recorded in {logged}" if logged else "")
    )
    return 0
