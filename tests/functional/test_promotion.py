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
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse import promotion
from lakehouse.cli import main as cli_main
from lakehouse.cli import promotions as promotions_cli
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
def lake(tmp_path_factory, two_batch_lake):
    """A copy of the session's two-batch lake (conftest.two_batch_lake: built once for the modules that share
    it, SHARED_WORKER), published gold in slot blue; the promotions write only to this copy."""
    root = tmp_path_factory.mktemp("promotion") / "lake"
    shutil.copytree(two_batch_lake, root)
    return root


def test_write_audit_publish_rollback(lake: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    control = LocalControl(lake)
    assert control.read().active == "blue" and (lake / "gold" / "blue" / "revenue_attribution").is_dir()
    assert "Unattributed" in published_lead_sources(lake)
    before = tree_digest(lake / "gold" / "blue")
    current = packaged(capsys, lake)
    initial = control.read()

    # The active version cannot be "promoted" again.
    assert cli_main(["promote", "--env", "local", "--version", current, "--lake-root", str(lake)]) == 2
    assert "already the active version" in capsys.readouterr().err

    # 1. A version that breaks a fail rule is stopped with a report; nothing changes, byte for byte.
    bad = packaged(capsys, lake, variant(tmp_path, "bad", REVENUE, NEGATIVE_REVENUE))
    assert cli_main(["promote", "--env", "local", "--version", bad, "--lake-root", str(lake)]) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "revenue_non_negative" in out and "dq rules" in out and "unchanged" in out
    assert tree_digest(lake / "gold" / "blue") == before
    assert control.read() == initial and not (lake / "gold" / "audit").exists()
    assert cli_main(["rollback", "--env", "local", "--lake-root", str(lake)]) == 2  # no promotion yet
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
    assert tree_digest(lake / "gold" / "blue") == before and control.read() == initial

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
    published = tree_digest(lake / "gold" / "green")

    # 3. A refused promotion now keeps both the published gold and the rollback target as they are.
    assert cli_main(["promote", "--env", "local", "--version", bad, "--lake-root", str(lake), "--yes"]) == 1
    capsys.readouterr()
    assert control.read() == state
    assert tree_digest(lake / "gold" / "green") == published and tree_digest(lake / "gold" / "blue") == before

    # 4. The next run runs the active slot's version (a child process with its archive), in its slot.
    assert cli_main(["run", "--lake-root", str(lake), "--layers", "gold"]) == 0
    out = capsys.readouterr().out
    assert f"slot green runs version {good}" in out and '"job": "gold"' in out

    # 5. Rollback: the previous slot and its gold, in one command; and forward again.
    assert cli_main(["rollback", "--env", "local", "--lake-root", str(lake)]) == 0
    assert f"now running version {current}" in capsys.readouterr().out
    assert control.read().active == "blue" and "Unattributed" in published_lead_sources(lake)
    assert tree_digest(lake / "gold" / "blue") == before
    assert cli_main(["rollback", "--env", "local", "--lake-root", str(lake)]) == 0
    assert control.read().active == "green" and "No attribution" in published_lead_sources(lake)
    capsys.readouterr()

    # 6. History: who, when, version, gate figures, result; newest first.
    assert cli_main(["promotions", "--env", "local", "--lake-root", str(lake), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["action"], r["version"], r["result"]) for r in records] == [
        ("rollback", good, "rolled-back"),
        ("rollback", current, "rolled-back"),
        ("promote", bad, "refused"),
        ("promote", good, "published"),
        ("promote", good, "cancelled"),
        ("promote", bad, "refused"),
    ]
    published_record = records[3]
    assert published_record["actor"] and published_record["started_at"] <= published_record["ended_at"]
    rows = {g["name"]: g for g in published_record["gates"]}
    assert rows["rows revenue_attribution"]["published"] == rows["rows revenue_attribution"]["candidate"] > 0
    assert rows["metric revenue_usd"]["change_pct"] == 0.0  # a relabelled bucket moves no revenue
    assert rows["metric revenue_usd"]["limit_pct"] == real_thresholds("local").max_metric_change_pct
    refused = {g["name"]: g for g in records[-1]["gates"]}
    assert refused["dq rules"]["passed"] is False and "revenue_non_negative" in refused["dq rules"]["detail"]


REVENUE = '_money(F.sum("total_amount_usd")).alias("revenue_usd")'
NEGATIVE_REVENUE = '_money(-F.sum("total_amount_usd")).alias("revenue_usd")'


def _confirming(thresholds):
    from dataclasses import replace

    return replace(thresholds, confirm=True)


def test_an_error_mid_promotion_changes_nothing_and_is_recorded(lake: Path, capsys) -> None:
    class Interrupted:
        def ensure(self, version: str) -> None:
            pass

        def run(self, version: str, *, slot_uri: str, batch_id: str):
            assert promotion.LocalControl(lake).read().slots[promotion.LocalControl(lake).read().inactive] == version
            raise KeyboardInterrupt  # the operator pressed Ctrl-C during the audit

    control = LocalControl(lake)
    before = control.read()
    with pytest.raises(KeyboardInterrupt):
        promotion.promote(control, Interrupted(), "abcdefabcdef0000", thresholds=None, actor="tester")
    assert control.read() == before
    last = max(control.history(), key=lambda r: r.started_at)
    assert (last.version, last.result, last.message) == ("abcdefabcdef0000", "failed", "KeyboardInterrupt: ")


def test_a_killed_promotion_is_recovered(lake: Path, capsys) -> None:
    """A promotion whose process died mid-audit: its lock is gone with it (flock); `--recover` restores."""
    control = LocalControl(lake)
    before = control.read()
    record = Record(
        id="prom-killed",
        env="local",
        action="promote",
        version="abcdefabcdef1111",
        from_slot=before.active,
        to_slot=before.inactive,
        actor="someone",
        started_at=now_iso(),
        result="in-progress",
        previous_state=before.to_json(),
    )
    control.record(record)
    staged = promotion.replace(
        before,
        slots={before.active: before.slots[before.active] or "x" * 16, before.inactive: record.version},
        rollback=None,
        change="prom-killed: auditing abcdefabcdef1111 for x",
    )
    control.write(staged)
    assert cli_main(["promotions", "--env", "local", "--lake-root", str(lake), "--recover", "prom-killed"]) == 0
    assert "restored the slots document" in capsys.readouterr().out
    assert control.read() == before
    assert {r.id: r.result for r in control.history()}["prom-killed"] == "failed"
    assert cli_main(["promotions", "--env", "local", "--lake-root", str(lake), "--recover", "prom-killed"]) == 2
    assert "nothing to recover" in capsys.readouterr().err


HOLD_LOCK = """
import sys, time
from pathlib import Path
from lakehouse.promotion import LocalControl, Record, now_iso
record = Record(id="prom-held", env="local", action="promote", version="v0", from_slot="blue", to_slot="green",
                actor="someone@elsewhere", started_at=now_iso())
with LocalControl(Path(sys.argv[1])).lock(record):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_second_promotion_is_refused_while_one_runs(lake: Path, capsys) -> None:
    """Another process holds the lock (a promotion auditing): this one is refused; when it dies, it is free."""
    control = LocalControl(lake)
    version = packaged(capsys, lake)
    state = control.read()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lake)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert cli_main(["promote", "--env", "local", "--version", version, "--lake-root", str(lake)]) == 2
        err = capsys.readouterr().err
        assert "prom-held" in err and "someone@elsewhere" in err and "wait for it to finish" in err
        assert cli_main(["rollback", "--env", "local", "--lake-root", str(lake)]) == 2
        assert control.read() == state  # nothing changed while the lock was held
    finally:
        holder.kill()  # dies holding the lock: the kernel releases it
        holder.wait()
    mine = Record(
        id="prom-next",
        env="local",
        action="promote",
        version="v",
        from_slot="",
        to_slot="",
        actor="me",
        started_at=now_iso(),
    )
    # a second open file description of the same file: flock refuses it too, even in the same process
    with control.lock(mine), pytest.raises(LockedError), LocalControl(lake).lock(mine):
        pass
