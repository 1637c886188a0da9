"""The stress scenarios' landing-set builders (benchmarks/stress.py): pure file rewrites of a generated set.

Each builder takes a landing set written by ``lakehouse.generator.generate`` and post-processes its files:
concatenates one entity into one big file, splits every file into many small ones, moves 30 % of the
orders onto one customer, adds an unknown field to every record (and reverses the CSV columns), or withholds
some customers (parents) to deliver them later. Records are read the way bronze's parsers read them
(``job_assets/transforms/bronze.py``: gzip by extension, BOM stripped, CSV by its own header, blank lines
skipped), and files that are not UTF-8 or hold no record are left as they are, so what bronze makes of them
does not change. Rewritten files are plain (no gzip), UTF-8 without BOM, LF line ends.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from job_assets.contracts import landing as L

DRIFT_CSV = "STRESS_DRIFT"
DRIFT_JSON = "StressDrift__c"
DRIFT_VALUE = "drift"


@dataclass
class LandingFile:
    """One landing file's records: CSV rows (lists, ``header`` set) or JSON lines (strings, no header)."""

    path: Path
    entity: L.LandingEntity
    header: list[str] | None
    records: list


def entity_of(path: Path, landing: Path) -> L.LandingEntity | None:
    """The landing entity a file under ``landing`` belongs to (None: outside the contract)."""
    parts = path.relative_to(landing).parts
    name = "/".join(parts[:2])
    return next((e for e in L.LANDING_ENTITIES if e.name == name), None)


def landing_files(landing: Path, entity: str | None = None) -> list[Path]:
    """The data files under ``landing`` (one entity's, or all), sorted."""
    base = landing / entity if entity else landing
    return sorted(p for p in base.rglob("*") if p.is_file() and "dt=" in str(p.parent.name))


def read_landing(path: Path, landing: Path) -> LandingFile | None:
    """A file's records as bronze parses them; None when it is not UTF-8, empty or outside the contract."""
    entity = entity_of(path, landing)
    data = path.read_bytes()
    if entity is None or not data:
        return None
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff")
    if entity.format == "jsonl":
        lines = [line for line in text.splitlines() if line.strip()]
        return LandingFile(path, entity, None, lines) if lines else None
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=False))
    if not rows:
        return None
    body = [r for r in rows[1:] if r and not (len(r) == 1 and not r[0].strip())]
    return LandingFile(path, entity, rows[0], body) if body else None


def encode(f: LandingFile, records: list | None = None) -> bytes:
    """The bytes of ``f`` (or of ``f`` holding ``records``): plain UTF-8, LF line ends."""
    recs = f.records if records is None else records
    if f.header is None:
        return ("\n".join(recs) + "\n").encode("utf-8")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(f.header)
    w.writerows(recs)
    return buf.getvalue().encode("utf-8")


def plain_name(path: Path, suffix: str = "") -> Path:
    """``path`` without ``.gz``, with ``suffix`` before the extension (``orders-1.csv.gz`` -> ``orders-1-s.csv``)."""
    name = path.name.removesuffix(".gz").removesuffix(".GZ")
    stem, ext = name.rsplit(".", 1)
    return path.with_name(f"{stem}{suffix}.{ext}")


def replace_file(f: LandingFile, records: list | None = None) -> Path:
    """Rewrite ``f`` in place as a plain file (a ``.gz`` file is replaced by its plain twin)."""
    target = plain_name(f.path)
    data = encode(f, records)
    f.path.unlink()
    target.write_bytes(data)
    return target


def count_records(landing: Path) -> int:
    """The records of every data file under ``landing``, as bronze counts them (unreadable files count lines)."""
    total = 0
    for p in landing_files(landing):
        f = read_landing(p, landing)
        if f is not None:
            total += len(f.records)
        elif entity_of(p, landing) is not None and p.stat().st_size:
            raw = gzip.decompress(p.read_bytes()) if p.name.lower().endswith(".gz") else p.read_bytes()
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:  # bronze quarantines each line of a file that is not UTF-8
                text = raw.decode("utf-8", errors="replace")
                total += sum(1 for t in text.splitlines() if t.strip())
    return total


def concat_entity(landing: Path, entity: str, name: str = "big.csv") -> tuple[Path, int]:
    """Concatenate ``entity``'s files that share its canonical header into one file; (its path, records).

    Files with another header (the generator's extra-column files), not UTF-8 or empty stay as they are.
    The big file lands in the first partition, under ``name``.
    """
    ent = next(e for e in L.LANDING_ENTITIES if e.name == entity)
    files = [f for p in landing_files(landing, entity) if (f := read_landing(p, landing)) is not None]
    canonical = [f for f in files if f.header is None or f.header == list(ent.field_names)]
    if not canonical:
        raise ValueError(f"{entity}: no file with the canonical header under {landing}")
    target = canonical[0].path.parent / name
    records = 0
    with target.open("wb") as out:
        for i, f in enumerate(canonical):
            data = encode(f)
            if f.header is not None and i:
                data = data.split(b"\n", 1)[1]  # the header once
            out.write(data)
            records += len(f.records)
            f.path.unlink()
    return target, records


