"""The local toolchain that ``make install`` provisions, run as ``python -m lakehouse.toolchain.<module>``.

:mod:`.jars` resolves Delta Lake's and hadoop-aws' jars with the machine's Maven, checks each against its
pinned SHA-256 and keeps them in ``.jars/`` for the local SparkSession; :mod:`.emr_python` builds the bare
CPython 3.9 that stands in for EMR Serverless' image Python, on which the archive tests run the jobs. Nothing
here runs a command of the ``lakehouse`` CLI: these are set-up steps before it can. :mod:`.smoke` is the check
after them (``make dev``): the venv, the CLI (its ``--help`` only), Java, the jars, Node.js and the CDK CLI.
"""
