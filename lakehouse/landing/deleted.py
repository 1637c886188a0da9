"""``lakehouse recover-deleted``: undo an accidental deletion in a layer bucket by removing its delete markers.

Every lake bucket is versioned (``cdk/constructs/lake_bucket.py``): a ``DeleteObject`` without a version id
does not remove data, it stacks a *delete marker* on top of the object's versions. Removing that marker
makes the newest real version current again, byte for byte, with no copy and no new version (so nothing
is re-replicated and no Delta log sees a new object). This module finds, under one key prefix of one
layer's bucket, the objects whose current state is a run of delete markers all made at or after
``--since`` with a real version below them, prints them, and with ``apply`` deletes those markers (by
version id: deleting a specific version is permanent, and a delete marker is exactly what we want gone).

What it leaves alone, and says so: objects deleted before ``--since`` (another deletion, maybe intended),
and objects with no version left under their markers (the noncurrent-version expiry removed them: only a
backup or the DR replica brings those back, docs/runbooks/BACKUP_AND_RESTORE.md).

The bucket of a layer comes from the environment's deployment SSM parameter
(:func:`platform_model.aws_names.deployment_parameter_name`), where the stacks record the lake's URIs
(``--landing-uri``, ``--bronze-uri``, ``--silver-uri``, ``gold_uri``): the layer buckets carry generated
names, and this is where the state machines read them from too. ``--prefix`` is relative to that URI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from job_assets.contracts.layout import ZONES
from platform_model import aws_names

from ..since import parse_since as read_since

_BATCH = 1000
"""DeleteObjects' limit of keys per request."""


class RecoverError(Exception):
    """Something the operator must fix (bad --since, unknown layer, unversioned bucket): one clear line."""


@dataclass(frozen=True, kw_only=True)
class Deleted:
    """An object whose current state is delete markers made since ``--since``, and what removing them restores."""

    key: str
    markers: tuple[str, ...]
    """The version ids of the delete markers on top of the object, newest first."""
    deleted_at: dt.datetime
    """When the newest marker was made."""
    version_id: str
    """The version that becomes current again."""
    size: int
    modified: dt.datetime


@dataclass(frozen=True, kw_only=True)
class Scan:
    """What one prefix holds: the objects to restore, and the ones left alone (with why)."""

    bucket: str
    prefix: str
    restorable: tuple[Deleted, ...]
    skipped: tuple[tuple[str, str], ...]
    """(key, why not restored) of objects currently deleted that this command leaves alone."""


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``--since``: ISO-8601 (``2026-12-06T07:30:00Z``, an offset, or a date; no zone means UTC) or an age
    (``30m``, ``6h``, ``2d``) counted back from ``now`` (:func:`lakehouse.since.parse_since`)."""
    try:
        return read_since(text, now)
    except ValueError as error:
        raise RecoverError(str(error)) from None


def layer_location(env: str, layer: str, *, project: str, session: Any) -> tuple[str, str]:
    """(bucket, key prefix) of ``layer``'s root in the environment, from its deployment parameter."""
    if layer not in ZONES:
        raise RecoverError(f"--bucket {layer!r}: unknown layer; one of {', '.join(ZONES)}")
    from ..promotion import AwsControl, PromotionError

    try:
        deployment = AwsControl(env, project=project, session=session).deployment()
    except PromotionError as error:
        raise RecoverError(str(error)) from None
    except (BotoCoreError, ClientError) as error:
        raise _aws_error(error, env, f"SSM parameter {aws_names.deployment_parameter_name(env, project)}") from None
    arguments = [str(a) for a in deployment["arguments"]]
    uris = {
        a[2:-4]: arguments[i + 1] for i, a in enumerate(arguments[:-1]) if a.startswith("--") and a.endswith("-uri")
    }
    uris["gold"] = str(deployment["gold_uri"])
    if layer not in uris:
        raise RecoverError(f"--env {env}: the deployment parameter names no --{layer}-uri")
    bucket, _, prefix = uris[layer].removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""


def _aws_error(error: Exception, env: str, what: str) -> RecoverError:
    if isinstance(error, NoCredentialsError):
        return RecoverError(f"--env {env}: no AWS credentials for {what} (set AWS_PROFILE or the AWS_* variables)")
    if isinstance(error, NoRegionError):
        return RecoverError(f"--env {env}: no AWS region for {what}: pass --region or set AWS_REGION")
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return RecoverError(f"--env {env}: {what}: {info.get('Code', 'error')}: {info.get('Message', str(error))}")
    return RecoverError(f"--env {env}: {what}: {error}")


def check_versioned(s3: Any, env: str, bucket: str) -> None:
    """Refuse a bucket that never had versioning: a deletion there removed the data, no marker undoes it."""
    try:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except (BotoCoreError, ClientError) as error:
        raise _aws_error(error, env, f"bucket {bucket}") from None
    if status not in ("Enabled", "Suspended"):
        raise RecoverError(
            f"--env {env}: bucket {bucket} is not versioned: a deletion there left no delete marker to remove "
            "(restore from a backup or the DR replica: docs/runbooks/BACKUP_AND_RESTORE.md)"
        )


