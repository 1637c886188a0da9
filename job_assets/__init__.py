"""Spark jobs and everything they need, shipped to EMR Serverless as one archive.

Runs on the Python that emr-7.12.0 gives a job (3.9): keep to that syntax floor (ruff enforces it) and
import nothing beyond what a job has there: the standard library, Spark's ``pyspark`` and ``py4j``, and
``boto3`` from the release's ``pydeps.zip`` (docs/DEPLOYMENT.md, "The job environment on EMR";
tests/unit/test_emr_job_imports.py). ``deltalake``/``pyarrow`` are imported lazily, only by the delta-rs
engine, which EMR never runs; Delta's Python package is not used at all (docs/adr/0001).
"""

__version__ = "0.1.0"
