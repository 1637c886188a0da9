"""What the intake asks of AWS, one small interface per concern, so its logic runs on any implementation.

* :class:`ManifestStore`: the intake manifest, one item per landing object version, written once.
* :class:`PendingMarker`: the marker that objects wait for a pipeline run (one item of the manifest table).
* :class:`PipelineStarter`: the lake writers' running executions and the pipeline start.
* :class:`MetricsPublisher`: the intake's CloudWatch data points.

:class:`Repositories` bundles the four. The boto3 implementations, which the handler wires, are in
``aws_repositories``; in-memory fakes with the same semantics, for tests of the logic, are in ``fakes``.
A failed call raises :class:`RepositoryError`; the expected outcomes of conditional writes (already
recorded, marker set again, execution name taken) are return values, not errors.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from ops_common import repositories as shared

ManifestItem = Mapping[str, str | int]
"""A manifest item as plain values: ``object_key`` and ``object_version`` (the key) and the object's facts."""


RepositoryError = shared.RepositoryError
"""A failed AWS call (``ops_common.repositories.RepositoryError``, shared by the functions)."""
MetricsPublisher = shared.MetricsPublisher
"""CloudWatch custom metrics (``ops_common.repositories.MetricsPublisher``)."""


class ManifestStore(Protocol):
    """The intake manifest."""

    def add(self, item: ManifestItem) -> bool:
        """Write ``item`` unless its key, ``object_key`` and ``object_version``, is recorded (another version of the
        same object key is another item). True: written now; False: already there."""
        ...


class PendingMarker(Protocol):
    """The pending marker: set while accepted objects wait for a pipeline run."""

    def set(self, token: str, stamp: str) -> None:
        """Set the marker to ``token`` at ``stamp``; ``since`` keeps the stamp of the first set still waiting."""
        ...

    def token(self) -> str | None:
        """The marker's token, or None when it is not set (a strongly consistent read)."""
        ...

    def clear(self, token: str) -> bool:
        """Delete the marker if its token is still ``token``. False: it was set again (it stays)."""
        ...


class PipelineStarter(Protocol):
    """The lake writers' executions, and the start of the pipeline's."""

    def running_execution(self, state_machine_arn: str, ignore: Collection[str] = ()) -> str | None:
        """The ARN of a RUNNING execution of ``state_machine_arn`` that is not in ``ignore``, or None.

        The listing is eventually consistent: an execution that just ended may still be listed RUNNING, so the
        caller names those it knows ended in ``ignore``.
        """
        ...

    def execution_error(self, execution_arn: str) -> str:
        """The ``error`` an ended execution failed with ("" when none), as DescribeExecution reports it."""
        ...

    def start(self, name: str) -> str | None:
        """Start the pipeline under the execution name ``name``: its execution ARN.

        Starting a name that is RUNNING is that same execution; None when the name belongs to an execution
        that already ended (a name is used once).
        """
        ...


@dataclass(frozen=True, kw_only=True)
class Repositories:
    """Everything the batch logic asks of AWS."""

    manifest: ManifestStore
    pending: PendingMarker
    pipeline: PipelineStarter
    metrics: MetricsPublisher
