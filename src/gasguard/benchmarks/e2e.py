"""End-to-end trip latency: from a reading arriving to the valve command leaving GasGuard.

In process: a reading is handed to ``Runtime.submit_reading`` (as HTTP ingest and the MQTT source
do) and the clock stops when the valve driver is asked to close. The full runtime runs around it:
storage of readings and events on SQLite, the snapshot store, the event bus.

Over MQTT: a device client publishes the reading to the local Mosquitto; GasGuard's MQTT source
receives it, the safety core trips the zone, the MQTT valve driver publishes ``CLOSE``, and the clock
stops when a valve-controller client receives it. Everything a real installation has on the path
(two broker hops, JSON parsing, QoS 1 acknowledgements) is in the figure.

Each trip is followed by the operator's way back (gas clears, reset, reopen), so every sample is a
fresh trip from normal operation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gasguard.actuators.base import Report
from gasguard.benchmarks.databases import bench_database
from gasguard.benchmarks.defaults import DEFAULT_MQTT_URL
from gasguard.benchmarks.live import (
    BENCH_USER,
    bench_services,
    bench_settings,
    bench_site,
    commission,
    serving,
    valve_state,
    wait_until,
)
from gasguard.benchmarks.mqtt_util import bench_prefix, clear_retained, reachable_broker
from gasguard.benchmarks.stats import summarise_ms
from gasguard.domain import OperatorAction, OperatorCommand, Reading, ValveAction, ValveFeedback, ValvePosition
from gasguard.ingest.mqtt import BrokerAddress, make_client
from gasguard.runtime import Runtime, build_runtime
from gasguard.serving import attach_mqtt

log = logging.getLogger(__name__)

LEAK_PPM = 15_000.0  # methane: 30 % LEL, above A2 (20 %) and below A3 (40 %)
CLEAN_PPM = 500.0  # 1 % LEL


class TimedValve:
    """An instant valve driver that notes when each close command reaches it."""

    def __init__(self, valve_id: str) -> None:
        self.valve_id = valve_id
        self.closed_at: float | None = None
        self.close_seen = asyncio.Event()
        self._report: Report | None = None

    def attach(self, report: Report) -> None:
        self._report = report
        report(ValveFeedback(self.valve_id, ValvePosition.OPEN))

    def arm(self) -> None:
        self.closed_at = None
        self.close_seen.clear()

    async def drive(self, action: ValveAction) -> None:
        if action is ValveAction.CLOSE and not self.close_seen.is_set():
            self.closed_at = time.perf_counter()
            self.close_seen.set()
        assert self._report is not None
        position = ValvePosition.CLOSED if action is ValveAction.CLOSE else ValvePosition.OPEN
        self._report(ValveFeedback(self.valve_id, position))


async def _recover(runtime: Runtime, zone: str, valve: str, clear: Callable[[], Awaitable[None]]) -> None:
    """Gas gone, reset, reopen: back to normal operation for the next trip."""
    await clear()
    zone_state = runtime.pipeline.state.zones[zone]
    await wait_until(lambda: not any(ch.a2 or ch.a3 for ch in zone_state.channels.values()), "gas cleared")
    await wait_until(lambda: valve_state(runtime, valve) == "closed", f"{valve} closed")
    reset = await runtime.operate(OperatorCommand(OperatorAction.RESET, zone, BENCH_USER, reason="benchmark"))
    if not reset.accepted:
        raise RuntimeError(f"reset refused: {reset.message}")
    opened = await runtime.operate(OperatorCommand(OperatorAction.OPEN, valve, BENCH_USER, reason="benchmark"))
    if not opened.accepted:
        raise RuntimeError(f"reopening refused: {opened.message}")
    await wait_until(lambda: valve_state(runtime, valve) == "open", f"{valve} open")


async def _in_process(trips: int, database_url: str, data_dir: Path) -> list[float]:
    site = bench_site(zones=1, channels_per_zone=2)
    zone, channel = "z000", "z000-c00"
    valve = TimedValve("z000-valve")
    services = bench_services(bench_settings(database_url, data_dir))
    runtime = build_runtime(site, services, valves={valve.valve_id: valve})
    samples: list[float] = []
    try:
        async with serving(services):
            await commission(runtime)
            for _ in range(trips):
                valve.arm()
                started = time.perf_counter()
                runtime.submit_reading(Reading(channel, LEAK_PPM, time.time()))
                await asyncio.wait_for(valve.close_seen.wait(), 10)
                assert valve.closed_at is not None
                samples.append(valve.closed_at - started)

                async def clear() -> None:
                    runtime.submit_reading(Reading(channel, CLEAN_PPM, time.time()))

                await _recover(runtime, zone, valve.valve_id, clear)
    finally:
        services.dispose()
    return samples


def bench_e2e_inprocess(trips: int = 200) -> dict[str, Any]:
    """Reading handed to the runtime -> close command at the valve driver, ``trips`` times."""
    with tempfile.TemporaryDirectory(prefix="gasguard-bench-") as folder, bench_database("sqlite") as url:
        samples = asyncio.run(_in_process(trips, url, Path(folder)))
    return {"path": "Runtime.submit_reading -> safety step -> valve driver", "trips": trips, **summarise_ms(samples)}


class _ValveController:
    """A valve controller on the broker: receives OPEN/CLOSE, answers with its (instant) position."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.close_at: float | None = None
        self.close_seen = asyncio.Event()
        self.ready = asyncio.Event()

    def arm(self) -> None:
        self.close_at = None
        self.close_seen.clear()

    async def run(self, broker: BrokerAddress) -> None:
        client = make_client(broker, client_id=f"bench-valve-{uuid.uuid4().hex[:8]}", availability_topic=None)
        async with client:
            await client.subscribe(f"{self.base}/set", qos=1)
            await client.publish(f"{self.base}/state", "open", qos=1, retain=True)
            self.ready.set()
            async for message in client.messages:
                payload = message.payload
                command = payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)
                if command == "CLOSE":
                    if not self.close_seen.is_set():
                        self.close_at = time.perf_counter()
                        self.close_seen.set()
                    await client.publish(f"{self.base}/state", "closed", qos=1, retain=True)
                elif command == "OPEN":
                    await client.publish(f"{self.base}/state", "open", qos=1, retain=True)


