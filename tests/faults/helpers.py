"""Building blocks of the fault-injection tests: small sites, a settable clock, a running runtime."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from gasguard.actuators.base import ValveDriver
from gasguard.benchmarks.live import bench_services, bench_settings, serving
from gasguard.config import SiteConfig, parse_site_config
from gasguard.domain import OperatorAction, OperatorCommand, OperatorResult, Reading
from gasguard.runtime import Runtime, build_runtime


def site(zones: dict[str, dict[str, Any]]) -> SiteConfig:
    """A site ``plant`` whose zones are given as ``{zone_id: zone fields}``, channels and valves included."""
    return parse_site_config({"sites": [{"id": "plant", "zones": [{"id": z, **f} for z, f in zones.items()]}]})


def channel(cid: str, **fields: Any) -> dict[str, Any]:
    """A methane channel in ppm that needs no warm-up (5,000 ppm = 10 % LEL)."""
    return {"id": cid, "gas": "methane", "unit": "ppm", "warmup_s": 0, "stale_timeout_s": 3600, **fields}


class MutableClock:
    """Wall-clock time the test sets: ``clock.now += 3600`` is the system clock stepping an hour ahead."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def running(
    config: SiteConfig,
    database_url: str,
    data_dir: Path,
    *,
    valves: Mapping[str, ValveDriver] | None = None,
    clock: Callable[[], float] = time.time,
    tick_s: float = 0.05,
    prepare: Callable[[Runtime], None] | None = None,
    **settings: Any,
) -> AsyncIterator[Runtime]:
    """The runtime for ``config`` with its storage tasks running, as ``gasguard serve`` runs it.

    ``prepare`` adds sources before it starts (e.g. ``gasguard.serving.attach_mqtt``).
    """
    services = bench_services(bench_settings(database_url, data_dir, **settings), clock=clock)
    runtime = build_runtime(config, services, valves=valves, clock=clock, tick_s=tick_s)
    if prepare is not None:
        prepare(runtime)
    try:
        async with serving(services):
            yield runtime
    finally:
        services.dispose()


async def eventually(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Wait (real time: valves and ticks run on it) until ``condition`` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(0.01)


async def submit(runtime: Runtime, *readings: Reading) -> None:
    """Hand readings to the runtime and wait until the safety core has taken every one."""
    before = runtime.pipeline.counters["readings"]
    for reading in readings:
        runtime.submit_reading(reading)
    await eventually(lambda: runtime.pipeline.counters["readings"] >= before + len(readings), "readings processed")


async def operate(runtime: Runtime, action: OperatorAction, target: str, reason: str = "test") -> OperatorResult:
    return await runtime.operate(OperatorCommand(action, target, "otto", reason=reason))


def zone(runtime: Runtime, zone_id: str) -> dict[str, Any]:
    view = runtime.services.plant.zone_view(zone_id)
    assert view is not None
    return view


def channel_health(runtime: Runtime, channel_id: str) -> str:
    zone_id = runtime.zone_of_channel(channel_id)
    assert zone_id is not None
    return next(str(c["health"]) for c in zone(runtime, zone_id)["channels"] if c["id"] == channel_id)


def valve_state(runtime: Runtime, valve_id: str) -> str:
    return next(str(v["state"]) for v in runtime.services.plant.valves_view() if v["id"] == valve_id)


def alarm(runtime: Runtime, alarm_id: str) -> dict[str, Any] | None:
    return next((a for a in runtime.services.plant.alarms_view() if a["id"] == alarm_id), None)


async def commission(runtime: Runtime) -> None:
    """Cold-start trip -> every zone reset, every valve reopened (what an operator does at start-up)."""
    for vid in runtime.valves:
        await eventually(lambda vid=vid: valve_state(runtime, vid) == "closed", f"{vid} closed")
    for _, z in runtime.site.zones():
        result = await operate(runtime, OperatorAction.RESET, z.id, "commissioning")
        assert result.accepted, result.message
    for vid in runtime.valves:
        result = await operate(runtime, OperatorAction.OPEN, vid, "commissioning")
        assert result.accepted, result.message
        await eventually(lambda vid=vid: valve_state(runtime, vid) == "open", f"{vid} open")
