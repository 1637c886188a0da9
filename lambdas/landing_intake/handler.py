"""Lambda entry point (``landing_intake.handler.handler``): SQS batch in, partial batch response out."""

from __future__ import annotations

import os
from typing import Any

from ops_common.tracing import init_tracing, traced_handler

from landing_intake.aws_repositories import aws_repositories
from landing_intake.intake import Settings, process_batch

init_tracing()


@traced_handler("landing-intake")
def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    settings = Settings.from_env(os.environ)
    return process_batch(event, context, settings, repositories=aws_repositories(settings))
