"""The table engine a writing recovery command uses, started only once the input has been checked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def start_engine(name: str) -> Any:
    """A local SparkSession and the table engine ``name`` (``auto``: delta-spark where its jars load), as
    ``lakehouse run`` starts them (:func:`lakehouse.local.runner.make_context`)."""
    from job_assets.engine import make_engine
    from job_assets.spark import local_session

    return make_engine(local_session("lakehouse-recovery"), name)


def engine_factory(name: str) -> Callable[[], Any]:
    """A callable that starts the engine when first called and returns the same one afterwards."""
    started: list[Any] = []

    def engine() -> Any:
        if not started:
            started.append(start_engine(name))
        return started[0]

    return engine
