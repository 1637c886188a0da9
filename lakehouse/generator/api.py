"""Deterministic, realistic landing-data generator (``lakehouse generate``): the public entry and its manifest.

Writes ``<lake_root>/landing/<source>/<entity>/dt=YYYY-MM-DD/<file>`` exactly as the upstream extracts
described in ``job_assets.contracts.landing`` (and docs/LANDING_CONTRACT.md) would, plus a manifest of what
the pipeline must produce from it at ``<lake_root>/_generator/manifest.json``.

Volumes. ``records`` is the total number of landing records (JSON lines / CSV data rows, bad ones included)
of a delivery. ``reference/fx_rates`` gets one row per currency and month (100 rows for the base:
2022-12..2024-12), ``round(records * bad_ratio)`` records are bad, and the rest is split: order_items ~51%,
orders ~25.5%, opportunities ~10%, customers ~6%, contacts ~5%, accounts ~2% (shares 50/25/10/6/5/2
normalised; order_items absorb the rounding). Each entity's share includes its re-deliveries (newer
versions, exact duplicates, deletes).

Base delivery (``increment=0``): four dt partitions 2025-01-01..2025-01-04. New keys land in dt=2025-01-01
(data from before 2024) and dt=2025-01-02 (2024 data; parents never land after their children);
dt=2025-01-03 holds updates (newer version, changed values) and exact duplicates; dt=2025-01-04 more
updates, duplicates and CRM deletes (IsDeleted=true with a newer LastModifiedDate). Orders span
2023-01-01..2024-12-31 with a monthly seasonality (Q4 peak, 2024 busier than 2023); customers' order counts
are Pareto-skewed; ~40% of customers are linked to a CRM account whose Closed Won opportunity closes before
that customer's first order.

Increment ``K`` (``increment=K``): two new dt partitions ``2025-01-04 + 7K - 1`` and ``2025-01-04 + 7K``
days; new keys and updates of existing keys in the first, further updates, duplicates and deletes in the
second. Every version in a partition dated D is before D, and every re-delivery's version is at or after
the previous partition's date, so a re-delivery is strictly newer than everything delivered before it.
Earlier deliveries are re-simulated in memory from the manifest (seed, records and bad_ratio of each
delivery) to know the existing keys.

Bad records (``bad_ratio``) carry exactly one defect each, use fresh keys, are never re-delivered and have
no children; ``extra_column`` records are otherwise valid (good records with an unknown field) and land in
the last partition of their delivery. See :data:`BAD_KINDS` for the kind -> ``_error`` mapping.

Streamed base (``shard_records=N``): a base delivery larger than N records is drawn and written as shards of
at most N records, one after the other, so memory holds one shard, not the set (the 100M load test). Each
shard is a base delivery of its own random stream whose keys continue the previous shard's (customers, orders
and accounts of one shard only reference each other); files carry ``_s<shard>`` in their names, the FX file
is the first shard's, and the manifest sums the shards. A streamed base takes no increments (an increment
re-simulates the base in memory).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from job_assets.contracts import landing as L

from .deliver import _deliver, _simulate
from .increments import _delivery_dts
from .model import ACC, BAD_KINDS, CHANGE_MODES, FX, GENERATOR_VERSION, ProgressFn, _State
from .writer import _write

# ------------------------------------------------------------ manifest


def _summary(st: _State) -> dict:
    entities, bad_tot = {}, dict.fromkeys(BAD_KINDS, 0)
    silver = {}
    for e in L.LANDING_ENTITIES:
        ent = st.ents[e.name]
        distinct = len(ent.keys) + ent.extra_keys
        entities[e.name] = {
            "records_written": ent.written,
            "good_records": ent.good,
            "bad": dict(ent.bad),
            "superseded": ent.good - distinct,
            "deletes": ent.deletes,
            "distinct_good_keys": distinct,
        }
        for k, v in ent.bad.items():
            bad_tot[k] += v
        silver[f"silver.{e.entity}"] = int(ent.live.sum()) + ent.extra_keys
    expected = {code: 0 for code in BAD_KINDS.values()}
    for kind, n in bad_tot.items():
        expected[BAD_KINDS[kind]] += n
    return {
        "entities": entities,
        "bad": bad_tot,
        "expected_errors": expected,
        "expected_silver_rows": silver,
        "expected_accounts_history_rows": st.ents[ACC].versions,
        "records_written": sum(v["records_written"] for v in entities.values()),
    }


def generate(
    lake_root: Path,
    records: int,
    seed: int = 7,
    bad_ratio: float = 0.01,
    *,
    clean: bool = False,
    increment: int = 0,
    changes: str = "recent",
    shard_records: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write a deterministic landing delivery under ``<lake_root>/landing`` and return its manifest.

    Same arguments give byte-identical files (gzip members carry mtime=0). ``clean=True`` first deletes
    ``<lake_root>/landing`` and ``<lake_root>/_generator``. ``increment=K`` (K >= 1) appends delivery K (about
    ``records`` new records: new keys, newer versions of existing keys, bad records at ``bad_ratio``) in
    new dt partitions after every earlier one; it needs the manifest of an earlier base generation with the
    same seed. ``changes`` picks which existing keys the delivery's updates, duplicates and deletes touch:
    ``"recent"`` (recency-skewed, most of them keys created or changed in the last weeks) or ``"uniform"``
    (:data:`~.model.CHANGE_MODES`); each delivery records its own in the manifest.
    ``shard_records`` (base delivery only) streams a base of more records than that as shards of at most
    that many (module docstring, "Streamed base"). ``progress(stage, done, total)`` is called with stage
    ``"generate"`` then ``"write"`` (a streamed base: ``"shards"``).

    The manifest (also written to ``<lake_root>/_generator/manifest.json``) is cumulative over all deliveries;
    :func:`_manifest` lists its fields.
    """
    lake_root = Path(lake_root)
    _check_arguments(records, bad_ratio, increment, clean=clean)
    _check_sharding(shard_records, increment)
    if changes not in CHANGE_MODES:
        raise ValueError(f"changes must be one of {', '.join(CHANGE_MODES)}, not {changes!r}")
    manifest_path = _manifest_path(lake_root)
    gen_dir = manifest_path.parent
    if clean:
        shutil.rmtree(lake_root / "landing", ignore_errors=True)
        shutil.rmtree(gen_dir, ignore_errors=True)
    spec = {"increment": increment, "records": records, "bad_ratio": bad_ratio, "changes": changes}
    deliveries, old_files = _deliveries(lake_root, seed, spec)
    if shard_records is not None and records > shard_records:
        summary, files = _streamed(lake_root, seed, spec, shard_records, progress)
    else:
        st, dl = _simulate(seed, deliveries, progress)
        summary, files = _summary(st), _write(lake_root, st, dl, progress)
    manifest = _manifest(seed, deliveries, summary, old_files + files)
    gen_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _shard_sizes(records: int, shard_records: int) -> list[int]:
    """``records`` split into the fewest near-equal shards of at most ``shard_records`` each."""
    n = math.ceil(records / shard_records)
    return [records // n + (1 if i < records % n else 0) for i in range(n)]


def _streamed(
    lake_root: Path, seed: int, spec: dict, shard_records: int, progress: ProgressFn | None
) -> tuple[dict, list[dict]]:
    """Draw and write a base delivery shard by shard (one shard in memory at a time); its summary and files."""
    sizes = _shard_sizes(spec["records"], shard_records)
    spec.update(shards=len(sizes), shard_records=shard_records)
    summaries, files, counters = [], [], {}
    for i, n in enumerate(sizes):
        st = _State(seed, shard=i)
        st.counters = counters  # keys continue the previous shard's
        dl = _deliver(st, 0, n, spec["bad_ratio"], None, spec["changes"])
        files += _write(lake_root, st, dl, None)
        summaries.append(_summary(st))
        counters = st.counters
        del st, dl  # before the next shard is drawn: memory holds one shard
        if progress:
            progress("shards", i + 1, len(sizes))
    return _merge_summaries(summaries), files


def _merge_summaries(summaries: list[dict]) -> dict:
    """The shards' summaries as one: every count summed, FX rates (written by the first shard only) once."""
    out = json.loads(json.dumps(summaries[0]))
    fx_silver = f"silver.{L.FX_RATES.entity}"
    for s in summaries[1:]:
        for name, ent in s["entities"].items():
            if name == FX:
                continue
            into = out["entities"][name]
            for key, value in ent.items():
                if key == "bad":
                    for kind, n in value.items():
                        into["bad"][kind] += n
                else:
                    into[key] += value
        for part in ("bad", "expected_errors", "expected_silver_rows"):
            for key, n in s[part].items():
                if key != fx_silver:
                    out[part][key] += n
        out["expected_accounts_history_rows"] += s["expected_accounts_history_rows"]
    out["records_written"] = sum(e["records_written"] for e in out["entities"].values())
    return out


def _check_sharding(shard_records: int | None, increment: int) -> None:
    """Refuse a shard size :func:`generate` cannot stream with, before anything is deleted or written."""
    if shard_records is None:
        return
    if shard_records < 10_000:
        raise ValueError("shard_records must be >= 10000")
    if increment:
        raise ValueError("shard_records streams a base delivery; an increment is drawn in memory (leave it out)")


def _manifest_path(lake_root: Path) -> Path:
    """Where the cumulative manifest of every delivery so far is kept."""
    return lake_root / "_generator" / "manifest.json"


def _check_arguments(records: int, bad_ratio: float, increment: int, *, clean: bool) -> None:
    """Refuse arguments :func:`generate` cannot honour, before anything is deleted or written."""
    if records < 1000:
        raise ValueError("records must be >= 1000")
    if not 0 <= bad_ratio < 0.5:
        raise ValueError("bad_ratio must be in [0, 0.5)")
    if increment < 0:
        raise ValueError("increment must be >= 0")
    if clean and increment:
        raise ValueError("clean=True deletes the base delivery an increment builds on")


def _deliveries(lake_root: Path, seed: int, spec: dict) -> tuple[list[dict], list[dict]]:
    """Every delivery to simulate (the earlier ones from the manifest, then ``spec``) and the earlier files.

    The base delivery needs an empty landing folder; an increment needs the base's manifest, the same seed
    and a K above the latest delivered.
    """
    if spec["increment"] == 0:
        landing = lake_root / "landing"
        if landing.exists() and any(p.is_file() for p in landing.rglob("*")):
            raise FileExistsError(f"{landing} already holds files: pass clean=True or use increment=K")
        return [spec], []
    manifest_path = _manifest_path(lake_root)
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path} not found: generate the base delivery first")
    old = json.loads(manifest_path.read_text())
    if old["deliveries"][0].get("shards", 1) > 1:
        raise ValueError(
            f"{manifest_path}: the base delivery was streamed in {old['deliveries'][0]['shards']} shards; "
            "an increment re-simulates the base in memory, so a streamed base takes none"
        )
    if old["seed"] != seed:
        raise ValueError(f"seed {seed} differs from the base delivery's seed {old['seed']}")
    if spec["increment"] <= old["increment"]:
        raise ValueError(f"increment must be > {old['increment']} (the latest delivered)")
    deliveries = [
        {**{k: d[k] for k in ("increment", "records", "bad_ratio")}, "changes": d.get("changes", "uniform")}
        for d in old["deliveries"]
    ]
    return [*deliveries, spec], old["files"]


