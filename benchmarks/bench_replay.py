"""What-if replay speed: stored readings streamed from SQLite through the pure safety core.

The issue's target: a week of 100 channels at 1 Hz (60 480 000 readings) replays in under 5 minutes
on SQLite. This script makes such a database (100 channels in 20 zones, noise around a drifting zero
and a leak in some zone every half hour or so, 1 Hz), then runs ``gasguard.maintenance.replay`` on it
with a proposed configuration and prints what it measured: readings/s, the time, and the time that
rate gives for 60 million readings. By default it makes a scaled run of 6 million readings (16.7 hours
of the 100 channels) and says so; ``--readings 60480000`` runs the full week (about 4 GB of disk and
several minutes just to write it). The database schema is made by the real migrations, so the replay
reads through the same indexes as in service.

    python benchmarks/bench_replay.py [--readings N] [--channels 100] [--keep PATH] [--json]

It prints numbers and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gasguard.maintenance.replay import run_replay, stream_readings
from gasguard.safety.spec import ChannelSpec, PlantSpec, ValveSpec, ZoneSpec
from gasguard.storage.engine import create_engine_for
from gasguard.storage.migrate import upgrade_to_head

log = logging.getLogger("bench_replay")

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
WEEK_READINGS = 7 * 24 * 3600 * 100
CHANNELS_PER_ZONE = 5


def plant(channels: int, *, a2: float = 20.0) -> PlantSpec:
    """``channels`` %LEL channels, five to a zone, one valve per zone; ``a2`` is the proposed setpoint."""
    zones = []
    for z in range(channels // CHANNELS_PER_ZONE):
        zid = f"zone{z:02d}"
        chans = tuple(
            ChannelSpec(id=f"{zid}-ch{c}", zone=zid, gas="methane", scale=1.0, offset=0.0, a1=a2 / 2, a2=a2, a3=40.0)
            for c in range(CHANNELS_PER_ZONE)
        )
        zones.append(ZoneSpec(id=zid, channels=chans, valves=(ValveSpec(id=f"{zid}-valve", zone=zid),)))
    return PlantSpec(zones=tuple(zones))


def generate(path: Path, *, readings: int, channels: int, seed: int = 7) -> tuple[float, float, float]:
    """Write ``readings`` 1 Hz readings of ``channels`` channels into the SQLite file; returns (start, end, s)."""
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    seconds = readings // channels
    rng = np.random.default_rng(seed)
    ids = [f"zone{c // CHANNELS_PER_ZONE:02d}-ch{c % CHANNELS_PER_ZONE}" for c in range(channels)]
    zero = rng.normal(0.5, 0.3, channels)
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    block = 3600
    for offset in range(0, seconds, block):
        n = min(block, seconds - offset)
        t = START + offset + np.arange(n, dtype=float)
        values = zero[None, :] + rng.normal(0.0, 0.15, (n, channels))
        # A leak in one zone every ~30 minutes: a 60 s ramp to 25-35 %LEL, held 2 minutes, then gone.
        for leak_start in range(0, n, 1800):
            zone = int(rng.integers(0, channels // CHANNELS_PER_ZONE))
            peak = float(rng.uniform(25.0, 35.0))
            ramp = np.concatenate([np.linspace(0.0, peak, 60), np.full(120, peak)])
            stop = min(n, leak_start + ramp.size)
            cols = slice(zone * CHANNELS_PER_ZONE, (zone + 1) * CHANNELS_PER_ZONE)
            values[leak_start:stop, cols] += ramp[: stop - leak_start, None]
        rows = (
            (ids[c], ts, value)
            for ts, row in zip(t.tolist(), values.round(3).tolist(), strict=True)
            for c, value in enumerate(row)
        )
        connection.executemany("INSERT INTO readings (channel, ts, value) VALUES (?, ?, ?)", rows)
        connection.commit()
    connection.close()
    return START, START + seconds, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=6_000_000, help="readings to store and replay")
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--keep", type=Path, default=None, help="keep (or reuse) the SQLite file here")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "replay.db"
        if args.keep is not None and path.exists():
            engine = create_engine_for(f"sqlite:///{path}")
            with engine.connect() as c:
                start, end = c.exec_driver_sql("SELECT min(ts), max(ts) + 1 FROM readings").one()
            generate_s = None
        else:
            log.info("writing %d readings of %d channels into %s", args.readings, args.channels, path)
            start, end, generate_s = generate(path, readings=args.readings, channels=args.channels)
            engine = create_engine_for(f"sqlite:///{path}")
        fetch_started = time.perf_counter()
        fetched = sum(len(chunk) for chunk in stream_readings(engine, start, end))
        fetch_s = time.perf_counter() - fetch_started
        log.info("read back %d readings in %.1f s", fetched, fetch_s)
        load_before = os.getloadavg()[0]
        cpu_started = time.process_time()
        result = run_replay(engine, plant(args.channels, a2=15.0), start=start, end=end)
        cpu_s = time.process_time() - cpu_started
        load_after = os.getloadavg()[0]
        engine.dispose()
        size_mb = path.stat().st_size / 1e6
    rate = result.readings_per_s
    figures = {
        "readings": result.readings,
        "channels": args.channels,
        "period_s": end - start,
        "database_mb": round(size_mb, 1),
        "generate_s": None if generate_s is None else round(generate_s, 1),
        "fetch_only_s": round(fetch_s, 2),
        "fetch_only_readings_per_s": round(fetched / fetch_s) if fetch_s else None,
        "replay_s": round(result.seconds, 2),
        "replay_readings_per_s": round(rate),
        "replay_cpu_s": round(cpu_s, 2),
        "replay_cpu_readings_per_s": round(result.readings / cpu_s) if cpu_s else None,
        "cpus": os.cpu_count(),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "replayed_alarms": len([o for o in result.replayed if o.kind == "alarm"]),
        "replayed_trips": len([o for o in result.replayed if o.kind == "trip"]),
        "week_readings": WEEK_READINGS,
        "week_estimate_s": round(WEEK_READINGS / rate, 1) if rate else None,
        "week_estimate_cpu_s": round(WEEK_READINGS * cpu_s / result.readings, 1) if result.readings else None,
        "week_measured": result.readings >= WEEK_READINGS,
        "target_s": 300,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        scale = "measured" if figures["week_measured"] else f"extrapolated from {result.readings:,} readings"
        print(f"replay: {result.readings:,} readings in {result.seconds:.1f} s = {rate:,.0f} readings/s")
        print(
            f"  CPU time of the replay: {cpu_s:.1f} s ({figures['replay_cpu_readings_per_s']:,} readings/s); "
            f"load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs"
        )
        print(f"  reading them back alone: {fetch_s:.1f} s ({figures['fetch_only_readings_per_s']:,} readings/s)")
        print(
            f"  a week of 100 channels at 1 Hz ({WEEK_READINGS:,} readings): "
            f"{figures['week_estimate_s']} s wall, {figures['week_estimate_cpu_s']} s of CPU ({scale}); target 300 s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
