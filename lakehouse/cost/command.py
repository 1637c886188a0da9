"""``lakehouse cost estimate``: check the operator's numbers, estimate, print (table, JSON or comparison)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from ..errors import UsageError
from .components import estimate
from .data import Measured, PriceTable
from .report import COMPARE_SIZES, compare_markdown, print_table, to_json
from .settings import REPO, load_settings


def positive_number(option: str, value: str, *, whole: bool = True, zero: bool = False) -> float:
    """``value`` as a number > 0 (>= 0 with ``zero``; a whole one when ``whole``), else one line naming
    ``option``."""
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise UsageError(f"{option} {value!r}: not {kind}") from None
    if number < 0 or (number == 0 and not zero):
        raise UsageError(f"{option} {value}: must be {'0 or more' if zero else 'greater than 0'}")
    return number


def run_estimate(
    *,
    env: str,
    records_per_day: str | None,
    history_days: str | None,
    athena_queries_per_day: str | None,
    compare: bool,
    as_json: bool,
    console: Console,
    repo: Path = REPO,
) -> int:
    """Estimate ``env`` at ``records_per_day`` (or at 1M, 10M and 100M with ``compare``) and print it."""
    if records_per_day is None and not compare:
        raise UsageError("--records-per-day is required (or --compare for 1M, 10M and 100M records a day)")
    sizes = COMPARE_SIZES if compare else (int(positive_number("--records-per-day", records_per_day or "")),)
    history = int(positive_number("--history-days", history_days)) if history_days is not None else None
    athena = (
        positive_number("--athena-queries-per-day", athena_queries_per_day, whole=False, zero=True)
        if athena_queries_per_day is not None
        else None
    )
    settings = load_settings(env, repo)
    prices, measured = PriceTable.load(), Measured.load()
    estimates = [
        estimate(
            settings,
            records_per_day=n,
            prices=prices,
            measured=measured,
            history_days=history,
            athena_queries_per_day=athena,
        )
        for n in sizes
    ]
    if as_json:
        documents = [to_json(e, settings, prices, measured) for e in estimates]
        print(json.dumps(documents if compare else documents[0], indent=2))
    elif compare:
        print(compare_markdown(estimates), end="")  # plain: the guide embeds it verbatim
    else:
        print_table(estimates[0], settings, prices, console)
    return 0
