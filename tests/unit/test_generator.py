"""The landing generator: determinism, manifest truthfulness, bad records, re-deliveries and increments.

The expected figures in the manifest are checked against an independent re-implementation of the pipeline's
record-level rules (driven by the landing and silver contracts) applied to the files actually written.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from job_assets.contracts import landing as L
from job_assets.contracts import silver as S
from job_assets.contracts.model import ERROR_CODES
from lakehouse.generator import BAD_KINDS, generate

SILVER_BY_LANDING = {t.landing.name: t for t in S.SILVER_CURRENT}
TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?")
INT_RE = re.compile(r"-?\d+")
DEC_RE = re.compile(r"-?\d+(\.\d+)?")
QUARANTINE_REFS = {"crm/opportunities", "snowflake/orders", "snowflake/order_items"}


# ------------------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def base20k(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake20k")
    return root, generate(root, 20_000, seed=7, bad_ratio=0.01)


def file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "landing").rglob("*"))
        if p.is_file()
    }


def read_file(root: Path, rel: str, entity: str) -> tuple[list[str] | None, list]:
    """(header, records): JSON lines as raw strings, CSV rows as lists (gzip/BOM-aware, any line ending)."""
    data = (root / rel).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig")
    if L.LANDING_BY_NAME[entity].format == "jsonl":
        return None, [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return (rows[0], rows[1:]) if rows else (None, [])


def as_str(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse_ts(v: str) -> datetime:
    dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def castable(v: str, typ: str) -> bool:
    try:
        if typ in ("bigint", "int"):
            return bool(INT_RE.fullmatch(v))
        if typ.startswith("decimal"):
            return bool(DEC_RE.fullmatch(v))
        if typ == "boolean":
            return v in ("true", "false")
        if typ == "date":
            return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)) and bool(date.fromisoformat(v))
        if typ == "timestamp":
            return bool(TS_RE.fullmatch(v)) and bool(parse_ts(v))
    except ValueError:
        return False
    return True


def typed(v: str, typ: str):
    if typ in ("bigint", "int"):
        return int(v)
    if typ == "timestamp":
        return parse_ts(v)
    if typ == "date":
        return date.fromisoformat(v)
    return v


class Recompute:
    """Independent recomputation of the pipeline's expected outcome from the files on disk."""

    def __init__(self, root: Path, manifest: dict):
        self.errors: Counter = Counter()
        self.per_entity: dict[str, Counter] = defaultdict(Counter)
        self.warn: Counter = Counter()
        self.written: Counter = Counter()
        self.good: dict[str, list] = defaultdict(list)  # entity -> [(key, version, deleted, record)]
        by_entity: dict[str, list] = defaultdict(list)
        for f in manifest["files"]:
            header, recs = read_file(root, f["path"], f["entity"])
            assert len(recs) == f["records"], f["path"]
            if not recs:
                self.errors["empty_file"] += 1
                self.per_entity[f["entity"]]["empty_file"] += 1
            by_entity[f["entity"]].append((f["path"], header, recs))
        self.current: dict[str, dict] = {}
        self.history_ids: set[str] = set()
        self.fx: dict[str, list[date]] = defaultdict(list)
        for ent in L.LANDING_ENTITIES:
            for _path, header, recs in sorted(by_entity[ent.name], key=lambda x: x[0]):
                for raw in recs:
                    self.written[ent.name] += 1
                    self._record(ent, header, raw)
            self._resolve(ent)

    def _record(self, ent, header, raw) -> None:
        fields = {f.name: f for f in ent.fields}
        if ent.format == "jsonl":
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                return self._err(ent, "unparseable_record")
            rec = {k: as_str(v) for k, v in obj.items()}
        else:
            if len(raw) != len(header):
                return self._err(ent, "wrong_column_count")
            rec = {h: (v if v != "" else None) for h, v in zip(header, raw, strict=True)}
        extra = set(rec) - set(fields)
        for f in ent.fields:
            if f.required and rec.get(f.name) in (None, ""):
                return self._err(ent, "missing_required")
        for f in ent.fields:
            v = rec.get(f.name)
            if f.type != "string" and v is not None and not castable(v, f.type):
                return self._err(ent, "invalid_date" if f.type in ("date", "timestamp") else "invalid_type")
        table = SILVER_BY_LANDING[ent.name]
        src = {c.name: c.source for c in table.columns if c.source}
        for rule in table.rules:
            v = rec.get(src.get(rule.column, ""))
            if v is None:
                continue
            if rule.kind == "accepted_values" and v not in rule.values:
                return self._err(ent, "invalid_enum")
            if rule.kind == "range":
                x = float(v)
                low = x < rule.min_value if rule.min_inclusive else x <= rule.min_value
                if low or (rule.max_value is not None and x > rule.max_value):
                    return self._err(ent, "out_of_range")
            if rule.kind == "pattern" and not re.search(rule.pattern, v):
                self.warn["invalid_format"] += 1
        if ent.name == "snowflake/orders":
            day = parse_ts(rec["ORDER_TS"]).date()
            if not any(d <= day for d in self.fx[rec["CURRENCY"]]):
                return self._err(ent, "missing_fx_rate")
        for rule in table.rules:
            if rule.kind != "ref":
                continue
            v = rec.get(src[rule.column])
            if v is None:
                continue
            if rule.ref_table == "silver.accounts_history":
                ok = v in self.history_ids
            else:
                ok = typed(v, "bigint") in self.current[rule.ref_table]
            if not ok:
                if rule.severity == "quarantine":
                    return self._err(ent, "orphan_reference")
                self.warn["orphan_reference"] += 1
        if extra:
            self.errors["unexpected_column"] += 1
            self.per_entity[ent.name]["unexpected_column"] += 1
        key = tuple(typed(rec[k], fields[k].type) for k in ent.key)
        version = typed(rec[ent.version_field], fields[ent.version_field].type)
        deleted = rec.get("IsDeleted") == "true"
        self.good[ent.name].append((key, version, deleted, {k: v for k, v in rec.items() if k in fields}))

    def _err(self, ent, code: str) -> None:
        self.errors[code] += 1
        self.per_entity[ent.name][code] += 1

    def _resolve(self, ent) -> None:
        latest: dict = {}
        for key, version, deleted, rec in self.good[ent.name]:
            cur = latest.get(key)
            if cur is None or version > cur[0]:
                latest[key] = (version, deleted, rec)
            elif version == cur[0]:
                assert rec == cur[2], f"{ent.name} {key}: two different records with the same version"
        table = SILVER_BY_LANDING[ent.name].name
        self.current[table] = {k[0] if len(k) == 1 else k: v for k, v in latest.items() if not v[1]}
        if ent.name == "crm/accounts":
            self.history_ids = {k[0] for k, *_ in self.good[ent.name]}
            self.history_rows = len({(k, v) for k, v, *_ in self.good[ent.name]})
        if ent.name == "reference/fx_rates":
            for (cur, valid_from), *_ in self.good[ent.name]:
                self.fx[cur].append(valid_from)


