"""`lakehouse`: the operator CLI. Everything a person runs goes through here."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from job_assets.flags import FlagError
from job_assets.flags import validate as validate_flags
from platform_model import aws_names

from .errors import UsageError

# Outside a terminal (CI logs, `make run | tee`) rich would wrap at 80 columns: give tables room instead.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_LAKE = os.environ.get("LAKEHOUSE_LAKE_ROOT", ".lake")


def _lake_root(value: str) -> Path:
    return Path(value).expanduser().resolve()


def cmd_generate(args: argparse.Namespace) -> int:
    from .generator import generate_with_progress

    if args.records < 1000:
        raise UsageError(f"--records {args.records}: the generator needs at least 1000 records")
    if not 0 <= args.bad_ratio < 0.5:
        raise UsageError(f"--bad-ratio {args.bad_ratio}: must be in [0, 0.5)")
    root = _lake_root(args.lake_root)
    t0 = time.perf_counter()
    manifest = generate_with_progress(
        root,
        args.records,
        args.seed,
        args.bad_ratio,
        clean=args.clean,
        increment=args.increment,
        console=console,
    )
    took = time.perf_counter() - t0
    files = manifest.get("files", [])
    console.print(
        f"[bold green]generated[/] {args.records:,} records in {len(files)} files under {root / 'landing'} "
        f"in {took:.1f} s (seed {args.seed}, bad ratio {args.bad_ratio})"
    )
    bad = manifest.get("bad", {})
    if bad:
        console.print("planted bad records: " + ", ".join(f"{k}={v}" for k, v in sorted(bad.items())))
    console.print(f"manifest: {root / '_generator' / 'manifest.json'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import run_local

    root = _lake_root(args.lake_root)
    if not (root / "landing").is_dir():
        raise UsageError(
            f"--lake-root {root}: no landing folder; expected {root}/landing/<source>/<entity>/dt=YYYY-MM-DD/<file> "
            f"(create one with `lakehouse generate --lake-root {args.lake_root}`)"
        )
    layers = [x.strip() for x in args.layers.split(",") if x.strip()]
    flags = {}
    for item in args.flag or []:
        if "=" not in item:
            raise UsageError(f"--flag {item!r}: expected key=value")
        k, v = item.split("=", 1)
        flags[k.strip()] = v.strip()
    try:
        flags = validate_flags(flags)
    except FlagError as exc:
        raise UsageError(f"--flag: {exc}") from exc
    return run_local(
        root,
        layers=layers,
        batch_id=args.batch_id,
        engine=args.engine,
        env=args.env,
        flags=flags,
        console=console,
    )


def _lake(args: argparse.Namespace):
    """The lake a read-only command looks at: ``--env`` (a deployed environment's S3 lake) or ``--lake-root``."""
    from .status import aws_lake, local_lake

    if getattr(args, "env", None) in (None, "local"):
        return local_lake(_lake_root(args.lake_root))
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from .promotion import PromotionError

    try:
        return aws_lake(args.env, project=args.project, session=boto3.session.Session(region_name=args.region))
    except (PromotionError, BotoCoreError, ClientError) as exc:
        raise UsageError(f"--env {args.env}: {exc}" if not str(exc).startswith("--env") else str(exc)) from exc


def cmd_status(args: argparse.Namespace) -> int:
    from .status import print_status

    return print_status(_lake(args), console)


def cmd_history(args: argparse.Namespace) -> int:
    from .status import print_history

    return print_history(_lake(args), args.table, args.limit, console)


def cmd_dlq(args: argparse.Namespace) -> int:
    from .dlq import DlqError, redrive, status

    try:
        if args.dlq_command == "status":
            return status(args.env, project=args.project, region=args.region, console=console)
        return redrive(
            args.env, project=args.project, region=args.region, rate=args.rate, yes=args.yes, console=console
        )
    except DlqError as exc:
        raise UsageError(str(exc)) from exc


def cmd_report(args: argparse.Namespace) -> int:
    from .report import ReportError, write_report

    root = _lake_root(args.lake_root)
    try:
        path = write_report(root, Path(args.output).resolve() if args.output else None)
    except ReportError as exc:
        raise UsageError(str(exc)) from exc
    console.print(f"report: {path}")
    return 0


def cmd_operate(args: argparse.Namespace) -> int:
    from . import operate

    common = {"project": args.project, "region": args.region, "console": console}
    try:
        if args.command == "alarms":
            return operate.alarms(args.env, every=args.all, **common)
        if args.command == "metric":
            dims = operate.parse_dimensions(args.dim or [])
            return operate.metric(args.env, args.key, dims=dims, hours=args.hours, **common)
        if args.pipeline_command == "runs":
            return operate.pipeline_runs(args.env, machine=args.machine, limit=args.limit, **common)
        return operate.start_pipeline(args.env, machine=args.machine, **common)
    except operate.OperateError as exc:
        raise UsageError(str(exc)) from exc


def cmd_env_diff(args: argparse.Namespace) -> int:
    import json

    from .envdiff import EnvDiffError, diff_environments, load, render, synthesize

    root = Path(args.repo).resolve()
    try:
        context, config = load(root)
        for name in (args.a, args.b):
            if name not in config.environments:
                raise EnvDiffError(f"unknown environment {name!r}; cdk.json has: {', '.join(config.environments)}")
        templates = synthesize(context, config, (args.a, args.b))
        diff = diff_environments(context["lakehouse"], config.environments, templates, args.a, args.b)
    except EnvDiffError as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps(diff.as_dict(), indent=2, sort_keys=True, default=str))
    else:
        render(diff, console)
    return 0


