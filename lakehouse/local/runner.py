"""Local runner: the same jobs EMR runs, on local Spark, with progress bars and a summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from job_assets import lineage
from job_assets.context import LakeLocations, RunContext, new_batch_id
from job_assets.contracts.layout import LAYERS
from job_assets.dq import DataQualityError
from job_assets.engine import TableNotFoundError
from job_assets.jobs.common import JobResult
from job_assets.jobs.pipeline import run_pipeline


def make_context(
    root: Path,
    batch_id: str | None = None,
    engine: str = "auto",
    env: str = "local",
    flags: dict[str, str] | None = None,
    spark_conf: dict[str, str] | None = None,
) -> RunContext:
    """The :class:`~job_assets.context.RunContext` of a local run on the lake at ``root``: a local
    SparkSession sized to the lake's landing data, the table engine ``engine``, the lake's locations, a batch
    id (new unless given), the environment and flags; ``spark_conf`` overrides the session's settings.
    """
    from job_assets.engine import make_engine
    from job_assets.spark import landing_bytes, local_session

    spark = local_session("lakehouse-local", workload_bytes=landing_bytes(str(root)), extra_conf=spark_conf)
    return RunContext(
        spark=spark,
        engine=make_engine(spark, engine),
        locations=LakeLocations.for_root(str(root)),
        batch_id=batch_id or new_batch_id(),
        env=env,
        flags=dict(flags or {}),
    )


def run_jobs(ctx: RunContext, layers: Sequence[str], console: Console | None = None) -> list[JobResult]:
    """:func:`job_assets.jobs.pipeline.run_pipeline` with a progress bar per job (when ``console`` is given)
    and the lake's lineage events (``<lake>/_lineage/events.jsonl`` unless $LAKEHOUSE_LINEAGE says otherwise)."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[job]:<7}[/]"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=console is None,
        transient=False,
    )
    try:
        transport = lineage.transport_from(None, str(Path(ctx.locations.landing).parent))
    except Exception as error:  # lineage never stops a run (as on EMR): say so and go on without it
        transport = None
        if console is not None:
            console.print(f"[yellow]lineage off for this run:[/] {error}")
    tasks: dict[str, TaskID] = {}

    def progress_for(job: str) -> Callable[[str, int, int], None]:
        tasks[job] = task = progress.add_task("starting", total=1, job=job)

        def update(msg: str, done: int, total: int) -> None:
            progress.update(task, description=msg, completed=done, total=max(total, 1))

        return update

    def finished(r: JobResult) -> None:
        progress.update(tasks[r.job], description=f"{r.status} in {r.duration_s:.1f} s", completed=1, total=1)

    with progress:
        return run_pipeline(ctx, layers, transport=transport, progress_for=progress_for, finished=finished)


def summary_tables(results: Sequence[JobResult]) -> list[Table]:
    """The run summary as Rich tables: one row per job, one per table written, and quarantine by reason."""
    jobs = Table(title="Jobs")
    for col in (
        "job",
        "engine",
        "batch",
        "status",
        "duration s",
        "rows in",
        "rows out",
        "quarantined",
        "superseded",
        "released",
        "DQ score",
    ):
        jobs.add_column(col, justify="right" if col not in ("job", "engine", "batch", "status") else "left")
    reasons: dict[str, int] = {}
    for r in results:
        t = r.totals()
        score = f"{r.dq_score:.4f}" if r.dq_score is not None else "-"
        jobs.add_row(
            r.job,
            r.engine,
            r.batch_id,
            r.status,
            f"{r.duration_s:.1f}",
            f"{t['rows_in']:,}",
            f"{t['rows_out']:,}",
            f"{t['rows_quarantined']:,}",
            f"{t['rows_superseded']:,}",
            f"{t['rows_released']:,}",
            score,
        )
        for k, v in r.errors().items():
            reasons[f"{r.job}: {k}"] = reasons.get(f"{r.job}: {k}", 0) + v
    tables = Table(title="Tables written")
    for col in ("table", "version", "rows in", "rows out", "quarantined", "superseded", "DQ score"):
        tables.add_column(col, justify="left" if col == "table" else "right")
    for r in results:
        for s in r.tables:
            if s.table.endswith("ingestion_log"):
                continue
            tables.add_row(
                s.table,
                str(s.version if s.version is not None else "-"),
                f"{s.rows_in:,}",
                f"{s.rows_out:,}",
                f"{s.rows_quarantined:,}",
                f"{s.rows_superseded:,}",
                f"{s.dq_score:.4f}" if s.dq_score is not None else "-",
            )
    q = Table(title="Quarantined or flagged, by reason")
    q.add_column("job: reason")
    q.add_column("records", justify="right")
    for k, v in sorted(reasons.items()):
        q.add_row(k, f"{v:,}")
    return [jobs, tables, q]


