"""The in-process benchmarks at tiny sizes: they run the real path and count what they claim to count."""

from __future__ import annotations

import os

from gasguard.benchmarks.e2e import bench_e2e_inprocess
from gasguard.benchmarks.ingest import bench_ingest
from gasguard.benchmarks.procstat import cpu_seconds, peak_rss_mib, rss_mib


def test_every_timed_trip_reached_the_valve_driver() -> None:
    result = bench_e2e_inprocess(trips=3)
    assert (result["trips"], result["n"]) == (3, 3)
    assert 0 < result["p50_ms"] <= result["max_ms"]


def test_ingest_counts_every_reading_back_from_the_database() -> None:
    result = bench_ingest("sqlite", readings=2_000, channels=20)
    assert (result["readings"], result["rows_in_database"], result["lost"], result["dropped"]) == (2000, 2000, 0, 0)
    assert result["channels"] == 20
    assert result["stored_readings_per_s"] > 0


def test_process_figures_come_from_proc() -> None:
    assert rss_mib() is not None and rss_mib() > 0  # type: ignore[operator]
    assert peak_rss_mib() >= rss_mib()  # type: ignore[operator]
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    assert cpu_seconds(os.getpid()) >= before  # type: ignore[operator]
