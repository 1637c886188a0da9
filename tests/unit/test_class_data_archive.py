"""The JVM's class-data archive: keyed by what it is valid for, used when present, never half-written."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from job_assets.spark import (
    CDS_DIR,
    JARS_MANIFEST,
    JVM_OPTION_VARIABLES,
    class_data_archive,
    class_data_key,
    class_data_options,
    jvm_agent_variable,
)
from lakehouse.toolchain import cds


def jars_dir(tmp_path: Path, version: str = "3.3.2") -> Path:
    d = tmp_path / "jars"
    d.mkdir(exist_ok=True)
    (d / JARS_MANIFEST).write_text(json.dumps({"jars": [{"file": f"delta-spark_2.12-{version}.jar"}]}))
    return d


def fake_java(tmp_path: Path, name: str = "jdk") -> Path:
    """A JAVA_HOME whose ``bin/java`` exists (never run: the key only reads its path, size and time)."""
    home = tmp_path / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "bin" / "java").chmod(stat.S_IRWXU)
    return home


def test_the_key_follows_the_jvm_and_the_jars(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path)))
    d = jars_dir(tmp_path)
    first = class_data_key(d)
    assert first == class_data_key(d)  # the same install: the same archive
    jars_dir(tmp_path, version="3.3.3")
    assert class_data_key(d) != first  # other jars
    jars_dir(tmp_path)
    assert class_data_key(d) == first
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path, "other-jdk")))
    assert class_data_key(d) != first  # another JVM


def test_without_a_jvm_there_is_no_archive(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nothing-here"))
    assert class_data_key(jars_dir(tmp_path)) is None and class_data_options(jars_dir(tmp_path)) == ""
    assert "no java found" in cds.ensure(jars_dir(tmp_path))


def test_the_options_name_the_archive_only_once_it_exists(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path)))
    d = jars_dir(tmp_path)
    archive = class_data_archive(d)
    assert archive.parent == d / CDS_DIR and class_data_options(d) == ""
    archive.parent.mkdir()
    archive.write_bytes(b"an archive")
    assert class_data_options(d) == f"-XX:SharedArchiveFile={archive} -Xshare:auto"
    assert cds.ensure(d).endswith("(up to date)")


def test_a_failed_dump_leaves_nothing_and_install_goes_on(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path)))
    d = jars_dir(tmp_path)
    monkeypatch.setattr(cds, "WORKLOAD", "import sys; sys.exit('the session did not start')")
    assert cds.main(["--jars-dir", str(d)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("class-data archive: not dumped (exit 1: the session did not start)"), out
    assert os.listdir(d / CDS_DIR) == []  # no archive, no partial file


def test_a_new_dump_replaces_the_old_archive(tmp_path, monkeypatch) -> None:
    old = "spark-0000000000000000.jsa"
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path)))
    d = jars_dir(tmp_path)
    (d / CDS_DIR).mkdir()
    (d / CDS_DIR / old).write_bytes(b"stale")
    script = "import sys; open(sys.argv[1].split('=', 1)[1], 'wb').write(b'fresh')"
    monkeypatch.setattr(cds, "WORKLOAD", script)
    line = cds.ensure(d)
    assert line.startswith(f"class-data archive: {class_data_archive(d)}")
    assert sorted(os.listdir(d / CDS_DIR)) == [class_data_archive(d).name]
    assert class_data_archive(d).read_bytes() == b"fresh"


def test_an_agent_or_flight_recorder_in_the_environment_keeps_the_archive_out(tmp_path, monkeypatch) -> None:
    """JDK 17 crashes loading an archived class under a class file load hook: no archive with an agent."""
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path)))
    for variable in JVM_OPTION_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    d = jars_dir(tmp_path)
    archive = class_data_archive(d)
    archive.parent.mkdir()
    archive.write_bytes(b"an archive")
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", "-Xmx1g -Dfile.encoding=UTF-8")  # options, no agent: the archive
    assert jvm_agent_variable() is None and class_data_options(d).startswith("-XX:SharedArchiveFile=")
    for variable in JVM_OPTION_VARIABLES:
        for option in ("-javaagent:/opt/otel.jar", "-agentpath:/opt/prof.so", "-XX:StartFlightRecording=duration=30s"):
            assert jvm_agent_variable({variable: f"-Xmx1g {option}"}) == variable
            monkeypatch.setenv(variable, option)
            assert class_data_options(d) == "", (variable, option)
            monkeypatch.delenv(variable)
