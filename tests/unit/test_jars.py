"""Delta and S3A jars: resolved with the machine's mvn, checked against the pinned SHA-256, kept in .jars/.

A fake ``mvn`` (a shell script) stands in for Maven, so these run without the network; the real
resolution runs in ``make install`` on every fresh machine and CI.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from job_assets.spark import JARS_MANIFEST, JarsMissingError, local_jars
from lakehouse.toolchain import jars
from lakehouse.toolchain.jars import Jar, JarResolutionError, install

REPO = Path(__file__).resolve().parents[2]
CONTENT = b"PK\x03\x04 a jar, as far as this test is concerned"
JAR = Jar(
    group="io.delta", artifact="delta-spark_2.12", version="3.3.2", sha256=hashlib.sha256(CONTENT).hexdigest(), why=""
)


def fake_mvn(tmp_path: Path, body: str) -> str:
    """An ``mvn`` whose ``-DoutputDirectory=`` argument gets what ``body`` does; every call is logged."""
    script = tmp_path / "mvn"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{tmp_path}/calls"\n'
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done\n' + body
    )
    script.chmod(0o755)
    return str(script)


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls"
    return log.read_text().splitlines() if log.exists() else []


def test_resolves_verifies_and_then_works_offline(tmp_path):
    source = tmp_path / "served.jar"
    source.write_bytes(CONTENT)
    mvn = fake_mvn(tmp_path, f'cp "{source}" "$out/delta-spark_2.12-3.3.2.jar"\n')
    target = tmp_path / ".jars"
    assert install(target, [JAR], mvn=mvn) == [target / JAR.file_name]
    assert len(calls(tmp_path)) == 1 and "-Dartifact=io.delta:delta-spark_2.12:3.3.2:jar" in calls(tmp_path)[0]
    assert "--strict-checksums" in calls(tmp_path)[0]
    manifest = json.loads((target / JARS_MANIFEST).read_text())
    assert manifest["jars"] == [{"file": JAR.file_name, "coordinates": JAR.coordinates, "sha256": JAR.sha256}]
    assert local_jars(target) == [str(target / JAR.file_name)]
    offline = fake_mvn(tmp_path, "echo '[ERROR] network is unreachable'; exit 1\n")
    assert install(target, [JAR], mvn=offline) == [target / JAR.file_name]  # verified files: no mvn at all
    assert len(calls(tmp_path)) == 1


def test_a_failed_resolution_is_one_line_naming_the_artifact_and_nothing_is_kept(tmp_path, capsys, monkeypatch):
    mvn = fake_mvn(
        tmp_path,
        "echo '[ERROR] Failed to execute goal org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy "
        "(default-cli): Unable to resolve artifact: Could not transfer artifact io.delta:delta-spark_2.12:jar:3.3.2 "
        "from/to central (https://repo.maven.apache.org/maven2): Connection refused'\nexit 1\n",
    )
    target = tmp_path / ".jars"
    with pytest.raises(JarResolutionError) as raised:
        install(target, [JAR], mvn=mvn)
    message = str(raised.value)
    assert "\n" not in message and "io.delta:delta-spark_2.12:3.3.2" in message and "make install" in message
    assert "Connection refused" in message
    assert sorted(p.name for p in target.iterdir()) == []  # no jar, no staging folder, no manifest
    monkeypatch.setattr(jars, "JARS", (JAR,))
    monkeypatch.setattr(jars.shutil, "which", lambda _: mvn)
    assert jars.main(["--dest", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: could not resolve io.delta:delta-spark_2.12:3.3.2")


def test_a_file_that_does_not_match_its_pin_is_refused(tmp_path):
    mvn = fake_mvn(tmp_path, 'printf "something else" > "$out/delta-spark_2.12-3.3.2.jar"\n')
    target = tmp_path / ".jars"
    with pytest.raises(JarResolutionError, match=r"io.delta:delta-spark_2.12:3.3.2: SHA-256 \w+ does not match"):
        install(target, [JAR], mvn=mvn)
    assert not (target / JAR.file_name).exists() and not (target / JARS_MANIFEST).exists()


def test_a_tampered_jar_is_fetched_again(tmp_path):
    source = tmp_path / "served.jar"
    source.write_bytes(CONTENT)
    mvn = fake_mvn(tmp_path, f'cp "{source}" "$out/delta-spark_2.12-3.3.2.jar"\n')
    target = tmp_path / ".jars"
    install(target, [JAR], mvn=mvn)
    (target / JAR.file_name).write_bytes(b"tampered")
    install(target, [JAR], mvn=mvn)
    assert (target / JAR.file_name).read_bytes() == CONTENT and len(calls(tmp_path)) == 2


def test_the_pins_are_emr_7_12s_delta_and_pysparks_hadoop():
    import pyspark

    pinned = {j.coordinates for j in jars.JARS}
    assert pinned == {
        "io.delta:delta-spark_2.12:3.3.2",
        "io.delta:delta-storage:3.3.2",
        "org.apache.hadoop:hadoop-aws:3.3.4",
        "com.amazonaws:aws-java-sdk-bundle:1.12.262",
    }
    hadoop = {p.name for p in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")}
    assert hadoop == {"hadoop-client-api-3.3.4.jar"}  # hadoop-aws must match pyspark's Hadoop
    assert all(len(j.sha256) == 64 for j in jars.JARS)


def test_missing_jars_are_one_line_naming_make_install(tmp_path):
    """`lakehouse run` with no jars installed: one error line, exit 1, nothing started."""
    with pytest.raises(JarsMissingError, match=r"run `make install`"):
        local_jars(tmp_path)
    (tmp_path / "landing").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "run", "--lake-root", str(tmp_path)],
        env={**os.environ, "LAKEHOUSE_JARS_DIR": str(tmp_path / "no-jars")},
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: Delta Lake and S3A jars are not installed") and "make install" in lines[0]
    assert not (tmp_path / "bronze").exists()
