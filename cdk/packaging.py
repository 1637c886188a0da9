"""Reproducible packaging of the ``job_assets`` package for EMR Serverless, without Docker.

The archive is a zip of ``job_assets/`` (sorted entries, fixed timestamps and permissions, no bytecode
caches), shipped with ``--py-files``; the entrypoints are copied beside it for ``spark-submit``. The
version is a hash of the archive's bytes, so unchanged code always gives the same version and the same
``jobs/<version>/`` prefix in the artifacts bucket.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ARCHIVE_NAME = "job_assets.zip"
ENTRYPOINTS_DIR = "entrypoints"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
_EXCLUDED_NAMES = {".DS_Store"}
VERSION_LENGTH = 16


@dataclass(frozen=True, kw_only=True)
class JobAssetsBundle:
    version: str
    directory: Path
    """Holds ``job_assets.zip`` and ``entrypoints/<job>.py``: the content of ``jobs/<version>/``."""
    entrypoints: tuple[str, ...]
    """Job names with an entrypoint script, e.g. ``("bronze", "gold", "maintenance", "silver")``."""


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


def archive_version(archive: bytes) -> str:
    return hashlib.sha256(archive).hexdigest()[:VERSION_LENGTH]


def bundle_job_assets(package_dir: Path, out_dir: Path) -> JobAssetsBundle:
    """Build ``out_dir/<version>/`` (idempotent: an existing bundle of the same version is reused)."""
    if not (package_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"{package_dir} is not a Python package (no __init__.py)")
    archive = build_archive(package_dir)
    version = archive_version(archive)
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
        (staging / ENTRYPOINTS_DIR).mkdir()
        for script in scripts:
            shutil.copyfile(script, staging / ENTRYPOINTS_DIR / script.name)
            os.chmod(staging / ENTRYPOINTS_DIR / script.name, 0o644)
        try:
            staging.rename(target)
        except OSError:  # built concurrently by another process: same version, same bytes
            shutil.rmtree(staging, ignore_errors=True)
    return JobAssetsBundle(version=version, directory=target, entrypoints=tuple(p.stem for p in scripts))
