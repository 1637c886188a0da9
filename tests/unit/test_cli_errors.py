"""Bad operator input: one clear line naming the input, a non-zero exit, nothing started."""

from __future__ import annotations

import pytest

from lakehouse.cli import main


def test_run_without_landing_folder(tmp_path, capsys):
    assert main(["run", "--lake-root", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "--lake-root" in err and "no landing folder" in err


def test_history_of_unknown_table(tmp_path, capsys):
    assert main(["history", "silver.nope", "--lake-root", str(tmp_path)]) == 2
    assert "unknown table 'silver.nope'" in capsys.readouterr().err


def test_history_of_table_not_yet_written(tmp_path, capsys):
    assert main(["history", "silver.orders", "--lake-root", str(tmp_path)]) == 2
    assert "no Delta table" in capsys.readouterr().err


def test_generate_rejects_bad_numbers(tmp_path, capsys):
    assert main(["generate", "--records", "10", "--lake-root", str(tmp_path)]) == 2
    assert "--records 10" in capsys.readouterr().err
    assert main(["generate", "--records", "5000", "--bad-ratio", "0.9", "--lake-root", str(tmp_path)]) == 2
    assert "--bad-ratio 0.9" in capsys.readouterr().err


def test_generate_refusals_are_one_line_not_a_traceback(tmp_path, capsys):
    """What the generator refuses (a landing folder with files, an increment without its base) is one line
    naming the lake root, exit 2, and the files already there are left alone."""
    landing = tmp_path / "landing" / "crm"
    landing.mkdir(parents=True)
    (landing / "x.jsonl").write_text("{}\n")
    assert main(["generate", "--records", "1000", "--lake-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"lakehouse generate --lake-root {tmp_path}: {tmp_path / 'landing'} already holds files" in err
    assert "Traceback" not in err and (landing / "x.jsonl").read_text() == "{}\n"
    assert main(["generate", "--records", "1000", "--increment", "1", "--lake-root", str(tmp_path / "new")]) == 2
    assert "manifest.json not found: generate the base delivery first" in capsys.readouterr().err


def test_run_rejects_bad_flag_and_layer(tmp_path, capsys):
    (tmp_path / "landing").mkdir()
    assert main(["run", "--lake-root", str(tmp_path), "--flag", "nokey"]) == 2
    assert "--flag 'nokey'" in capsys.readouterr().err
    assert main(["run", "--lake-root", str(tmp_path), "--layers", "bronze,platinum"]) == 2
    assert "platinum" in capsys.readouterr().err
    assert main(["run", "--lake-root", str(tmp_path), "--flag", "attribution_model=middle_touch"]) == 2
    assert "flag attribution_model='middle_touch' is not one of last_touch, first_touch" in capsys.readouterr().err
    assert main(["run", "--lake-root", str(tmp_path), "--flag", "color=blue"]) == 2
    assert "unknown flag 'color'; flags are: attribution_model, gold_by_month" in capsys.readouterr().err
    for bad in ("nokey", "sql.shuffle.partitions=4", "spark.sql.shuffle.partitions="):
        assert main(["run", "--lake-root", str(tmp_path), "--conf", bad]) == 2
        assert f"--conf {bad!r}: expected spark.<key>=<value>" in capsys.readouterr().err


def test_run_conf_reaches_the_local_session(tmp_path, monkeypatch):
    """``lakehouse run --conf`` settings are handed to the local session, over its own (no Spark started here)."""
    import job_assets.spark as S
    from lakehouse.cli.local import _spark_conf
    from lakehouse.local import runner

    seen = {}

    def fake_session(name, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop before Spark")

    monkeypatch.setattr(S, "local_session", fake_session)
    conf = _spark_conf(["spark.sql.autoBroadcastJoinThreshold=-1", " spark.sql.shuffle.partitions = 8 "])
    assert conf == {"spark.sql.autoBroadcastJoinThreshold": "-1", "spark.sql.shuffle.partitions": "8"}
    with pytest.raises(RuntimeError, match="stop before Spark"):
        runner.make_context(tmp_path, spark_conf=conf)
    assert seen["extra_conf"] == conf


def test_status_of_empty_lake(tmp_path, capsys):
    assert main(["status", "--lake-root", str(tmp_path)]) == 0
    assert "no tables" in capsys.readouterr().out
