"""Blue/green slots: which slot's gold is published, from the environment's SSM slots parameter.

An environment keeps two slots, ``blue`` and ``green``. Gold is per slot: slot ``s`` keeps its tables
(and its ``run_summary`` / ``dq_results``) under ``s3://<gold bucket>/<s>/<table>/``; bronze and silver are
not slotted (``s3://<bucket>/<table>/``). Which slot is published is the ``active`` key of the String
parameter ``/<project>/<env>/slots`` (``platform_model.aws_names.slots_parameter_name``), JSON::

    {"active": "blue", "slots": {"blue": "<version>", "green": "<version>"}, ...}

Functions that report on published gold read it with :func:`read_active_slot` once per invocation, never
cached across invocations: a promotion or rollback takes effect at the next one. There is no fallback
slot: a parameter that is missing or does not name ``blue`` or ``green`` raises :class:`SlotsParameterError`
naming the parameter and what is wrong (reading the other slot could make stale gold look fresh).

Dependency-free at import time (the client is created on first use, in :func:`read_active_slot`).
"""

from __future__ import annotations

import json
from typing import Any

from job_assets.contracts.layout import SLOTS, SLOTTED_LAYERS
from ops_common.aws import client, error_code

__all__ = ["SLOTS", "SLOTTED_LAYERS"]  # re-exported for the handlers
ACTIVE_SLOT_UNKNOWN = "active_slot_unknown"
"""The log ``reason`` (and freshness status) when the slots parameter cannot tell the active slot."""


class SlotsParameterError(RuntimeError):
    """The slots parameter is missing, unreadable or malformed (the message names it and what is wrong)."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"SSM parameter {parameter} {problem}")
        self.parameter = parameter
        self.problem = problem


def active_slot(parameter: str, value: Any) -> str:
    """The ``active`` slot of the parameter's ``value`` (its JSON text); :class:`SlotsParameterError` if it has none."""
    expected = " or ".join(repr(s) for s in SLOTS)
    if not isinstance(value, str):
        raise SlotsParameterError(parameter, f"has no string value (got {type(value).__name__})")
    try:
        document = json.loads(value)
    except json.JSONDecodeError as bad:
        raise SlotsParameterError(
            parameter, f'is not valid JSON ({bad.msg}); expected {{"active": {expected}, ...}}'
        ) from None
    if not isinstance(document, dict):
        raise SlotsParameterError(
            parameter, f'holds a JSON {type(document).__name__}, not an object {{"active": {expected}, ...}}'
        )
    if "active" not in document:
        raise SlotsParameterError(parameter, f'has no "active" key; expected "active": {expected}')
    slot = document["active"]
    if slot not in SLOTS:
        raise SlotsParameterError(parameter, f'names active slot {slot!r}; expected "active": {expected}')
    return str(slot)


def read_active_slot(parameter: str) -> str:
    """``GetParameter`` the slots parameter and return its active slot (``blue`` or ``green``)."""
    try:
        response = client("ssm").get_parameter(Name=parameter)
    except Exception as error:
        code = error_code(error)
        if code == "ParameterNotFound":
            raise SlotsParameterError(
                parameter, "does not exist: it names the active blue/green slot (is the promotion stack deployed?)"
            ) from error
        raise SlotsParameterError(parameter, f"cannot be read: {code or type(error).__name__}: {error}") from error
    return active_slot(parameter, (response.get("Parameter") or {}).get("Value"))


def is_slotted(layer: str) -> bool:
    return layer in SLOTTED_LAYERS


def slot_prefix(slot: str) -> str:
    """Key prefix of a slot's tables in a slotted layer's bucket: ``blue/``."""
    if slot not in SLOTS:
        raise ValueError(f"unknown slot {slot!r}; slots are {', '.join(SLOTS)}")
    return f"{slot}/"


def table_location(layer: str, table: str, slot: str | None) -> str:
    """The key prefix (no trailing ``/``) of ``table`` in ``layer``'s bucket: ``blue/win_rates`` for gold.

    ``slot`` is required for a slotted layer and ignored for the others.
    """
    table = table.strip("/")
    if not is_slotted(layer):
        return table
    if slot is None:
        raise ValueError(f"layer {layer} is kept per slot: a slot is required for {table}")
    return f"{slot_prefix(slot)}{table}"
