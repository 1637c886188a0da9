"""In-memory repositories with the semantics of the AWS ones (``aws_repositories``), for tests of the logic.

Each keeps plain Python values and records what it was asked, and can be told to fail: ``errors`` maps an
operation (``job_run``, ``active_slot``, ``rows``, ``publish``) to the :class:`RepositoryError` its next calls
raise (the slot reader raises it as the cause of a :class:`SlotsParameterError`, as the AWS one does). They
make no AWS call and need no credentials.

They ship with the function because they implement its interfaces (``repositories``): a change to an
interface and to its fake is one change in one package. The handler never imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ops_common import fakes as shared
from ops_common.metrics import Datum, check_against_catalog
from ops_common.slots import SlotsParameterError, active_slot

from cost_reporter.repositories import Repositories, RepositoryError


@dataclass(kw_only=True)
class FakeJobRuns(shared.FailingFake):
    """``runs``: (application id, job run id) -> the job run as ``GetJobRun``'s ``jobRun``; ``calls``: the
    (application id, job run id) asked, in order. An unknown run raises as ``GetJobRun`` does."""

    runs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def job_run(self, application_id: str, job_run_id: str) -> Mapping[str, Any]:
        """From ``runs``; ``ResourceNotFoundException`` for a run not there."""
        self.calls.append((application_id, job_run_id))
        self._maybe_fail("job_run")
        run = self.runs.get((application_id, job_run_id))
        if run is None:
            raise RepositoryError(
                "An error occurred (ResourceNotFoundException) when calling the GetJobRun operation: "
                f"job run {job_run_id} of application {application_id} does not exist",
                code="ResourceNotFoundException",
            )
        return run


@dataclass(kw_only=True)
class FakeSlotReader(shared.FailingFake):
    """``parameters``: SSM parameter name -> its value (the JSON text); ``reads``: the names read, in order."""

    parameters: dict[str, str] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def active_slot(self, parameter: str) -> str:
        """The value's ``active`` slot (``ops_common.slots.active_slot``); a missing parameter or a failed read
        raises :class:`SlotsParameterError` caused by the :class:`RepositoryError` (``ParameterNotFound``)."""
        self.reads.append(parameter)
        error = self.errors.get("active_slot")
        if error is None and parameter not in self.parameters:
            error = RepositoryError(f"ParameterNotFound: {parameter}", code="ParameterNotFound")
            raise SlotsParameterError(parameter, "does not exist") from error
        if error is not None:
            raise SlotsParameterError(
                parameter, f"cannot be read: {error.code or 'RepositoryError'}: {error}"
            ) from error
        return active_slot(parameter, self.parameters[parameter])


@dataclass(kw_only=True)
class FakeRunSummaries(shared.FailingFake):
    """``tables``: ``s3://<bucket>/<prefix>`` -> the rows of the Delta table there (any columns); a location
    not in it holds no table. ``reads``: the locations read, in order."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def rows(
        self, bucket: str, prefix: str, columns: Sequence[str], filters: Mapping[str, str]
    ) -> list[dict[str, Any]] | None:
        """As ``delta_log.read_rows``: rows whose every filter column equals (a null never matches), projected
        on ``columns`` (a missing one reads None); None when there is no table."""
        where = f"s3://{bucket}/{prefix}"
        self.reads.append(where)
        self._maybe_fail("rows")
        table = self.tables.get(where)
        if table is None:
            return None
        matching = (row for row in table if all(row.get(k) is not None and row.get(k) == v for k, v in filters.items()))
        return [{column: row.get(column) for column in columns} for row in matching]


@dataclass(kw_only=True)
class FakeMetrics(shared.FailingFake):
    """``calls``: (namespace, data) of every publish that succeeded, each datum checked against the catalog."""

    calls: list[tuple[str, list[Datum]]] = field(default_factory=list)

    def publish(self, data: Sequence[Datum], *, namespace: str) -> None:
        """Recorded after the catalog check that ``put_metrics`` makes."""
        for datum in data:
            check_against_catalog(datum)
        self._maybe_fail("publish")
        self.calls.append((namespace, list(data)))

    def by_name(self) -> dict[str, Datum]:
        """The published data points by metric name (the newest of a name)."""
        return {datum.name: datum for _, data in self.calls for datum in data}


@dataclass(kw_only=True)
class FakeAws:
    """One fake of each repository; :meth:`repositories` is what the cost logic takes."""

    job_runs: FakeJobRuns = field(default_factory=FakeJobRuns)
    slots: FakeSlotReader = field(default_factory=FakeSlotReader)
    run_summaries: FakeRunSummaries = field(default_factory=FakeRunSummaries)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)

    def repositories(self) -> Repositories:
        """The four fakes as the cost logic takes them."""
        return Repositories(
            job_runs=self.job_runs, slots=self.slots, run_summaries=self.run_summaries, metrics=self.metrics
        )
