"""Value formatting of the generator: CRM (Salesforce) and Snowflake timestamps, dates, money and ids."""

from __future__ import annotations

from datetime import date

import numpy as np

from .model import _OFFSET_SUFFIX, _OFFSETS


def _iso_ms(ms: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]"), unit="ms")


def _crm_ts(ms: np.ndarray, off: np.ndarray) -> list[str]:
    """Salesforce style: ``2024-03-05T10:22:31.000Z`` or local time with an offset ``...000+02:00``."""
    ms = np.asarray(ms, dtype=np.int64) // 1000 * 1000
    local = ms + _OFFSETS[off] * 60_000
    return [a + b for a, b in zip(_iso_ms(local).tolist(), _OFFSET_SUFFIX[off].tolist(), strict=True)]


def _sf_ts(ms: np.ndarray) -> list[str]:
    """Snowflake style UTC ``2024-03-05 10:22:31.123``."""
    s = _iso_ms(ms).astype("S23")
    s.view(np.uint8).reshape(-1, 23)[:, 10] = ord(" ")
    return s.astype("U23").tolist()


def _dates(days: np.ndarray) -> list[str]:
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]")).tolist()


def _money(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in np.asarray(cents, dtype=np.int64).tolist()]


def _cents(s: str) -> int:
    whole, frac = s.split(".")
    return int(whole) * 100 + int(frac)


def _fmt_cents(c: int) -> str:
    return f"{c // 100}.{c % 100:02d}"


def _ms(d: date) -> int:
    return int(np.datetime64(d, "ms").astype(np.int64))


def _sf_id(prefix: str, nums: np.ndarray, mark: str = "5g") -> list[str]:
    return [f"{prefix}{mark}{n:013d}" for n in np.asarray(nums).tolist()]
