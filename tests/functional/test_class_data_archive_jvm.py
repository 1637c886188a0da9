"""The class-data archive ``make install`` dumped is the one a local session's JVM starts with, and it maps; a JVM
started with Flight Recorder (a class file load hook) starts without it, and runs.

``-Xshare:on`` makes the JVM refuse to start unless it can map the archive for the classpath it is given: the
session's own classpath starts it; another one does not (the check has teeth).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from job_assets.spark import class_data_archive, java_binary

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parents[2]


def java_with_archive(archive, classpath: str) -> subprocess.CompletedProcess:
    command = [str(java_binary()), "-Xshare:on", f"-XX:SharedArchiveFile={archive}", "-cp", classpath, "-version"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_session_starts_with_the_installed_archive_and_it_maps(spark) -> None:
    archive = class_data_archive()
    assert archive is not None and archive.is_file(), f"{archive}: not dumped; `make install` dumps it"
    assert f"-XX:SharedArchiveFile={archive} -Xshare:auto" in spark.conf.get("spark.driver.extraJavaOptions")
    classpath = spark._jvm.java.lang.System.getProperty("java.class.path")
    done = java_with_archive(archive, classpath)
    assert done.returncode == 0, done.stderr[-500:]
    other = java_with_archive(archive, ":".join(reversed(classpath.split(":"))))  # the same jars, another order
    assert other.returncode != 0 and "mismatch" in (other.stdout + other.stderr).lower()


def test_a_session_started_with_flight_recorder_runs(tmp_path) -> None:
    """With an agent or Flight Recorder at start, the archive stays out: JDK 17 would crash (SIGSEGV) instead."""
    archive = class_data_archive()
    assert archive is not None and archive.is_file(), f"{archive}: not dumped, so the crash could not happen here"
    script = "from job_assets.spark import local_session; print('rows', local_session('agent').range(3).count())"
    env = {**os.environ, "JAVA_TOOL_OPTIONS": f"-XX:StartFlightRecording=filename={tmp_path / 'run.jfr'}"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0 and "rows 3" in done.stdout, (done.stdout + done.stderr)[-1500:]