async def _over_mqtt(trips: int, database_url: str, data_dir: Path, mqtt_url: str) -> list[float]:
    broker = reachable_broker(mqtt_url)
    prefix = bench_prefix()
    site = bench_site(zones=1, channels_per_zone=2, valve={"driver": {"kind": "mqtt"}})
    zone, channel, valve_id = "z000", "z000-c00", "z000-valve"
    settings = bench_settings(database_url, data_dir, mqtt_url=mqtt_url, mqtt_topic_prefix=prefix)
    services = bench_services(settings)
    runtime = build_runtime(site, services, mqtt=broker)
    attach_mqtt(runtime, settings)
    controller = _ValveController(f"{prefix}/bench/{zone}/valve")
    reading_topic = f"{prefix}/bench/{zone}/{channel}/reading"
    samples: list[float] = []
    controller_task = asyncio.create_task(controller.run(broker))
    try:
        await asyncio.wait_for(controller.ready.wait(), 10)
        device = make_client(broker, client_id=f"bench-device-{uuid.uuid4().hex[:8]}", availability_topic=None)
        async with serving(services), device:

            def source_connected() -> bool:
                detail = runtime.sources["mqtt"].detail
                return bool(detail and detail().get("connected"))

            await wait_until(source_connected, "the MQTT source connected", 20)
            await commission(runtime)

            async def send(ppm: float) -> None:
                await device.publish(reading_topic, json.dumps({"ts": time.time(), "ppm": ppm}), qos=1)

            for _ in range(trips):
                controller.arm()
                started = time.perf_counter()
                await send(LEAK_PPM)
                await asyncio.wait_for(controller.close_seen.wait(), 10)
                assert controller.close_at is not None
                samples.append(controller.close_at - started)
                await _recover(runtime, zone, valve_id, lambda: send(CLEAN_PPM))
    finally:
        controller_task.cancel()
        await asyncio.gather(controller_task, return_exceptions=True)
        services.dispose()
        try:
            await clear_retained(broker, prefix)
        except Exception:
            log.warning("could not clear the benchmark's retained messages under %s/#", prefix, exc_info=True)
    return samples


def bench_e2e_mqtt(trips: int = 50, mqtt_url: str = DEFAULT_MQTT_URL) -> dict[str, Any]:
    """Reading published to Mosquitto -> CLOSE received by the valve controller, ``trips`` times."""
    reachable_broker(mqtt_url)
    with tempfile.TemporaryDirectory(prefix="gasguard-bench-") as folder, bench_database("sqlite") as url:
        samples = asyncio.run(_over_mqtt(trips, url, Path(folder), mqtt_url))
    return {
        "path": "device publish -> Mosquitto -> MQTT source -> safety step -> MQTT valve driver -> Mosquitto "
        "-> valve controller",
        "trips": trips,
        **summarise_ms(samples),
    }
