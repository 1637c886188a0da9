"""What the freshness check asks of AWS, one small interface per concern, so its logic runs on any implementation.

* :class:`DeltaLogReader`: a table's newest Delta commit that changed data, from its log on S3.
* :class:`SlotsParameter`: which blue/green slot is published (the SSM slots parameter).
* :class:`MetricsPublisher`: the ``FreshnessMinutes`` data points.

:class:`Repositories` bundles the three. The boto3 implementations, which the handler wires, are in
``aws_repositories``; in-memory fakes with the same semantics, for tests of the logic, are in ``fakes``.
A failed call raises :class:`RepositoryError`, except the slots parameter's: whatever keeps it from naming
the active slot (missing, unreadable, malformed) is one ``ops_common.slots.SlotsParameterError``, its
``__cause__`` the failed call's error when there was one. A log that is there but is not a readable Delta
log raises ``ops_common.delta_log.DeltaLogError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ops_common import repositories as shared
from ops_common.delta_log import Commit

RepositoryError = shared.RepositoryError
"""A failed AWS call (``ops_common.repositories.RepositoryError``, shared by the functions)."""
MetricsPublisher = shared.MetricsPublisher
"""CloudWatch custom metrics (``ops_common.repositories.MetricsPublisher``)."""


class DeltaLogReader(Protocol):
    """Delta tables' transaction logs."""

    def latest_commit(self, bucket: str, prefix: str) -> Commit | None:
        """The newest commit of the table at ``s3://<bucket>/<prefix>/`` that changed its data; None when it has
        no Delta log. Maintenance commits (OPTIMIZE, VACUUM) and metadata commits are not data changes: a table
        compacted after its last write is as stale as before (``ops_common.delta_log.latest_data_commit``).

        ``DeltaLogError`` when the log is not readable as Delta (e.g. a corrupt commit).
        """
        ...


class SlotsParameter(Protocol):
    """The slots parameter: which blue/green slot's gold is published."""

    def active_slot(self, parameter: str) -> str:
        """The slot (``blue`` or ``green``) the parameter ``parameter`` names active.

        ``SlotsParameterError`` (naming the parameter and what is wrong) when it is missing, cannot be read or
        names no slot; its ``__cause__`` is the failed call's error, if a call failed.
        """
        ...


@dataclass(frozen=True, kw_only=True)
class Repositories:
    """Everything the freshness check asks of AWS."""

    logs: DeltaLogReader
    slots: SlotsParameter
    metrics: MetricsPublisher