def spark_table(results: Sequence[JobResult]) -> Table:
    """What each job run cost Spark (the catalog's Spark metrics, as EMR publishes them; EMR_SIZING.md)."""
    table = Table(title="Spark")
    for col in (
        "job",
        "stages",
        "executor s",
        "CPU s",
        "shuffle read MB",
        "shuffle write MB",
        "spill MB",
        "peak heap MB",
    ):
        table.add_column(col, justify="left" if col == "job" else "right")
    mb = 1024 * 1024
    for r in results:
        m = r.spark
        if m is None:
            table.add_row(r.job, *["-"] * 7)
            continue
        table.add_row(
            r.job,
            str(m.stages),
            f"{m.executor_run_time_s:.1f}",
            f"{m.executor_cpu_time_s:.1f}",
            f"{m.shuffle_read_bytes / mb:,.1f}",
            f"{m.shuffle_write_bytes / mb:,.1f}",
            f"{(m.spill_memory_bytes + m.spill_disk_bytes) / mb:,.1f}",
            f"{m.peak_executor_heap_bytes / mb:,.0f}",
        )
    return table


def run_local(
    root: Path,
    layers: Sequence[str] = LAYERS,
    batch_id: str | None = None,
    engine: str = "auto",
    env: str = "local",
    flags: dict[str, str] | None = None,
    console: Console | None = None,
    spark_conf: dict[str, str] | None = None,
) -> int:
    """Run ``layers`` of the pipeline on the local lake at ``root`` with a progress bar per job, print the
    summary, and return the exit code (1 when a fail-severity DQ rule or a lost silver table stopped the run).
    ``spark_conf`` overrides settings of the local Spark session (``lakehouse run --conf``).

    Raises:
        UsageError: a layer is not bronze, silver or gold, or ``spark_conf`` is given for a lake pinned to a
            packaged version (which runs that version's own session).
    """
    unknown = [x for x in layers if x not in LAYERS]
    if unknown:
        from ..errors import UsageError

        raise UsageError(f"--layers: unknown layer(s) {', '.join(unknown)}; choose from {', '.join(LAYERS)}")
    console = console or Console()
    pinned = _pinned_version(root)
    if pinned is not None and spark_conf:
        from ..errors import UsageError

        raise UsageError(f"--conf: {root} is pinned to version {pinned}, which runs its own Spark session")
    if pinned is not None:
        return _run_version(root, pinned, layers, batch_id or new_batch_id(), flags or {}, console, env, engine)
    ctx = make_context(root, batch_id, engine, env, flags, spark_conf)
    console.print(f"lake [bold]{root}[/] · engine [bold]{ctx.engine.name}[/] · batch [bold]{ctx.batch_id}[/]")
    try:
        results = run_jobs(ctx, layers, console)
    except (DataQualityError, TableNotFoundError) as exc:  # a refusal: its message names the table and the fix
        console.print(f"[bold red]failed:[/] {escape(str(exc))}")
        return 1
    for t in summary_tables(results):
        console.print(t)
    console.print(spark_table(results))
    for r in results:
        if r.message:
            console.print(f"{r.job}: {r.message}")
    return 0


def _pinned_version(root: Path) -> tuple[str, str] | None:
    """(slot, version) when the lake's active slot runs a promoted version other than this checkout's code."""
    from ..promotion import LocalControl, checkout_version

    state = LocalControl(root).read()
    version = state.slots.get(state.active, "")
    if not version or version == checkout_version():
        return None
    return state.active, version


def _run_version(
    root: Path,
    pinned: tuple[str, str],
    layers: Sequence[str],
    batch_id: str,
    flags: dict[str, str],
    console: Console,
    env: str,
    engine: str,
) -> int:
    """Run the active slot's version (what `lakehouse promote` published), one child process per job."""
    import json

    from ..promotion import CONTROL_DIR, LocalAuditor

    slot, version = pinned
    auditor = LocalAuditor(root)
    auditor.ensure(version)
    console.print(
        f"lake [bold]{root}[/] · slot [bold]{slot}[/] runs version [bold]{version}[/] · batch [bold]{batch_id}[/]"
    )
    for layer in [x for x in LAYERS if x in layers]:
        log = root / CONTROL_DIR / "runs" / f"{batch_id}-{layer}.log"
        with console.status(f"{layer} (version {version})"):
            run = auditor.run_job(
                version,
                layer,
                batch_id=batch_id,
                gold_uri=str(root / "gold" / slot),
                log=log,
                flags=flags,
                env=env,
                engine=engine,
                lineage=f"file:{root / lineage.LINEAGE_DIR}",
            )
        console.print(f"{layer}: {json.dumps(run.summary)}")
        if not run.ok:
            console.print(
                f"[bold red]failed:[/] {layer} of version {version}: {run.summary.get('error', '')} (log: {log})"
            )
            return 1
    return 0