def check_manifest(root: Path, manifest: dict) -> Recompute:
    rc = Recompute(root, manifest)
    on_disk = {p.relative_to(root).as_posix() for p in (root / "landing").rglob("*") if p.is_file()}
    assert on_disk == {f["path"] for f in manifest["files"]}
    expected = {code: n for code, n in manifest["expected_errors"].items() if n}
    assert dict(+rc.errors) == expected
    assert rc.warn == Counter(), "good records must not trip warn rules either"
    silver = {t: len(rows) for t, rows in rc.current.items()}
    assert silver == manifest["expected_silver_rows"]
    assert rc.history_rows == manifest["expected_accounts_history_rows"]
    for name, stats in manifest["entities"].items():
        goods = rc.good[name]
        distinct = len({k for k, *_ in goods})
        assert stats["records_written"] == rc.written[name], name
        assert stats["good_records"] == len(goods), name
        assert stats["superseded"] == len(goods) - distinct, name
        assert stats["deletes"] == sum(1 for _, _, d, _ in goods if d), name
        by_code = Counter()
        for kind, n in stats["bad"].items():
            by_code[BAD_KINDS[kind]] += n
        assert +by_code == +rc.per_entity[name], name
    assert manifest["records_written"] == sum(f["records"] for f in manifest["files"])
    return rc


