"""The local lake: running the pipeline on this machine and looking at what it wrote.

:mod:`.runner` runs bronze, silver and gold on a local SparkSession (``lakehouse run``) and prints the run's
summary; :mod:`.status` lists a lake's tables, versions and last runs and a table's Delta commits
(``lakehouse status|history``, a local lake or a deployed environment's S3 lake); :mod:`.report` writes the
self-contained HTML report (``lakehouse report``); :mod:`.profile` profiles a table's columns (``lakehouse
profile``); :mod:`.notebook` is what the analysis notebooks import to read the lake, and runs them
(``python -m lakehouse.local.notebook``).
"""
