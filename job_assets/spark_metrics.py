"""What a job run cost Spark: executor time, shuffle, spill and peak executor heap, from the driver's status store.

PySpark's status tracker has no shuffle, spill or memory figures and the REST API needs the UI (off in our
local sessions). The driver's ``AppStatusStore`` (the UI's and the REST API's source, kept whether or not
the UI runs) holds every stage's task metrics, and each stage's peak executor memory from the executors'
heartbeats. :func:`stage_watermark` is taken when a job starts, :func:`collect` reads the stages submitted
since, newest first (the store lists them in reverse order, so the walk stops at the watermark: a long
local session with hundreds of earlier stages costs nothing extra). A listener on the driver's event bus
writes the store on its own thread, so both first wait for the bus to deliver what was posted so far: an
action that has just returned may not be in the store yet (its last stage missing, or without its figures).

A job runs alone in its session (one job per EMR job run; one after another locally), so the stages since
the watermark are that job's. The store keeps the last ``spark.ui.retainedStages`` stages (1,000 by
default): a job with more reports the retained ones (``stages`` says how many were read).

Collecting never fails the job: on any error the figures are ``None`` and the reason is logged.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

log = logging.getLogger("lakehouse.spark_metrics")

HEAP_METRIC = "JVMHeapMemory"
"""The executor metric read as peak executor memory (Spark's ``ExecutorMetricType``)."""
LISTENER_WAIT_MS = 10_000
"""How long to wait for the listener bus to deliver the events posted so far (Spark's own default wait)."""


@dataclass(frozen=True)
class SparkMetrics:
    """One job run's Spark figures (sums over its stages, but the peak)."""

    stages: int
    executor_run_time_s: float
    """Task run time summed over every task of every stage: the executors' busy seconds."""
    executor_cpu_time_s: float
    shuffle_read_bytes: int
    shuffle_write_bytes: int
    spill_memory_bytes: int
    """Deserialized size of the data spilled (Spark's "spill (memory)")."""
    spill_disk_bytes: int
    """Bytes the spills wrote to disk (Spark's "spill (disk)")."""
    peak_executor_heap_bytes: int
    """Largest JVM heap one executor used during the run's stages, from the executors' heartbeats (every 10 s);
    a run with none: the executors' peaks over their lifetime (locally: the JVM's heap since it started)."""

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _store(spark: Any) -> Any:
    return spark.sparkContext._jsc.sc().statusStore()


def _drain_listener_bus(sc: Any) -> None:
    """Wait until the listener bus delivered every event posted so far (the status store is updated from it on
    its own thread); a bus still busy after :data:`LISTENER_WAIT_MS` is logged and the store read as it is."""
    try:
        sc._jsc.sc().listenerBus().waitUntilEmpty(LISTENER_WAIT_MS)
    except Exception as error:
        log.warning("spark metrics: listener bus not drained: %s: %s", type(error).__name__, error)


def _stage_list(spark: Any) -> Any:
    """Every retained stage, newest first (``AppStatusStore.stageList`` with its Scala defaults spelled out), once
    the events posted so far are in the store."""
    sc = spark.sparkContext
    _drain_listener_bus(sc)
    no_quantiles = sc._gateway.new_array(sc._jvm.double, 0)
    return _store(spark).stageList(None, False, False, no_quantiles, sc._jvm.java.util.ArrayList())


def stage_watermark(spark: Any) -> int:
    """The id of the newest stage so far (-1: none): what :func:`collect` counts from. Never raises."""
    try:
        stages = _stage_list(spark)
        return stages.apply(0).stageId() if stages.size() else -1
    except Exception as error:  # a figure lost is not a failed run
        log.warning("spark metrics: no stage watermark: %s: %s", type(error).__name__, error)
        return -1


def _peak_heap(stage: Any) -> int:
    peaks = stage.peakExecutorMetrics()
    return int(peaks.get().getMetricValue(HEAP_METRIC)) if peaks.isDefined() else 0


def _executors_peak_heap(spark: Any) -> int:
    """The executors' (not the driver's, unless it is the only one: local mode) peak heap over their lifetime."""
    executors = _store(spark).executorList(False)
    peaks = {}
    for i in range(executors.size()):
        executor = executors.apply(i)
        metrics = executor.peakMemoryMetrics()
        if metrics.isDefined():
            peaks[executor.id()] = int(metrics.get().getMetricValue(HEAP_METRIC))
    remote = [v for k, v in peaks.items() if k != "driver"]
    if remote or not spark.sparkContext.master.startswith("local"):
        return max(remote or peaks.values() or [0])
    return max(peaks.get("driver", 0), _jvm_peak_heap(spark))


def _jvm_peak_heap(spark: Any) -> int:
    """Local mode, where the driver's JVM is the executor: its heap pools' peak usage since the JVM started."""
    pools = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getMemoryPoolMXBeans()
    return sum(int(p.getPeakUsage().getUsed()) for p in pools if str(p.getType().name()) == "HEAP")


def collect(spark: Any, since: int) -> Optional[SparkMetrics]:
    """The figures of the stages newer than ``since`` (:func:`stage_watermark`); ``None`` when the store cannot
    be read. Never raises."""
    try:
        return _collect(spark, since)
    except Exception as error:  # a figure lost is not a failed run
        log.warning("spark metrics not collected: %s: %s", type(error).__name__, error)
        return None


def _collect(spark: Any, since: int) -> SparkMetrics:
    stages = _stage_list(spark)
    totals = dict.fromkeys(("run_ms", "cpu_ns", "read", "write", "spill_memory", "spill_disk"), 0)
    count, peak = 0, 0
    for i in range(stages.size()):
        stage = stages.apply(i)
        if stage.stageId() <= since:
            break
        count += 1
        totals["run_ms"] += stage.executorRunTime()
        totals["cpu_ns"] += stage.executorCpuTime()
        totals["read"] += stage.shuffleReadBytes()
        totals["write"] += stage.shuffleWriteBytes()
        totals["spill_memory"] += stage.memoryBytesSpilled()
        totals["spill_disk"] += stage.diskBytesSpilled()
        peak = max(peak, _peak_heap(stage))
    if count and not peak:  # no heartbeat during the stages: the executors' own peaks
        peak = _executors_peak_heap(spark)
    return SparkMetrics(
        stages=count,
        executor_run_time_s=round(totals["run_ms"] / 1000.0, 3),
        executor_cpu_time_s=round(totals["cpu_ns"] / 1e9, 3),
        shuffle_read_bytes=totals["read"],
        shuffle_write_bytes=totals["write"],
        spill_memory_bytes=totals["spill_memory"],
        spill_disk_bytes=totals["spill_disk"],
        peak_executor_heap_bytes=peak,
    )
