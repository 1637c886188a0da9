"""Bronze -> Silver -> Gold in one process (the local runner; on AWS, Step Functions runs each job)."""

from __future__ import annotations

from typing import List, Optional, Sequence

from ..context import RunContext
from . import bronze, gold, silver
from .common import JobResult, Progress

JOBS = {"bronze": bronze.run, "silver": silver.run, "gold": gold.run}
LAYERS = tuple(JOBS)


def run_pipeline(
    ctx: RunContext, layers: Sequence[str] = LAYERS, progress: Optional[Progress] = None
) -> List[JobResult]:
    unknown = [x for x in layers if x not in JOBS]
    if unknown:
        raise ValueError(f"unknown layer(s) {', '.join(unknown)}; choose from {', '.join(LAYERS)}")
    return [JOBS[layer](ctx, progress) for layer in LAYERS if layer in layers]
