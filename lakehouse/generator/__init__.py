"""The deterministic landing-data generator (``lakehouse generate``), split by concern.

:mod:`.api` holds the public :func:`generate` / :func:`generate_with_progress`, the manifest and the
description of what is generated (volumes, base delivery, increments, bad records); :mod:`.model` the shared
delivery model (constants, vocabularies, ``BAD_KINDS``, the simulation state); :mod:`.formatting` the value
formatting (timestamps, money, ids); :mod:`.increments` the delivery calendar (dt partitions, time windows and
FX months of the base delivery and of increments); :mod:`.reference` the FX rates; :mod:`.crm` the CRM source
(accounts, contacts, opportunities); :mod:`.snowflake` the Snowflake source (customers, orders, order items);
:mod:`.redeliver` updates, duplicates and deletes; :mod:`.bad` bad records and empty files, :mod:`.defects`
the defect each kind of bad record carries; :mod:`.deliver`
the stages of one delivery in order and the re-simulation of earlier ones; :mod:`.writer` the files and their
encodings. This package re-exports the names other code imports from ``lakehouse.generator``.
"""

from __future__ import annotations

from .api import generate, generate_with_progress
from .model import (
    BAD_KINDS,
    CRM,
    ENTITIES,
    GENERATOR_VERSION,
    KIND_ENTITIES,
    RECORD_KINDS,
    REDELIVER_BASE,
    REDELIVER_INC,
    SHARES,
    ProgressFn,
)

__all__ = [
    "BAD_KINDS",
    "CRM",
    "ENTITIES",
    "GENERATOR_VERSION",
    "KIND_ENTITIES",
    "RECORD_KINDS",
    "REDELIVER_BASE",
    "REDELIVER_INC",
    "SHARES",
    "ProgressFn",
    "generate",
    "generate_with_progress",
]
