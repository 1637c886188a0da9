"""The EMR entrypoint refuses a local ``--lake-root`` that is not a lake, before any Spark session starts."""

from __future__ import annotations

import json

import pytest

from job_assets.entrypoints.main import local_lake_problem, main, parse_args


@pytest.mark.parametrize("job", ["bronze", "silver", "gold", "maintenance"])
def test_a_mistyped_lake_root_exits_1_naming_it_and_creates_nothing(tmp_path, capsys, job) -> None:
    typo = tmp_path / "lakee"
    argv = ["--lake-root", str(typo), "--batch-id", "b1", "--env", "dev", "--lineage", "none"]
    assert main(job, argv) == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {
        "job": job,
        "batch_id": "b1",
        "status": "failed",
        "error": f"--lake-root {typo}: no landing folder; expected {typo}/landing/<source>/<entity>/dt=YYYY-MM-DD/"
        "<file>; nothing was run",
    }
    assert not typo.exists()


def test_a_folder_without_landing_is_not_a_lake_but_one_with_it_is(tmp_path) -> None:
    base = ["--batch-id", "b1", "--env", "dev", "--lake-root", str(tmp_path)]
    assert "no landing folder" in local_lake_problem(parse_args("silver", base))
    (tmp_path / "landing").mkdir()
    assert local_lake_problem(parse_args("silver", base)) is None


def test_an_object_store_lake_is_not_checked_on_the_local_disk() -> None:
    base = ["--batch-id", "b1", "--env", "dev"]
    uris = [f"--{layer}-uri=s3://nowhere-{layer}/" for layer in ("landing", "bronze", "silver", "gold")]
    assert local_lake_problem(parse_args("gold", [*base, *uris])) is None
    assert local_lake_problem(parse_args("gold", [*base, "--lake-root", "s3a://lake/"])) is None
