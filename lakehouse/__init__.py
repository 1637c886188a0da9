"""The operator CLI, ``lakehouse``: the top layer, which may import every other package.

One subpackage per concern: :mod:`.cli` wires the arguments (one module per command group) to the commands
of :mod:`.local` (local runs: runner, status, report, profile, the notebooks' reader), :mod:`.ops` (the
deployed environments: alarms, pipeline, metrics, the DLQ, env diff), :mod:`.promotion` (promotion: gates,
control planes, auditors, the write-audit-publish workflow), :mod:`.docs` and :mod:`.lineage` (the document
generators: data catalog, dashboards export, import diagram, lineage viewer) and :mod:`.generator` (the data
generator); :mod:`.toolchain` holds what ``make install`` provisions (Delta's jars, the EMR stand-in Python).
:mod:`.errors` (``UsageError``) and :mod:`.checkout` (the checkout's ``cdk.json``) serve them all. Nothing
below it imports it (docs/ARCHITECTURE.md; `make lint` enforces the layers).
"""
