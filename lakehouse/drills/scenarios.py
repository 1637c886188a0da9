"""The drills' scenarios: what each breaks, and the runbook's commands that recover it.

Every scenario injects one failure into a local lake that has run the pipeline (``region-lost``: into that
lake deployed to two moto regions), then runs the commands its
runbook names, as an operator types them (``lakehouse ...`` argv, run in-process through
:func:`lakehouse.cli.main`). A step says the exit it expects (``table check`` exits 1 on a damaged table: that
is the diagnosis) and whether it ends the recovery: the RTO clock stops there; later steps are follow-up.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from job_assets.context import LakeLocations
from job_assets.contracts import BRONZE_TABLES, GOLD_TABLES, SILVER_TABLES
from job_assets.delta_read import DeltaReader

from ..generator import generate

CRASHES = "crashes"
"""A step expected to raise (a bronze run on a poison file fails its Spark job), not to exit."""
REASON = "recovery-drill"


@dataclass(frozen=True)
class Step:
    """One command of the runbook: its argv (after ``lakehouse``), the exit it expects, and whether the
    recovery is complete when it has run."""

    argv: list[str]
    expect: int | str | tuple[int, ...] = 0
    """The exit expected (or the exits allowed), or CRASHES."""
    ends_recovery: bool = False
    before: Callable[[], None] | None = None
    """What happens outside the lake before the step (e.g. the source sends a file again, whole)."""


@dataclass(frozen=True)
class Scenario:
    """A failure and its recovery: ``inject`` breaks the lake and returns what the steps need to know."""

    name: str
    failure: str
    runbook: str
    protects: tuple[str, ...]
    inject: Callable[[Path, Callable[[], Any]], dict[str, Any]]
    steps: Callable[[Path, dict[str, Any]], list[Step]]
    notes: str = ""
    allows_new_rows: bool = False
    """The recovery ingests data that arrived with the failure (rows after it that were not there before)."""
    may_lose: tuple[str, ...] = ()
    """Tables whose newest data the failure takes by design (replication lag when a region is lost): what they
    lose is the RPO measured, not a failed recovery. Every other protected row must be there afterwards."""
    around: Callable[[], AbstractContextManager[None]] | None = None
    """What the drill runs inside (moto's AWS for the region-lost drill)."""
    recovered: Callable[[Path, dict[str, Any]], Path] | None = None
    """Where the recovered lake is read from, when not the drill's lake (the DR region's replica)."""


def _uri(root: Path, name: str) -> str:
    return LakeLocations.for_root(str(root)).table_uri(name)


def _version(root: Path, name: str) -> int:
    return int(DeltaReader().open(_uri(root, name)).version())


def _where(root: Path) -> list[str]:
    return ["--lake-root", str(root)]


# bad write -> table restore ----------------------------------------------------------------------------


def _bad_write(root: Path, engine: Callable[[], Any]) -> dict[str, Any]:
    """A faulty writer overwrites silver.orders with a tenth of its rows (one commit)."""
    good = _version(root, "silver.orders")
    writer = engine()
    uri = _uri(root, "silver.orders")
    rows = writer.read(uri)
    writer.overwrite(uri, rows.limit(max(1, rows.count() // 10)).localCheckpoint())
    return {"version": good}


def _restore_steps(root: Path, ctx: dict[str, Any]) -> list[Step]:
    return [
        Step(["table", "check", "silver.orders", *_where(root)]),
        Step(["history", "silver.orders", *_where(root)]),
        Step(
            [
                "table",
                "restore",
                "silver.orders",
                *_where(root),
                "--version",
                str(ctx["version"]),
                "--reason",
                REASON,
                "--yes",
            ],
            ends_recovery=True,
        ),
    ]


# lost silver -> rebuild from bronze ---------------------------------------------------------------------


def _lose_silver(root: Path, engine: Callable[[], Any]) -> dict[str, Any]:
    """The whole silver layer deleted (its tables, quarantine and run history)."""
    shutil.rmtree(root / "silver")
    return {}


def _rebuild_steps(root: Path, ctx: dict[str, Any]) -> list[Step]:
    return [
        Step(["status", *_where(root)]),
        Step(["rebuild", "--from", "bronze", *_where(root), "--yes"], ends_recovery=True),
        Step(["table", "check", "silver.orders", *_where(root)]),
    ]


# corrupt checkpoint -> repair ---------------------------------------------------------------------------


def _corrupt_checkpoint(root: Path, engine: Callable[[], Any]) -> dict[str, Any]:
    """A checkpoint torn in writing: half a Parquet file at the latest version, named by _last_checkpoint.
    No reader opens the table until it is repaired."""
    log = Path(_uri(root, "silver.orders")) / "_delta_log"
    latest = _version(root, "silver.orders")
    data = next(p for p in Path(_uri(root, "silver.orders")).rglob("*.parquet") if "_delta_log" not in p.parts)
    torn = data.read_bytes()[: data.stat().st_size // 2]
    (log / f"{latest:020d}.checkpoint.parquet").write_bytes(torn)
    (log / "_last_checkpoint").write_text(json.dumps({"version": latest, "size": 1}), encoding="utf-8")
    return {"version": latest}


def _repair_steps(root: Path, ctx: dict[str, Any]) -> list[Step]:
    return [
        Step(["table", "check", "silver.orders", *_where(root)], expect=1),
        Step(["table", "repair", "silver.orders", *_where(root)]),
        Step(["table", "check", "silver.orders", *_where(root)], ends_recovery=True),
    ]


# poison landing file -> skip and continue ---------------------------------------------------------------

POISON = "crm/accounts/dt=2026-12-01/drill-redelivery.jsonl.gz"


def _poison(root: Path, engine: Callable[[], Any]) -> dict[str, Any]:
    """A follow-up delivery lands with it a CRM accounts file whose gzip stream is cut short."""
    manifest = json.loads((root / "_generator" / "manifest.json").read_text(encoding="utf-8"))
    generate(root, 1_000, seed=manifest["seed"], bad_ratio=0.0, increment=int(manifest.get("increment", 0)) + 1)
    source = sorted((root / "landing" / "crm" / "accounts").rglob("*.jsonl"))[0]
    lines = source.read_bytes().splitlines(keepends=True)[:20]
    whole = gzip.compress(b"".join(line.replace(b'"Id": "', b'"Id": "DRILL') for line in lines))
    target = root / "landing" / POISON
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(whole[: len(whole) // 2])
    return {"whole": whole, "records": len(lines)}


def _fixed_redelivery(root: Path, ctx: dict[str, Any]) -> None:
    (root / "landing" / POISON).write_bytes(ctx["whole"])


def _skip_steps(root: Path, ctx: dict[str, Any]) -> list[Step]:
    bronze = ["run", *_where(root), "--layers", "bronze"]
    return [
        Step(bronze, expect=CRASHES),
        Step(["landing", "pending", *_where(root)]),
        Step(["landing", "skip", POISON, "--reason", REASON, *_where(root)]),
        Step(bronze, ends_recovery=True),
        Step(["landing", "retry", POISON, *_where(root)], before=lambda: _fixed_redelivery(root, ctx)),
        Step(bronze),
    ]


# primary region lost -> failover to the DR standby (moto, two regions) ------------------------------------

DR_ENV = "prod"
"""An environment with a DR standby in cdk.json; on moto, so nothing real is touched."""


def _lose_region(root: Path, engine: Callable[[], Any]) -> dict[str, Any]:
    """The lake deployed to the primary and replicated, except the newest commit of silver.orders (replication
    lag), then the primary region lost."""
    from ..checkout import CheckoutError, load_cdk_config
    from ..dr import DrError, DrSetup
    from ..dr.sites import REPO
    from ..errors import UsageError
    from . import regions

    try:
        setup = DrSetup.load(DR_ENV)
        account = load_cdk_config(REPO)[1].environments[DR_ENV].account
    except (DrError, CheckoutError) as error:
        raise UsageError(f"the region-lost drill needs the checkout's cdk.json: {error}") from None
    deployed = regions.deploy_infrastructure(DR_ENV, setup.region, setup.dr_region, account)
    regions.upload_lake(root, deployed[setup.region], setup.region)
    lagging = rf"^silver/orders/_delta_log/{_version(root, 'silver.orders'):020d}\.json$"
    regions.replicate(deployed, skip=(lagging,))
    regions.lose_region(DR_ENV, setup.region)
    return {"replica": deployed[setup.dr_region], "dr_region": setup.dr_region}


def _failover_steps(root: Path, ctx: dict[str, Any]) -> list[Step]:
    return [
        # 1 when the replica holds files of silver.orders but not its log; 0 when an earlier version is whole
        Step(["dr", "status", "--env", DR_ENV], expect=(0, 1)),
        Step(["dr", "failover", "--env", DR_ENV, "--force", "--yes"], ends_recovery=True),
    ]


def _replica_lake(root: Path, ctx: dict[str, Any]) -> Path:
    from . import regions

    return regions.download_lake(ctx["replica"], ctx["dr_region"], root / "_dr_replica")


def _moto() -> AbstractContextManager[None]:
    from .regions import moto_regions

    return moto_regions()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "bad-write",
            "a faulty write replaces silver.orders with a tenth of its rows",
            "table-restore.md",
            ("silver.orders",),
            _bad_write,
            _restore_steps,
        ),
        Scenario(
            "lost-silver",
            "the silver layer is deleted: every table, the quarantine and the run history",
            "rebuild-from-bronze.md",
            tuple(c.name for c in (*SILVER_TABLES, *GOLD_TABLES)),
            _lose_silver,
            _rebuild_steps,
        ),
        Scenario(
            "corrupt-checkpoint",
            "silver.orders' latest checkpoint is torn: no reader opens the table",
            "corrupt-log.md",
            ("silver.orders",),
            _corrupt_checkpoint,
            _repair_steps,
        ),
        Scenario(
            "poison-landing-file",
            "a truncated gzip in a follow-up delivery crashes bronze on every run",
            "poison-landing-file.md",
            tuple(c.name for c in BRONZE_TABLES),
            _poison,
            _skip_steps,
            notes="bronze-only runs; the file's records are ingested once it is retried whole",
            allows_new_rows=True,
        ),
        Scenario(
            "region-lost",
            "the primary region is lost while silver.orders' newest commit is not yet replicated",
            "dr-failover.md",
            tuple(c.name for c in (*BRONZE_TABLES, *SILVER_TABLES, *GOLD_TABLES)),
            _lose_region,
            _failover_steps,
            notes="moto across two regions; rows lost are the commit replication had not copied",
            may_lose=("silver.orders",),
            around=_moto,
            recovered=_replica_lake,
        ),
    )
}
