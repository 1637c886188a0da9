"""Table engines. ``make_engine(spark, "auto")`` picks delta-spark where Delta's JVM classes load (EMR, and
local sessions: ``make install`` fetched the jars), otherwise delta-rs."""

from __future__ import annotations

from pyspark.sql import SparkSession

from .base import DuplicateKeyError, MergeResult, TableEngine, TableNotFoundError, Txn, WriteResult

ENGINES = ("auto", "delta-rs", "delta-spark")


class EngineUnavailableError(RuntimeError):
    """The requested engine cannot run here; the message says why."""


def make_engine(spark: SparkSession, name: str = "auto") -> TableEngine:
    """The table engine ``name`` on ``spark``: ``delta-spark``, ``delta-rs``, or ``auto`` (delta-spark when
    Delta's classes load in the JVM, as on EMR and locally after ``make install``; else delta-rs).

    Raises:
        ValueError: ``name`` is not an engine.
        EngineUnavailableError: ``delta-spark`` was asked for but Delta's jars are not on the classpath.

    Examples:
        >>> from job_assets.spark import local_session
        >>> engine = make_engine(local_session("example"), "auto")
        >>> engine.name
        'delta-spark'
    """
    if name not in ENGINES:
        raise ValueError(f"unknown table engine {name!r}: choose one of {', '.join(ENGINES)}")
    from .delta_spark import delta_classes_loadable

    if name == "delta-spark" or (name == "auto" and delta_classes_loadable(spark)):
        if not delta_classes_loadable(spark):
            raise EngineUnavailableError(
                "delta-spark: Delta's classes (io.delta.tables.DeltaTable) are not on the JVM classpath; on EMR they "
                "ship in /usr/share/aws/delta/lib (the application's spark.jars), locally `make install` fetches them"
            )
        from .delta_spark import DeltaSparkEngine

        return DeltaSparkEngine(spark)
    from .delta_rs import DeltaRsEngine

    try:  # the engine imports deltalake when it is made (EMR does not ship it)
        return DeltaRsEngine(spark)
    except ImportError as exc:
        raise EngineUnavailableError(f"delta-rs: the 'deltalake' package is not installed ({exc})") from exc


__all__ = [
    "ENGINES",
    "DuplicateKeyError",
    "EngineUnavailableError",
    "MergeResult",
    "TableEngine",
    "TableNotFoundError",
    "Txn",
    "WriteResult",
    "make_engine",
]
