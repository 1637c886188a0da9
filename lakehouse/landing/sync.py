"""``lakehouse landing sync``: copy one day of a deployed environment's landing files to the local lake.

To reproduce a failure or a quarantine on a laptop, the operator runs the same jobs on the same inputs:
this downloads ``<source>/<entity>/dt=<day>/`` of the environment's landing bucket (named in its
deployment parameter, like :func:`lakehouse.landing.deleted.layer_location` finds it) into
``<lake>/landing/<source>/<entity>/dt=<day>/``; ``lakehouse run`` then ingests them. Files already there
with the same size are left alone, so a second sync downloads nothing. Read-only on AWS.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from .deleted import RecoverError, _aws_error, layer_location

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def _check(day: str, source: str, entity: str) -> None:
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        raise RecoverError(f"--day {day!r}: expected a date YYYY-MM-DD") from None
    for flag, value in (("--source", source), ("--entity", entity)):
        if not _NAME.match(value):
            raise RecoverError(f"{flag} {value!r}: expected a name of letters, digits, _ and -")


def sync_day(
    env: str,
    day: str,
    source: str,
    entity: str,
    lake: Path,
    *,
    project: str,
    session: Any,
    console: Console,
) -> int:
    """Download the day's landing objects of ``source``/``entity`` into the local lake's landing zone."""
    _check(day, source, entity)
    bucket, root = layer_location(env, "landing", project=project, session=session)
    relative = f"{source}/{entity}/dt={day}/"
    try:
        s3 = session.client("s3")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root + relative)
        objects = [o for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        if not objects:
            raise RecoverError(f"--env {env}: no landing objects under s3://{bucket}/{root}{relative}")
        fetched = 0
        landing = (lake / "landing").resolve()
        targets = [(landing / o["Key"].removeprefix(root)).resolve() for o in objects]
        outside = [o["Key"] for o, t in zip(objects, targets, strict=True) if not t.is_relative_to(landing)]
        if outside:  # a key with ../ in it must not write outside the lake
            raise RecoverError(f"--env {env}: landing key {outside[0]!r} leads outside {landing}; nothing synced")
        for o, target in zip(objects, targets, strict=True):
            if target.exists() and target.stat().st_size == o["Size"]:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, o["Key"], str(target))
            fetched += 1
    except (BotoCoreError, ClientError) as error:
        raise _aws_error(error, env, f"s3://{bucket}/{root}{relative}") from None
    console.print(
        f"synced {len(objects)} landing object(s) of s3://{bucket}/{root}{relative} to "
        f"{lake / 'landing' / relative} ({fetched} downloaded, {len(objects) - fetched} already there)"
    )
    console.print(f"reproduce: `lakehouse run --lake-root {lake}`")
    return 0
