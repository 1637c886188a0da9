"""Reproducible packaging of the ``job_assets`` package for EMR Serverless, without Docker.

A release (``jobs/<version>/`` in the artifacts bucket) holds:

* ``job_assets.zip``: ``job_assets/`` (sorted entries, fixed timestamps and permissions, no bytecode caches),
  shipped with ``spark.submit.pyFiles``;
* ``entrypoints/<job>.py``: what ``spark-submit`` runs;
* ``pydeps.zip`` (with ``deps``): the third-party modules the jobs import on EMR (``cdk/emr_requirements.txt``:
  boto3 and what it needs), unpacked from pinned pure-Python wheels for EMR's Python 3.9 / ARM64 and
  shipped with ``spark.archives=<...>/pydeps.zip#pydeps`` (docs/adr/0002-job-python-dependencies.md).

``make install`` downloads the wheels (``python -m cdk.packaging``); synth only assembles. The version is
a hash of the archives' bytes, so unchanged code always gives the same version and prefix.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ARCHIVE_NAME = "job_assets.zip"
ENTRYPOINTS_DIR = "entrypoints"
DEPS_ARCHIVE_NAME = "pydeps.zip"
DEPS_ALIAS = "pydeps"
"""The folder Spark unpacks ``pydeps.zip`` into (``#pydeps``); ``job_assets.shipped`` looks for it."""
EMR_REQUIREMENTS = Path(__file__).with_name("emr_requirements.txt")
EMR_DEPS_DIR = REPO_ROOT / "build" / "emr-deps"
EMR_PYTHON = "3.9"
"""emr-7.12.0's default Python."""
EMR_PLATFORM = "manylinux2014_aarch64"
"""The application runs on ARM64 (Graviton); the wheels are pure Python, the platform only guards that."""
BOTOCORE_SERVICES = ("cloudwatch",)
"""The AWS APIs the jobs call (run metrics): botocore's models of the other services are left out."""
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
_EXCLUDED_NAMES = {".DS_Store"}
VERSION_LENGTH = 16


class EmrDepsMissingError(FileNotFoundError):
    """The EMR dependency wheels are not downloaded (``make install`` does it)."""


@dataclass(frozen=True, kw_only=True)
class JobAssetsBundle:
    version: str
    directory: Path
    """Holds ``job_assets.zip`` and ``entrypoints/<job>.py``: the content of ``jobs/<version>/``."""
    entrypoints: tuple[str, ...]
    """Job names with an entrypoint script, e.g. ``("bronze", "gold", "maintenance", "silver")``."""
    has_deps: bool = False
    """Whether the release ships ``pydeps.zip``."""


def package_files(package_dir: Path) -> list[Path]:
    """The files that go into the archive, sorted by their path inside it."""
    files = []
    for root, dirs, names in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d not in _EXCLUDED_DIRS)
        for name in names:
            if name in _EXCLUDED_NAMES or name.endswith(_EXCLUDED_SUFFIXES):
                continue
            files.append(Path(root, name))
    return sorted(files, key=lambda p: p.relative_to(package_dir.parent).as_posix())


def build_archive(package_dir: Path) -> bytes:
    """Zip ``package_dir`` (entries named ``<package>/...``) byte-for-byte reproducibly."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in package_files(package_dir):
            info = zipfile.ZipInfo(path.relative_to(package_dir.parent).as_posix(), date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the building OS
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def archive_version(archive: bytes, deps: bytes | None = None) -> str:
    digest = hashlib.sha256(archive)
    if deps is not None:
        digest.update(hashlib.sha256(deps).digest())
    return digest.hexdigest()[:VERSION_LENGTH]


def requirement_pins(requirements: Path = EMR_REQUIREMENTS) -> dict[str, str]:
    """``name -> version`` of a requirements file of ``name==version`` lines."""
    pins = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            if not version:
                raise ValueError(f"{requirements}: {line!r} is not pinned (name==version)")
            pins[name.strip().lower().replace("-", "_")] = version.strip()
    return pins


def _wheels(deps_dir: Path, requirements: Path) -> list[Path]:
    """The downloaded wheel of every pin, in pin order; EmrDepsMissingError names the first one missing."""
    found = {}
    for wheel in deps_dir.glob("*.whl") if deps_dir.is_dir() else []:
        name, version = wheel.name.split("-")[:2]
        found[(name.lower(), version)] = wheel
    out = []
    for name, version in requirement_pins(requirements).items():
        wheel = found.get((name, version))
        if wheel is None:
            raise EmrDepsMissingError(
                f"{name}=={version} for EMR is not downloaded in {deps_dir}: run `make install` "
                "(python -m cdk.packaging fetches the wheels in cdk/emr_requirements.txt)"
            )
        out.append(wheel)
    return out


def _keep(name: str) -> bool:
    """Leave out botocore's models of services the jobs never call, and wheel metadata nothing reads."""
    if ".dist-info/" in name and not name.endswith(("/METADATA", "/LICENSE", "/LICENSE.txt", "/NOTICE")):
        return False
    parts = name.split("/")
    if len(parts) > 3 and parts[:2] == ["botocore", "data"]:
        return parts[2] in BOTOCORE_SERVICES
    return True


