"""Load: many MQTT channels at a steady rate into a full GasGuard service, for minutes.

The service runs here, whole: ``build_live_app`` (web app, runtime, MQTT source and publisher, Home
Assistant states, storage) served by uvicorn, on SQLite or PostgreSQL. The detectors are a separate
process (``loadgen``) publishing through the local Mosquitto. An observer on the runtime sees every
reading right after the safety step has decided on it and notes ``now - reading.ts`` (the device's
send time): the latency from a device to the safety decision.

The plant cold-starts tripped, as a real one does; once every channel reports, it is commissioned
(every zone reset, every valve reopened, while the load runs) and after ``SETTLE_S`` the measured
window of ``minutes`` opens. Latencies while commissioning are reported apart: 200 operator commands
in a row are not steady operation.

Reported: readings published, seen by the safety core, and stored (lost = published - seen, and
published - stored); latency percentiles; the service's CPU (percent of one core) and resident
memory; the generator's own CPU, since both share the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

import uvicorn

from gasguard.benchmarks.databases import DatabaseKind, bench_database, count_readings
from gasguard.benchmarks.defaults import DEFAULT_MQTT_URL, DEFAULT_POSTGRES_URL
from gasguard.benchmarks.live import bench_settings, bench_site, commission, wait_until
from gasguard.benchmarks.machine import describe_machine
from gasguard.benchmarks.mqtt_util import bench_prefix, clear_retained, reachable_broker
from gasguard.benchmarks.procstat import cpu_seconds, peak_rss_mib, rss_mib
from gasguard.benchmarks.service import free_port
from gasguard.benchmarks.stats import summarise_ms
from gasguard.domain import Output, Reading
from gasguard.runtime import Runtime
from gasguard.services import Services
from gasguard.serving import build_live_app

log = logging.getLogger(__name__)

CHANNELS_PER_ZONE = 10


SETTLE_S = 5.0
"""After commissioning the load runs this long before the measured window opens."""


class DecisionTimer:
    """Runtime observer: the time from each reading's send time to its safety decision.

    Every reading is counted; latencies of readings sent from ``measure_from`` on are the measured
    window, those sent before it (while the plant was being commissioned) are kept apart.
    """

    def __init__(self) -> None:
        self.latencies = array("d")
        self.before_window = array("d")
        self.seen = 0
        self.measure_from = float("inf")

    def __call__(self, item: Reading | Output) -> None:
        if isinstance(item, Reading):
            self.seen += 1
            latency = time.time() - item.ts
            (self.latencies if item.ts >= self.measure_from else self.before_window).append(latency)


async def _serve(
    channels: int, rate: float, seconds: float, database_url: str, data_dir: Path, mqtt_url: str, settle_s: float
) -> dict[str, Any]:
    broker = reachable_broker(mqtt_url)
    prefix = bench_prefix()
    zones = max(1, channels // CHANNELS_PER_ZONE)
    per_zone = max(1, channels // zones)
    site = bench_site(zones=zones, channels_per_zone=per_zone, stale_timeout_s=max(10.0, 5.0 / rate))
    settings = bench_settings(database_url, data_dir, mqtt_url=mqtt_url, mqtt_topic_prefix=prefix)
    timer = DecisionTimer()
    holder: dict[str, Any] = {}

    def customise(runtime: Runtime, services: Services) -> None:
        runtime.add_observer(timer)
        holder["runtime"], holder["services"] = runtime, services

    app, services, runtime = build_live_app(site, settings, migrate=False, customise=customise)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")  # type: ignore[arg-type]
    )
    serving = asyncio.create_task(server.serve())
    samples: list[dict[str, Any]] = []
    generator_report: dict[str, Any] = {}
    phases: dict[str, float] = {}
    t_start = time.perf_counter()
    try:
        await wait_until(lambda: server.started or serving.done(), "uvicorn to start", 60)

        def source_connected() -> bool:
            detail = runtime.sources["mqtt"].detail
            return bool(detail and detail().get("connected"))

        await wait_until(source_connected, "the MQTT source connected", 30)
        command = [
            sys.executable,
            "-m",
            "gasguard.benchmarks.loadgen",
            "--host",
            broker.host,
            "--port",
            str(broker.port),
            "--prefix",
            prefix,
            "--site",
            "bench",
            "--zones",
            str(zones),
            "--per-zone",
            str(per_zone),
            "--rate",
            str(rate),
        ]
        phases["startup_s"] = round(time.perf_counter() - t_start, 1)
        generator = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        await asyncio.sleep(2.0)  # every channel has reported by now
        t_commission = time.perf_counter()
        await commission(runtime)
        phases["commission_s"] = round(time.perf_counter() - t_commission, 1)
        await asyncio.sleep(settle_s)
        timer.measure_from = time.time()
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        rss_start = rss_mib()
        max_buffered = 0
        window_end = time.monotonic() + seconds
        while generator.returncode is None:
            if time.monotonic() >= window_end:
                generator.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(generator.wait(), 1.0)
            health = services.writer.health()
            max_buffered = max(max_buffered, health.buffered)
            samples.append(
                {
                    "t": round(time.perf_counter() - wall0, 1),
                    "rss_mib": rss_mib(),
                    "seen": timer.seen,
                    "buffered": health.buffered,
                }
            )
        cpu1, wall1 = cpu_seconds(), time.perf_counter()
        out = await generator.stdout.read() if generator.stdout else b""
        generator_report = json.loads(out.decode().strip().splitlines()[-1])
        published = int(generator_report["published"])
        # Give the tail of the stream time to arrive; stop early once nothing more comes in.
        last, still = timer.seen, 0
        while timer.seen < published and still < 20:
            await asyncio.sleep(0.25)
            still = still + 1 if timer.seen == last else 0
            last = timer.seen
        t_drain = time.perf_counter()
        await wait_until(lambda: services.writer.health().buffered == 0, "the writer to drain", 120)
        phases["drain_s"] = round(time.perf_counter() - t_drain, 1)
        writer = services.writer.health()
        mqtt_detail = runtime.sources["mqtt"].detail
        source = dict(mqtt_detail()) if mqtt_detail else {}
    finally:
        t_stop = time.perf_counter()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 60)
        services.dispose()
        phases["shutdown_s"] = round(time.perf_counter() - t_stop, 1)
        try:
            phases["retained_cleared"] = await clear_retained(broker, prefix)
        except Exception:
            log.warning("could not clear the benchmark's retained messages under %s/#", prefix, exc_info=True)
    cpu_pct = None if cpu0 is None or cpu1 is None else round(100.0 * (cpu1 - cpu0) / (wall1 - wall0), 1)
    return {
        "published": published,
        "seen_by_safety_core": timer.seen,
        "lost": max(0, published - timer.seen),
        "latency_to_decision": summarise_ms(timer.latencies),  # readings sent in the measured window
        "latency_while_commissioning": summarise_ms(timer.before_window),
        "service_cpu_pct_of_one_core": cpu_pct,
        "rss_start_mib": rss_start,
        "rss_end_mib": rss_mib(),
        "rss_peak_mib": peak_rss_mib(),
        "writer_max_buffered": max_buffered,
        "writer_dropped": writer.dropped,
        "mqtt_invalid": source.get("invalid"),
        "generator": generator_report,
        "settle_s": settle_s,
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "phases": phases,
        "samples": samples,
    }


def bench_load(
    *,
    channels: int = 1000,
    rate: float = 1.0,
    minutes: float = 10.0,
    db: DatabaseKind = "sqlite",
    mqtt_url: str = DEFAULT_MQTT_URL,
    postgres_url: str = DEFAULT_POSTGRES_URL,
    settle_s: float = SETTLE_S,
) -> dict[str, Any]:
    """``channels`` MQTT channels at ``rate`` Hz for ``minutes`` into a full service on ``db``."""
    reachable_broker(mqtt_url)
    machine = describe_machine()
    seconds = minutes * 60.0
    with (
        tempfile.TemporaryDirectory(prefix="gasguard-bench-") as folder,
        bench_database(db, postgres_url=postgres_url) as url,
    ):
        result = asyncio.run(_serve(channels, rate, seconds, url, Path(folder), mqtt_url, settle_s))
        stored = count_readings(url)
    return {
        "channels": channels,
        "rate_hz": rate,
        "minutes": minutes,
        "database": db,
        **result,
        "stored": stored,
        "lost_in_storage": max(0, result["published"] - stored),
        "machine": machine,
    }