def _history(s3: Any, bucket: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every key's versions and delete markers under ``prefix``, newest first (markers carry ``marker``)."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Versions", []):
            by_key.setdefault(item["Key"], []).append({**item, "marker": False})
        for item in page.get("DeleteMarkers", []):
            by_key.setdefault(item["Key"], []).append({**item, "marker": True})
    for versions in by_key.values():
        # Versions and DeleteMarkers come as two lists: merge them newest first. On a tie of LastModified
        # (S3 keeps milliseconds), the current one first, then markers: a marker is made on top of a version
        versions.sort(key=lambda v: (v["LastModified"], v["IsLatest"], v["marker"]), reverse=True)
    return by_key


def _judge(key: str, versions: list[dict[str, Any]], since: dt.datetime) -> Deleted | str | None:
    """A :class:`Deleted` to restore, why a deleted object is left alone, or None (not deleted)."""
    markers = []
    for v in versions:
        if not v["marker"]:
            break
        markers.append(v)
    if not markers:
        return None
    if markers[-1]["LastModified"] < since:
        return f"deleted {markers[-1]['LastModified']:%Y-%m-%d %H:%M:%S} UTC, before --since"
    below = versions[len(markers) :]
    if not below:
        return "no version left under the delete marker (noncurrent versions expired): restore from a backup"
    return Deleted(
        key=key,
        markers=tuple(m["VersionId"] for m in markers),
        deleted_at=markers[0]["LastModified"],
        version_id=below[0]["VersionId"],
        size=int(below[0].get("Size", 0)),
        modified=below[0]["LastModified"],
    )


def scan(s3: Any, env: str, bucket: str, prefix: str, since: dt.datetime) -> Scan:
    """The objects under ``prefix`` deleted since ``since`` that removing their delete markers restores."""
    check_versioned(s3, env, bucket)
    try:
        history = _history(s3, bucket, prefix)
    except (BotoCoreError, ClientError) as error:
        raise _aws_error(error, env, f"listing the versions of s3://{bucket}/{prefix}") from None
    restorable: list[Deleted] = []
    skipped: list[tuple[str, str]] = []
    for key in sorted(history):
        verdict = _judge(key, history[key], since)
        if isinstance(verdict, Deleted):
            restorable.append(verdict)
        elif verdict is not None:
            skipped.append((key, verdict))
    return Scan(bucket=bucket, prefix=prefix, restorable=tuple(restorable), skipped=tuple(skipped))


def _chunks(items: list[dict[str, str]]) -> Iterator[list[dict[str, str]]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def remove_markers(s3: Any, env: str, bucket: str, deleted: Iterable[Deleted]) -> int:
    """Delete the delete markers (by version id); the number of objects restored. Any error stops it."""
    objects = [{"Key": d.key, "VersionId": m} for d in deleted for m in d.markers]
    for chunk in _chunks(objects):
        try:
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
        except (BotoCoreError, ClientError) as error:
            raise _aws_error(error, env, f"removing delete markers in {bucket}") from None
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise RecoverError(
                f"--env {env}: {len(errors)} delete marker(s) not removed in {bucket}, e.g. {first.get('Key')}: "
                f"{first.get('Code')}: {first.get('Message')} (run the command again: removed ones are not listed)"
            )
    return len({d.key for d in deleted})


def still_deleted(s3: Any, bucket: str, deleted: Iterable[Deleted]) -> list[str]:
    """The keys that are not readable after their markers went (deleted again meanwhile, or a marker missed)."""
    missing = []
    for d in deleted:
        try:
            s3.head_object(Bucket=bucket, Key=d.key)
        except ClientError:
            missing.append(d.key)
    return missing


def _table(found: Scan) -> Table:
    table = Table(title=f"deleted under s3://{found.bucket}/{found.prefix}", title_justify="left")
    for column in ("key", "deleted (UTC)", "markers", "restores version", "size", "version from (UTC)"):
        table.add_column(column, overflow="fold", justify="right" if column in ("markers", "size") else "left")
    for d in found.restorable:
        table.add_row(
            escape(d.key),
            f"{d.deleted_at:%Y-%m-%d %H:%M:%S}",
            str(len(d.markers)),
            d.version_id,
            f"{d.size:,}",
            f"{d.modified:%Y-%m-%d %H:%M:%S}",
        )
    return table


def recover_deleted(
    env: str,
    layer: str,
    prefix: str,
    since: str,
    *,
    project: str = aws_names.DEFAULT_PROJECT,
    session: Any,
    apply: bool = False,
    console: Console,
) -> int:
    """Print what removing the delete markers made since ``since`` under ``prefix`` restores; with ``apply``, do it."""
    when = parse_since(since)
    bucket, root = layer_location(env, layer, project=project, session=session)
    s3 = session.client("s3")
    found = scan(s3, env, bucket, root + prefix.lstrip("/"), when)
    for key, why in found.skipped:
        console.print(f"left alone: {escape(key)}: {why}")
    if not found.restorable:
        console.print(
            f"nothing to restore: no object under s3://{bucket}/{found.prefix} was deleted since "
            f"{when:%Y-%m-%d %H:%M:%S} UTC"
        )
        return 0
    console.print(_table(found))
    if not apply:
        console.print(
            f"dry run: {len(found.restorable)} object(s) would be restored; nothing changed. Remove their delete "
            "markers with the same command and --apply"
        )
        return 0
    restored = remove_markers(s3, env, bucket, found.restorable)
    missing = still_deleted(s3, bucket, found.restorable)
    if missing:
        raise RecoverError(
            f"--env {env}: {len(missing)} object(s) still deleted after removing their markers, e.g. "
            f"{missing[0]} (deleted again meanwhile?): run the command again"
        )
    console.print(f"[bold green]restored[/] {restored} object(s) in s3://{bucket}/{found.prefix}")
    return 0