def cmd_dashboards(args: argparse.Namespace) -> int:
    from . import generated
    from .dashboards import OWNED, ExportError, export_files

    root = Path(args.repo).resolve()
    try:
        files = export_files(root)
    except ExportError as exc:
        raise UsageError(str(exc)) from exc
    return generated.sync(
        root,
        files,
        OWNED,
        check=args.check,
        what="dashboards and docs/METRICS.md",
        source="the metric catalog",
        command="lakehouse dashboards export",
        console=console,
        err=err,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lakehouse", description="Operate the lakehouse: generate, run, inspect.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a deterministic landing set with planted bad records")
    g.add_argument("--records", type=int, required=True, help="total landing records across all entities")
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--bad-ratio", type=float, default=0.01, help="share of records planted bad (0..0.5)")
    g.add_argument("--lake-root", default=DEFAULT_LAKE)
    g.add_argument("--clean", action="store_true", help="delete existing landing files and manifest first")
    g.add_argument("--increment", type=int, default=0, help="write follow-up delivery K (new and changed records)")
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser("run", help="run the pipeline (bronze -> silver -> gold) on the local lake")
    r.add_argument("--lake-root", default=DEFAULT_LAKE)
    r.add_argument("--layers", default="bronze,silver,gold", help="comma-separated subset of bronze,silver,gold")
    r.add_argument("--batch-id", default=None, help="batch id (default: a new time-based id)")
    r.add_argument(
        "--engine",
        default=os.environ.get("LAKEHOUSE_ENGINE", "auto"),
        choices=("auto", "delta-rs", "delta-spark"),
    )
    r.add_argument("--env", default="local")
    r.add_argument("--flag", action="append", help="feature flag key=value (repeatable)")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("status", help="tables, versions, row counts and the last runs (local lake or --env)")
    h = sub.add_parser("history", help="a table's Delta commits (local lake or --env)")
    h.add_argument("table", help="layer.table, e.g. silver.orders")
    h.add_argument("--limit", type=int, default=20)
    for c in (s, h):
        where = c.add_mutually_exclusive_group()
        where.add_argument("--lake-root", default=DEFAULT_LAKE, help="a local lake (default: %(default)s)")
        where.add_argument("--env", default=None, help="a deployed environment: its S3 lake, gold of the active slot")
        c.add_argument("--project", default=aws_names.DEFAULT_PROJECT, help="project prefix of the physical names")
        c.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
    s.set_defaults(func=cmd_status)
    h.set_defaults(func=cmd_history)

    rep = sub.add_parser("report", help="write a self-contained HTML report of the local lake (charts, no CDN)")
    rep.add_argument("--lake-root", default=DEFAULT_LAKE)
    rep.add_argument("--output", default=None, help="where to write it (default: <lake-root>/report.html)")
    rep.set_defaults(func=cmd_report)

    d = sub.add_parser("dlq", help="the landing intake's dead-letter queue on AWS: status, redrive")
    dsub = d.add_subparsers(dest="dlq_command", required=True, metavar="{status,redrive}")
    for name, text in (
        ("status", "intake queue and DLQ depths, message move tasks"),
        ("redrive", "move the DLQ's messages back to the intake queue"),
    ):
        c = dsub.add_parser(name, help=text)
        c.add_argument("--env", required=True, help="environment name as deployed: dev, staging, prod")
        c.add_argument("--project", default=aws_names.DEFAULT_PROJECT, help="project prefix of the physical names")
        c.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
        if name == "redrive":
            c.add_argument("--rate", type=int, default=None, help="max messages per second (1..500; default: SQS)")
            c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        c.set_defaults(func=cmd_dlq)

    def deployed(c: argparse.ArgumentParser) -> None:
        c.add_argument("--env", required=True, help="environment name as deployed: dev, staging, prod")
        c.add_argument("--project", default=aws_names.DEFAULT_PROJECT, help="project prefix of the physical names")
        c.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
        c.set_defaults(func=cmd_operate)

    a = sub.add_parser("alarms", help="AWS: the environment's alarms in ALARM, with reason and runbook")
    a.add_argument("--all", action="store_true", help="every alarm of the environment, whatever its state")
    deployed(a)

    pl = sub.add_parser("pipeline", help="AWS: the pipeline's (or maintenance's) executions; start one")
    plsub = pl.add_subparsers(dest="pipeline_command", required=True, metavar="{runs,start}")
    for name, text in (("runs", "the latest executions"), ("start", "start an execution unless a writer runs")):
        c = plsub.add_parser(name, help=text)
        c.add_argument("--machine", default="pipeline", choices=("pipeline", "maintenance"))
        if name == "runs":
            c.add_argument("--limit", type=int, default=10)
        deployed(c)

    mt = sub.add_parser("metric", help="AWS: a catalog metric (docs/METRICS.md) over the last hours")
    mt.add_argument("key", help="catalog key, e.g. dq_score, job_cost_usd, freshness_minutes")
    mt.add_argument("--dim", action="append", help="Name=Value of a dimension (Environment is implied); repeat")
    mt.add_argument("--hours", type=int, default=24)
    deployed(mt)

    ev = sub.add_parser("env", help="compare environments: settings and what they deploy")
    evsub = ev.add_subparsers(dest="env_command", required=True, metavar="{diff}")
    ed = evsub.add_parser("diff", help="cdk.json settings and synthesized resources that differ between A and B")
    ed.add_argument("a", help="an environment of cdk.json, e.g. dev")
    ed.add_argument("b", help="another, e.g. prod")
    ed.add_argument("--json", action="store_true", help="machine-readable output")
    ed.add_argument("--repo", default=".", help="the repository checkout (with cdk.json); default: here")
    ed.set_defaults(func=cmd_env_diff)

    b = sub.add_parser("dashboards", help="CloudWatch and Grafana dashboards from the metric catalog")
    bsub = b.add_subparsers(dest="dashboards_command", required=True, metavar="{export}")
    e = bsub.add_parser("export", help="write dashboards/cloudwatch, dashboards/grafana and docs/METRICS.md")
    e.add_argument("--repo", default=".", help="the repository checkout (with cdk.json); default: here")
    e.add_argument("--check", action="store_true", help="write nothing; exit 1 when a generated file is stale")
    e.set_defaults(func=cmd_dashboards)

    from .promotions_cli import add_parsers

    add_parsers(sub, DEFAULT_LAKE, _promotion_command)

    from .catalog import add_parser as add_catalog_parser
    from .lineage import add_parser as add_lineage_parser

    plain = lambda fn: lambda args: fn(args, console)  # noqa: E731 - these commands raise UsageError themselves
    add_catalog_parser(sub, plain)
    add_lineage_parser(sub, plain)

    from .profile import add_parser as add_profile_parser

    add_profile_parser(sub, _profile_command, DEFAULT_LAKE)
    return p


def _profile_command(fn: object) -> object:
    def call(args: argparse.Namespace) -> int:
        from .profile import ProfileError

        try:
            return int(fn(args, console))  # type: ignore[operator]
        except ProfileError as exc:
            raise UsageError(str(exc)) from exc

    return call


def _promotion_command(fn: object) -> object:
    """Adapt a promotion command: its refusals and AWS errors become one clear line and exit 2."""

    def call(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        from .promotion import PromotionError

        try:
            return int(fn(args, console))  # type: ignore[operator]
        except PromotionError as exc:
            raise UsageError(str(exc)) from exc
        except (BotoCoreError, ClientError) as exc:
            raise UsageError(f"--env {getattr(args, 'env', None) or getattr(args, 'to_env', '')}: AWS: {exc}") from exc

    return call


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        return 2
    except Exception as exc:
        from job_assets.spark import JarsMissingError

        if not isinstance(exc, JarsMissingError):
            raise
        from rich.markup import escape

        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)  # the set-up, not the input
        return 1
    except KeyboardInterrupt:
        err.print("[bold red]interrupted[/]")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
