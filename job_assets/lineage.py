"""OpenLineage run events of the jobs: START, then COMPLETE or FAIL, with datasets and column lineage.

The events are plain dicts following the OpenLineage 2-0-2 spec (``schemaURL`` and every facet's
``_schemaURL`` set), built here from the table contracts, which are the single source of lineage:

- **inputs / outputs** of a job: its layer's data tables (outputs) and the union of their contracts'
  ``upstream`` (inputs), plus the operational tables the job writes (``OPS_OUTPUTS``);
- **schema** facet: the contract's columns (name, Spark SQL type, description);
- **columnLineage** facet: the contract's ``lineage`` (output column <- ``layer.table.column`` inputs) for
  bronze (from landing fields), silver (from bronze fields by ``source``, plus the derived columns) and gold.
  Columns without an entry (bronze/silver metadata such as ``_batch_id``, silver ``_source_file``) have
  table-level lineage only;
- **outputStatistics** (COMPLETE): ``rowCount`` = the job's ``rows_out`` for the table (records written);
- **errorMessage** (FAIL) and a custom ``lakehouse_run`` run facet (batch ids, status, totals, DQ score).

Datasets are named after OpenLineage's naming conventions from where the layer lives: ``s3://<bucket>`` +
key on AWS, ``file`` + absolute path locally (gold includes its slot: ``.../gold/blue/revenue_attribution``);
a custom ``lakehouse_table`` facet carries the logical name (``silver.orders``).

The run id is a UUID5 of the job namespace, job and pipeline batch id, so a retried batch reports on the
same run. Where the events go (``transport_from``): ``--lineage none|file:<dir>|http:<url>|openlineage``,
else ``$LAKEHOUSE_LINEAGE`` (same syntax), else OpenLineage's own ``OPENLINEAGE_URL`` (+
``OPENLINEAGE_ENDPOINT``, ``OPENLINEAGE_API_KEY``; ``OPENLINEAGE_DISABLED=true`` turns it off), else
``<lake-root>/_lineage/events.jsonl`` for a local lake and nowhere on AWS. Emission never fails a job: any
error is logged as a warning.

Pure standard library (EMR has no openlineage-python); ``openlineage`` is used only for the
``openlineage`` transport, imported lazily, when it is installed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import traceback
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from . import __version__
from .contracts import ALL_TABLES, REGISTRY, TableContract
from .contracts.ops import OPS_TABLES

log = logging.getLogger("lakehouse.lineage")

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
RUN_EVENT_SCHEMA_URL = SPEC + "#/$defs/RunEvent"
RUN_FACET_SCHEMA_URL = SPEC + "#/$defs/RunFacet"
DATASET_FACET_SCHEMA_URL = SPEC + "#/$defs/DatasetFacet"
SCHEMA_FACET_SCHEMA_URL = "https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
COLUMN_LINEAGE_SCHEMA_URL = (
    "https://openlineage.io/spec/facets/1-1-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
)
OUTPUT_STATISTICS_SCHEMA_URL = (
    "https://openlineage.io/spec/facets/1-0-0/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet"
)
ERROR_MESSAGE_SCHEMA_URL = (
    "https://openlineage.io/spec/facets/1-0-0/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
)
PRODUCER = f"urn:lakehouse-platform:job_assets:{__version__}"
"""A URI naming this producer (a URN: the package has no canonical web address)."""
RUN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lakehouse-platform:openlineage-run")
LINEAGE_DIR = "_lineage"
EVENTS_FILE = "events.jsonl"
LAYER_JOBS = ("bronze", "silver", "gold")
OPS_NAMES = frozenset(c.name for c in OPS_TABLES)
OPS_OUTPUTS: Dict[str, Tuple[str, ...]] = {
    "bronze": ("bronze.ingestion_log", "bronze.quarantine", "bronze.dq_results", "bronze.run_summary"),
    "silver": ("silver.quarantine", "silver.dq_results", "silver.run_summary"),
    "gold": ("gold.dq_results", "gold.run_summary", "gold.profiles"),
}
"""Operational tables each job writes (job code, not contracts: jobs/common.py ``write_ops`` and the
quarantine writes of bronze and silver; gold's profiling step). They get a schema facet, no column lineage."""

Event = Dict[str, Any]


# --- names ------------------------------------------------------------------------------------------------------


def job_namespace(env: str) -> str:
    return f"lakehouse-{env}"


def run_id(job: str, batch_id: str, env: str) -> str:
    """Deterministic: the same job, batch and environment always give the same run id (retries correlate)."""
    return str(uuid.uuid5(RUN_NAMESPACE, f"{job_namespace(env)}/{job}/{batch_id}"))


def table_location(locations: Any, table: str) -> str:
    """Where a table (``layer.table``) or a landing entity (``landing.<source>.<entity>``) lives."""
    if table.startswith("landing."):
        _, source, entity = table.split(".", 2)
        return f"{locations.layer('landing')}/{source}/{entity}"
    return str(locations.table_uri(table))


def dataset_name(uri: str) -> Tuple[str, str]:
    """OpenLineage dataset naming: ``s3://bucket/key`` -> (``s3://bucket``, ``key``); a local path ->
    (``file``, absolute path)."""
    if "://" in uri:
        scheme, rest = uri.split("://", 1)
        bucket, _, key = rest.partition("/")
        return f"{scheme}://{bucket}", key.rstrip("/") or "/"
    return "file", os.path.abspath(uri)


def split_column(ref: str) -> Tuple[str, str]:
    """``silver.orders.order_date`` -> (``silver.orders``, ``order_date``); landing refs have 4 parts."""
    table, _, column = ref.rpartition(".")
    if not table or not column:
        raise ValueError(f"{ref!r} is not layer.table.column")
    return table, column


# --- what a job reads and writes --------------------------------------------------------------------------------


def job_outputs(job: str) -> List[TableContract]:
    """The data tables a layer job writes, in contract order (no operational tables)."""
    if job not in LAYER_JOBS:
        return []
    return [c for c in ALL_TABLES if c.layer == job and c.name not in OPS_NAMES]


def job_inputs(job: str) -> List[str]:
    """Union of the outputs' contract ``upstream``, in first-seen order (silver also reads silver tables)."""
    seen: Dict[str, None] = {}
    for c in job_outputs(job):
        for u in c.upstream:
            seen.setdefault(u, None)
    return list(seen)


# --- facets -----------------------------------------------------------------------------------------------------


def _facet(schema_url: str, **fields: Any) -> Dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema_url, **fields}