def split_files(landing: Path, n_files: int) -> int:
    """Split every readable file so that the landing set holds about ``n_files`` files; the files written.

    Each piece keeps its file's header (CSV) and partition; the records per piece are the same everywhere
    (total records / ``n_files``, at least 1).
    """
    files = [f for p in landing_files(landing) if (f := read_landing(p, landing)) is not None]
    per = max(1, math.ceil(sum(len(f.records) for f in files) / max(1, n_files)))
    written = 0
    for f in files:
        f.path.unlink()
        for i in range(0, len(f.records), per):
            plain_name(f.path, f"-part{i // per:05d}").write_bytes(encode(f, f.records[i : i + per]))
            written += 1
    return written


def _csv_files(landing: Path, entity: str) -> list[LandingFile]:
    return [f for p in landing_files(landing, entity) if (f := read_landing(p, landing)) is not None]


def _column(f: LandingFile, name: str) -> int | None:
    return f.header.index(name) if f.header and name in f.header else None


def order_customers(landing: Path) -> Counter:
    """How many order rows name each CUSTOMER_ID (as written)."""
    counts: Counter = Counter()
    for f in _csv_files(landing, L.ORDERS.name):
        c = _column(f, "CUSTOMER_ID")
        counts.update(r[c] for r in f.records if c is not None and len(r) == len(f.header))
    return counts


def customer_ids(landing: Path) -> set[str]:
    """Every CUSTOMER_ID delivered in ``snowflake/customers``."""
    ids: set[str] = set()
    for f in _csv_files(landing, L.CUSTOMERS.name):
        c = _column(f, "CUSTOMER_ID")
        ids.update(r[c] for r in f.records if c is not None and len(r) == len(f.header))
    return ids


def _picked(key: str, share: float) -> bool:
    """A deterministic pick of ``share`` of the keys (by a hash: sequential ids spread evenly)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % 10_000 < share * 10_000


def skew_orders(landing: Path, share: float = 0.30) -> tuple[str, float]:
    """Move orders onto the busiest customer until it holds ``share`` of the orders; (its id, its share).

    Only orders whose customer exists are moved (the generator's orphans and malformed ids stay as they are),
    and an order is picked by its ORDER_ID, so every version of an order moves together.
    """
    counts, known = order_customers(landing), customer_ids(landing)
    hot = next(c for c, _ in counts.most_common() if c in known)
    total = sum(counts.values())
    movable = sum(n for c, n in counts.items() if c in known and c != hot)
    extra = max(0.0, share * total - counts[hot]) / max(1, movable)
    for f in _csv_files(landing, L.ORDERS.name):
        o, c = _column(f, "ORDER_ID"), _column(f, "CUSTOMER_ID")
        rows = [list(r) for r in f.records]
        for r in rows:
            if len(r) == len(f.header) and r[c] in known and _picked(r[o], extra):
                r[c] = hot
        replace_file(f, rows)
    after = order_customers(landing)
    return hot, after[hot] / max(1, sum(after.values()))


def _drift_json(line: str) -> tuple[str, bool]:
    try:
        obj = json.loads(line)
    except ValueError:
        return line, False
    if not isinstance(obj, dict):
        return line, False
    obj[DRIFT_JSON] = DRIFT_VALUE
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")), True


def add_drift(landing: Path, reorder: bool = True) -> Counter:
    """Add an unknown field to every record of every entity (CSV: also reverse the columns); drifted per entity.

    A CSV row of the wrong length gets the field too (it stays as wrong as it was).
    """
    drifted: Counter = Counter()
    for p in landing_files(landing):
        f = read_landing(p, landing)
        if f is None:
            continue
        if f.header is None:
            pairs = [_drift_json(line) for line in f.records]
            replace_file(f, [line for line, _ in pairs])
            drifted[f.entity.name] += sum(ok for _, ok in pairs)
            continue
        width = len(f.header)
        order = (lambda r: r[::-1]) if reorder else (lambda r: r)
        rows = [order([*r, DRIFT_VALUE]) for r in f.records]
        drifted[f.entity.name] += sum(len(r) == width for r in f.records)
        f.header = order([*f.header, DRIFT_CSV])
        replace_file(f, rows)
    return drifted


def withhold_customers(landing: Path, ids: Iterable[str], pool: list[list[str]], files: Iterable[Path]) -> int:
    """Take the rows of customers ``ids`` out of ``files`` (customers files among them) into ``pool``; rows taken."""
    wanted, taken = set(ids), 0
    for p in files:
        f = read_landing(p, landing) if p.exists() else None
        if f is None or f.entity.name != L.CUSTOMERS.name:
            continue
        c = _column(f, "CUSTOMER_ID")
        out = [r for r in f.records if c is not None and len(r) == len(f.header) and r[c] in wanted]
        if not out:
            continue
        pool.extend(dict(zip(f.header, r, strict=True)) for r in out)
        taken += len(out)
        replace_file(f, [r for r in f.records if c is None or len(r) != len(f.header) or r[c] not in wanted])
    return taken


def deliver_pool(landing: Path, pool: list, dt: str, name: str = "late-parents.csv") -> Path:
    """Write the withheld customers in ``pool`` as one new customers file in partition ``dt``."""
    header = list(L.CUSTOMERS.field_names)
    target = landing / L.CUSTOMERS.name / f"dt={dt}" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = [[row.get(h, "") for h in header] for row in pool]
    target.write_bytes(encode(LandingFile(target, L.CUSTOMERS, header, rows)))
    return target


def pick_late_parents(landing: Path, share: float) -> set[str]:
    """``share`` of the customers that have orders, picked by id (the parents to withhold)."""
    known = customer_ids(landing)
    return {c for c in order_customers(landing) if c in known and _picked(c, share)}
