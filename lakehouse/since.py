"""``--since``, read once for every command that takes it: an age counted back from now or an ISO-8601 time."""

from __future__ import annotations

import datetime as dt
import re

AGE = re.compile(r"^(\d+)([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: dt.datetime | None = None, *, ages_only: bool = False) -> dt.datetime:
    """``30m``, ``6h``, ``2d`` before ``now``, or (unless ``ages_only``) an ISO-8601 time
    (``2026-12-06T07:30:00Z``, an offset, or a date; no zone means UTC). Always an aware UTC datetime;
    ValueError with the one line to show for anything else, a zero age or a time in the future."""
    value = text.strip()
    now = now or dt.datetime.now(dt.UTC)
    age = AGE.match(value)
    if age:
        if int(age.group(1)) < 1:
            raise ValueError(f"--since {text!r}: an age of at least 1 (30m, 6h, 2d)")
        return now - dt.timedelta(**{UNITS[age.group(2)]: int(age.group(1))})
    if ages_only:
        raise ValueError(f"--since {text!r}: expected an age such as 30m, 2h or 7d")
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected an ISO-8601 time (2026-12-06T07:30:00Z) or an age (30m, 6h, 2d)"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    if when > now:
        raise ValueError(f"--since {text!r}: {when:%Y-%m-%d %H:%M:%S} UTC is in the future")
    return when.astimezone(dt.UTC)
