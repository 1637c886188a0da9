"""The table a recovery command works on: its name, URI, files, and the lake around it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from job_assets.contracts import contract

from ..local.status import Lake
from .errors import RecoveryError
from .store import LocalStore, S3Store, TableStore


@dataclass(frozen=True)
class Target:
    """One table of one lake. ``root`` is the local lake's folder (None for an S3 lake), ``env`` the deployed
    environment (None locally) and ``session`` its boto3 session."""

    name: str
    uri: str
    store: TableStore
    lake: Lake
    root: Path | None = None
    env: str | None = None
    project: str | None = None
    session: Any = None

    @property
    def where(self) -> str:
        """How the commands name the lake: ``--lake-root <root>`` or ``--env <env>``."""
        return f"--env {self.env}" if self.env else f"--lake-root {self.root}"


def resolve(
    lake: Lake,
    name: str,
    *,
    root: Path | None = None,
    env: str | None = None,
    project: str | None = None,
    session: Any = None,
) -> Target:
    """The table ``name`` (``layer.table``) of ``lake``; RecoveryError for an unknown name."""
    try:
        c = contract(name)
    except KeyError as error:
        raise RecoveryError(str(error.args[0])) from None
    uri = lake.locations.table_uri(c.name)
    if "://" in uri and not uri.startswith("file://"):
        store: TableStore = S3Store(uri, session.client("s3"))
    else:
        store = LocalStore(uri.removeprefix("file://"))
    return Target(c.name, uri, store, lake, root=root, env=env, project=project, session=session)
