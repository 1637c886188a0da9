"""Operating the deployed environments on AWS, from the operator's terminal.

:mod:`.operate` lists an environment's alarms with their runbooks, its pipeline's executions (and starts
one) and a catalog metric over the last hours (``lakehouse alarms|pipeline|metric``); :mod:`.dlq` shows the
landing intake's dead-letter queue and redrives it (``lakehouse dlq status|redrive``); :mod:`.envdiff`
compares two environments' settings and synthesized resources (``lakehouse env diff``, from the checkout's
``cdk.json`` and stacks, loaded only when the command runs). The incident commands the runbooks use:
:mod:`.logs` (``lakehouse logs``), :mod:`.traces` (``lakehouse traces``), :mod:`.executions`
(``pipeline describe|history|redrive``), :mod:`.jobruns` (``emr runs|cancel``), :mod:`.intake`
(``intake manifest``), :mod:`.events` (``events rules|failed``), :mod:`.replication`
(``replication status|retry``); :mod:`.common` holds what they share. Promotion between
environments has its own package, :mod:`lakehouse.promotion`.
"""
