"""In-memory repositories with the semantics of the AWS ones (``aws_repositories``), for tests of the logic.

Each keeps what was written in plain Python values and can be told to fail: ``errors`` maps an operation
(``add``, ``set``, ``token``, ``clear``, ``running_execution``, ``execution_error``, ``start``, ``publish``) to
the :class:`RepositoryError` its next calls raise. They make no AWS call and need no credentials.

They ship with the function because they implement its interfaces (``repositories``): a change to an
interface and to its fake is one change in one package. The handler never imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from ops_common import fakes as shared

from landing_intake.repositories import ManifestItem, Repositories, RepositoryError


@dataclass(kw_only=True)
class FakeManifestStore(shared.FailingFake):
    """``records``: (object_key, object_version) -> its item, written once: the table's key, so another version of
    an object key is another item. ``failing_keys``: object keys whose write raises."""

    records: dict[tuple[str, str], dict[str, str | int]] = field(default_factory=dict)
    failing_keys: dict[str, RepositoryError] = field(default_factory=dict)

    @property
    def items(self) -> dict[str, dict[str, str | int]]:
        """object_key -> the item of its latest recorded version (a view of ``records``)."""
        return {key: item for (key, _), item in self.records.items()}

    def add(self, item: ManifestItem) -> bool:
        """Written once per (``object_key``, ``object_version``), as DynamoDB's conditional PutItem."""
        self._maybe_fail("add")
        key = str(item["object_key"])
        if key in self.failing_keys:
            raise self.failing_keys[key]
        record = (key, str(item["object_version"]))
        if record in self.records:
            return False
        self.records[record] = dict(item)
        return True


@dataclass(kw_only=True)
class FakePendingMarker(shared.FailingFake):
    """``item``: the marker (``pending_token``, ``updated_at``, ``since``), None when not set."""

    item: dict[str, str] | None = None
    sets: int = 0
    """How many times it was set."""

    def set(self, token: str, stamp: str) -> None:
        """A new token; ``since`` kept while the marker stays set."""
        self._maybe_fail("set")
        since = self.item["since"] if self.item else stamp
        self.item = {"pending_token": token, "updated_at": stamp, "since": since}
        self.sets += 1

    def token(self) -> str | None:
        """The current token (reads are consistent here)."""
        self._maybe_fail("token")
        return self.item["pending_token"] if self.item else None

    def clear(self, token: str) -> bool:
        """Deleted only while the token is still ``token``."""
        self._maybe_fail("clear")
        if self.item is None or self.item["pending_token"] != token:
            return False
        self.item = None
        return True


@dataclass(kw_only=True)
class FakePipeline(shared.FailingFake):
    """State machines' executions by name. ``running``: state machine ARN -> its RUNNING execution's ARN (the one
    the listing shows; it may be one that ended, as ListExecutions may still list it). ``failed``: execution
    ARN -> the error it failed with (what DescribeExecution reports).

    ``started``: the execution names this fake started, in order; ``ended``: names of executions that ended
    (starting one again is refused, as Step Functions refuses a used name); ``start_calls`` counts every
    :meth:`start`. ``before_start`` runs first in each :meth:`start` (e.g. another invocation setting the
    pending marker at that moment).
    """

    state_machine_arn: str
    running: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)
    before_start: Callable[[], None] | None = None
    start_calls: int = 0

    def running_execution(self, state_machine_arn: str, ignore: Collection[str] = ()) -> str | None:
        """From ``running``, unless ``ignore`` names it."""
        self._maybe_fail("running_execution")
        running = self.running.get(state_machine_arn)
        return None if running in ignore else running

    def execution_error(self, execution_arn: str) -> str:
        """From ``failed`` ("" for an execution not there)."""
        self._maybe_fail("execution_error")
        return self.failed.get(execution_arn, "")

    def start(self, name: str) -> str | None:
        """A RUNNING name is the same execution; an ended one is refused (None)."""
        self.start_calls += 1
        if self.before_start is not None:
            self.before_start()
        self._maybe_fail("start")
        if name in self.ended:
            return None
        arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
        if name not in self.started:
            self.started.append(name)
            self.running[self.state_machine_arn] = arn
        return arn


class FakeMetrics(shared.FakeMetrics):
    """``published``: (namespace, datum) of every data point, each checked against the metric catalog
    (``ops_common.fakes.FakeMetrics``), and what this function's tests ask of them."""

    def total(self, name: str) -> float:
        """The sum of the published values of metric ``name``."""
        return sum(datum.value for _, datum in self.published if datum.name == name)


@dataclass(kw_only=True)
class FakeAws:
    """One fake of each repository; :meth:`repositories` is what the batch logic takes."""

    state_machine_arn: str
    manifest: FakeManifestStore = field(default_factory=FakeManifestStore)
    pending: FakePendingMarker = field(default_factory=FakePendingMarker)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    pipeline: FakePipeline = field(init=False)

    def __post_init__(self) -> None:
        self.pipeline = FakePipeline(state_machine_arn=self.state_machine_arn)

    def repositories(self) -> Repositories:
        """The four fakes as the batch logic takes them."""
        return Repositories(manifest=self.manifest, pending=self.pending, pipeline=self.pipeline, metrics=self.metrics)
