"""Writing a delivery: files per entity and partition, their encodings (gzip, BOM, CRLF) and manifest entries."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from pathlib import Path

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


def _write(root: Path, st: _State, dl: _Delivery, progress: ProgressFn | None) -> list[dict]:
    rng = np.random.default_rng([st.seed, dl.k, 2])
    jobs: list[tuple[str, int, list, list[str] | None, str]] = []  # (entity, part, rows, header, role)
    for e in L.LANDING_ENTITIES:
        name = e.name
        header = [f for f in e.field_names] if e.format == "csv" else None
        for p in range(len(dl.dts)):
            rows = dl.rows.get(name, {}).get(p, [])
            bad = dl.bad.get(name, {}).get(p, [])
            if bad:
                pos = np.concatenate([np.arange(len(rows), dtype=np.float64), rng.uniform(-0.5, len(rows), len(bad))])
                allrows = rows + bad
                rows = [allrows[i] for i in np.argsort(pos, kind="stable").tolist()]
            if not rows:
                continue
            nf = max(1, math.ceil(len(rows) / 25_000))
            if (p == 0 and len(rows) >= 200) or name == FX:
                nf = max(nf, 2)
            for chunk in np.array_split(np.arange(len(rows)), nf):
                jobs.append((name, p, rows[chunk[0] : chunk[-1] + 1], header, "data"))
        if name in dl.extra_csv:
            jobs.append((name, len(dl.dts) - 1, dl.extra_csv[name], [*header, "NOTES"], "extra_column"))
    for name, p, variant in dl.empties:
        csvfmt = ENTITIES[name].format == "csv"
        header = list(ENTITIES[name].field_names) if csvfmt and variant != 0 else None
        jobs.append((name, p, [], header, f"empty{variant}"))

    entries, seq = [], {}
    forced = [(True, False, False), (False, True, False), (False, False, True), (True, True, True)]
    for n_job, (name, p, rows, header, role) in enumerate(jobs):
        e = ENTITIES[name]
        if role.startswith("empty"):
            variant = int(role[-1])
            gz, bom, crlf = variant == 2, False, variant == 1 and header is not None
        elif n_job < len(forced):
            gz, bom, crlf = forced[n_job]
        else:
            gz, bom, crlf = (bool(x) for x in rng.random(3) < (0.35, 0.25, 0.35))
        dt = dl.dts[p]
        key = (name, p)
        seq[key] = seq.get(key, 0) + 1
        ext = ".jsonl" if e.format == "jsonl" else ".csv"
        fname = f"{e.entity}_{dt:%Y%m%d}_{seq[key]:03d}{ext}{'.gz' if gz else ''}"
        rel = Path("landing") / e.source / e.entity / f"dt={dt.isoformat()}" / fname
        data = _encode(name, rows, header, "\r\n" if crlf else "\n", bom, gz)
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        entries.append(
            {
                "path": rel.as_posix(),
                "entity": name,
                "dt": dt.isoformat(),
                "increment": dl.k,
                "role": "empty_file" if role.startswith("empty") else role,
                "records": len(rows),
                "bytes": len(data),
                "gzip": gz,
                "bom": bom,
                "crlf": crlf,
            }
        )
        if progress:
            progress("write", n_job + 1, len(jobs))
    return entries
