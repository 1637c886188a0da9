"""A bare CPython 3.9 in a project-local folder: the stand-in for EMR Serverless emr-7.12.0's image Python.

EMR runs PySpark jobs on the image's Python 3.9 with only the standard library; pyspark and py4j come from Spark's
own zips on ``PYTHONPATH``. Running jobs locally on the same interpreter makes 3.10+ syntax, or an import that only
the project's .venv satisfies, fail here rather than on EMR. Bookworm has no python3.9, so this fetches bullseye's
.deb files (pinned by version and SHA-256 below) and unpacks them with ``dpkg-deb -x``: no apt, nothing in /.
Bare by design: no pip, no site-packages, no user site, and the launcher drops ``site-packages``/``dist-packages``
entries from ``PYTHONPATH`` so no venv leaks in. Use (SPARK_HOME set, or find-spark-home asks the bare 3.9)::

    python -m lakehouse.toolchain.emr_python [--dest build/emr-python]
    PYSPARK_PYTHON=build/emr-python/bin/python3.9 PYSPARK_DRIVER_PYTHON=build/emr-python/bin/python3.9 \\
        SPARK_HOME=.venv/lib/python3.11/site-packages/pyspark .venv/bin/spark-submit job.py

python3.9 and libssl1.1 come from bullseye-security (3.9.2-1+deb11u7 has the CVE fixes bullseye's 3.9.2-1 lacks),
libffi7 (ctypes) and libmpdec3 (C decimal) from bullseye: with libssl1.1 (ssl, _hashlib) the only libraries it
needs that bookworm lacks. Security pools drop superseded versions: then re-pin from bullseye-security's
Packages.xz, or point ``EMR_PYTHON_DEB_BASE`` at a mirror that keeps them (archive.debian.org, once archived).
A second run with the same pins does nothing (stamp file); the .debs stay cached, so rebuilds work offline.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple


class Pin(NamedTuple):
    """One pinned Debian package of the bare Python 3.9: name, version, pool path, SHA-256 and size."""

    package: str
    version: str
    path: str
    """Below ``EMR_PYTHON_DEB_BASE`` (default https://deb.debian.org)."""
    sha256: str
    size: int


SEC = "debian-security/pool/updates/main"
PINS: tuple[Pin, ...] = (
    Pin(
        "python3.9-minimal",
        "3.9.2-1+deb11u7",
        f"{SEC}/p/python3.9/python3.9-minimal_3.9.2-1+deb11u7_amd64.deb",
        "923ab4e953514541a35700be63006d6fccc36747b409bae9f7c647f53c65023b",
        1943748,
    ),
    Pin(
        "libpython3.9-minimal",
        "3.9.2-1+deb11u7",
        f"{SEC}/p/python3.9/libpython3.9-minimal_3.9.2-1+deb11u7_amd64.deb",
        "9ea89d2bd9ca3dc91138fde6c964e5f0e5058520d2ac2b9ff21c909cfc495736",
        806628,
    ),
    Pin(
        "libpython3.9-stdlib",
        "3.9.2-1+deb11u7",
        f"{SEC}/p/python3.9/libpython3.9-stdlib_3.9.2-1+deb11u7_amd64.deb",
        "649d81cecc72eafea5c997a9fa2146c068e7fe8e046c6ab8ed411297e78c623f",
        1684888,
    ),
    Pin(
        "libssl1.1",
        "1.1.1w-0+deb11u8",
        f"{SEC}/o/openssl/libssl1.1_1.1.1w-0+deb11u8_amd64.deb",
        "dcc68a543de6cb955a57077b66dcdb15f61d1e31e072f2c6cc4082c37da1b00d",
        1565888,
    ),
    Pin(
        "libffi7",
        "3.3-6",
        "debian/pool/main/libf/libffi/libffi7_3.3-6_amd64.deb",
        "30ca89bfddae5fa6e0a2a044f22b6e50cd17c4bc6bc850c579819aeab7101f0f",
        23096,
    ),
    Pin(
        "libmpdec3",
        "2.5.1-1",
        "debian/pool/main/m/mpdecimal/libmpdec3_2.5.1-1_amd64.deb",
        "816404866f754d5662d69db50072018dccb78cf372fc38e0be961fab0f57d741",
        87652,
    ),
)

LAUNCHER = """#!/bin/sh
# Bare CPython 3.9 (Debian bullseye debs), stand-in for EMR Serverless' image Python.
# Made by lakehouse.toolchain.emr_python.
set -f
root="$(dirname -- "$(dirname -- "$(readlink -f -- "$0")")")/root"
LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH PYTHONNOUSERSITE=1
unset PYTHONHOME
# Keep Spark's zips, drop any interpreter's site-packages (a venv's above all): bare means bare.
keep=
IFS=:
for entry in ${PYTHONPATH-}; do
  case "$entry" in
    */site-packages | */site-packages/ | */dist-packages | */dist-packages/) ;;
    *) keep="${keep:+$keep:}$entry" ;;
  esac
done
unset IFS
if [ -n "$keep" ]; then export PYTHONPATH="$keep"; else unset PYTHONPATH; fi
exec "$root/usr/bin/python3.9" -s "$@"
"""

SELF_TEST = """
import csv, ctypes, datetime, decimal, gzip, hashlib, importlib.util, json, os, site, socket, ssl, struct
import subprocess, sys, uuid, zlib, _ctypes, _decimal, _hashlib, _ssl
print(json.dumps({"version": sys.version.split()[0], "prefix": sys.prefix, "path": sys.path, "ssl": ssl.OPENSSL_VERSION,
    "site": [p for p in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(p) and os.listdir(p)],
    "no_user_site": sys.flags.no_user_site, "pip": importlib.util.find_spec("pip") is not None}))
"""


class BuildError(Exception):
    """One line for stderr: what failed and what to do."""


def pins_digest() -> str:
    """Identifies the pins and the launcher: a build made from other pins is rebuilt."""
    table = json.dumps([pin._asdict() for pin in PINS] + [LAUNCHER], sort_keys=True)
    return hashlib.sha256(table.encode()).hexdigest()


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def fetch(pin: Pin, cache: Path) -> tuple[Path, bool]:
    """The verified .deb in ``cache``, and whether it was downloaded now."""
    target = cache / Path(pin.path).name
    if target.is_file() and sha256_of(target) == pin.sha256:
        return target, False
    base = os.environ.get("EMR_PYTHON_DEB_BASE", "https://deb.debian.org").rstrip("/")
    url = f"{base}/{pin.path}"
    part = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, part.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        part.unlink(missing_ok=True)
        raise BuildError(
            f"cannot download {pin.package} {pin.version} from {url} ({exc}): check access to deb.debian.org; "
            "if it was superseded, re-pin from bullseye's Packages.xz or set EMR_PYTHON_DEB_BASE to a mirror"
        ) from exc
    got = sha256_of(part)
    if got != pin.sha256:
        part.unlink()
        raise BuildError(
            f"SHA-256 mismatch for {pin.package} {pin.version} from {url} (got {got}, pinned {pin.sha256}): "
            "do not use it; retry, or re-pin from bullseye's Packages.xz if Debian rebuilt it"
        )
    part.replace(target)
    return target, True


def tidy(root: Path) -> None:
    """Drop absolute symlinks out of the tree (Debian's sitecustomize.py -> /etc/python3.9/...) and any site dir."""
    for link in [p for p in root.rglob("*") if p.is_symlink() and os.readlink(p).startswith("/")]:
        inside = root / os.readlink(link).lstrip("/")
        link.unlink()
        if inside.exists():
            link.symlink_to(os.path.relpath(inside, link.parent))
    for site_dir in (
        "usr/lib/python3.9/site-packages",
        "usr/lib/python3.9/dist-packages",
        "usr/lib/python3/dist-packages",
    ):
        if (root / site_dir).exists():
            shutil.rmtree(root / site_dir)


def self_test(dest: Path) -> dict[str, Any]:
    """Run the launcher as PySpark would, with the venv's site-packages on PYTHONPATH to prove it is dropped."""
    cmd, env = (
        [str(dest / "bin" / "python3.9"), "-c", SELF_TEST],
        {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]},
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=dest)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"the built interpreter fails its self-test ({last}): a shared library may be missing")
    report: dict[str, Any] = json.loads(proc.stdout)
    root = str((dest / "root").resolve())
    outside = [p for p in report["path"] if p and not p.startswith(root)]
    if not str(report["prefix"]).startswith(root) or outside or report["site"] or report["pip"]:
        raise BuildError(f"the built interpreter is not bare: {report}; delete {dest} and run again")
    return report