# ------------------------------------------------------------------------------------------------- tests


def test_same_arguments_give_byte_identical_files(tmp_path):
    a = generate(tmp_path / "a", 3000, seed=11, bad_ratio=0.02)
    b = generate(tmp_path / "b", 3000, seed=11, bad_ratio=0.02)
    assert a == b
    ha, hb = file_hashes(tmp_path / "a"), file_hashes(tmp_path / "b")
    assert ha == hb and len(ha) > 20
    c = generate(tmp_path / "c", 3000, seed=12, bad_ratio=0.02)
    assert file_hashes(tmp_path / "c") != ha
    assert c["records_written"] == a["records_written"] == 3000


def test_manifest_matches_files_and_formats(base20k):
    root, m = base20k
    assert m["records"] == m["records_written"] == 20_000
    flags = Counter()
    for f in m["files"]:
        data = (root / f["path"]).read_bytes()
        assert (data[:2] == b"\x1f\x8b") == f["gzip"] == f["path"].endswith(".gz")
        if f["gzip"]:
            data = gzip.decompress(data)
        assert data.startswith(b"\xef\xbb\xbf") == (f["bom"] and len(data) > 0)
        if f["records"] >= 2:
            assert (b"\r\n" in data) == f["crlf"] or not f["crlf"]
        flags.update(k for k in ("gzip", "bom", "crlf") if f[k])
        ent = L.LANDING_BY_NAME[f["entity"]]
        assert f["path"].startswith(f"landing/{ent.source}/{ent.entity}/dt=")
        assert f["path"].endswith(L.KNOWN_EXTENSIONS[ent.format])
        _, recs = read_file(root, f["path"], f["entity"])
        assert len(recs) == f["records"]
    assert min(flags.values()) >= 2 and len(flags) == 3
    dts = {f["dt"] for f in m["files"]}
    assert len(dts) >= 4
    per_entity = Counter(f["entity"] for f in m["files"])
    assert all(n >= 3 for e, n in per_entity.items() if e != "reference/fx_rates")
    assert json.loads((root / "_generator" / "manifest.json").read_text()) == m


def test_every_bad_kind_present_and_isolated(base20k):
    root, m = base20k
    assert set(m["bad"]) == set(BAD_KINDS)
    assert all(n > 0 for n in m["bad"].values()), m["bad"]
    record_bad = sum(n for k, n in m["bad"].items() if k != "empty_file")
    assert record_bad == round(20_000 * 0.01)
    assert set(m["expected_errors"]) <= set(ERROR_CODES)
    assert m["entities"]["reference/fx_rates"]["bad"] == dict.fromkeys(BAD_KINDS, 0)
    kinds_seen = {k for e in m["entities"].values() for k, n in e["bad"].items() if n}
    assert kinds_seen == set(BAD_KINDS)
    # quoted commas and embedded newlines exist and parse as single records
    notes = [f for f in m["files"] if f["role"] == "extra_column"]
    assert notes
    header, rows = read_file(root, notes[0]["path"], notes[0]["entity"])
    assert header[-1] == "NOTES" and len(rows) == notes[0]["records"]


def test_expected_counts_match_an_independent_recomputation(base20k):
    root, m = base20k
    rc = check_manifest(root, m)
    # re-deliveries and deletes really happen
    for name in ("crm/accounts", "crm/contacts", "crm/opportunities"):
        assert m["entities"][name]["deletes"] > 0
    for name, stats in m["entities"].items():
        if name != "reference/fx_rates":
            assert stats["superseded"] > 0, name
    assert rc.history_rows > m["expected_silver_rows"]["silver.accounts"]


