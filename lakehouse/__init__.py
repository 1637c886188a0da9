"""The operator CLI, ``lakehouse``: the top layer, which may import every other package.

Local runs (runner, status, report), the AWS control plane (operate, dlq, promotion), the document
generators (catalog, dashboards export, lineage viewer, the architecture diagram) and the data generator.
Nothing below it imports it (docs/ARCHITECTURE.md; `make lint` enforces the layers).
"""