def build_deps_archive(deps_dir: Path = EMR_DEPS_DIR, requirements: Path = EMR_REQUIREMENTS) -> bytes:
    """The pinned wheels' contents as one reproducible zip: what ``pip install`` would put in site-packages
    for these pure-Python wheels, minus :func:`_keep`'s exclusions."""
    entries: dict[str, bytes] = {}
    for wheel in _wheels(deps_dir, requirements):
        with zipfile.ZipFile(wheel) as source:
            for info in source.infolist():
                if not info.is_dir() and _keep(info.filename):
                    entries[info.filename] = source.read(info)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def download_emr_deps(deps_dir: Path = EMR_DEPS_DIR, requirements: Path = EMR_REQUIREMENTS) -> list[Path]:
    """Download the pinned wheels for EMR's Python and platform into ``deps_dir`` (idempotent, offline when done).

    ``--no-deps``: every transitive pin is in the file; ``--only-binary``: wheels only, no build on this machine.
    """
    try:
        return _wheels(deps_dir, requirements)
    except EmrDepsMissingError:
        pass
    deps_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        f"--python-version={EMR_PYTHON}",
        f"--platform={EMR_PLATFORM}",
        "--implementation=cp",
        f"--abi=cp{EMR_PYTHON.replace('.', '')}",
        "--dest",
        str(deps_dir),
        "-r",
        str(requirements),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"pip exited with {proc.returncode}"])[-1]
        raise EmrDepsMissingError(f"could not download the EMR job dependencies in {requirements}: {last}")
    return _wheels(deps_dir, requirements)


def bundle_job_assets(package_dir: Path, out_dir: Path, deps_dir: Path | None = None) -> JobAssetsBundle:
    """Build ``out_dir/<version>/`` (idempotent: an existing bundle of the same version is reused).

    ``deps_dir``: the downloaded EMR wheels; the release then ships ``pydeps.zip`` (what the Compute stack
    deploys). Without it (local promotion) the release is the archive and the entrypoints only.
    """
    if not (package_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"{package_dir} is not a Python package (no __init__.py)")
    archive = build_archive(package_dir)
    deps = build_deps_archive(deps_dir) if deps_dir is not None else None
    version = archive_version(archive, deps)
    scripts = (
        sorted(p for p in (package_dir / ENTRYPOINTS_DIR).glob("*.py") if p.name != "__init__.py")
        if (package_dir / ENTRYPOINTS_DIR).is_dir()
        else []
    )
    target = out_dir / version
    if not target.is_dir():
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=out_dir))
        (staging / ARCHIVE_NAME).write_bytes(archive)
        if deps is not None:
            (staging / DEPS_ARCHIVE_NAME).write_bytes(deps)
        (staging / ENTRYPOINTS_DIR).mkdir()
        for script in scripts:
            shutil.copyfile(script, staging / ENTRYPOINTS_DIR / script.name)
            os.chmod(staging / ENTRYPOINTS_DIR / script.name, 0o644)
        try:
            staging.rename(target)
        except OSError:  # built concurrently by another process: same version, same bytes
            shutil.rmtree(staging, ignore_errors=True)
    return JobAssetsBundle(
        version=version,
        directory=target,
        entrypoints=tuple(p.stem for p in scripts),
        has_deps=deps is not None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cdk.packaging", description="Download the EMR job dependencies (cdk/emr_requirements.txt)."
    )
    parser.add_argument("--dest", type=Path, default=EMR_DEPS_DIR)
    args = parser.parse_args(argv)
    try:
        wheels = download_emr_deps(args.dest)
    except EmrDepsMissingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = len(build_deps_archive(args.dest)) / 1e6
    print(f"EMR job dependencies: {len(wheels)} wheels in {args.dest} (pydeps.zip {size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
