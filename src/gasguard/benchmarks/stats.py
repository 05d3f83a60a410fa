"""Percentiles of latency samples (nearest rank: every figure reported is a latency that occurred)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise_ms(samples_s: Sequence[float]) -> dict[str, Any]:
    """n, p50, p90, p99, max and mean of latencies given in seconds, reported in milliseconds."""
    values = sorted(samples_s)
    if not values:
        return {"n": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) * 1e3, 3),
        "p90_ms": round(percentile(values, 90) * 1e3, 3),
        "p99_ms": round(percentile(values, 99) * 1e3, 3),
        "max_ms": round(values[-1] * 1e3, 3),
        "mean_ms": round(sum(values) / len(values) * 1e3, 3),
    }