def schema_facet(c: TableContract) -> Dict[str, Any]:
    fields = []
    for col in c.columns:
        f = {"name": col.name, "type": col.type}
        if col.description:
            f["description"] = col.description
        fields.append(f)
    return _facet(SCHEMA_FACET_SCHEMA_URL, fields=fields)


def column_lineage_facet(c: TableContract, locations: Any) -> Optional[Dict[str, Any]]:
    """The contract's ``lineage`` as a ColumnLineageDatasetFacet (None when the contract declares none)."""
    if not c.lineage:
        return None
    fields: Dict[str, Any] = {}
    for column, inputs in c.lineage:
        items = []
        for ref in inputs:
            table, field = split_column(ref)
            namespace, name = dataset_name(table_location(locations, table))
            items.append({"namespace": namespace, "name": name, "field": field})
        fields[column] = {"inputFields": items}
    return _facet(COLUMN_LINEAGE_SCHEMA_URL, fields=fields)


def table_facet(table: str) -> Dict[str, Any]:
    """Custom facet: the logical table name, so consumers need not parse locations."""
    layer = table.split(".", 1)[0]
    return _facet(DATASET_FACET_SCHEMA_URL, table=table, layer=layer)


def _dataset(table: str, locations: Any, *, with_schema: bool = True) -> Dict[str, Any]:
    namespace, name = dataset_name(table_location(locations, table))
    facets: Dict[str, Any] = {"lakehouse_table": table_facet(table)}
    c = REGISTRY.get(table)
    if with_schema and c is not None:
        facets["schema"] = schema_facet(c)
    return {"namespace": namespace, "name": name, "facets": facets}


def _inputs(job: str, locations: Any) -> List[Dict[str, Any]]:
    return [_dataset(t, locations) for t in job_inputs(job)]


def _outputs(job: str, locations: Any, stats: Optional[Dict[str, int]] = None) -> List[Dict[str, Any]]:
    out = []
    names = [c.name for c in job_outputs(job)] + list(OPS_OUTPUTS.get(job, ()))
    extra = [t for t in (stats or {}) if t not in names and t in REGISTRY]  # maintenance: whatever it touched
    for table in names + extra:
        d = _dataset(table, locations)
        c = REGISTRY.get(table)
        lineage = column_lineage_facet(c, locations) if c is not None else None
        if lineage is not None:
            d["facets"]["columnLineage"] = lineage
        if stats is not None and table in stats:
            d["outputFacets"] = {"outputStatistics": _facet(OUTPUT_STATISTICS_SCHEMA_URL, rowCount=int(stats[table]))}
        out.append(d)
    return out


