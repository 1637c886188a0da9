"""What a 1 % re-delivery would rewrite in the silver fact tables under each file layout (issue 19, D2).

A copy-on-write MERGE rewrites every file that holds a changed key. How much of a table that is depends on how
the changed keys fall across files, and that follows from the delivery alone: this script draws the landing
data with the real generator (seed 42, 1 % bad) and a 1 % re-delivery per change mode (``recent``, the
default, and ``uniform``), finds the keys each re-delivery changes in ``orders`` and ``order_items`` (keys that
are already in the base), and computes with DuckDB, for each layout, the share of the table's rows that sit in a
file holding a changed key, i.e. what the MERGE would rewrite:

- ``one file``: the whole table in one or a few files, as at 1M today (any change rewrites it);
- ``month`` / ``week`` / ``day``: partitions by the order's date (``ORDER_TS``; items by their order's), one
  file per partition;
- ``files of N rows, by date``: the table sorted by ``ORDER_TS`` in files of N rows (clustering, Z-order or
  liquid clustering on the date, at the file size a 10M-record lake's tables would have);
- ``deletion vectors``: only the changed rows are written again (the files keep their rows, marked deleted).

No Spark: the shares are exact for the layout, before any write; ``benchmarks/load.py --rerun`` measures what the
pipeline's MERGE actually rewrote. The figures go to docs/guides/PERFORMANCE_TUNING.md ("Incremental runs").

    python benchmarks/layout_share.py [--records 1000000] [--workdir .bench/layout]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lakehouse.generator import generate  # noqa: E402

SEED, BAD_RATIO = 42, 0.01
FILE_ROWS = (10_000, 100_000, 1_000_000)
PERIODS = ("month", "week", "day")


def _csv(files: list[Path]) -> str:
    listed = ", ".join(f"'{f}'" for f in files)
    options = "header=true, all_varchar=true, union_by_name=true, ignore_errors=true, strict_mode=false"
    return f"read_csv([{listed}], {options})"


def _files(landing: Path, entity: str) -> set[Path]:
    return set((landing / "snowflake" / entity).rglob("*.csv*"))


def _live_orders(con, files: list[Path]) -> None:
    """``base_orders(ORDER_ID, ts)``: each base order's newest version (parseable rows only)."""
    con.sql(f"""CREATE OR REPLACE TABLE base_orders AS
        SELECT ORDER_ID, max_by(try_cast(ORDER_TS AS TIMESTAMP), UPDATED_AT) AS ts
        FROM {_csv(files)} WHERE try_cast(ORDER_TS AS TIMESTAMP) IS NOT NULL GROUP BY ORDER_ID""")


def _tables(con, base: dict[str, list[Path]], delivery: dict[str, list[Path]]) -> None:
    """``t_orders`` and ``t_items``: each live base row with its order's date and whether the delivery changes
    it (its key is delivered again)."""
    _live_orders(con, base["orders"])
    con.sql(f"""CREATE OR REPLACE TABLE t_orders AS
        SELECT o.ORDER_ID, o.ts, c.ORDER_ID IS NOT NULL AS changed FROM base_orders o
        LEFT JOIN (SELECT DISTINCT ORDER_ID FROM {_csv(delivery["orders"])}) c USING (ORDER_ID)""")
    con.sql(f"""CREATE OR REPLACE TABLE t_items AS
        SELECT i.ORDER_ID, i.LINE_NO, o.ts, c.ORDER_ID IS NOT NULL AS changed
        FROM (SELECT DISTINCT ORDER_ID, LINE_NO FROM {_csv(base["order_items"])}) i
        JOIN base_orders o USING (ORDER_ID)
        LEFT JOIN (SELECT DISTINCT ORDER_ID, LINE_NO FROM {_csv(delivery["order_items"])}) c
          USING (ORDER_ID, LINE_NO)""")


