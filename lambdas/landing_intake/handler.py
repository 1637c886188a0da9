"""Lambda entry point (``landing_intake.handler.handler``): SQS batch in, partial batch response out."""

from __future__ import annotations

import os
from typing import Any

from ops_common.tracing import init_tracing, traced_handler

from landing_intake.intake import Settings, process_batch

init_tracing()


@traced_handler("landing-intake")
def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    return process_batch(event, context, Settings.from_env(os.environ))