# --- events -----------------------------------------------------------------------------------------------------


def _now(now: Optional[dt.datetime]) -> str:
    t = now or dt.datetime.now(dt.timezone.utc)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.isoformat()


def _event(
    event_type: str,
    job: str,
    batch_id: str,
    env: str,
    inputs: List[Dict[str, Any]],
    outputs: List[Dict[str, Any]],
    run_facets: Optional[Dict[str, Any]] = None,
    now: Optional[dt.datetime] = None,
) -> Event:
    return {
        "eventType": event_type,
        "eventTime": _now(now),
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA_URL,
        "run": {"runId": run_id(job, batch_id, env), "facets": run_facets or {}},
        "job": {"namespace": job_namespace(env), "name": job},
        "inputs": inputs,
        "outputs": outputs,
    }


def _run_facet(batch_id: str, env: str, **fields: Any) -> Dict[str, Any]:
    return {"lakehouse_run": _facet(RUN_FACET_SCHEMA_URL, batchId=batch_id, env=env, **fields)}


def start_event(job: str, batch_id: str, locations: Any, env: str, now: Optional[dt.datetime] = None) -> Event:
    facets = _run_facet(batch_id, env, status="running")
    return _event("START", job, batch_id, env, _inputs(job, locations), _outputs(job, locations), facets, now)


def complete_event(
    result: Any, job: str, batch_id: str, locations: Any, env: str, now: Optional[dt.datetime] = None
) -> Event:
    """From a ``JobResult``: row counts per output table, the run's status (succeeded | skipped)."""
    stats = {t.table: t.rows_out for t in result.tables}
    facets = _run_facet(
        batch_id,
        env,
        status=result.status,
        resultBatchId=result.batch_id,
        durationSeconds=round(float(result.duration_s), 3),
        dqScore=result.dq_score,
        message=result.message or "",
        **result.totals(),
    )
    return _event("COMPLETE", job, batch_id, env, _inputs(job, locations), _outputs(job, locations, stats), facets, now)


def fail_event(
    error: BaseException, job: str, batch_id: str, locations: Any, env: str, now: Optional[dt.datetime] = None
) -> Event:
    stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    facets = _run_facet(batch_id, env, status="failed", failedTable=getattr(error, "table", None) or "")
    facets["errorMessage"] = _facet(
        ERROR_MESSAGE_SCHEMA_URL,
        message=str(error) or type(error).__name__,
        programmingLanguage="python",
        stackTrace=stack,
    )
    return _event("FAIL", job, batch_id, env, _inputs(job, locations), _outputs(job, locations), facets, now)


# --- transports -------------------------------------------------------------------------------------------------


class Transport:
    """Where events go. ``emit`` may raise; callers use :func:`emit` which never does."""

    name = "none"

    def emit(self, event: Event) -> None:  # pragma: no cover - the no-op transport
        return None


class FileTransport(Transport):
    """Appends one JSON line per event to ``<directory>/events.jsonl``."""

    name = "file"

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, EVENTS_FILE)

    def emit(self, event: Event) -> None:
        os.makedirs(self.directory, exist_ok=True)
        line = json.dumps(event, sort_keys=True, default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)


class HttpTransport(Transport):
    """POSTs each event as JSON to ``<url>/<endpoint>`` (OpenLineage's HTTP API: ``api/v1/lineage``)."""

    name = "http"

    def __init__(self, url: str, endpoint: str = "api/v1/lineage", api_key: str = "", timeout: float = 5.0) -> None:
        self.url = url.rstrip("/") + "/" + endpoint.lstrip("/") if endpoint else url
        self.api_key = api_key
        self.timeout = timeout

    def emit(self, event: Event) -> None:
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = json.dumps(event, default=str).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()


class OpenLineageClientTransport(Transport):
    """openlineage-python's own transport, configured its way (``openlineage.yml``, ``OPENLINEAGE_*``)."""

    name = "openlineage"

    def __init__(self) -> None:
        from openlineage.client import OpenLineageClient

        self.client = OpenLineageClient()

    def emit(self, event: Event) -> None:
        if self.client.transport is None:
            return
        self.client.transport.emit(event)  # its Serde accepts a dict


