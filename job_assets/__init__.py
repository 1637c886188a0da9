"""Spark jobs and everything they need, shipped to EMR Serverless as one archive.

Runs on the Python that emr-7.12.0 gives a job (3.9): keep to that syntax floor (ruff enforces it)
and import nothing beyond what EMR ships (pyspark, delta-spark, boto3). ``deltalake`` is imported
lazily, only by the delta-rs engine, which is the local default.
"""

__version__ = "0.1.0"
