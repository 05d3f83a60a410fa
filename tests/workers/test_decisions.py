"""The reading -> decision histogram a worker keeps: buckets, percentiles, and readings of its counters
that subtract into an interval and add up across workers (what ``bench load --workers`` relies on)."""

from __future__ import annotations

import doctest

import gasguard.workers.balance
import gasguard.workers.decisions
from gasguard.domain import Reading
from gasguard.workers.decisions import DecisionLatency, combine, histogram, summarise


def test_the_docstring_examples_hold() -> None:
    assert doctest.testmod(gasguard.workers.decisions).failed == 0
    assert doctest.testmod(gasguard.workers.balance).failed == 0


def test_latency_is_counted_per_zone_and_windows_subtract_and_workers_add() -> None:
    now = [1000.0]
    zone_of = {"k-1": "kitchen", "b-1": "boiler"}.get
    a, b = DecisionLatency(zone_of, clock=lambda: now[0]), DecisionLatency(zone_of, clock=lambda: now[0])
    for _ in range(10):
        a(Reading("k-1", 100.0, now[0] - 0.004))  # decided 4 ms after it was sent
    start = a.to_json()
    for _ in range(99):
        a(Reading("k-1", 100.0, now[0] - 0.010))
    a(Reading("k-1", 100.0, now[0] - 0.500))
    b(Reading("b-1", 100.0, now[0] - 0.002))
    end = a.to_json()
    assert end["decided"] == 110 and end["by_zone"] == {"kitchen": 110}
    assert b.to_json()["by_zone"] == {"boiler": 1}
    window = combine([histogram(end["buckets"])], minus=[histogram(start["buckets"])])
    assert summarise(window) == {"n": 100, "p50_ms": 10.0, "p99_ms": 10.0}
    both = combine([histogram(end["buckets"]), histogram(b.to_json()["buckets"])])
    assert summarise(both)["n"] == 111
    assert end["max_ms"] == 500.0