def _share(con, table: str, file_of: str) -> dict[str, float | int]:
    """Rows in files that hold a changed row, as a share of the table; files touched and files in all."""
    row = con.sql(f"""WITH f AS (SELECT {file_of} AS file, count(*) AS n, bool_or(changed) AS hit
                                FROM {table} GROUP BY ALL)
                     SELECT sum(n) FILTER (WHERE hit) / sum(n), count(*) FILTER (WHERE hit), count(*)
                     FROM f""").fetchall()[0]
    return {"share": round(float(row[0] or 0), 4), "files_touched": row[1], "files": row[2]}


def layouts(con, table: str) -> dict[str, dict]:
    """Each layout's rewrite share for ``table`` (``t_orders`` or ``t_items``)."""
    rows = con.sql(f"SELECT count(*), count(*) FILTER (WHERE changed) FROM {table}").fetchall()[0]
    out: dict[str, dict] = {"one file": {"share": 1.0 if rows[1] else 0.0, "files_touched": 1, "files": 1}}
    for period in PERIODS:
        out[period] = _share(con, table, f"date_trunc('{period}', ts)")
    for n in FILE_ROWS:
        ordered = f"(SELECT *, (row_number() OVER (ORDER BY ts) - 1) // {n} AS chunk FROM {table})"
        out[f"files of {n:,} rows, by date"] = _share(con, ordered, "chunk")
    out["deletion vectors"] = {"share": round(rows[1] / rows[0], 4), "files_touched": None, "files": None}
    out["rows"] = {"table": rows[0], "changed": rows[1]}
    return out


def recency(con) -> dict[str, float]:
    """Share of the delivery's changed base orders placed in the last 8 weeks before the newest base order."""
    row = con.sql("""SELECT avg(CASE WHEN ts >= (SELECT max(ts) FROM t_orders) - INTERVAL 56 DAY THEN 1 ELSE 0 END),
                            count(DISTINCT date_trunc('month', ts))
                     FROM t_orders WHERE changed""").fetchall()[0]
    span = con.sql("SELECT count(DISTINCT date_trunc('month', ts)) FROM t_orders").fetchall()[0][0]
    return {"changed_in_last_8_weeks": round(float(row[0] or 0), 3), "months_touched": row[1], "months": span}


def measure(records: int, workdir: Path) -> list[dict]:
    """Base of ``records`` once; a 1 % re-delivery per change mode, each on a copy of the base."""
    import duckdb

    base_dir = workdir / f"base-{records}"
    shutil.rmtree(workdir, ignore_errors=True)
    generate(base_dir, records, seed=SEED, bad_ratio=BAD_RATIO)
    results = []
    for mode in ("recent", "uniform"):
        lake = workdir / f"{mode}-{records}"
        shutil.copytree(base_dir, lake)
        landing = lake / "landing"
        base = {e: sorted(_files(landing, e)) for e in ("orders", "order_items")}
        generate(lake, max(1000, records // 100), seed=SEED, bad_ratio=BAD_RATIO, increment=1, changes=mode)
        delivery = {e: sorted(_files(landing, e) - set(base[e])) for e in base}
        con = duckdb.connect()
        _tables(con, base, delivery)
        results.append(
            {
                "records": records,
                "changes": mode,
                **recency(con),
                "orders": layouts(con, "t_orders"),
                "order_items": layouts(con, "t_items"),
            }
        )
        con.close()
        shutil.rmtree(lake, ignore_errors=True)
    shutil.rmtree(base_dir, ignore_errors=True)
    return results


def main() -> int:
    """Print each change mode's rewrite share per layout, then the JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--workdir", default=str(ROOT / ".bench" / "layout"))
    args = p.parse_args()
    print(f"cores={os.cpu_count()} records={args.records:,}", flush=True)
    for r in measure(args.records, Path(args.workdir)):
        print(json.dumps(r), flush=True)
        print(f"changes={r['changes']}: {r['changed_in_last_8_weeks']:.0%} of changed orders in the last 8 weeks")
        for entity in ("orders", "order_items"):
            rows = r[entity]["rows"]
            print(f"  {entity}: {rows['changed']:,} of {rows['table']:,} rows changed")
            for name, v in r[entity].items():
                if name != "rows":
                    touched = "" if v["files"] is None else f"  ({v['files_touched']:,} of {v['files']:,} files)"
                    print(f"    {name:<32} {v['share']:>7.1%}{touched}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
