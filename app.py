#!/usr/bin/env python3
"""CDK entry point: ``cdk synth -c env=dev`` (the default), ``-c env=staging|prod``, or ``-c env=all``.

This is the only module that reads CDK context. Configuration errors stop synth with the offending key.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import App

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the repo's cdk/, stacks/ and job_assets/

from cdk.compliance import add_compliance_checks
from cdk.config import ConfigError, load_config
from stacks.environment import build_environment


def main() -> None:
    app = App()
    try:
        config = load_config(app.node.try_get_context("lakehouse"))
        environments = config.select(str(app.node.try_get_context("env") or "dev"))
    except ConfigError as error:
        sys.exit(f"lakehouse configuration error: {error}")
    for environment in environments:
        build_environment(app, environment)
    add_compliance_checks(app)
    app.synth()


if __name__ == "__main__":
    main()
