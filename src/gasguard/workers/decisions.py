"""How long readings take from the detector to the safety decision in a worker, kept as a histogram.

Why a histogram of fixed buckets and not a list of latencies: a worker runs for months, and the figure
must be readable from outside the process (``/api/v1/health`` of the worker) and added up across
workers. Fixed buckets (20 per decade, so about 12 % wide, with edges at exactly 1, 10 and 100 ms;
0.1 ms to 17 min) make two readings of the counters subtract
into the histogram of the interval between them, and several workers' histograms add into the
site's; a percentile read from them is the upper edge of its bucket, so it errs on the slow side by
at most one bucket.

The latency is the decision time on this machine's clock minus the reading's own timestamp (the
device's send time): meaningful when the device's clock is synchronised with the worker's (NTP), and
exact for the load benchmark, whose generator runs on the same machine.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gasguard.domain import Output, Reading

FIRST_EDGE_MS = 0.1
STEPS_PER_DECADE = 20
BUCKETS = STEPS_PER_DECADE * 7  # up to 0.1 ms * 10**7 (17 min): anything slower lands in the last bucket


def bucket_of(latency_ms: float) -> int:
    """The bucket index of a latency: bucket ``i`` holds latencies up to ``upper_edge_ms(i)``.

    >>> bucket_of(0.05), bucket_of(0.1), round(upper_edge_ms(bucket_of(100.0)), 1)
    (0, 0, 100.0)
    """
    if latency_ms <= FIRST_EDGE_MS:
        return 0
    index = math.ceil(STEPS_PER_DECADE * math.log10(latency_ms / FIRST_EDGE_MS) - 1e-9)
    return min(index, BUCKETS - 1)


def upper_edge_ms(index: int) -> float:
    return float(FIRST_EDGE_MS * 10 ** (index / STEPS_PER_DECADE))


class DecisionLatency:
    """A runtime observer: counts each decided reading per zone and files its latency in a bucket."""

    def __init__(self, zone_of: Callable[[str], str | None], clock: Callable[[], float] = time.time) -> None:
        self._zone_of = zone_of
        self._clock = clock
        self.buckets = [0] * BUCKETS
        self.by_zone: Counter[str] = Counter()
        self.count = 0
        self.max_ms = 0.0

    def __call__(self, item: Reading | Output) -> None:
        if not isinstance(item, Reading):
            return
        latency_ms = max(0.0, (self._clock() - item.ts) * 1000.0)
        self.buckets[bucket_of(latency_ms)] += 1
        self.count += 1
        self.max_ms = max(self.max_ms, latency_ms)
        zone = self._zone_of(item.channel)
        if zone is not None:
            self.by_zone[zone] += 1

    def to_json(self) -> dict[str, Any]:
        """Counters since the worker started (a reader subtracts two of these for an interval)."""
        return {
            "decided": self.count,
            "by_zone": dict(self.by_zone),
            "max_ms": round(self.max_ms, 2),
            "buckets": {str(i): n for i, n in enumerate(self.buckets) if n},
            **summarise(self.buckets),
        }


def histogram(data: Mapping[str, int]) -> list[int]:
    """A ``to_json()["buckets"]`` mapping back as a full list of bucket counts."""
    counts = [0] * BUCKETS
    for index, n in data.items():
        counts[int(index)] += int(n)
    return counts


def combine(histograms: Iterable[list[int]], minus: Iterable[list[int]] = ()) -> list[int]:
    """The sum of ``histograms`` less the sum of ``minus`` (earlier readings of the same counters)."""
    total = [0] * BUCKETS
    for counts in histograms:
        total = [a + b for a, b in zip(total, counts, strict=True)]
    for counts in minus:
        total = [a - b for a, b in zip(total, counts, strict=True)]
    return total


def percentile_ms(counts: list[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) as its bucket's upper edge, ms; ``None`` for an empty histogram.

    >>> counts = [0] * BUCKETS; counts[bucket_of(5.0)] = 99; counts[bucket_of(80.0)] = 1
    >>> round(percentile_ms(counts, 0.5), 1), round(percentile_ms(counts, 0.995), 1)
    (5.0, 89.1)
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    running = 0
    for index, n in enumerate(counts):
        running += n
        if running >= rank:
            return upper_edge_ms(index)
    return upper_edge_ms(BUCKETS - 1)


def summarise(counts: list[int]) -> dict[str, Any]:
    """Count, p50 and p99 of a histogram (ms, rounded to 0.1)."""
    p50, p99 = percentile_ms(counts, 0.5), percentile_ms(counts, 0.99)
    return {
        "n": sum(counts),
        "p50_ms": None if p50 is None else round(p50, 1),
        "p99_ms": None if p99 is None else round(p99, 1),
    }