def build(dest: Path) -> str:
    """Build the bare Python 3.9 into ``dest`` (nothing when it is built from the same pins); returns a line
    saying what was done.

    Raises:
        BuildError: not Linux amd64, no ``dpkg-deb``, or a download or checksum failed.
    """
    if sys.platform != "linux" or platform.machine() not in {"x86_64", "amd64"}:
        raise BuildError(f"needs Linux amd64 (the pinned debs are amd64), this is {sys.platform} {platform.machine()}")
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise BuildError("dpkg-deb not found: run on Debian/Ubuntu (package dpkg) to unpack the pinned .deb files")
    stamp, digest = dest / ".stamp", pins_digest()
    built = (dest / "bin/python3.9").is_file() and (dest / "root/usr/bin/python3.9").is_file()
    if built and stamp.is_file() and stamp.read_text().strip() == digest:
        return f"{dest}: up to date (pins {digest[:12]})"
    started = time.monotonic()
    cache = dest / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    fetched = [(pin, *fetch(pin, cache)) for pin in PINS]
    debs, fresh = [deb for _, deb, _ in fetched], [pin for pin, _, new in fetched if new]
    stamp.unlink(missing_ok=True)
    new_root = Path(tempfile.mkdtemp(prefix=".root-", dir=dest))
    try:
        for deb in debs:
            proc = subprocess.run([dpkg_deb, "-x", deb, new_root], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                why = " ".join(proc.stderr.split())
                raise BuildError(f"dpkg-deb -x {deb.name} failed ({why}); delete {deb} and run again")
        tidy(new_root)
        new_root.chmod(0o755)
        shutil.rmtree(dest / "root", ignore_errors=True)
        new_root.replace(dest / "root")
    finally:
        shutil.rmtree(new_root, ignore_errors=True)
    bin_dir = dest / "bin"
    bin_dir.mkdir(exist_ok=True)
    launcher = bin_dir / "python3.9"
    launcher.write_text(LAUNCHER)
    launcher.chmod(0o755)
    (bin_dir / "python3").unlink(missing_ok=True)
    (bin_dir / "python3").symlink_to("python3.9")
    report = self_test(dest)
    stamp.write_text(digest + "\n")
    return (
        f"{dest}: Python {report['version']} ({report['ssl']}), prefix {report['prefix']}; "
        f"downloaded {len(fresh)} of {len(PINS)} .debs ({sum(p.size for p in fresh) / 1e6:.2f} MB), "
        f"built in {time.monotonic() - started:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m lakehouse.toolchain.emr_python [--dest DIR]``: exit 1 with one line when the build fails."""
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.toolchain.emr_python", description=__doc__.split("\n")[0]
    )
    default = Path(__file__).resolve().parents[2] / "build" / "emr-python"
    parser.add_argument("--dest", type=Path, default=default, help=f"where to build it (default: {default})")
    args = parser.parse_args(argv)
    try:
        print(build(args.dest.resolve()))
    except (BuildError, OSError) as exc:
        print(f"emr_python: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
