"""The deployed platform's model, shared by the CDK stacks and the installed CLI: pure Python, no CDK.

``aws_names`` gives every AWS resource its physical name (so ``lakehouse dlq status --env prod`` finds what
``cdk deploy -c env=prod`` created without reading stack outputs); ``dashboards`` lays out the dashboards
from the metric catalog (the Observability stack deploys them, ``lakehouse dashboards export`` writes them).
It sits below ``cdk`` and above ``job_assets`` (docs/ARCHITECTURE.md), and is installed with the CLI, which
``cdk/`` and ``stacks/`` (the checkout's packages) are not.
"""
