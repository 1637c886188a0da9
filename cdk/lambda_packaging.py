"""Package the operational Lambdas without Docker: pinned wheels for the Lambda platform, reproducible assets.

``make install`` runs ``python -m cdk.lambda_packaging`` once per change of ``lambdas/requirements*.txt``:
pip installs the pinned runtime dependencies *for the Lambda platform* (``manylinux`` aarch64 wheels for
the runtime's CPython, ``--only-binary``, ``--no-deps`` so every transitive pin is explicit) into
``build/lambda/``. Synth never downloads: it only assembles

* the code asset: ``lambdas/`` (``ops_common`` and one package per function, top-level), the pure-Python
  table contracts (``job_assets/contracts``, minus the Spark schema module) and the dependencies; and
* the pyarrow layer (a zip built at install time), for the functions that read Parquet.

A missing build is a clear error that says to run ``make install``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cdk.packaging import package_files

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"
JOB_ASSETS_DIR = REPO_ROOT / "job_assets"
BUILD_DIR = REPO_ROOT / "build" / "lambda"
REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
ARROW_REQUIREMENTS = LAMBDAS_DIR / "requirements-arrow.txt"

LAMBDA_PYTHON = "3.14"
"""The runtime the functions run on (aws_lambda.Runtime.PYTHON_3_14: the newest the pinned CDK knows)."""
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
"""arm64 (Graviton) wheels; Lambda's Amazon Linux 2023 has glibc 2.34."""
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Parts of the pyarrow wheel nothing loads: Flight RPC (lib.so does not link it), C++ headers, Cython
# sources, tests. (Substrait stays: lib.so links it.) A unit test imports a pruned copy.
_ARROW_PRUNE_DIRS = ("pyarrow/include", "pyarrow/tests", "pyarrow/src")
_ARROW_PRUNE_GLOBS = ("*flight*", "*.pyx", "*.pxd", "*.pxi", "*.h", "*.cc")
_CONTRACTS_EXCLUDED = {"spark_schema.py"}  # imports pyspark; the Lambdas only need the pure contracts


class LambdaBuildMissingError(FileNotFoundError):
    pass


@dataclass(frozen=True, kw_only=True)
class LambdaBuild:
    code_dir: Path
    """The code asset directory (content-addressed)."""
    arrow_layer_zip: Path
    """The pyarrow layer (``python/pyarrow/...``)."""


def requirements_key(requirements: Path) -> str:
    """Changes when the pins, the platform or the runtime change: names the build of those pins."""
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(f"{LAMBDA_PYTHON}|{','.join(PLATFORMS)}".encode())
    return digest.hexdigest()[:16]


def deps_dir(build_dir: Path = BUILD_DIR) -> Path:
    return build_dir / f"deps-{requirements_key(REQUIREMENTS)}"


def arrow_zip(build_dir: Path = BUILD_DIR) -> Path:
    return build_dir / f"arrow-layer-{requirements_key(ARROW_REQUIREMENTS)}.zip"


def _pip_install(requirements: Path, target: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    command += ["--target", str(target), "--implementation", "cp", "--python-version", LAMBDA_PYTHON]
    command += ["--only-binary=:all:", "--no-deps", "-r", str(requirements)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run(command, check=True)


def _zip_dir(source: Path, archive: Path, *, root: str) -> None:
    """Deterministic zip of ``source`` under ``root/`` (sorted entries, fixed times, no caches)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in package_files(source):
            relative = path.relative_to(source).as_posix()
            info = zipfile.ZipInfo(f"{root}/{relative}", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.create_system = 3
            out.writestr(info, path.read_bytes(), compresslevel=6)


def _prune_arrow(site: Path) -> None:
    for relative in _ARROW_PRUNE_DIRS:
        shutil.rmtree(site / relative, ignore_errors=True)
    for pattern in _ARROW_PRUNE_GLOBS:
        for path in (site / "pyarrow").rglob(pattern):
            if path.is_file():
                path.unlink()
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def build_dependencies(build_dir: Path = BUILD_DIR) -> tuple[Path, Path]:
    """Install both pinned sets for the Lambda platform (idempotent; keyed by the pins)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    target = deps_dir(build_dir)
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=".deps-", dir=build_dir))
        _pip_install(REQUIREMENTS, staging)
        for extra in ("bin",):
            shutil.rmtree(staging / extra, ignore_errors=True)
        staging.rename(target)
    layer = arrow_zip(build_dir)
    if not layer.is_file():
        with tempfile.TemporaryDirectory(dir=build_dir) as tmp:
            site = Path(tmp) / "site"
            _pip_install(ARROW_REQUIREMENTS, site)
            _prune_arrow(site)
            partial = Path(tmp) / "layer.zip"
            _zip_dir(site, partial, root="python")
            partial.replace(layer)
    return target, layer


def _copy_tree(source: Path, target: Path, *, exclude: set[str] = frozenset()) -> None:
    for path in package_files(source):
        if path.name in exclude or "tests" in path.relative_to(source).parts:
            continue
        destination = target / path.relative_to(source.parent)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def _publish_dir(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``, or drop it when ``target`` is already there: the name is the content's hash,
    so another process (a second test worker, a concurrent synth) that got there first built the same thing."""
    try:
        staging.rename(target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(staging)


def bundle_lambda_code(out_dir: Path, *, build_dir: Path = BUILD_DIR) -> LambdaBuild:
    """Assemble the code asset under ``out_dir/code-<hash>/`` (reused when nothing changed)."""
    deps = deps_dir(build_dir)
    layer = arrow_zip(build_dir)
    for needed in (deps, layer):
        if not needed.exists():
            raise LambdaBuildMissingError(
                f"{needed} is missing: the Lambda dependencies for python{LAMBDA_PYTHON}/arm64 are built by "
                "`make install` (python -m cdk.lambda_packaging)"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".code-", dir=out_dir))
    try:
        for package in sorted(p for p in LAMBDAS_DIR.iterdir() if (p / "__init__.py").is_file()):
            _copy_tree(package, staging)
        contracts = staging / "job_assets"
        contracts.mkdir()
        (contracts / "__init__.py").write_text('"""The table contracts, as shipped to the Lambdas."""\n')
        _copy_tree(JOB_ASSETS_DIR / "contracts", contracts, exclude=_CONTRACTS_EXCLUDED)
        for item in sorted(deps.iterdir()):
            if item.is_dir():
                shutil.copytree(item, staging / item.name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copyfile(item, staging / item.name)
        digest = hashlib.sha256()
        for path in package_files(staging):
            digest.update(path.relative_to(staging).as_posix().encode())
            digest.update(path.read_bytes())
        target = out_dir / f"code-{digest.hexdigest()[:16]}"
        _publish_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return LambdaBuild(code_dir=target, arrow_layer_zip=layer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    args = parser.parse_args(argv)
    deps, layer = build_dependencies(args.build_dir)
    print(f"lambda dependencies: {deps.relative_to(REPO_ROOT) if deps.is_relative_to(REPO_ROOT) else deps}")
    print(f"pyarrow layer: {layer.name} ({layer.stat().st_size / 1e6:.1f} MB zipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
