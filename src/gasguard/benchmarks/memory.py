"""Resident memory of a running ``gasguard serve``: at rest, and while readings stream in.

The service is a real child process (the same command an installation runs) on a SQLite file, with
a site of ``zones`` x ``channels_per_zone`` methane channels. After start-up it is measured idle; then
an admin posts readings for every channel once a second over HTTP (as a fleet of devices would) for
``load_s`` seconds while its RSS and CPU time are sampled.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from gasguard.auth import Role
from gasguard.benchmarks.databases import bench_database
from gasguard.benchmarks.live import bench_site_data
from gasguard.benchmarks.procstat import cpu_seconds, peak_rss_mib, rss_mib
from gasguard.benchmarks.service import ADMIN, ADMIN_PASSWORD, ServiceProcess, prepare_database


def bench_service_memory(*, zones: int = 10, channels_per_zone: int = 10, load_s: float = 10.0) -> dict[str, Any]:
    site = bench_site_data(zones=zones, channels_per_zone=channels_per_zone, stale_timeout_s=60.0)
    channels = [ch["id"] for zone in site["sites"][0]["zones"] for ch in zone["channels"]]
    with tempfile.TemporaryDirectory(prefix="gasguard-bench-") as folder, bench_database("sqlite") as url:
        prepare_database(url, {ADMIN: (ADMIN_PASSWORD, Role.ADMIN)})
        service = ServiceProcess(Path(folder), site, url)
        startup_s = service.start()
        try:
            time.sleep(2.0)  # let start-up work (snapshot, first ticks) settle
            idle = rss_mib(service.pid)
            token = service.login(ADMIN, ADMIN_PASSWORD)
            samples: list[float] = []
            cpu_before, wall_before = cpu_seconds(service.pid), time.perf_counter()
            sent = 0
            with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}) as client:
                end = time.monotonic() + load_s
                next_second = time.monotonic()
                while time.monotonic() < end:
                    now = time.time()
                    for i in range(0, len(channels), 500):
                        batch = [{"channel": c, "ts": now, "value": 500.0} for c in channels[i : i + 500]]
                        response = client.post("/api/v1/ingest/readings", json={"readings": batch})
                        response.raise_for_status()
                        sent += len(batch)
                    value = rss_mib(service.pid)
                    if value is not None:
                        samples.append(value)
                    next_second += 1.0
                    time.sleep(max(0.0, next_second - time.monotonic()))
            cpu_after, wall_after = cpu_seconds(service.pid), time.perf_counter()
            peak = peak_rss_mib(service.pid)
        finally:
            service.stop()
    cpu_pct = None
    if cpu_before is not None and cpu_after is not None:
        cpu_pct = round(100.0 * (cpu_after - cpu_before) / (wall_after - wall_before), 1)
    return {
        "channels": len(channels),
        "startup_s": round(startup_s, 2),
        "rss_idle_mib": idle,
        "rss_under_load_mib": samples[-1] if samples else None,
        "rss_peak_mib": peak,
        "load": f"{len(channels)} readings/s over HTTP for {load_s:g} s ({sent} readings)",
        "cpu_pct_of_one_core_under_load": cpu_pct,
    }