class MemoryTransport(Transport):
    """Keeps the events (tests, notebooks)."""

    name = "memory"

    def __init__(self) -> None:
        self.events: List[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def parse_transport(spec: str) -> Transport:
    """``none`` | ``file:<dir>`` | ``http:<url>`` (e.g. ``http:http://marquez:5000``) | ``openlineage``."""
    spec = spec.strip()
    if spec in ("", "none"):
        return Transport()
    if spec == "openlineage":
        return OpenLineageClientTransport()
    kind, sep, rest = spec.partition(":")
    if sep and kind == "file" and rest:
        return FileTransport(rest)
    if sep and kind == "http" and rest:
        return HttpTransport(
            rest,
            endpoint=os.environ.get("OPENLINEAGE_ENDPOINT", "api/v1/lineage"),
            api_key=os.environ.get("OPENLINEAGE_API_KEY", ""),
        )
    raise ValueError(f"lineage transport {spec!r}: expected none, file:<dir>, http:<url> or openlineage")


def transport_from(
    spec: Optional[str] = None, lake_root: Optional[str] = None, environ: Optional[Dict[str, str]] = None
) -> Transport:
    """Resolve where events go (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    if spec:
        return parse_transport(spec)
    if env.get("LAKEHOUSE_LINEAGE"):
        return parse_transport(env["LAKEHOUSE_LINEAGE"])
    if env.get("OPENLINEAGE_DISABLED", "").lower() == "true":
        return Transport()
    if env.get("OPENLINEAGE_URL"):
        return HttpTransport(
            env["OPENLINEAGE_URL"],
            endpoint=env.get("OPENLINEAGE_ENDPOINT", "api/v1/lineage"),
            api_key=env.get("OPENLINEAGE_API_KEY", ""),
        )
    if lake_root and "://" not in lake_root:
        return FileTransport(os.path.join(os.path.abspath(lake_root), LINEAGE_DIR))
    return Transport()


def emit(transport: Optional[Transport], build: Callable[[], Event]) -> Optional[Event]:
    """Build and send one event; never raises (lineage must not fail a job). Returns the event, if built."""
    if transport is None or type(transport) is Transport:
        return None
    try:
        event = build()
        transport.emit(event)
        return event
    except Exception as error:
        log.warning("lineage: could not emit an event to %s: %s", transport.name, error)
        return None


def emit_start(transport: Optional[Transport], job: str, batch_id: str, locations: Any, env: str = "local") -> None:
    emit(transport, lambda: start_event(job, batch_id, locations, env))


def emit_run(
    result_or_error: Any, job: str, batch_id: str, locations: Any, transport: Optional[Transport], env: str = "local"
) -> None:
    """COMPLETE for a ``JobResult``, FAIL for an exception (e.g. ``DataQualityError``)."""
    if isinstance(result_or_error, BaseException):
        emit(transport, lambda: fail_event(result_or_error, job, batch_id, locations, env))
    else:
        emit(transport, lambda: complete_event(result_or_error, job, batch_id, locations, env))


def run_with_lineage(transport: Optional[Transport], job: str, ctx: Any, fn: Callable[[], Any]) -> Any:
    """START, ``fn()``, then COMPLETE with its result or FAIL with its exception (re-raised)."""
    emit_start(transport, job, ctx.batch_id, ctx.locations, ctx.env)
    try:
        result = fn()
    except BaseException as error:
        emit_run(error, job, ctx.batch_id, ctx.locations, transport, ctx.env)
        raise
    emit_run(result, job, ctx.batch_id, ctx.locations, transport, ctx.env)
    return result


# --- reading events back ----------------------------------------------------------------------------------------


def read_events(path: str) -> List[Event]:
    """The events of a ``events.jsonl`` (or of ``<dir>/events.jsonl``); unreadable lines are skipped."""
    if os.path.isdir(path):
        path = os.path.join(path, EVENTS_FILE)
    if not os.path.exists(path):
        return []
    events: List[Event] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                events.append(value)
    return events


def logical_tables(datasets: Iterable[Dict[str, Any]]) -> List[str]:
    """The ``lakehouse_table`` names of a list of event datasets."""
    return [d.get("facets", {}).get("lakehouse_table", {}).get("table", d.get("name", "")) for d in datasets]


__all__ = [
    "FileTransport",
    "HttpTransport",
    "MemoryTransport",
    "Transport",
    "complete_event",
    "emit_run",
    "emit_start",
    "fail_event",
    "job_inputs",
    "job_outputs",
    "parse_transport",
    "read_events",
    "run_id",
    "run_with_lineage",
    "start_event",
    "transport_from",
]
