"""`lakehouse table check|restore|repair` on real tables: a local lake on both engines, and the S3 lake on
moto's server (a versioned bucket). Each case injects one failure (a removed or corrupt checkpoint, a lost
data file, a truncated commit), runs the command through the CLI parser, and compares the table with its
state before the failure: its rows and its version.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType

from job_assets.context import LakeLocations
from lakehouse import cli
from lakehouse.cli import tables
from lakehouse.recovery import engines, journal, writer_lock
from platform_model import aws_names
from tests.aws_server import REGION, patched_environment

pytestmark = pytest.mark.spark
TABLE = "silver.orders"
SCHEMA = StructType([StructField("id", LongType()), StructField("note", StringType())])
COMMITS = 12
"""Versions 0..11: each engine writes a checkpoint on the way (CHECKPOINT_INTERVAL 10; delta-spark's at version
10, delta-rs's at version 9)."""


def build_parser() -> Any:
    """The `lakehouse` parser with the `table` group, as the lead registers it in lakehouse/cli/__init__.py."""
    parser = ORIGINAL_BUILD_PARSER()
    sub = next(a for a in parser._actions if a.dest == "command")
    tables.add_parsers(sub)
    return parser


ORIGINAL_BUILD_PARSER = cli.build_parser


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def table_group(monkeypatch) -> None:
    if "table" not in ORIGINAL_BUILD_PARSER()._subparsers._group_actions[0].choices:
        monkeypatch.setattr(cli, "build_parser", build_parser)


@pytest.fixture(params=["delta-spark", "delta-rs"])
def engine(request, monkeypatch) -> Any:
    chosen = request.getfixturevalue("default_engine" if request.param == "delta-spark" else "rs_engine")
    monkeypatch.setattr(engines, "start_engine", lambda name: chosen)
    return chosen


PRISTINE: dict[str, Path] = {}


def pristine(engine: Any, tmp_path_factory: Any) -> Path:
    """A lake holding the table, written once per engine; each test works on a copy of it."""
    if engine.name not in PRISTINE:
        root = tmp_path_factory.mktemp(f"pristine-{engine.name}")
        write_commits(engine, LakeLocations.for_root(str(root)).table_uri(TABLE))
        PRISTINE[engine.name] = root
    return PRISTINE[engine.name]


def write_commits(engine: Any, uri: str, commits: int = COMMITS) -> None:
    for version in range(commits):
        rows = [{"id": version * 10 + i, "note": f"v{version}"} for i in range(3)]
        engine.append_rows(uri, rows, SCHEMA)


def state(engine: Any, uri: str, version: int | None = None) -> tuple[int | None, list[tuple]]:
    rows = sorted(tuple(r) for r in engine.read(uri, version).collect())
    return engine.version(uri), rows


@pytest.fixture
def lake(tmp_path: Path, engine: Any, tmp_path_factory) -> dict[str, Any]:
    root = tmp_path / "lake"
    shutil.copytree(pristine(engine, tmp_path_factory), root)
    uri = LakeLocations.for_root(str(root)).table_uri(TABLE)
    log = Path(uri) / "_delta_log"
    checkpoint = int(next(log.glob("*.checkpoint.parquet")).name.split(".")[0])
    return {"root": root, "uri": uri, "log": log, "engine": engine, "checkpoint": checkpoint}


def where(lake: dict[str, Any]) -> list[str]:
    return ["--lake-root", str(lake["root"])]


def latest_added_file(log: Path, version: int) -> Path:
    actions = [json.loads(line) for line in (log / f"{version:020d}.json").read_text().splitlines()]
    path = next(a["add"]["path"] for a in actions if "add" in a)
    return log.parent / path


def test_a_whole_table_checks_ok(lake, capsys) -> None:
    code, out, _ = run(["table", "check", TABLE, *where(lake)], capsys)
    assert code == 0, out
    assert f"{TABLE}: ok at version {COMMITS - 1}" in out and f"checkpoint {lake['checkpoint']}" in out
    code, out, _ = run(["table", "check", *where(lake)], capsys)  # every table the lake holds
    assert code == 0 and f"{TABLE}: ok" in out


def test_repair_rebuilds_a_removed_checkpoint(lake, capsys) -> None:
    before = state(lake["engine"], lake["uri"])
    (lake["log"] / f"{lake['checkpoint']:020d}.checkpoint.parquet").unlink()
    code, out, _ = run(["table", "check", TABLE, *where(lake)], capsys)
    assert code == 1
    assert f"missing-checkpoint: _delta_log/_last_checkpoint: names checkpoint {lake['checkpoint']}" in out
    code, out, _ = run(["table", "repair", TABLE, *where(lake)], capsys)
    assert code == 0, out
    assert f"wrote a new checkpoint of {TABLE} at version 11" in out and "repaired" in out
    assert (lake["log"] / f"{11:020d}.checkpoint.parquet").is_file()
    assert json.loads((lake["log"] / "_last_checkpoint").read_text())["version"] == 11
    assert run(["table", "check", TABLE, *where(lake)], capsys)[0] == 0
    assert state(lake["engine"], lake["uri"]) == before
    assert journal.read(lake["root"])[-1]["operation"] == "REPAIR"


def test_repair_replaces_a_corrupt_checkpoint(lake, capsys) -> None:
    before = state(lake["engine"], lake["uri"])
    checkpoint = lake["log"] / f"{lake['checkpoint']:020d}.checkpoint.parquet"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    code, out, _ = run(["table", "check", TABLE, *where(lake)], capsys)
    assert code == 1 and "corrupt-checkpoint" in out
    code, out, _ = run(["table", "repair", TABLE, *where(lake)], capsys)
    assert code == 0, out
    assert (Path(lake["uri"]) / "_recovery" / checkpoint.name).is_file()  # kept aside, not deleted
    assert run(["table", "check", TABLE, *where(lake)], capsys)[0] == 0
    assert state(lake["engine"], lake["uri"]) == before


def test_a_lost_data_file_is_found_and_restore_reaches_the_version_before_it(lake, capsys) -> None:
    engine, uri = lake["engine"], lake["uri"]
    previous = state(engine, uri, COMMITS - 2)[1]
    latest_added_file(lake["log"], COMMITS - 1).unlink()
    code, out, _ = run(["table", "check", TABLE, *where(lake)], capsys)
    assert code == 1 and "missing-file" in out and f"added in version {COMMITS - 1}" in out
    code, out, _ = run(["table", "repair", TABLE, *where(lake)], capsys)  # no copy: says what to restore
    assert code == 1
    advice = f"lakehouse table restore {TABLE} --lake-root {lake['root']} --version {COMMITS - 2}"
    assert advice in out.replace("\n", " ")
    assert engine.version(uri) == COMMITS - 1  # nothing changed
    code, out, err = run(
        ["table", "restore", TABLE, *where(lake), "--version", str(COMMITS - 2), "--reason", "lost file", "--yes"],
        capsys,
    )
    assert code == 0, err
    assert f"restored {TABLE} to the state of version {COMMITS - 2}: new version {COMMITS}" in out
    assert state(engine, uri) == (COMMITS, previous)
    assert run(["table", "check", TABLE, *where(lake)], capsys)[0] == 0
    entry = journal.read(lake["root"])[-1]
    assert (entry["operation"], entry["to_version"], entry["reason"]) == ("RESTORE", COMMITS - 2, "lost file")
    if engine.name == "delta-spark":  # the commit itself names the operation, the operator and the reason
        meta = engine.history(uri, 1)[0]["userMetadata"]
        assert (meta["operation"], meta["reason"], meta["restoredFrom"]) == ("RESTORE", "lost file", COMMITS - 1)
        assert meta["operator"]


def test_restore_by_timestamp(lake, capsys) -> None:
    engine, uri = lake["engine"], lake["uri"]
    at = engine.history(uri)[-4]  # version 3
    stamp = dt.datetime.fromtimestamp(at["timestamp"] / 1000, dt.UTC)
    expected = state(engine, uri, at["version"])[1]
    argv = ["table", "restore", TABLE, *where(lake), "--timestamp", stamp.isoformat(), "--yes"]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    assert state(engine, uri) == (COMMITS, expected)


def test_a_truncated_commit_is_found_and_nothing_is_changed(lake, capsys) -> None:
    commit = lake["log"] / f"{COMMITS - 1:020d}.json"
    body = commit.read_bytes()
    commit.write_bytes(body[: len(body) // 2])
    code, out, _ = run(["table", "check", TABLE, *where(lake)], capsys)
    assert code == 1 and f"corrupt-commit: _delta_log/{commit.name}" in out
    code, out, _ = run(["table", "repair", TABLE, *where(lake)], capsys)
    assert code == 1 and "does not parse and has no copy" in out
    assert commit.read_bytes() == body[: len(body) // 2]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["table", "check", "silver.nope"], "unknown table 'silver.nope'"),
        (["table", "check", "gold.revenue_attribution"], "no Delta table at"),
        (["table", "repair", "gold.revenue_attribution"], "no Delta table at"),
        (["table", "restore", "gold.revenue_attribution", "--version", "1", "--yes"], "no Delta table at"),
        (["table", "restore", TABLE, "--version", "99", "--yes"], "--version 99: silver.orders has no such version"),
        (["table", "restore", TABLE, "--timestamp", "2001-01-01T00:00:00Z", "--yes"], "before silver.orders's first"),
        (["table", "restore", TABLE, "--timestamp", "yesterday", "--yes"], "not an ISO 8601 time"),
        (["table", "restore", TABLE, "--version", "3"], "not at a terminal: pass --yes"),
    ],
)
@pytest.mark.parametrize("engine", ["delta-rs"], indirect=True)
def test_bad_input_is_one_line_and_changes_nothing(lake, capsys, argv, message) -> None:
    before = sorted(p.name for p in lake["log"].iterdir())
    code, out, err = run([*argv, *where(lake)], capsys)
    assert code == 2, out + err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in lake["log"].iterdir()) == before


@pytest.mark.parametrize("engine", ["delta-rs"], indirect=True)
def test_restore_is_refused_while_a_run_holds_the_lake(lake, capsys) -> None:
    with writer_lock(lake["root"], "lakehouse run"):
        code, _, err = run(["table", "restore", TABLE, *where(lake), "--version", "3", "--yes"], capsys)
    assert code == 2 and "a writer is running (lakehouse run, pid" in err
    assert lake["engine"].version(lake["uri"]) == COMMITS - 1


# -- the S3 lake on moto's server ----------------------------------------------------------------------------

ENV = "recovery"
SILVER = "lakehouse-recovery-silver"


def deploy(server: Any) -> None:
    """What `--env` reads: the deployment and slots parameters, and the two writer state machines (idle)."""
    ssm = server.client("ssm")
    arguments = ["--landing-uri", "s3://l/", "--bronze-uri", "s3://b", "--silver-uri", f"s3://{SILVER}"]
    doc = {
        "version": "v1",
        "application_id": "app",
        "artifacts_uri": "s3://a/",
        "gold_uri": "s3://g/",
        "job_role_arns": {},
        "arguments": arguments,
        "spark_submit_parameters": "",
    }
    ssm.put_parameter(
        Name=aws_names.deployment_parameter_name(ENV), Value=json.dumps(doc), Type="String", Overwrite=True
    )
    slots = {"active": "blue", "slots": {"blue": "", "green": ""}, "rollback": None}
    ssm.put_parameter(Name=aws_names.slots_parameter_name(ENV), Value=json.dumps(slots), Type="String", Overwrite=True)
    sfn = server.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    existing = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    for name in (aws_names.pipeline_state_machine_name(ENV), aws_names.maintenance_state_machine_name(ENV)):
        if name not in existing:
            sfn.create_state_machine(name=name, definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn")


@pytest.fixture
def s3_table(aws_server, s3_spark, default_engine, monkeypatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setattr(engines, "start_engine", lambda name: default_engine)
    with patched_environment(aws_server.environment):
        s3 = aws_server.client("s3")
        if SILVER not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=SILVER, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_versioning(Bucket=SILVER, VersioningConfiguration={"Status": "Enabled"})
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=SILVER):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=SILVER, Key=v["Key"], VersionId=v["VersionId"])
        deploy(aws_server)
        uri = f"s3://{SILVER}/orders"
        write_commits(default_engine, uri)
        yield {"uri": uri, "s3": s3, "engine": default_engine, "key": "orders/_delta_log/"}


S3_WHERE = ["--env", ENV, "--region", REGION]


def test_s3_repair_rebuilds_a_removed_checkpoint(s3_table, capsys) -> None:
    before = state(s3_table["engine"], s3_table["uri"])
    s3_table["s3"].delete_object(Bucket=SILVER, Key=f"{s3_table['key']}{10:020d}.checkpoint.parquet")
    code, out, _ = run(["table", "check", TABLE, *S3_WHERE], capsys)
    assert code == 1 and "missing-checkpoint" in out
    code, out, _ = run(["table", "repair", TABLE, *S3_WHERE], capsys)
    assert code == 0, out
    assert run(["table", "check", TABLE, *S3_WHERE], capsys)[0] == 0
    assert state(s3_table["engine"], s3_table["uri"]) == before


def test_s3_repair_brings_back_a_lost_data_file_from_its_version(s3_table, capsys) -> None:
    s3, uri = s3_table["s3"], s3_table["uri"]
    before = state(s3_table["engine"], uri)
    commit = s3.get_object(Bucket=SILVER, Key=f"{s3_table['key']}{COMMITS - 1:020d}.json")["Body"].read()
    path = next(json.loads(line)["add"]["path"] for line in commit.decode().splitlines() if '"add"' in line)
    s3.delete_object(Bucket=SILVER, Key=f"orders/{path}")
    code, out, _ = run(["table", "check", TABLE, *S3_WHERE], capsys)
    assert code == 1 and f"missing-file: {path}" in out
    code, out, _ = run(["table", "repair", TABLE, *S3_WHERE], capsys)
    assert code == 0, out
    assert f"restored {path} from its earlier S3 version" in out
    assert run(["table", "check", TABLE, *S3_WHERE], capsys)[0] == 0
    assert state(s3_table["engine"], uri) == before


def test_s3_repair_brings_back_a_truncated_commit_from_its_version(s3_table, capsys) -> None:
    s3, uri = s3_table["s3"], s3_table["uri"]
    before = state(s3_table["engine"], uri)
    key = f"{s3_table['key']}{COMMITS - 1:020d}.json"
    body = s3.get_object(Bucket=SILVER, Key=key)["Body"].read()
    s3.put_object(Bucket=SILVER, Key=key, Body=body[: len(body) // 2])
    code, out, _ = run(["table", "check", TABLE, *S3_WHERE], capsys)
    assert code == 1 and "corrupt-commit" in out
    code, out, _ = run(["table", "repair", TABLE, *S3_WHERE], capsys)
    assert code == 0, out
    assert s3.get_object(Bucket=SILVER, Key=key)["Body"].read() == body
    assert state(s3_table["engine"], uri) == before
