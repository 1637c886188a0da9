"""Job feature flags: the registry every flag must be in, with its values, default and meaning.

Per environment the flags are set in ``cdk.json`` (``environments.<env>.job_flags``), validated at synth
against this registry, and passed to every job as ``--flag key=value``; locally ``lakehouse run --flag``
sets them. A job reads a flag with :func:`flag`, which falls back to the registry's default, so a flag
left out of the config behaves exactly as documented here. Pure Python 3.9: the jobs, the CDK config
loader and the CLI all import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Tuple


@dataclass(frozen=True)
class Flag:
    values: Tuple[str, ...]
    default: str
    description: str


FLAGS: Dict[str, Flag] = {
    "attribution_model": Flag(
        values=("last_touch", "first_touch"),
        default="last_touch",
        description=(
            "gold.revenue_attribution credits each completed order to the lead source of the latest "
            "(last_touch) or the earliest (first_touch) Closed Won opportunity of the customer's account "
            "closed on or before the order date."
        ),
    ),
    "gold_by_month": Flag(
        values=("never", "always"),
        default="never",
        description=(
            "always: gold.revenue_attribution and gold.customer_ltv_cohorts recompute only the months silver's "
            "changes can move (docs/PIPELINE.md, 'Gold by month'); never: the whole tables every batch. The "
            "tables' contents are the same either way. Off by default: on the generator's recency-skewed feed a "
            "delivery moves nearly every month, and working the months out then costs more than it saves "
            "(docs/BENCHMARKS.md, 'Gold by month'); turn it on for feeds whose changes stay in recent months."
        ),
    ),
}


class FlagError(ValueError):
    """An unknown flag or a value the flag does not take (names both)."""


def validate(flags: Mapping[str, str]) -> Dict[str, str]:
    """``flags`` checked against the registry (a copy); :class:`FlagError` names the flag and its values."""
    checked = {}
    for name, value in flags.items():
        spec = FLAGS.get(name)
        if spec is None:
            raise FlagError(f"unknown flag {name!r}; flags are: {', '.join(sorted(FLAGS))}")
        if value not in spec.values:
            raise FlagError(f"flag {name}={value!r} is not one of {', '.join(spec.values)}")
        checked[name] = value
    return checked


def flag(flags: Mapping[str, str], name: str) -> str:
    """The value of ``name`` in ``flags``, else its default (``KeyError`` for a flag not in the registry)."""
    return flags.get(name, FLAGS[name].default)
