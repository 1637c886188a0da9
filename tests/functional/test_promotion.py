"""Blue/green promotion on the local lake: real packaged versions, real audit runs, real Delta gold.

One scenario, in order (each audit is a child process running the packaged version's gold job):
a bad version is refused with a report and published gold stays byte-for-byte the same; a good version
awaits confirmation, then publishes and gold reflects it; the next run uses the promoted version;
rollback restores the previous slot and its gold; the history records all of it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable

from job_assets.context import RunContext
from job_assets.jobs.pipeline import run_pipeline
from lakehouse import promotions_cli
from lakehouse.cli import main as cli_main
from lakehouse.generator import generate
from lakehouse.promotion import LocalControl, LockedError, Record, now_iso

pytestmark = pytest.mark.spark
REPO = Path(__file__).resolve().parents[2]


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def variant(tmp: Path, name: str, old: str, new: str) -> Path:
    """A copy of this checkout's job_assets with one source change in the gold transforms."""
    target = tmp / name / "job_assets"
    shutil.copytree(REPO / "job_assets", target, ignore=shutil.ignore_patterns("__pycache__"))
    transforms = target / "transforms" / "gold.py"
    text = transforms.read_text()
    assert old in text, f"the {name} variant's anchor is gone from transforms/gold.py: {old!r}"
    transforms.write_text(text.replace(old, new))
    return target


def packaged(capsys, root: Path, source: Path | None = None) -> str:
    argv = ["package", "--lake-root", str(root)] + (["--source", str(source)] if source else [])
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    return out.split("version ", 1)[1].split()[0]


def published_lead_sources(root: Path) -> set[str]:
    from job_assets.context import LakeLocations

    uri = LakeLocations.for_root(str(root)).table_uri("gold.revenue_attribution")
    return set(DeltaTable(uri).to_pyarrow_table(columns=["lead_source"])["lead_source"].to_pylist())


@pytest.fixture(scope="module")
def lake(tmp_path_factory, spark, rs_engine):
    from job_assets.context import LakeLocations

    root = tmp_path_factory.mktemp("promotion") / "lake"
    generate(root, 2_000, seed=11, bad_ratio=0.0)
    run_pipeline(RunContext(spark, rs_engine, LakeLocations.for_root(str(root)), "b1"))
    return root


