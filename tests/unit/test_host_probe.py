"""benchmarks.host: the host-speed probe the benchmarks print beside their figures."""

from __future__ import annotations

from benchmarks.host import host_probe, probe_once


def test_the_probe_times_real_work_and_reports_its_fastest_and_median_round() -> None:
    once = probe_once()
    assert 0.01 < once < 30  # about 0.1-0.2 s on the project's machines; never instant: the work is done
    probe = host_probe(rounds=3)
    assert set(probe) == {"min_s", "median_s"} and 0 < probe["min_s"] <= probe["median_s"]