def _manifest(seed: int, deliveries: list[dict], summary: dict, files: list[dict]) -> dict:
    """The manifest of every delivery so far (``deliveries`` get their dts; ``summary`` is :func:`_summary`'s),
    with these fields:

    - ``seed``, ``records`` (base delivery), ``bad_ratio`` (base), ``increment`` (latest K),
      ``generator_version``, ``deliveries`` (one entry per delivery: increment, records, bad_ratio, changes,
      dts; a streamed base also shards and shard_records) and
      ``records_written`` (total landing records in all files).
    - ``files``: one entry per file: ``path`` (relative to lake_root), ``entity`` ("<source>/<entity>"),
      ``dt``, ``increment``, ``role`` (data | extra_column | empty_file), ``records`` (JSON lines or CSV data
      rows, bad ones included; CSV rows are RFC 4180 records, so a quoted embedded newline does not start a
      row), ``bytes``, ``gzip``, ``bom``, ``crlf``.
    - ``entities["<source>/<entity>"]``: ``records_written`` (all records of the entity in all files);
      ``good_records`` (records that pass every quarantine rule: originals, updates, exact duplicates, delete
      markers and extra_column records); ``bad`` (per kind: records planted; ``empty_file`` counts files);
      ``superseded`` (good records that are not the single surviving version of their key = good_records -
      distinct_good_keys; this counts older versions and exact duplicates); ``deletes`` (delete markers:
      IsDeleted=true re-deliveries; the marker is always the newest version of its key);
      ``distinct_good_keys``.
    - ``bad``: totals per kind over all entities; ``expected_errors``: the same totals keyed by the ``_error``
      code the pipeline assigns (``unexpected_column`` counts records, ``empty_file`` counts files).
    - ``expected_silver_rows["silver.<entity>"]``: current rows after processing every delivery so far:
      the number of distinct keys among good records whose newest version is not a delete (extra_column
      records are good; orphans and all other bad records are excluded). fx_rates: distinct (CURRENCY,
      VALID_FROM).
    - ``expected_accounts_history_rows``: distinct (Id, LastModifiedDate) pairs among good account records
      (delete markers included, exact duplicates counted once).
    """
    for d in deliveries:
        d["dts"] = [x.isoformat() for x in _delivery_dts(d["increment"])]
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "records": deliveries[0]["records"],
        "bad_ratio": deliveries[0]["bad_ratio"],
        "increment": deliveries[-1]["increment"],
        "deliveries": deliveries,
        **summary,
        "files": files,
    }


def generate_with_progress(
    lake_root: Path,
    records: int,
    seed: int = 7,
    bad_ratio: float = 0.01,
    *,
    clean: bool = False,
    increment: int = 0,
    changes: str = "recent",
    shard_records: int | None = None,
    console: Any = None,
) -> dict:
    """:func:`generate` with a rich progress bar (one bar per stage: generate, write)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{stage} {records:,} records", total=total)
            bar.update(tasks[stage], completed=done, total=total)

        return generate(
            lake_root,
            records,
            seed,
            bad_ratio,
            clean=clean,
            increment=increment,
            changes=changes,
            shard_records=shard_records,
            progress=report,
        )
