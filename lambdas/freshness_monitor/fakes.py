"""In-memory repositories with the semantics of the AWS ones (``aws_repositories``), for tests of the logic.

Each keeps its state in plain Python values and can be told to fail: ``errors`` maps an operation
(``latest_commit``, ``active_slot``, ``publish``) to the :class:`RepositoryError` its next calls raise. They
make no AWS call and need no credentials.

They ship with the function because they implement its interfaces (``repositories``): a change to an
interface and to its fake is one change in one package. The handler never imports this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ops_common import fakes as shared
from ops_common import metric_names as m
from ops_common.delta_log import Commit, table_prefix
from ops_common.slots import SLOTS, SlotsParameterError, active_slot

from .repositories import Repositories, RepositoryError


def _location(bucket: str, prefix: str) -> tuple[str, str]:
    """(bucket, ``<prefix>/``): ``orders`` and ``orders/`` are one table, as on S3."""
    return bucket, table_prefix(prefix)


@dataclass(kw_only=True)
class FakeDeltaLogs(shared.FailingFake):
    """Delta logs by location: ``commits``: (bucket, ``<prefix>/``) -> the table's newest data commit (absent: no
    log).

    ``failing``: (bucket, ``<prefix>/``) -> what reading that table's log raises (a :class:`RepositoryError`,
    or ``DeltaLogError`` for a log that is not Delta); ``reads``: every location read, in order.
    """

    commits: dict[tuple[str, str], Commit] = field(default_factory=dict)
    failing: dict[tuple[str, str], Exception] = field(default_factory=dict)
    reads: list[tuple[str, str]] = field(default_factory=list)

    def commit(self, bucket: str, prefix: str, *, version: int, timestamp_ms: int) -> Commit:
        """Make ``version``, committed at ``timestamp_ms``, the newest data commit of the table at ``bucket/prefix``."""
        where = _location(bucket, prefix)
        self.commits[where] = Commit(table=where[1].rstrip("/"), version=version, timestamp_ms=timestamp_ms)
        return self.commits[where]

    def fail(self, bucket: str, prefix: str, error: Exception) -> None:
        """Reading the log of the table at ``bucket/prefix`` raises ``error``."""
        self.failing[_location(bucket, prefix)] = error

    def latest_commit(self, bucket: str, prefix: str) -> Commit | None:
        """From ``commits``; None when the location holds no log."""
        where = _location(bucket, prefix)
        self.reads.append(where)
        self._maybe_fail("latest_commit")
        if where in self.failing:
            raise self.failing[where]
        return self.commits.get(where)


@dataclass(kw_only=True)
class FakeSlotsParameter(shared.FailingFake):
    """``values``: parameter name -> its value (the JSON text, as in SSM); absent: the parameter does not exist.

    Read as ``read_active_slot`` reads it: a missing parameter or a failed read (``errors["active_slot"]``)
    is a ``SlotsParameterError`` from the :class:`RepositoryError`; a value is parsed by
    ``ops_common.slots.active_slot``. ``reads``: every parameter read, in order.
    """

    values: dict[str, str] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def activate(self, parameter: str, slot: str) -> None:
        """The value CloudFormation and the promotions write: ``slot`` active."""
        self.values[parameter] = json.dumps({"active": slot, "slots": dict.fromkeys(SLOTS, "")})

    def active_slot(self, parameter: str) -> str:
        """The parameter's active slot, or ``SlotsParameterError``."""
        self.reads.append(parameter)
        try:
            self._maybe_fail("active_slot")
        except RepositoryError as error:
            raise SlotsParameterError(
                parameter, f"cannot be read: {error.code or type(error).__name__}: {error}"
            ) from error
        if parameter not in self.values:
            missing = RepositoryError(f"parameter {parameter} not found", code="ParameterNotFound")
            raise SlotsParameterError(parameter, "does not exist") from missing
        return active_slot(parameter, self.values[parameter])


class FakeMetrics(shared.FakeMetrics):
    """``published``: (namespace, datum) of every data point, each checked against the metric catalog
    (``ops_common.fakes.FakeMetrics``), and what this function's tests ask of them."""

    def values(self, table: str) -> list[float]:
        """The published values whose ``Table`` dimension is ``table``."""
        return [datum.value for _, datum in self.published if datum.dimensions.get(m.TABLE) == table]


@dataclass(kw_only=True)
class FakeAws:
    """One fake of each repository; :meth:`repositories` is what the freshness check takes."""

    logs: FakeDeltaLogs = field(default_factory=FakeDeltaLogs)
    slots: FakeSlotsParameter = field(default_factory=FakeSlotsParameter)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)

    def repositories(self) -> Repositories:
        """The three fakes as the freshness check takes them."""
        return Repositories(logs=self.logs, slots=self.slots, metrics=self.metrics)
