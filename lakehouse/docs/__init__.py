"""The document generators: committed files rendered from the code, each with a staleness test.

:mod:`.catalog` writes the data catalog and glossary (``docs/data_catalog/``, ``lakehouse catalog``) from the
table contracts; :mod:`.dashboards` renders the dashboard model to CloudWatch bodies, Grafana JSON and
docs/METRICS.md (``lakehouse dashboards export``); :mod:`.architecture` draws the import diagram of
docs/ARCHITECTURE.md (``python -m lakehouse.docs.architecture``); :mod:`.generated` is what they share:
writing the owned files, listing the stale ones, ``--check``. The lineage viewer, a generator too, keeps its
own package, :mod:`lakehouse.lineage`. :mod:`.site` holds the MkDocs hooks of the documentation site
(``make docs``, ``mkdocs.yml``), which is built into ``build/site/`` and never committed.
"""
