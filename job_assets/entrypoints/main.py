"""Shared entrypoint logic: parse arguments, build the RunContext, run one job, exit non-zero on failure.

On EMR Serverless each layer's bucket is passed as its own URI (``--bronze-uri s3://...``); locally
``--lake-root`` stands for all four. Nothing else happens here: jobs take only the context.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from typing import Dict, List, Optional

from .. import lineage
from ..context import LakeLocations, RunContext
from ..dq import DataQualityError
from ..flags import FlagError
from ..flags import validate as validate_flags
from ..jobs.common import JobResult

log = logging.getLogger("lakehouse.entrypoint")


def parse_args(job: str, argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"{job}.py", description=f"Run the {job} job of the lakehouse pipeline.")
    p.add_argument("--lake-root", help="local lake folder (stands for all layer URIs)")
    for layer in ("landing", "bronze", "silver", "gold"):
        p.add_argument(f"--{layer}-uri", help=f"{layer} layer location, e.g. s3://<{layer}-bucket>/")
    p.add_argument("--batch-id", required=True, help="the pipeline batch id (Step Functions: the execution name)")
    p.add_argument("--env", required=True, help="environment name: local, dev, staging, prod")
    p.add_argument("--engine", default="auto", choices=("auto", "delta-rs", "delta-spark"))
    p.add_argument("--flag", action="append", default=[], help="feature flag key=value (repeatable)")
    p.add_argument("--local", action="store_true", help="start a local SparkSession (default with --lake-root)")
    p.add_argument(
        "--metrics",
        default="none",
        choices=("none", "cloudwatch"),
        help="where the end-of-run metrics go besides the run summary (EMR: cloudwatch)",
    )
    p.add_argument(
        "--lineage",
        default=None,
        help="where the OpenLineage run events go: none, file:<dir>, http:<url> or openlineage (default: "
        "$LAKEHOUSE_LINEAGE, else $OPENLINEAGE_URL, else <lake-root>/_lineage with --lake-root, else none)",
    )
    args = p.parse_args(argv)
    layer_uris = [args.landing_uri, args.bronze_uri, args.silver_uri, args.gold_uri]
    if args.lake_root and any(layer_uris):
        p.error("give either --lake-root or the four --<layer>-uri arguments, not both")
    if not args.lake_root and not all(layer_uris):
        missing = [f"--{n}-uri" for n, u in zip(("landing", "bronze", "silver", "gold"), layer_uris) if not u]
        p.error(f"missing {', '.join(missing)} (or pass --lake-root for a local lake)")
    for item in args.flag:
        if "=" not in item:
            p.error(f"--flag {item!r}: expected key=value")
    try:
        validate_flags(dict(item.split("=", 1) for item in args.flag))
    except FlagError as error:
        p.error(f"--flag: {error}")
    return args


def build_context(args: argparse.Namespace) -> RunContext:
    from ..engine import make_engine
    from ..spark import configure, landing_bytes, local_session

    if args.lake_root or args.local:
        workload = landing_bytes(args.lake_root) if args.lake_root and "://" not in args.lake_root else None
        spark = local_session(f"lakehouse-{args.env}", workload_bytes=workload)
    else:
        from pyspark.sql import SparkSession

        spark = configure(SparkSession.builder.getOrCreate())
    if args.lake_root:
        locations = LakeLocations.for_root(args.lake_root)
    else:
        locations = LakeLocations(args.landing_uri, args.bronze_uri, args.silver_uri, args.gold_uri)
    flags: Dict[str, str] = dict(item.split("=", 1) for item in args.flag)
    return RunContext(spark, make_engine(spark, args.engine), locations, args.batch_id, args.env, flags)


_UNREACHABLE = (
    "java.net.ConnectException",
    "Connection refused",
    "java.net.UnknownHostException",
    "java.net.SocketTimeoutException",
    "Unable to execute HTTP request",
)
_STORE_URI = re.compile(r"(s3[an]?://[^\s:'`\]]+)")


def unreachable_store(error: BaseException) -> Optional[str]:
    """One line naming the lake URI whose object store did not answer, or None for any other error."""
    text = str(error)
    if not any(marker in text for marker in _UNREACHABLE):
        return None
    found = _STORE_URI.search(text)
    where = found.group(1) if found else "the lake"
    if "Connection refused" in text:
        reason = "connection refused"
    elif "SocketTimeoutException" in text or "timed out" in text:
        reason = "timed out"
    else:
        reason = "no answer"
    return (
        f"cannot reach the object store for {where} ({reason}): check the S3 endpoint (fs.s3a.endpoint or the "
        "region's), the network path to it, and that the bucket exists; nothing was committed"
    )


def check_archive() -> None:
    """A promotion audit runs a packaged version: make sure that version's code is what got imported."""
    expected = os.environ.get("LAKEHOUSE_EXPECT_ARCHIVE")
    if not expected:
        return
    import job_assets

    here = os.path.abspath(job_assets.__file__)
    if not here.startswith(os.path.abspath(expected) + os.sep):
        raise SystemExit(f"LAKEHOUSE_EXPECT_ARCHIVE={expected}: imported job_assets from {here} instead")


