"""The arithmetic under every reported figure: percentiles, targets, references, the results table."""

from __future__ import annotations

import pytest

from gasguard.benchmarks.figures import ALARM_CYCLE, Figure, Reference
from gasguard.benchmarks.stats import percentile, summarise_ms
from gasguard.benchmarks.suite import format_table


def test_nearest_rank_percentiles_are_samples_that_occurred() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_latencies_are_summarised_in_milliseconds() -> None:
    summary = summarise_ms([0.004, 0.001, 0.002, 0.003])
    assert summary == {"n": 4, "p50_ms": 2.0, "p90_ms": 4.0, "p99_ms": 4.0, "max_ms": 4.0, "mean_ms": 2.5}
    assert summarise_ms([])["p99_ms"] is None


def test_a_figure_knows_whether_it_meets_its_target_and_beats_its_reference() -> None:
    fast = Figure("x.p99", "latency", 40.0, "ms", 100, "lower", ALARM_CYCLE)
    slow = Figure("x.p99", "latency", 600.0, "ms", 100, "lower", ALARM_CYCLE)
    rate = Figure("x.rate", "rate", 50.0, "readings/s", 100, "higher")
    assert (fast.meets_target, fast.beats_reference) == (True, True)
    assert (slow.meets_target, slow.beats_reference) == (False, False)
    assert (rate.meets_target, rate.beats_reference) == (False, None)
    other_unit = Figure("x", "x", 1.0, "s", None, "lower", Reference(1, "ms", "w", "s", "commercial"))
    assert (other_unit.meets_target, other_unit.beats_reference) == (None, None)


def test_the_table_shows_each_figure_its_target_and_what_it_is_held_against() -> None:
    results = {
        "figures": [Figure("e2e.p99", "trip latency p99", 0.4, "ms", 10, "lower", ALARM_CYCLE).to_json()],
        "sections": {"e2e": {"status": "ok"}, "ingest_postgres": {"status": "skipped", "reason": "no server"}},
    }
    table = format_table(results).splitlines()
    assert table[2].startswith("| trip latency p99 | 0.4 ms | <= 10 | 500 ms: alarm evaluation cycle")
    assert table[2].endswith("| meets target |")
    assert table[3] == "| ingest_postgres | skipped: no server | | | |"