def test_write_audit_publish_rollback(lake: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    control = LocalControl(lake)
    assert control.read().active == "blue" and (lake / "gold" / "blue" / "revenue_attribution").is_dir()
    assert "Unattributed" in published_lead_sources(lake)
    before = tree_digest(lake / "gold" / "blue")
    current = packaged(capsys, lake)

    # The active version cannot be "promoted" again.
    assert cli_main(["promote", "--env", "local", "--version", current, "--lake-root", str(lake)]) == 2
    assert "already the active version" in capsys.readouterr().err

    # 1. A version that breaks a fail rule is stopped with a report; published gold is untouched.
    bad = packaged(
        capsys,
        lake,
        variant(
            tmp_path,
            "bad",
            '_money(F.sum("total_amount_usd")).alias("revenue_usd")',
            '_money(-F.sum("total_amount_usd")).alias("revenue_usd")',
        ),
    )
    assert cli_main(["promote", "--env", "local", "--version", bad, "--lake-root", str(lake)]) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "revenue_non_negative" in out and "dq rules" in out
    assert "unchanged" in out
    assert tree_digest(lake / "gold" / "blue") == before
    state = control.read()
    assert (state.active, state.slots["green"], state.rollback) == ("blue", bad, None)
    # ... and the failed attempt used up the rollback target: rollback says so instead of guessing.
    assert cli_main(["rollback", "--env", "local", "--lake-root", str(lake)]) == 2
    assert "nothing to roll back to" in capsys.readouterr().err

    # 2. A good version (a relabelled attribution bucket): the operator declines, then accepts.
    good = packaged(
        capsys, lake, variant(tmp_path, "good", 'UNATTRIBUTED = "Unattributed"', 'UNATTRIBUTED = "No attribution"')
    )
    real_thresholds = promotions_cli._thresholds
    monkeypatch.setattr(promotions_cli, "_thresholds", lambda env: _confirming(real_thresholds(env)))
    monkeypatch.setattr(promotions_cli.Console, "input", lambda self, prompt: "n")
    assert cli_main(["promote", "--env", "local", "--version", good, "--lake-root", str(lake)]) == 1
    out = capsys.readouterr().out
    assert "cancelled" in out and "not confirmed" in out
    assert tree_digest(lake / "gold" / "blue") == before and control.read().active == "blue"

    assert cli_main(["promote", "--env", "local", "--version", good, "--lake-root", str(lake), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "published version" in out and "blue -> green" in out
    for gate in ("audit run", "dq rules", "rows revenue_attribution", "metric revenue_usd"):
        assert gate in out
    state = control.read()
    assert (state.active, state.slots, state.rollback) == ("green", {"blue": current, "green": good}, "blue")
    lead_sources = published_lead_sources(lake)  # readers now resolve gold to the green slot
    assert "No attribution" in lead_sources and "Unattributed" not in lead_sources
    assert tree_digest(lake / "gold" / "blue") == before  # the previous gold waits, untouched, for a rollback

    # 3. The next run runs the active slot's version (a child process with its archive), in its slot.
    assert cli_main(["run", "--lake-root", str(lake), "--layers", "gold"]) == 0
    out = capsys.readouterr().out
    assert f"slot green runs version {good}" in out and '"job": "gold"' in out

    # 4. Rollback: the previous slot and its gold, in one command; and forward again.
    assert cli_main(["rollback", "--env", "local", "--lake-root", str(lake)]) == 0
    assert f"now running version {current}" in capsys.readouterr().out
    assert control.read().active == "blue" and "Unattributed" in published_lead_sources(lake)
    assert tree_digest(lake / "gold" / "blue") == before
    assert cli_main(["rollback", "--env", "local", "--lake-root", str(lake)]) == 0
    assert control.read().active == "green" and "No attribution" in published_lead_sources(lake)
    capsys.readouterr()

    # 5. History: who, when, version, gate figures, result — newest first.
    assert cli_main(["promotions", "--env", "local", "--lake-root", str(lake), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    summary = [(r["action"], r["version"], r["result"]) for r in records]
    assert summary == [
        ("rollback", good, "rolled-back"),
        ("rollback", current, "rolled-back"),
        ("promote", good, "published"),
        ("promote", good, "cancelled"),
        ("promote", bad, "refused"),
    ]
    published = records[2]
    assert published["actor"] and published["started_at"] <= published["ended_at"]
    rows = {g["name"]: g for g in published["gates"]}
    assert rows["rows revenue_attribution"]["published"] == rows["rows revenue_attribution"]["candidate"] > 0
    assert rows["metric revenue_usd"]["change_pct"] == 0.0  # a relabelled bucket moves no revenue
    assert rows["metric revenue_usd"]["limit_pct"] == real_thresholds("local").max_metric_change_pct
    refused = {g["name"]: g for g in records[4]["gates"]}
    assert refused["dq rules"]["passed"] is False and "revenue_non_negative" in refused["dq rules"]["detail"]


def _confirming(thresholds):
    from dataclasses import replace

    return replace(thresholds, confirm=True)


def test_a_second_promotion_is_refused_while_one_runs(lake: Path, capsys) -> None:
    control = LocalControl(lake)
    holder = Record(
        id="prom-held",
        env="local",
        action="promote",
        version="v0",
        from_slot="blue",
        to_slot="green",
        actor="someone@elsewhere",
        started_at=now_iso(),
    )
    version = packaged(capsys, lake)
    state = control.read()
    with control.lock(holder):
        assert cli_main(["promote", "--env", "local", "--version", version, "--lake-root", str(lake)]) == 2
        err = capsys.readouterr().err
        assert "prom-held" in err and "someone@elsewhere" in err and "wait for it to finish" in err
        with pytest.raises(LockedError), control.lock(holder):
            pass
        assert cli_main(["rollback", "--env", "local", "--lake-root", str(lake)]) == 2
    assert control.read() == state  # nothing changed while the lock was held
    assert not control.lock_path.exists()


def test_a_dead_holders_lock_is_taken_over(lake: Path) -> None:
    control = LocalControl(lake)
    control.dir.mkdir(parents=True, exist_ok=True)
    import socket

    control.lock_path.write_text(
        json.dumps(
            {
                "id": "prom-crashed",
                "pid": 2**22 + 12345,
                "host": socket.gethostname(),
                "epoch": __import__("time").time(),
            }
        )
    )
    holder = Record(
        id="prom-next",
        env="local",
        action="promote",
        version="v",
        from_slot="",
        to_slot="",
        actor="me",
        started_at=now_iso(),
    )
    with control.lock(holder):
        assert json.loads(control.lock_path.read_text())["id"] == "prom-next"
    assert not control.lock_path.exists()
