"""``gasguard bench load --workers N`` at a tiny size: real worker processes, PostgreSQL and a Mosquitto
of the benchmark's own started from docs/mosquitto/mosquitto-large-site.conf.

Only the accounting is asserted (every acknowledged reading decided and stored, zones shared, the
commissioning commands carried out); speed is reported by the benchmark, never asserted here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gasguard.benchmarks.databases import BenchUnavailable
from gasguard.benchmarks.defaults import DEFAULT_POSTGRES_URL
from gasguard.benchmarks.load_workers import bench_load_workers

pytestmark = pytest.mark.server

POSTGRES_URL = os.environ.get("GASGUARD_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
LARGE_SITE_CONF = Path(__file__).resolve().parents[2] / "docs" / "mosquitto" / "mosquitto-large-site.conf"


@pytest.mark.slow  # about 40 s: two worker processes, a broker, a generator and 8 operator commands
@pytest.mark.timeout(300)
def test_balanced_load_across_two_workers_loses_nothing_and_reports_each_worker() -> None:
    try:
        result = bench_load_workers(
            channels=40,
            per_zone=10,
            rate=2.0,
            minutes=0.1,
            workers=2,
            postgres_url=POSTGRES_URL,
            mosquitto_conf=LARGE_SITE_CONF,
        )
    except BenchUnavailable as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    assert result["zones"] == 4 and result["acknowledged"] == result["published"] > 0
    assert result["drained"] and result["lost"] == 0
    assert result["decided"] == result["stored"] == result["acknowledged"]
    assert result["commissioning"]["failed_count"] == 0 and result["commissioning"]["commands"] == 8
    assert sorted(w["zones"] for w in result["per_worker"]) == [2, 2]
    assert sum(w["decided"] for w in result["per_worker"]) == result["decided"]
    assert all(w["latency_window"]["n"] > 0 and w["rss_mib"] for w in result["per_worker"])
    assert result["latency_window"]["p99_ms"] is not None