def named_errors() -> tuple:
    """Errors whose message already names the input and what is wrong with it: the entrypoint prints that one
    line and exits 1 instead of a traceback (a missing jar or engine, a folder that is not a Delta table, a
    table that is not there, landing files gone, duplicate keys)."""
    from ..engine import DuplicateKeyError, EngineUnavailableError, TableNotFoundError
    from ..engine.base import NotADeltaTableError
    from ..spark import JarsMissingError

    return (
        EngineUnavailableError,
        JarsMissingError,
        NotADeltaTableError,
        TableNotFoundError,
        DuplicateKeyError,
        FileNotFoundError,
    )


def local_lake_problem(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with a local ``--lake-root`` (None when it is a lake or the lake is on an object store).

    A mistyped folder would otherwise run: bronze finds no landing files, silver and gold no batches, and the
    job exits 0 having done nothing. ``lakehouse run`` refuses such a folder the same way."""
    root = args.lake_root
    if not root or "://" in root or os.path.isdir(os.path.join(root, "landing")):
        return None
    return (
        f"--lake-root {root}: no landing folder; expected {root}/landing/<source>/<entity>/dt=YYYY-MM-DD/<file>; "
        "nothing was run"
    )


def main(job: str, argv: Optional[List[str]] = None) -> int:
    """Run ``job`` as EMR Serverless starts it: 0 on success, 2 when data quality refused the run, 1 with one
    line naming the input when the lake's object store did not answer or the input is wrong (:func:`named_errors`);
    any other error propagates (a traceback)."""
    from ..jobs.pipeline import run_pipeline

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    check_archive()
    args = parse_args(job, argv)
    problem = local_lake_problem(args)
    if problem:
        return _failed(job, args, problem)
    started = time.time()
    try:
        ctx = build_context(args)
        (result,) = run_pipeline(ctx, [job], transport=_transport(args))
    except Exception as exc:
        if isinstance(exc, DataQualityError):
            return _refused(job, args, exc, started)
        message = unreachable_store(exc) or (str(exc) if isinstance(exc, named_errors()) else None)
        if message is None:
            raise
        return _failed(job, args, message)
    return _succeeded(job, args, ctx, result)


def _failed(job: str, args: argparse.Namespace, message: str) -> int:
    """The input was wrong or the store did not answer: the one line that says so, as log and summary; exit 1."""
    log.error("%s", message)
    print(json.dumps({"job": job, "batch_id": args.batch_id, "status": "failed", "error": message}))
    return 1


def _transport(args: argparse.Namespace):
    """Where the run's lineage events go; a bad ``--lineage`` is a warning and the job runs without lineage."""
    try:
        return lineage.transport_from(args.lineage, args.lake_root)
    except Exception as error:
        log.warning("lineage: %s", error)
        return None


def _refused(job: str, args: argparse.Namespace, exc: DataQualityError, started: float) -> int:
    """A fail rule stopped the job: the summary line, and on EMR the refused run's DQ score and duration."""
    log.error("%s", exc)
    print(json.dumps({"job": job, "batch_id": args.batch_id, "status": "failed", "error": str(exc)}))
    if args.metrics == "cloudwatch":
        from ..run_metrics import refused_datums, send

        send(refused_datums(job, args.env, exc, started, time.time()), args.env)
    return 2


def _succeeded(job: str, args: argparse.Namespace, ctx: RunContext, result: JobResult) -> int:
    """The run summary line (logs, the cost reporter), one line per quarantine reason, and on EMR the metrics."""
    summary = {
        "job": job,
        "batch_id": result.batch_id,
        "status": result.status,
        "duration_s": round(result.duration_s, 3),
        "engine": ctx.engine.name,
        **result.totals(),
        "dq_score": result.dq_score,
        "message": result.message,
        "spark": result.spark.as_dict() if result.spark else None,  # what the run cost Spark (EMR_SIZING.md)
    }
    print(json.dumps(summary))  # the run summary, one JSON line, for logs and the cost reporter
    for reason, records in sorted(result.errors().items()):  # Logs Insights: the quarantine-reasons query
        print(
            json.dumps(
                {"event": "quarantined", "job": job, "batch_id": result.batch_id, "reason": reason, "records": records}
            )
        )
    if args.metrics == "cloudwatch":
        from ..run_metrics import publish

        publish(result, args.env)
    return 0


def run_job(job: str) -> None:
    sys.exit(main(job))
