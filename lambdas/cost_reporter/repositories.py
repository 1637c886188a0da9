"""What the cost reporter asks of AWS, one small interface per concern, so its logic runs on any implementation.

* :class:`JobRunReader`: an EMR Serverless job run (its name, arguments, billed utilization, end time).
* :class:`SlotReader`: the active blue/green slot, from the environment's slots parameter.
* :class:`RunSummaryReader`: the rows of a layer's ``run_summary`` Delta table.
* :class:`MetricsPublisher`: the cost metrics' CloudWatch data points.

:class:`Repositories` bundles the four. The boto3 implementations, which the handler wires, are in
``aws_repositories``; in-memory fakes with the same semantics, for tests of the logic, are in ``fakes``.
A failed call raises :class:`RepositoryError`; a slots parameter that cannot tell the active slot raises
:class:`ops_common.slots.SlotsParameterError` (its ``__cause__`` the :class:`RepositoryError` of a failed
read); a run summary location without a Delta table is a return value (None), not an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ops_common import repositories as shared

RepositoryError = shared.RepositoryError
"""A failed AWS call (``ops_common.repositories.RepositoryError``, shared by the functions)."""
MetricsPublisher = shared.MetricsPublisher
"""CloudWatch custom metrics (``ops_common.repositories.MetricsPublisher``)."""


class JobRunReader(Protocol):
    """EMR Serverless job runs."""

    def job_run(self, application_id: str, job_run_id: str) -> Mapping[str, Any]:
        """The job run ``job_run_id`` of ``application_id``, as ``GetJobRun``'s ``jobRun`` (a missing run raises)."""
        ...


class SlotReader(Protocol):
    """The active blue/green slot."""

    def active_slot(self, parameter: str) -> str:
        """The ``active`` slot the SSM parameter ``parameter`` names (``blue`` or ``green``).

        :class:`~ops_common.slots.SlotsParameterError` when it is missing, unreadable or names no slot.
        """
        ...


class RunSummaryReader(Protocol):
    """The layers' ``run_summary`` Delta tables."""

    def rows(
        self, bucket: str, prefix: str, columns: Sequence[str], filters: Mapping[str, str]
    ) -> list[dict[str, Any]] | None:
        """``columns`` of the newest version's rows of the table ``s3://<bucket>/<prefix>`` that equal ``filters``.

        None when that location holds no Delta table yet.
        """
        ...


@dataclass(frozen=True, kw_only=True)
class Repositories:
    """Everything the cost logic asks of AWS."""

    job_runs: JobRunReader
    slots: SlotReader
    run_summaries: RunSummaryReader
    metrics: MetricsPublisher
