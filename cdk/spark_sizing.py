"""The ``spark`` section of an environment's configuration: each job's Spark sizing on EMR Serverless, and the
application's optional pre-initialized capacity (docs/guides/EMR_SIZING.md).

Per job (``bronze``, ``silver``, ``gold``, ``maintenance``): the driver's and the executors' worker size
(vCPU, memory, disk), the dynamic-allocation bounds and the shuffle layout. The state machine passes a job's
settings in its ``SparkSubmitParameters`` (:meth:`JobSparkConfig.submit_parameters`); ``initial_capacity``
becomes the application's ``InitialCapacity``.

Worker sizes are EMR Serverless's (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/app-behavior.html,
"Supported worker configurations"): 1, 2, 4, 8 or 16 vCPU; memory from 2 GB per vCPU up to 8, 16, 30, 60 or
120 GB, in 1 GB steps up to 4 vCPU, 4 GB steps at 8 vCPU, 8 GB steps at 16 vCPU; 20 to 200 GB of disk.
``memory_gb`` is the worker's memory: Spark's heap plus its overhead (:func:`memory_split`), so what a job
asks for is exactly one supported worker size.

Shuffle: ``spark.sql.shuffle.partitions`` is fixed for a whole job, so it is set as an upper bound
(``shuffle.partitions``, at least one task per executor core at the largest allocation) and adaptive query
execution coalesces each shuffle's partitions at run time down to ``shuffle.advisory_partition_mb`` each,
from the bytes that shuffle actually wrote: the partition count follows the input size without the job
computing it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from job_assets.contracts.layout import JOBS

from .config_reader import ConfigError
from .config_reader import Section as _Section

SPARK_JOBS = JOBS
"""Every job a state machine runs (``stacks.orchestration``: the pipeline's three, the maintenance one)."""
WORKER_MEMORY_GB: Mapping[int, tuple[int, int, int]] = {
    1: (2, 8, 1),
    2: (4, 16, 1),
    4: (8, 30, 1),
    8: (16, 60, 4),
    16: (32, 120, 8),
}
"""vCPU -> (minimum GB, maximum GB, step GB) of a worker's memory (EMR Serverless's supported sizes)."""
WORKER_DISK_GB = (20, 200)
OVERHEAD_FACTOR = 0.1
OVERHEAD_MIN_MB = 384
"""Spark's default memory overhead, ``max(384 MB, 10 %)``; set explicitly so heap + overhead = the worker."""
ADVISORY_MB = (16, 1024)
MAX_EXECUTORS = 1000
MAX_SHUFFLE_PARTITIONS = 100_000


@dataclass(frozen=True, kw_only=True)
class WorkerSize:
    """One EMR Serverless worker: what a driver or an executor gets."""

    cores: int
    memory_gb: int
    disk_gb: int

    @property
    def cpu(self) -> str:
        """As CloudFormation writes it, e.g. ``4 vCPU``."""
        return f"{self.cores} vCPU"

    @property
    def memory(self) -> str:
        return f"{self.memory_gb} GB"

    @property
    def disk(self) -> str:
        return f"{self.disk_gb} GB"


@dataclass(frozen=True, kw_only=True)
class JobSparkConfig:
    """One job's Spark settings: worker sizes, dynamic allocation, shuffle."""

    job: str
    driver: WorkerSize
    executor: WorkerSize
    min_executors: int
    initial_executors: int
    max_executors: int
    shuffle_partitions: int
    """``spark.sql.shuffle.partitions``: the upper bound AQE coalesces from."""
    advisory_partition_mb: int
    """AQE's target size of a coalesced shuffle partition."""

    def spark_conf(self) -> dict[str, str]:
        """The Spark properties these settings become (EMR Serverless sizes each worker from them)."""
        conf: dict[str, str] = {}
        for role, size in (("driver", self.driver), ("executor", self.executor)):
            heap, overhead = memory_split(size.memory_gb)
            conf[f"spark.{role}.cores"] = str(size.cores)
            conf[f"spark.{role}.memory"] = f"{heap}m"
            conf[f"spark.{role}.memoryOverhead"] = f"{overhead}m"
            conf[f"spark.emr-serverless.{role}.disk"] = f"{size.disk_gb}G"
        conf.update(
            {
                "spark.dynamicAllocation.enabled": "true",
                "spark.dynamicAllocation.minExecutors": str(self.min_executors),
                "spark.dynamicAllocation.initialExecutors": str(self.initial_executors),
                "spark.dynamicAllocation.maxExecutors": str(self.max_executors),
                "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
                "spark.sql.adaptive.enabled": "true",
                "spark.sql.adaptive.coalescePartitions.enabled": "true",
                # true (the default) ignores the advisory size and keeps as many partitions as there are cores
                "spark.sql.adaptive.coalescePartitions.parallelismFirst": "false",
                "spark.sql.adaptive.advisoryPartitionSizeInBytes": f"{self.advisory_partition_mb}m",
            }
        )
        return conf

    def submit_parameters(self) -> str:
        """:meth:`spark_conf` as ``--conf key=value`` options of ``SparkSubmitParameters``."""
        return " ".join(f"--conf {key}={value}" for key, value in self.spark_conf().items())


@dataclass(frozen=True, kw_only=True)
class InitialCapacity:
    """Pre-initialized workers of the application (billed while it is started; released when it auto-stops)."""

    driver_workers: int
    driver: WorkerSize
    executor_workers: int
    executor: WorkerSize


@dataclass(frozen=True, kw_only=True)
class SparkConfig:
    jobs: Mapping[str, JobSparkConfig]
    initial_capacity: InitialCapacity | None


def memory_split(worker_gb: int) -> tuple[int, int]:
    """(heap MB, overhead MB) of a worker of ``worker_gb``: Spark's default overhead, the rest heap."""
    total = worker_gb * 1024
    overhead = max(OVERHEAD_MIN_MB, math.ceil(total * OVERHEAD_FACTOR))
    return total - overhead, overhead


def _worker(s: _Section) -> WorkerSize:
    cores = s.get("cores", int)
    if cores not in WORKER_MEMORY_GB:
        raise ConfigError(
            s.key("cores"), f"must be one of EMR Serverless's {tuple(WORKER_MEMORY_GB)} vCPU, got {cores}"
        )
    low, high, step = WORKER_MEMORY_GB[cores]
    memory = s.integer("memory_gb", minimum=low, maximum=high)
    if memory % step:
        raise ConfigError(s.key("memory_gb"), f"a {cores}-vCPU worker's memory goes in {step} GB steps, got {memory}")
    size = WorkerSize(
        cores=cores,
        memory_gb=memory,
        disk_gb=s.integer("disk_gb", minimum=WORKER_DISK_GB[0], maximum=WORKER_DISK_GB[1]),
    )
    s.close()
    return size


def _job(job: str, s: _Section) -> JobSparkConfig:
    driver = _worker(s.section("driver"))
    executor = _worker(s.section("executor"))
    low = s.integer("min_executors", minimum=0, maximum=MAX_EXECUTORS)
    initial = s.integer("initial_executors", minimum=0, maximum=MAX_EXECUTORS)
    high = s.integer("max_executors", minimum=1, maximum=MAX_EXECUTORS)
    if initial < low:
        raise ConfigError(s.key("initial_executors"), f"{initial} is below min_executors ({low})")
    if high < initial:
        raise ConfigError(s.key("max_executors"), f"{high} is below initial_executors ({initial})")
    partitions = s.integer("shuffle_partitions", minimum=1, maximum=MAX_SHUFFLE_PARTITIONS)
    if partitions < high * executor.cores:
        raise ConfigError(
            s.key("shuffle_partitions"),
            f"{partitions} leaves cores idle: at least max_executors x executor.cores ({high * executor.cores});"
            " adaptive execution only coalesces partitions, it never adds any",
        )
    cfg = JobSparkConfig(
        job=job,
        driver=driver,
        executor=executor,
        min_executors=low,
        initial_executors=initial,
        max_executors=high,
        shuffle_partitions=partitions,
        advisory_partition_mb=s.integer("advisory_partition_mb", minimum=ADVISORY_MB[0], maximum=ADVISORY_MB[1]),
    )
    s.close()
    return cfg


@dataclass(frozen=True, kw_only=True)
class Capacity:
    """The application's maximum capacity, as ``emr`` configures it."""

    vcpu: int
    memory_gb: int
    disk_gb: int


def _fits(key: str, what: str, workers: list[tuple[int, WorkerSize]], cap: Capacity) -> None:
    """Raise naming ``key`` when ``workers`` ((count, size) pairs) need more than the maximum capacity."""
    need = {
        "vCPU": (sum(n * w.cores for n, w in workers), cap.vcpu, "emr.max_vcpu"),
        "GB of memory": (sum(n * w.memory_gb for n, w in workers), cap.memory_gb, "emr.max_memory_gb"),
        "GB of disk": (sum(n * w.disk_gb for n, w in workers), cap.disk_gb, "emr.max_disk_gb"),
    }
    for unit, (total, limit, setting) in need.items():
        if total > limit:
            raise ConfigError(key, f"{what} needs {total} {unit}, more than the application's {setting} ({limit})")


def _initial_capacity(s: _Section, jobs: Mapping[str, JobSparkConfig], cap: Capacity) -> InitialCapacity:
    driver, executor = s.section("driver"), s.section("executor")
    cfg = InitialCapacity(
        driver_workers=driver.integer("workers", minimum=1),
        driver=_worker_of(driver),
        executor_workers=executor.integer("workers", minimum=0),
        executor=_worker_of(executor),
    )
    s.close()
    for role, size in (("driver", cfg.driver), ("executor", cfg.executor)):
        if all(getattr(job, role) != size for job in jobs.values()):
            raise ConfigError(
                s.key(role), f"matches no job's {role} size: pre-initialized workers of another size are never used"
            )
    workers = [(cfg.driver_workers, cfg.driver), (cfg.executor_workers, cfg.executor)]
    _fits(s.path, "the initial capacity", workers, cap)
    return cfg


def _worker_of(s: _Section) -> WorkerSize:
    """A worker size inside a section that also holds ``workers`` (read before)."""
    raw = {k: v for k, v in s.raw.items() if k != "workers"}
    return _worker(_Section(raw, s.path))


def parse_spark(s: _Section, cap: Capacity) -> SparkConfig:
    """The ``spark`` section: every job of :data:`SPARK_JOBS`, each fitting under the maximum capacity ``cap``
    at its largest allocation (one job runs at a time: the single-writer guard), and ``initial_capacity``
    (``false`` for none: CDK context drops ``null`` values)."""
    jobs: dict[str, JobSparkConfig] = {}
    for job in SPARK_JOBS:
        section = s.section(job)
        jobs[job] = cfg = _job(job, section)
        workers = [(1, cfg.driver), (cfg.max_executors, cfg.executor)]
        _fits(section.key("max_executors"), f"the {job} job at max_executors ({cfg.max_executors})", workers, cap)
    s.read.add("initial_capacity")
    raw_initial = s.raw.get("initial_capacity")
    if raw_initial is False:
        initial = None
    elif isinstance(raw_initial, Mapping):
        initial = _initial_capacity(s.section("initial_capacity"), jobs, cap)
    else:
        raise ConfigError(s.key("initial_capacity"), f"expected false (none) or an object, got {raw_initial!r}")
    s.close()
    return SparkConfig(jobs=jobs, initial_capacity=initial)