def test_realistic_shape(base20k):
    root, m = base20k
    rc = Recompute(root, m)
    orders = rc.current["silver.orders"]
    customers = rc.current["silver.customers"]
    accounts = rc.current["silver.accounts"]
    opps = rc.current["silver.opportunities"]
    fx = rc.current["silver.fx_rates"]
    # fx: monthly from before the first order, USD = 1, rates > 0, all currencies
    first_order = min(parse_ts(r["ORDER_TS"]).date() for _, _, r in orders.values())
    assert min(k[1] for k in fx) < first_order
    assert all(float(r["RATE_TO_USD"]) > 0 for _, _, r in fx.values())
    assert {float(r["RATE_TO_USD"]) for (c, _), (_, _, r) in fx.items() if c == "USD"} == {1.0}
    assert {c for c, _ in fx} == set(L.CURRENCIES)
    # skew: the top 1% of customers place far more than 1% of orders
    per_customer = Counter(r["CUSTOMER_ID"] for _, _, r in orders.values())
    top = sum(n for _, n in per_customer.most_common(max(1, len(customers) // 100)))
    assert top > 0.08 * len(orders)
    # seasonality: Q4 busier than Q1
    months = Counter(parse_ts(r["ORDER_TS"]).month for _, _, r in orders.values())
    assert months[11] + months[12] > 1.4 * (months[2] + months[3])
    assert {r["CURRENCY"] for _, _, r in orders.values()} == set(L.CURRENCIES)
    # ~40% linked to a live account; many orders attributable to an earlier Closed Won
    linked = [r for _, _, r in customers.values() if r["CRM_ACCOUNT_ID"]]
    assert 0.3 < len(linked) / len(customers) < 0.5
    assert all(r["CRM_ACCOUNT_ID"] in accounts for r in linked)
    won = defaultdict(list)
    for _, _, r in opps.values():
        if r["StageName"] == "Closed Won":
            won[r["AccountId"]].append(date.fromisoformat(r["CloseDate"]))
    acct = {c: r["CRM_ACCOUNT_ID"] for c, (_, _, r) in customers.items() if r["CRM_ACCOUNT_ID"]}
    attributed = 0
    for _, _, r in orders.values():
        a = acct.get(int(r["CUSTOMER_ID"]))
        if a and any(d <= parse_ts(r["ORDER_TS"]).date() for d in won[a]):
            attributed += 1
    assert attributed > 0.25 * len(orders)
    assert any(r["LeadSource"] is None for _, _, r in opps.values())


def test_increment_appends_new_partitions_and_keeps_counts_consistent(tmp_path):
    root = tmp_path / "lake"
    base = generate(root, 4000, seed=3, bad_ratio=0.02)
    before = file_hashes(root)
    last_dt = max(f["dt"] for f in base["files"])
    inc = generate(root, 2000, seed=3, bad_ratio=0.02, increment=1)
    after = file_hashes(root)
    assert {k: after[k] for k in before} == before  # never touches existing files
    new = [f for f in inc["files"] if f["path"] not in before]
    assert new and all(f["dt"] > last_dt and f["increment"] == 1 for f in new)
    assert inc["files"][: len(base["files"])] == base["files"]
    assert sum(f["records"] for f in new) == 2000
    assert inc["increment"] == 1 and len(inc["deliveries"]) == 2
    check_manifest(root, inc)
    grew = [t for t, n in inc["expected_silver_rows"].items() if n > base["expected_silver_rows"][t]]
    assert len(grew) >= 6
    for name, stats in inc["entities"].items():
        assert stats["records_written"] >= base["entities"][name]["records_written"]
        if name != "reference/fx_rates":
            assert stats["superseded"] > base["entities"][name]["superseded"], name
    # deterministic in (seed, K) and a second increment still adds up
    other = tmp_path / "other"
    generate(other, 4000, seed=3, bad_ratio=0.02)
    generate(other, 2000, seed=3, bad_ratio=0.02, increment=1)
    assert file_hashes(other) == after
    inc2 = generate(root, 1500, seed=3, bad_ratio=0.0, increment=2)
    check_manifest(root, inc2)
    with pytest.raises(ValueError):
        generate(root, 1500, seed=3, increment=2)
    with pytest.raises(ValueError):
        generate(root, 1500, seed=4, increment=3)


def test_clean_and_refuse_to_overwrite(tmp_path):
    generate(tmp_path, 1000, bad_ratio=0.0)
    with pytest.raises(FileExistsError):
        generate(tmp_path, 1000)
    calls = []
    m = generate(tmp_path, 1000, clean=True, progress=lambda s, d, t: calls.append((s, d, t)))
    assert {s for s, _, _ in calls} == {"generate", "write"}
    assert calls[-1][1] == calls[-1][2] == len(m["files"])
    assert file_hashes(tmp_path).keys() == {f["path"] for f in m["files"]}
    with pytest.raises(FileNotFoundError):
        generate(tmp_path / "nothing", 1000, increment=1)


def test_landing_contract_doc_lists_every_field():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "LANDING_CONTRACT.md").read_text()
    for ent in L.LANDING_ENTITIES:
        section = doc.split(f"### `{ent.name}`", 1)[1].split("###", 1)[0]
        for f in ent.fields:
            row = f"| `{f.name}` | {f.type} | {'yes' if f.required else 'no'} |"
            assert row in section, (ent.name, f.name)
    for kind in BAD_KINDS:
        assert f"`{kind}`" in doc


def test_rich_progress_wrapper(tmp_path):
    from rich.console import Console

    from lakehouse.generator import generate_with_progress

    out = io.StringIO()
    m = generate_with_progress(tmp_path, 1000, bad_ratio=0.0, console=Console(file=out, width=100))
    assert m["records_written"] == 1000
    assert "write" in out.getvalue()


# ------------------------------------------------------------------------------------------------- change feeds


def _redelivered_order_ages(root: Path, manifest: dict, increment: int) -> list[float]:
    """Days from each re-delivered order's ORDER_TS (orders delivered before ``increment``) to its partition's dt."""
    earlier: set[str] = set()
    redelivered: list[float] = []
    for f in sorted(manifest["files"], key=lambda f: f["dt"]):
        if f["entity"] != "snowflake/orders" or f["role"] != "data":
            continue
        header, rows = read_file(root, f["path"], "snowflake/orders")
        assert header is not None
        pos = {c: i for i, c in enumerate(header)}
        dt = datetime.fromisoformat(f["dt"]).replace(tzinfo=UTC)
        for r in rows:
            key = r[pos["ORDER_ID"]]
            if f["increment"] == increment and key in earlier:
                redelivered.append((dt - parse_ts(r[pos["ORDER_TS"]])).total_seconds() / 86_400)
            elif f["increment"] < increment:
                earlier.add(key)
    return redelivered


def _share(ages: list[float], pred) -> float:
    return sum(1 for a in ages if pred(a)) / len(ages)


def test_change_feeds_are_recency_skewed_by_default_and_uniform_on_request(tmp_path):
    """Re-deliveries (updates, duplicates, deletes) touch mostly the last weeks' keys, with a tail across
    history; ``changes="uniform"`` spreads them evenly over two years of orders, as before the mode existed."""
    ages = {}
    for mode in ("recent", "uniform"):
        root = tmp_path / mode
        generate(root, 40_000, seed=5, bad_ratio=0.0, changes=mode)
        manifest = generate(root, 8_000, seed=5, bad_ratio=0.0, increment=1, changes=mode)
        assert [d["changes"] for d in manifest["deliveries"]] == [mode, mode]
        check_manifest(root, manifest)
        ages[mode] = _redelivered_order_ages(root, manifest, increment=1)
        assert len(ages[mode]) > 150, mode
    recent, uniform = ages["recent"], ages["uniform"]
    assert _share(recent, lambda a: a <= 56) >= 0.6  # most: orders of the last eight weeks
    assert _share(recent, lambda a: a > 180) >= 0.03  # a tail across history
    assert _share(uniform, lambda a: a <= 56) < 0.2
    assert _share(uniform, lambda a: a > 180) > 0.5


def test_a_manifest_from_before_the_change_modes_is_resimulated_uniformly(tmp_path):
    """An increment on a lake generated before ``changes`` existed (its manifest's deliveries lack the key)
    re-simulates the earlier deliveries as they were drawn: uniformly, so its files are what they would have
    been; an unknown mode is refused before anything is written."""
    marked, legacy = tmp_path / "marked", tmp_path / "legacy"
    for root in (marked, legacy):
        generate(root, 4000, seed=9, bad_ratio=0.01, changes="uniform")
    path = legacy / "_generator" / "manifest.json"
    manifest = json.loads(path.read_text())
    for d in manifest["deliveries"]:
        del d["changes"]
    path.write_text(json.dumps(manifest))
    for root in (marked, legacy):
        generate(root, 2000, seed=9, bad_ratio=0.01, increment=1, changes="recent")
    assert file_hashes(marked) == file_hashes(legacy)
    with pytest.raises(ValueError, match="changes must be one of recent, uniform, not 'skewed'"):
        generate(tmp_path / "new", 4000, changes="skewed")
    assert not (tmp_path / "new").exists()


def test_the_cli_offers_the_generator_change_modes():
    from lakehouse.cli.local import GENERATOR_CHANGE_MODES
    from lakehouse.generator.model import CHANGE_MODES

    assert GENERATOR_CHANGE_MODES == CHANGE_MODES


# ------------------------------------------------------------------------------------- streamed base (shards)


def test_a_streamed_base_is_shards_of_new_keys_that_the_manifest_sums(tmp_path):
    """``shard_records``: a base drawn and written shard by shard (the 100M load test's generator) is a valid
    landing set: the independent recomputation over every file agrees with the summed manifest (so no key of
    one shard collides with another's, and every reference resolves), FX rates land once, and each shard's
    files are named by their shard."""
    root = tmp_path / "streamed"
    m = generate(root, 30_000, seed=5, shard_records=10_000)
    assert m["deliveries"][0]["shards"] == 3 and m["deliveries"][0]["shard_records"] == 10_000
    assert m["records_written"] == 30_000
    rc = check_manifest(root, m)
    assert len(rc.current["silver.fx_rates"]) == m["expected_silver_rows"]["silver.fx_rates"] == 100
    shard_of = Counter(
        re.search(r"_s(\d{4})_\d{3}\.", f["path"]).group(1) if "_s0" in f["path"] else "0000" for f in m["files"]
    )
    assert set(shard_of) == {"0000", "0001", "0002"}
    assert [f["entity"] for f in m["files"]].count("reference/fx_rates") == 2  # the first shard's two files
    # a key space per shard: the orders of the last shard are all newer keys than the first shard's
    first = {
        r[0]
        for f in m["files"]
        if f["entity"] == "snowflake/orders" and "_s0" not in f["path"]
        for r in read_file(root, f["path"], f["entity"])[1]
    }
    last = {
        r[0]
        for f in m["files"]
        if f["entity"] == "snowflake/orders" and "_s0002_" in f["path"]
        for r in read_file(root, f["path"], f["entity"])[1]
    }
    assert first and last and not first & last


def test_a_streamed_base_is_deterministic_and_its_first_shard_is_the_unsharded_draw(tmp_path):
    a = generate(tmp_path / "a", 20_000, seed=3, shard_records=10_000)
    b = generate(tmp_path / "b", 20_000, seed=3, shard_records=10_000)
    assert a == b and file_hashes(tmp_path / "a") == file_hashes(tmp_path / "b")
    alone = generate(tmp_path / "alone", 10_000, seed=3)
    first = {k: v for k, v in file_hashes(tmp_path / "a").items() if "_s0" not in k}
    assert first == file_hashes(tmp_path / "alone") and alone["records_written"] == 10_000


def test_a_streamed_base_refuses_increments_and_tiny_shards(tmp_path):
    generate(tmp_path / "s", 20_000, seed=3, shard_records=10_000)
    with pytest.raises(ValueError, match="streamed in 2 shards"):
        generate(tmp_path / "s", 1000, seed=3, increment=1)
    with pytest.raises(ValueError, match="shard_records must be >= 10000"):
        generate(tmp_path / "t", 20_000, seed=3, shard_records=999)
    with pytest.raises(ValueError, match="an increment is drawn in memory"):
        generate(tmp_path / "s", 20_000, seed=3, increment=1, shard_records=10_000)
    assert not (tmp_path / "t").exists()
