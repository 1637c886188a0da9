"""Delta Lake and S3A jars for local Spark: pinned, checksum-verified, kept in ``.jars/`` (``make install``).

EMR Serverless ``emr-7.12.0`` ships Delta Lake 3.3.2 in ``/usr/share/aws/delta/lib`` and its own S3 file
system; pip's ``pyspark`` 3.5.6 ships neither. ``make install`` runs ``python -m lakehouse.toolchain.jars``, which
resolves exactly the artifacts in :data:`JARS` from Maven Central with the machine's ``mvn`` (so the
machine's registry settings, mirrors and proxies apply), checks every file's SHA-256 against the pin
below, and keeps the verified files in the project-local ``.jars/`` with a manifest that
:func:`job_assets.spark.local_jars` reads. A second run with the same pins touches nothing and needs no
network: later runs and tests work offline.

* ``io.delta:delta-spark_2.12:3.3.2`` and ``io.delta:delta-storage:3.3.2``: emr-7.12.0's Delta release.
* ``org.apache.hadoop:hadoop-aws:3.3.4``: the S3A client of pip pyspark 3.5.6's Hadoop (3.3.4), with the
  ``com.amazonaws:aws-java-sdk-bundle:1.12.262`` its POM names (``hadoop-project`` 3.3.4:
  ``aws-java-sdk.version``); they let local Spark read and write ``s3a://`` lakes (tests: moto's server).

A failed resolution or a checksum mismatch is one line naming the artifact and what to do, exit code 1;
nothing half-downloaded stays in ``.jars/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from job_assets.spark import JARS_MANIFEST, default_jars_dir


@dataclass(frozen=True, kw_only=True)
class Jar:
    """One pinned Maven artifact: its coordinates, SHA-256 and why local Spark needs it."""

    group: str
    artifact: str
    version: str
    sha256: str
    why: str

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"


JARS: tuple[Jar, ...] = (
    Jar(
        group="io.delta",
        artifact="delta-spark_2.12",
        version="3.3.2",
        sha256="4e92085d5d794cf949c50bb665b91384857cad58680c2d0bfc9c7ad353e98e85",
        why="Delta Lake for Spark 3.5 (emr-7.12.0: delta-spark.jar)",
    ),
    Jar(
        group="io.delta",
        artifact="delta-storage",
        version="3.3.2",
        sha256="c096975a2ca97ccc9b4005aa5cce16c9ac3903139d340da6665b66ace67d7c36",
        why="Delta's LogStore implementations (emr-7.12.0: delta-storage.jar)",
    ),
    Jar(
        group="org.apache.hadoop",
        artifact="hadoop-aws",
        version="3.3.4",
        sha256="53f9ae03c681a30a50aa17524bd9790ab596b28481858e54efd989a826ed3a4a",
        why="the S3A file system of pip pyspark 3.5.6's Hadoop 3.3.4",
    ),
    Jar(
        group="com.amazonaws",
        artifact="aws-java-sdk-bundle",
        version="1.12.262",
        sha256="873fe7cf495126619997bec21c44de5d992544aea7e632fdc77adb1a0915bae5",
        why="the AWS SDK hadoop-aws 3.3.4 is built against",
    ),
)


class JarResolutionError(RuntimeError):
    """A pinned jar could not be resolved or verified; the message names it and what to do."""


def pins_digest(jars: Sequence[Jar] = JARS) -> str:
    """Identifies the pin set: the manifest of a ``.jars/`` built from other pins is stale."""
    text = "\n".join(f"{j.coordinates} {j.sha256}" for j in jars)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, hex, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, jar: Jar) -> bool:
    return path.is_file() and sha256_of(path) == jar.sha256


def _mvn_copy(jar: Jar, into: Path, mvn: str) -> None:
    """``mvn dependency:copy`` of one artifact (strict checksums: Maven checks the repository's SHA-1 too)."""
    command = [
        mvn,
        "-B",
        "-q",
        "--strict-checksums",
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
        f"-Dartifact={jar.coordinates}:jar",
        f"-DoutputDirectory={into}",
        "-Dmdep.overWriteReleases=true",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not (into / jar.file_name).is_file():
        lines = [x.strip() for x in (proc.stdout + proc.stderr).splitlines() if "ERROR" in x and x.strip()]
        reason = lines[0].replace("[ERROR]", "").strip()[:300] if lines else f"mvn exited with {proc.returncode}"
        raise JarResolutionError(
            f"could not resolve {jar.coordinates} from Maven Central ({reason}); check that this machine reaches "
            "Maven Central (or the mirror in ~/.m2/settings.xml), then run `make install` again"
        )


def install(target: Path | None = None, jars: Sequence[Jar] = JARS, mvn: str | None = None) -> list[Path]:
    """Make ``target`` hold exactly the verified ``jars`` and their manifest; returns the jar paths.

    Files already present with the pinned SHA-256 are kept (no network). Anything else is fetched into a
    staging folder, verified, then moved in, so an interrupted or failed run never leaves a bad jar behind.
    """
    target = target or default_jars_dir()
    target.mkdir(parents=True, exist_ok=True)
    manifest = target / JARS_MANIFEST
    missing = [j for j in jars if not _verified(target / j.file_name, j)]
    if missing:
        mvn = mvn or shutil.which("mvn")
        if not mvn:
            raise JarResolutionError(
                f"could not resolve {missing[0].coordinates}: Maven (mvn) is not installed; install it "
                "(e.g. 'apt-get install maven') and run `make install` again"
            )
        manifest.unlink(missing_ok=True)  # the set is changing: no reader may trust the old manifest
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target))
        try:
            for jar in missing:
                _mvn_copy(jar, staging, mvn)
                got = sha256_of(staging / jar.file_name)
                if got != jar.sha256:
                    raise JarResolutionError(
                        f"{jar.coordinates}: SHA-256 {got} does not match the pinned {jar.sha256}; the repository "
                        "served a different file: do not use it (check your Maven mirror), then run `make install`"
                    )
                os.replace(staging / jar.file_name, target / jar.file_name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    wanted = {j.file_name for j in jars}
    for stale in target.glob("*.jar"):  # jars of earlier pins: never on the classpath
        if stale.name not in wanted:
            stale.unlink()
    document = {
        "pins": pins_digest(jars),
        "jars": [{"file": j.file_name, "coordinates": j.coordinates, "sha256": j.sha256} for j in jars],
    }
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, manifest)
    return [target / j.file_name for j in jars]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lakehouse.toolchain.jars [--dest DIR]``: install the pinned jars; exit 1 with one line on failure."""
    parser = argparse.ArgumentParser(prog="python -m lakehouse.toolchain.jars", description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help="where the jars go (default: .jars/)")
    args = parser.parse_args(argv)
    try:
        paths = install(args.dest)
    except JarResolutionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in paths) / 1e6
    print(f"jars: {len(paths)} verified in {paths[0].parent} ({size:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
