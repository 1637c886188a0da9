"""Where a table's files are, for the recovery commands: a local folder or an S3 prefix, one small interface.

The recovery commands read a table's log and data files themselves (no Spark, no delta-rs): a reader that
opens the table through its log fails on exactly the damage they look for. Paths are relative to the table
folder (``_delta_log/00000000000000000012.json``, ``part-0001.parquet``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote


@dataclass(frozen=True)
class ObjectVersion:
    """One stored version of an S3 object, newest first in :meth:`TableStore.versions`."""

    version_id: str
    size: int
    latest: bool
    delete_marker: bool


class TableStore(Protocol):
    """The files of one table."""

    uri: str

    def list(self, folder: str) -> dict[str, int]:
        """Name -> size of the files directly in ``folder`` ({} when there is none)."""

    def size(self, path: str) -> int | None:
        """The file's size, None when it does not exist."""

    def read(self, path: str) -> bytes:
        """The whole file."""

    def tail(self, path: str, count: int) -> bytes:
        """The file's last ``count`` bytes (all of it when shorter)."""

    def write(self, path: str, data: bytes) -> None:
        """Create or replace the file."""

    def delete(self, path: str) -> None:
        """Remove the file (nothing when it is gone already)."""

    def versions(self, path: str) -> list[ObjectVersion]:
        """Stored versions of the file, newest first: [] where the store keeps none (a local folder)."""

    def restore_version(self, path: str, version_id: str) -> None:
        """Make a stored version the file's current content."""


def relative_path(table_uri: str, path: str) -> str:
    """An add action's ``path`` (URL-encoded, relative or absolute) relative to the table folder."""
    plain = unquote(path)
    root = table_uri.rstrip("/") + "/"
    for prefix in (root, root.replace("s3a://", "s3://"), "file://" + root, "file:" + root):
        if plain.startswith(prefix):
            return plain[len(prefix) :]
    return plain


@dataclass(frozen=True)
class LocalStore:
    """A table folder on the local file system."""

    uri: str

    def _path(self, path: str) -> Path:
        return Path(self.uri) / path

    def list(self, folder: str) -> dict[str, int]:
        target = self._path(folder)
        if not target.is_dir():
            return {}
        return {e.name: e.stat().st_size for e in os.scandir(target) if e.is_file()}

    def size(self, path: str) -> int | None:
        target = self._path(path)
        return target.stat().st_size if target.is_file() else None

    def read(self, path: str) -> bytes:
        return self._path(path).read_bytes()

    def tail(self, path: str, count: int) -> bytes:
        with self._path(path).open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - count))
            return f.read()

    def write(self, path: str, data: bytes) -> None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(data)
        temporary.replace(target)  # readers never see half a file

    def delete(self, path: str) -> None:
        self._path(path).unlink(missing_ok=True)

    def versions(self, path: str) -> list[ObjectVersion]:
        return []

    def restore_version(self, path: str, version_id: str) -> None:
        raise NotImplementedError("a local folder keeps no object versions")


@dataclass(frozen=True)
class S3Store:
    """A table under an S3 prefix, through boto3 (``AWS_ENDPOINT_URL`` honoured as boto3 honours it)."""

    uri: str
    client: Any

    @property
    def _bucket_prefix(self) -> tuple[str, str]:
        bucket, _, key = self.uri.split("://", 1)[1].partition("/")
        return bucket, key.strip("/")

    def _key(self, path: str) -> str:
        return f"{self._bucket_prefix[1]}/{path}"

    @property
    def _bucket(self) -> str:
        return self._bucket_prefix[0]

    def list(self, folder: str) -> dict[str, int]:
        prefix = self._key(folder.rstrip("/") + "/")
        found: dict[str, int] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, Delimiter="/"
        ):
            found.update({item["Key"][len(prefix) :]: int(item["Size"]) for item in page.get("Contents", [])})
        return found

    def size(self, path: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self._bucket, Key=self._key(path))["ContentLength"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def read(self, path: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self._bucket, Key=self._key(path))["Body"].read())

    def tail(self, path: str, count: int) -> bytes:
        answer = self.client.get_object(Bucket=self._bucket, Key=self._key(path), Range=f"bytes=-{count}")
        return bytes(answer["Body"].read())

    def write(self, path: str, data: bytes) -> None:
        self.client.put_object(Bucket=self._bucket, Key=self._key(path), Body=data)

    def delete(self, path: str) -> None:
        self.client.delete_object(Bucket=self._bucket, Key=self._key(path))

    def versions(self, path: str) -> list[ObjectVersion]:
        key = self._key(path)
        found: list[tuple[Any, ObjectVersion]] = []
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self._bucket, Prefix=key):
            for v in page.get("Versions", []):
                if v["Key"] == key:
                    found.append(
                        (v["LastModified"], ObjectVersion(v["VersionId"], int(v["Size"]), v["IsLatest"], False))
                    )
            for m in page.get("DeleteMarkers", []):
                if m["Key"] == key:
                    found.append((m["LastModified"], ObjectVersion(m["VersionId"], 0, m["IsLatest"], True)))
        found.sort(key=lambda pair: (pair[1].latest, pair[0]), reverse=True)
        return [v for _, v in found]

    def restore_version(self, path: str, version_id: str) -> None:
        key = self._key(path)
        source = {"Bucket": self._bucket, "Key": key, "VersionId": version_id}
        self.client.copy_object(Bucket=self._bucket, Key=key, CopySource=source)
