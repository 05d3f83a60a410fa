"""Ingest throughput with storage: readings through the safety pipeline and into the database.

Readings of many channels are handed to the runtime as fast as the pipeline takes them (what HTTP
ingest and the MQTT source do), with the real batched writer storing every one. Two rates come out:
how fast the safety pipeline took them (every reading through ``step``) and how fast they were
stored (every reading committed, counted back from the database). Storage runs in a worker thread,
so on a 2-core machine the two compete for the CPU, as they do in the service.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from gasguard.benchmarks.databases import DatabaseKind, bench_database, count_readings
from gasguard.benchmarks.defaults import DEFAULT_POSTGRES_URL
from gasguard.benchmarks.live import bench_services, bench_settings, bench_site, commission, serving, wait_until
from gasguard.domain import Reading
from gasguard.runtime import build_runtime

CHUNK = 1_000  # readings handed over between yields to the event loop


async def _run(readings: int, channels: int, database_url: str, data_dir: Path) -> dict[str, Any]:
    zones = max(1, channels // 10)
    site = bench_site(zones=zones, channels_per_zone=max(1, channels // zones))
    ids = [ch.id for _, zone in site.zones() for ch in zone.channels]
    services = bench_services(bench_settings(database_url, data_dir, reading_buffer_max=max(250_000, readings)))
    runtime = build_runtime(site, services)
    rng = random.Random(7)
    values = [400.0 + rng.random() * 200.0 for _ in range(1024)]  # 0.8-1.2 % LEL: no alarms
    try:
        async with serving(services):
            await commission(runtime)
            base_processed = runtime.pipeline.counters["readings"]
            base_written = services.writer.health().written
            start = time.perf_counter()
            now = time.time()
            for i in range(readings):
                runtime.submit_reading(Reading(ids[i % len(ids)], values[i % 1024], now + i * 1e-6))
                if i % CHUNK == CHUNK - 1:
                    await asyncio.sleep(0)
            await wait_until(
                lambda: runtime.pipeline.counters["readings"] - base_processed >= readings,
                "the pipeline to process every reading",
                timeout_s=600,
                poll_s=0.005,
            )
            processed_s = time.perf_counter() - start
            await wait_until(
                lambda: services.writer.health().written - base_written >= readings,
                "the writer to store every reading",
                timeout_s=600,
                poll_s=0.005,
            )
            stored_s = time.perf_counter() - start
            health = services.writer.health()
    finally:
        services.dispose()
    return {
        "readings": readings,
        "channels": len(ids),
        "pipeline_readings_per_s": round(readings / processed_s),
        "stored_readings_per_s": round(readings / stored_s),
        "seconds_to_store": round(stored_s, 3),
        "dropped": health.dropped,
        "batch_size": services.writer.batch_size,
    }


def bench_ingest(
    db: DatabaseKind = "sqlite",
    *,
    readings: int = 50_000,
    channels: int = 100,
    postgres_url: str = DEFAULT_POSTGRES_URL,
) -> dict[str, Any]:
    """Readings/s through the pipeline and into ``db``; the stored count is checked in the database."""
    with (
        tempfile.TemporaryDirectory(prefix="gasguard-bench-") as folder,
        bench_database(db, postgres_url=postgres_url) as url,
    ):
        result = asyncio.run(_run(readings, channels, url, Path(folder)))
        stored = count_readings(url)
    result["database"] = db
    result["rows_in_database"] = stored
    result["lost"] = readings - stored
    return result
