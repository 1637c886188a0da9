"""What the functions' in-memory fakes share: errors injected per operation, and :class:`FakeMetrics`.

A fake that derives from :class:`FailingFake` can be told to fail: ``errors`` maps an operation (or
``operation:target``, e.g. a key) to the :class:`RepositoryError` its next calls raise, until removed. They
make no AWS call and need no credentials; like each function's own ``fakes``, the handlers never import this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ops_common.metrics import Datum, check_against_catalog
from ops_common.repositories import RepositoryError


@dataclass(kw_only=True)
class FailingFake:
    """A fake that raises, on demand, the :class:`RepositoryError` its ``errors`` give for an operation."""

    errors: dict[str, RepositoryError] = field(default_factory=dict)
    """Operation (or ``operation:target``) -> the error it raises (until removed)."""

    def _maybe_fail(self, operation: str, target: str | None = None) -> None:
        """Raise the error of ``operation:target`` (when a ``target`` is given), else of ``operation``, if any."""
        error = self.errors.get(f"{operation}:{target}") if target is not None else None
        error = error or self.errors.get(operation)
        if error is not None:
            raise error


@dataclass(kw_only=True)
class FakeMetrics(FailingFake):
    """``published``: (namespace, datum) of every data point, each checked against the metric catalog.

    ``errors["publish"]``: what publishing raises (after the catalog check, as ``put_metrics`` checks first).
    """

    published: list[tuple[str, Datum]] = field(default_factory=list)

    def publish(self, data: Sequence[Datum], *, namespace: str) -> None:
        """Recorded after the catalog check that ``put_metrics`` makes."""
        for datum in data:
            check_against_catalog(datum)
        self._maybe_fail("publish")
        self.published.extend((namespace, datum) for datum in data)
