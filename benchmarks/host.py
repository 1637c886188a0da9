"""How fast this host is right now: a fixed piece of single-threaded work, timed beside every benchmark run.

The machines these benchmarks run on share their cores with other tenants, and the same code on the same
landing set has taken 57.7 s one afternoon and 142.9 s the next evening (1M records, 2026-12-06/07). A wall
time means little without the speed of the host it was measured on, so the benchmarks time this probe just
before and just after each measured run and print it beside the figures (``host_probe_s``: the fastest of
:data:`ROUNDS` rounds, the host's speed at its best in that moment; the median says how steady it was).

The probe is CPython work (integer arithmetic, a JSON round trip, a sort, string formatting) on this
interpreter, with nothing read from disk and nothing allocated beyond a few MB: it follows the CPU and its
caches, as the pipeline's Python and JVM threads do, not the disk. Compare probes of one interpreter only.
"""

from __future__ import annotations

import json
import random
import statistics
import time

ROUNDS = 5
_RNG = random.Random(7)
_NUMBERS = [_RNG.random() for _ in range(60_000)]
_DOC = {"records": [{"id": i, "name": f"n{i}", "amount": i * 1.25, "tags": ["a", "b"]} for i in range(2_000)]}


def probe_once() -> float:
    """Seconds of one round of the fixed work (about 0.2 s on the quiet host of 2026-12-07)."""
    t0 = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i * i % 7
    for _ in range(5):
        json.loads(json.dumps(_DOC))
    sorted(_NUMBERS)
    "".join(f"{x:.6f}" for x in _NUMBERS[:20_000])
    took = time.perf_counter() - t0
    assert total > 0  # the loop's result is used
    return took


def host_probe(rounds: int = ROUNDS) -> dict[str, float]:
    """``{"min_s", "median_s"}`` of ``rounds`` probe rounds."""
    times = [probe_once() for _ in range(rounds)]
    return {"min_s": round(min(times), 3), "median_s": round(statistics.median(times), 3)}


if __name__ == "__main__":
    print(json.dumps(host_probe()))
