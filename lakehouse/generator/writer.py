"""Writing a delivery: files per entity and partition, their encodings (gzip, BOM, CRLF) and manifest entries."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from job_assets.contracts import landing as L

from .model import ENTITIES, FX, ProgressFn, _Delivery, _State


def _encode(name: str, rows: list, header: list[str] | None, eol: str, bom: bool, gz: bool) -> bytes:
    if ENTITIES[name].format == "jsonl":
        enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        lines = [r if isinstance(r, str) else enc(r) for r in rows]
        text = eol.join(lines) + eol if lines else ""
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator=eol)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)
        text = buf.getvalue()
    data = text.encode("utf-8")
    if bom and data:
        data = b"\xef\xbb\xbf" + data
    return gzip.compress(data, compresslevel=6, mtime=0) if gz else data


class _Job(NamedTuple):
    """One file to write: its entity, partition index, rows, CSV header (None: none) and role."""

    name: str
    part: int
    rows: list
    header: list[str] | None
    role: str  # data | extra_column | empty0 | empty1 | empty2


_FORCED = [(True, False, False), (False, True, False), (False, False, True), (True, True, True)]
"""The (gzip, BOM, CRLF) of a delivery's first files, so that every delivery has each encoding."""


def _partition_rows(dl: _Delivery, name: str, p: int, rng: np.random.Generator) -> list:
    """The good rows of ``name`` in partition ``p`` with its bad rows scattered among them."""
    rows = dl.rows.get(name, {}).get(p, [])
    bad = dl.bad.get(name, {}).get(p, [])
    if bad:
        pos = np.concatenate([np.arange(len(rows), dtype=np.float64), rng.uniform(-0.5, len(rows), len(bad))])
        allrows = rows + bad
        rows = [allrows[i] for i in np.argsort(pos, kind="stable").tolist()]
    return rows


def _jobs(dl: _Delivery, rng: np.random.Generator) -> list[_Job]:
    """Every file of the delivery, in write order: data files (split by size), extra-column files, empties."""
    jobs: list[_Job] = []
    for e in L.LANDING_ENTITIES:
        name = e.name
        header = [f for f in e.field_names] if e.format == "csv" else None
        for p in range(len(dl.dts)):
            rows = _partition_rows(dl, name, p, rng)
            if not rows:
                continue
            nf = max(1, math.ceil(len(rows) / 25_000))
            if (p == 0 and len(rows) >= 200) or name == FX:
                nf = max(nf, 2)
            for chunk in np.array_split(np.arange(len(rows)), nf):
                jobs.append(_Job(name, p, rows[chunk[0] : chunk[-1] + 1], header, "data"))
        if name in dl.extra_csv:
            jobs.append(_Job(name, len(dl.dts) - 1, dl.extra_csv[name], [*header, "NOTES"], "extra_column"))
    for name, p, variant in dl.empties:
        csvfmt = ENTITIES[name].format == "csv"
        header = list(ENTITIES[name].field_names) if csvfmt and variant != 0 else None
        jobs.append(_Job(name, p, [], header, f"empty{variant}"))
    return jobs


def _encoding(n_job: int, job: _Job, rng: np.random.Generator) -> tuple[bool, bool, bool]:
    """The (gzip, BOM, CRLF) of the ``n_job``-th file: by variant for empties, forced first, then random."""
    if job.role.startswith("empty"):
        variant = int(job.role[-1])
        return variant == 2, False, variant == 1 and job.header is not None
    if n_job < len(_FORCED):
        return _FORCED[n_job]
    gz, bom, crlf = (bool(x) for x in rng.random(3) < (0.35, 0.25, 0.35))
    return gz, bom, crlf


def _write_file(root: Path, dl: _Delivery, job: _Job, seq: int, encoding: tuple[bool, bool, bool]) -> dict:
    """Write ``job`` as the ``seq``-th file of its entity and partition; its manifest entry."""
    gz, bom, crlf = encoding
    e = ENTITIES[job.name]
    dt = dl.dts[job.part]
    ext = ".jsonl" if e.format == "jsonl" else ".csv"
    shard = f"_s{dl.shard:04d}" if dl.shard else ""
    fname = f"{e.entity}_{dt:%Y%m%d}{shard}_{seq:03d}{ext}{'.gz' if gz else ''}"
    rel = Path("landing") / e.source / e.entity / f"dt={dt.isoformat()}" / fname
    data = _encode(job.name, job.rows, job.header, "\r\n" if crlf else "\n", bom, gz)
    out = root / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return {
        "path": rel.as_posix(),
        "entity": job.name,
        "dt": dt.isoformat(),
        "increment": dl.k,
        "role": "empty_file" if job.role.startswith("empty") else job.role,
        "records": len(job.rows),
        "bytes": len(data),
        "gzip": gz,
        "bom": bom,
        "crlf": crlf,
    }


def _write(root: Path, st: _State, dl: _Delivery, progress: ProgressFn | None) -> list[dict]:
    """Write every file of delivery ``dl`` under ``root``; their manifest entries, in write order."""
    rng = st.rng(dl.k, 2)
    jobs = _jobs(dl, rng)
    entries, seq = [], {}
    for n_job, job in enumerate(jobs):
        key = (job.name, job.part)
        seq[key] = seq.get(key, 0) + 1
        entries.append(_write_file(root, dl, job, seq[key], _encoding(n_job, job, rng)))
        if progress:
            progress("write", n_job + 1, len(jobs))
    return entries
