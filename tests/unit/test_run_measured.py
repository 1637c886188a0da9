"""benchmarks.pipeline.run_measured: the benchmarks' runner and memory sampler, on real child processes."""

from __future__ import annotations

import sys
import threading

import pytest

from benchmarks.pipeline import run_measured

LOUD = "import sys, time; sys.stderr.write('x' * 400_000); sys.stderr.flush(); time.sleep(0.6)"
"""Writes 400 KB to stderr, then lives long enough to be sampled (the sampler looks every 0.25 s)."""


def test_a_child_that_writes_more_than_a_pipe_holds_to_stderr_still_finishes() -> None:
    """The sampler used to pipe stderr and read it only at exit: a child writing over 64 KB blocked forever."""
    done: dict = {}
    runner = threading.Thread(target=lambda: done.setdefault("result", run_measured([sys.executable, "-c", LOUD])))
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "run_measured blocked on the child's stderr"
    took, peaks = done["result"]
    assert took > 0 and peaks["pss"] > 0 and peaks["total"] >= peaks["pss"] // 2


def test_a_failing_child_raises_with_the_tail_of_its_stderr() -> None:
    script = "import sys; sys.stderr.write('noise\\n' * 20_000 + 'the real reason'); sys.exit(3)"
    with pytest.raises(SystemExit) as failed:
        run_measured([sys.executable, "-c", script])
    message = str(failed.value)
    assert "failed (3)" in message and message.endswith("the real reason") and len(message) < 3_500
