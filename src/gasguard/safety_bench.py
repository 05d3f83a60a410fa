"""Benchmark of the safety core: readings per second and per-reading latency through ``step``.

The plant is three zones of two channels, with noisy readings around a few %LEL and an occasional
excursion through A1 and A2 so alarm, trip and valve paths are exercised too, not only the fast path.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from typing import Any

from gasguard.domain import Reading, Tick
from gasguard.safety.interlock import running_start, step
from gasguard.safety.spec import ChannelSpec, PlantSpec, ValveSpec, ZoneSpec


def _spec() -> PlantSpec:
    zones = []
    for z in range(3):
        zid = f"z{z}"
        channels = tuple(
            ChannelSpec(
                id=f"{zid}-c{c}",
                zone=zid,
                gas="methane",
                scale=0.002,
                offset=0.0,
                valid_min=0,
                valid_max=50_000,
                flatline_s=600,
            )
            for c in range(2)
        )
        zones.append(ZoneSpec(id=zid, channels=channels, valves=(ValveSpec(id=f"{zid}-v", zone=zid),)))
    return PlantSpec(zones=tuple(zones))


def _trace(n: int, seed: int = 1) -> list[Reading]:
    rng = random.Random(seed)
    channels = [f"z{z}-c{c}" for z in range(3) for c in range(2)]
    out = []
    for i in range(n):
        ppm = 1500 + rng.gauss(0, 80)
        if i % 50_000 > 49_000:  # a leak excursion to ~24 %LEL now and then
            ppm = 12_000 + rng.gauss(0, 200)
        out.append(Reading(channels[i % len(channels)], ppm, i * 0.01))
    return out


def run_safety_bench(readings: int = 300_000, latency_samples: int = 100_000) -> dict[str, Any]:
    """Measure throughput (one core, no per-call timing) and latency percentiles (timed per call)."""
    spec = _spec()
    trace = _trace(readings)
    state = running_start(spec, 0.0)
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for r in trace:
            step(state, r, r.ts)
        elapsed = time.perf_counter() - start
        state = running_start(spec, 0.0)
        samples = []
        clock = time.perf_counter_ns
        tick = Tick()
        for i, r in enumerate(trace[:latency_samples]):
            t0 = clock()
            step(state, r, r.ts)
            samples.append(clock() - t0)
            if i % 50 == 0:
                step(state, tick, r.ts)
    finally:
        gc.enable()
    samples.sort()
    n = len(samples)
    return {
        "readings": readings,
        "readings_per_s": round(readings / elapsed),
        "p50_us": round(samples[n // 2] / 1000, 2),
        "p99_us": round(samples[int(n * 0.99)] / 1000, 2),
        "max_us": round(samples[-1] / 1000, 2),
        "mean_us": round(statistics.fmean(samples) / 1000, 2),
        "targets": {"readings_per_s": 200_000, "p99_us": 50},
    }
