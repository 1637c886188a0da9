"""Where a 1 % re-delivery's re-run spends its CPU, by thread (issue 19, D2 and D3: what bounds the re-run).

Generates a base landing set (seed 42, 1 % bad), runs ``lakehouse run`` on it, delivers a 1 % re-delivery
(recency-skewed, the generator's default) and re-runs, sampling every thread of the re-run's process tree from
``/proc/<pid>/task/<tid>/stat`` every 0.25 s (user + system ticks, the thread's name from ``comm``). A thread's
last sample is its CPU; threads are grouped by what they do:

- **executor tasks**: Spark's task threads (``Executor task launch worker``): scanning, joining, writing;
- **driver (planning, Delta)**: the JVM's other Java threads, py4j's among them: analysing, optimising and
  code-generating each query, Delta's snapshot and commit protocol;
- **GC**, **JIT** (C1/C2 compiler threads), **JVM other** (VM thread, sweeper, signal);
- **Python driver** (``lakehouse run`` itself) and **Python workers** (the landing parse, Python UDFs).

``--conf spark.KEY=VALUE`` (repeatable) goes to both runs (e.g. deletion vectors). Nothing is asserted; the
figures go to docs/BENCHMARKS.md ("Incremental re-runs").

    python benchmarks/rerun_profile.py [--records 1000000] [--conf spark.KEY=VALUE] [--workdir .bench/rerun]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import churn, layer_seconds, silver_state  # noqa: E402
from benchmarks.pipeline import run_command  # noqa: E402
from lakehouse.generator import generate  # noqa: E402

SEED, BAD_RATIO = 42, 0.01
TICK = os.sysconf("SC_CLK_TCK")
GROUPS = (
    ("executor tasks", ("Executor task",)),
    ("GC", ("GC Thread", "G1 ", "VM Periodic")),
    ("JIT", ("C1 Compiler", "C2 Compiler")),
    ("JVM other", ("VM Thread", "Sweeper", "Signal", "Reference Handl", "Finalizer", "Common-Cleaner")),
)


def group(process: str, thread: str) -> str:
    """The group of thread ``thread`` (its ``comm``, 15 characters) of a process named ``process``."""
    if process != "java":
        return "Python driver" if "lakehouse.cli" in process else "Python workers"
    for name, prefixes in GROUPS:
        if thread.startswith(prefixes):
            return name
    return "driver (planning, Delta)"


def _thread_seconds(pid: int) -> dict[tuple[int, str], float]:
    """CPU seconds of each thread of ``pid``: (tid, name) -> user + system."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (task / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            out[(int(task.name), name)] = (int(fields[11]) + int(fields[12])) / TICK
    return out


class ThreadSampler:
    """Per-thread CPU seconds of a process tree, sampled until stopped (a thread keeps its last sample)."""

    def __init__(self, root_pid: int) -> None:
        self.root = psutil.Process(root_pid)
        self.seen: dict[tuple[int, int, str], tuple[str, float]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(psutil.Error):
                for p in [self.root, *self.root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error, OSError):
                        label = "java" if p.name() == "java" else " ".join(p.cmdline()[:4])
                        for (tid, name), s in _thread_seconds(p.pid).items():
                            self.seen[(p.pid, tid, name)] = (label, s)
            self.stop.wait(0.25)

    def top_java_threads(self, n: int = 8) -> dict[str, float]:
        """The JVM's CPU seconds by thread name (digits dropped, so a pool's threads add up), the ``n`` largest."""
        out: dict[str, float] = {}
        for (_, _, name), (label, s) in self.seen.items():
            if label == "java":
                key = "".join(c for c in name if not c.isdigit()).strip(" -#")
                out[key] = out.get(key, 0.0) + s
        return {k: round(v, 1) for k, v in sorted(out.items(), key=lambda kv: -kv[1])[:n]}

    def groups(self) -> dict[str, float]:
        """CPU seconds per group, largest first."""
        out: dict[str, float] = {}
        for (_, _, name), (label, s) in self.seen.items():
            out[group(label, name)] = out.get(group(label, name), 0.0) + s
        return {k: round(v, 1) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}


def profiled_run(cmd: list[str]) -> tuple[float, dict[str, float], dict[str, float]]:
    """Run ``cmd`` with its threads sampled: (wall seconds, CPU seconds per group, the JVM's top threads)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = ThreadSampler(proc.pid)
    sampler.thread.start()
    _, err = proc.communicate()
    sampler.stop.set()
    sampler.thread.join()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return time.perf_counter() - t0, sampler.groups(), sampler.top_java_threads()


def main() -> int:
    """Base, full run, 1 % re-delivery, profiled re-run; print both runs' split and the re-run's churn."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--conf", action="append", default=[], metavar="spark.KEY=VALUE")
    p.add_argument("--workdir", default=str(ROOT / ".bench" / "rerun"))
    args = p.parse_args()
    lake = Path(args.workdir) / f"lake-{args.records}"
    shutil.rmtree(lake, ignore_errors=True)
    generate(lake, args.records, seed=SEED, bad_ratio=BAD_RATIO)
    conf = tuple(args.conf)
    result: dict = {"records": args.records, "spark_conf": list(conf), "load": round(os.getloadavg()[0], 1)}
    full_s, full, top = profiled_run(run_command(lake, "profile-full", conf))
    result["full"] = {"wall_s": round(full_s, 1), "cpu_s": round(sum(full.values()), 1), "by_group": full}
    result["full"]["java_threads"] = top
    result["full"]["layer_s"] = layer_seconds(lake, "profile-full")
    before = silver_state(lake)
    generate(lake, max(1000, args.records // 100), seed=SEED, bad_ratio=BAD_RATIO, increment=1)
    rerun_s, rerun, top = profiled_run(run_command(lake, "profile-rerun", conf))
    result["rerun"] = {"wall_s": round(rerun_s, 1), "cpu_s": round(sum(rerun.values()), 1), "by_group": rerun}
    result["rerun"]["java_threads"] = top
    result["rerun"]["layer_s"] = layer_seconds(lake, "profile-rerun")
    result["rerun"]["silver_churn_all"] = churn(lake, before)["all"]
    print(json.dumps(result), flush=True)
    for run in ("full", "rerun"):
        r = result[run]
        print(f"{run}: {r['wall_s']} s wall, {r['cpu_s']} CPU-s, layers {r['layer_s']}")
        for name, s in r["by_group"].items():
            print(f"  {name:<26} {s:>7.1f} CPU-s  {s / r['cpu_s']:>5.1%}")
        print("  JVM threads: " + ", ".join(f"{k} {v}" for k, v in r["java_threads"].items()))
    shutil.rmtree(lake, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
