"""Job-assets versions of the checkout: its ``cdk/packaging.py``, its version, and packaging it into the
local lake's version store.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from job_assets.context import CONTROL_DIR


def _checkout_packaging() -> Any:
    """``cdk/packaging.py`` of the checkout this CLI runs from (the one CDK deploys with)."""
    repo = Path(__file__).resolve().parents[2]
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from cdk import packaging

    return packaging


def package_dir() -> Path:
    """The folder of the ``job_assets`` package being packaged."""
    import job_assets

    return Path(job_assets.__file__).resolve().parent


def checkout_version() -> str:
    """The version (content hash) of the checkout's ``job_assets``, as the Compute stack would ship it."""
    packaging = _checkout_packaging()
    return packaging.archive_version(packaging.build_archive(package_dir()))


def package(root: Path, source: Path | None = None) -> tuple[str, Path]:
    """Package ``source`` (default: this checkout's ``job_assets``) into the local lake's version store."""
    packaging = _checkout_packaging()
    source = (source or package_dir()).resolve()
    bundle = packaging.bundle_job_assets(source, root / CONTROL_DIR / "versions")
    return bundle.version, bundle.directory
