"""A live GasGuard in the benchmark's own process: services, runtime and their background tasks.

``serving(services)`` runs what the web app's lifespan runs (the runtime, the reading writer, the
event recorder) and stops them the same way, without a web server in between, so the figures are
the service's own and not the HTTP stack's. ``commission`` brings a cold-started plant to normal
operation the way an operator does: wait for the valves to close, reset every zone, reopen.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from gasguard.config import SiteConfig, parse_site_config
from gasguard.domain import OperatorAction, OperatorCommand
from gasguard.runtime import Runtime
from gasguard.services import Services, build_services
from gasguard.settings import ServiceSettings

BENCH_SECRET_KEY = "gasguard-benchmark-secret-key-0123456789"  # 40 characters; never used for real sign-ins
BENCH_USER = "benchmark"


def bench_site_data(
    *,
    zones: int,
    channels_per_zone: int,
    site_id: str = "bench",
    stale_timeout_s: float = 3600.0,
    valve: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A site file's content: ``zones`` zones of methane channels in ppm (no warm-up), one valve each."""
    zone_list = []
    for z in range(zones):
        zid = f"z{z:03d}"
        zone_list.append(
            {
                "id": zid,
                "voting": {"k": 1},
                "channels": [
                    {
                        "id": f"{zid}-c{c:02d}",
                        "gas": "methane",
                        "unit": "ppm",
                        "warmup_s": 0,
                        "stale_timeout_s": stale_timeout_s,
                        "valid_range": {"min": 0, "max": 50_000},
                    }
                    for c in range(channels_per_zone)
                ],
                "valves": [{"id": f"{zid}-valve", "travel_time_s": 1, **(valve or {})}],
            }
        )
    return {"sites": [{"id": site_id, "zones": zone_list}]}


def bench_site(**kwargs: Any) -> SiteConfig:
    """The parsed ``bench_site_data`` (same keyword arguments)."""
    return parse_site_config(bench_site_data(**kwargs), "benchmark site")


def bench_settings(database_url: str, data_dir: Path, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "secret_key": BENCH_SECRET_KEY,
        "mqtt_url": None,
        **overrides,
    }
    return ServiceSettings(**values)


def bench_services(settings: ServiceSettings, clock: Callable[[], float] = time.time) -> Services:
    """Services on an already migrated database."""
    return build_services(settings, upgrade=False, clock=clock)


@contextlib.asynccontextmanager
async def serving(services: Services) -> AsyncIterator[Services]:
    """Run the background tasks as the app's lifespan does; stop them (flushing storage) on exit."""
    tasks = [asyncio.create_task(run(), name=getattr(run, "__qualname__", "bg")) for run in services.background]
    try:
        yield services
    finally:
        for stop in services.shutdown:
            with contextlib.suppress(Exception):
                await stop()
        with contextlib.suppress(Exception):
            await services.writer.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await services.recorder.retry_pending()


async def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0, poll_s: float = 0.01) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout_s:g} s")
        await asyncio.sleep(poll_s)


def valve_state(runtime: Runtime, valve_id: str) -> str:
    zone_id = runtime.zone_of_valve(valve_id)
    assert zone_id is not None
    return runtime.pipeline.state.zones[zone_id].valves[valve_id].state.value


def _valve_is(runtime: Runtime, valve_id: str, state: str) -> Callable[[], bool]:
    return lambda: valve_state(runtime, valve_id) == state


async def commission(runtime: Runtime, *, timeout_s: float = 60.0) -> None:
    """From the cold-start trip to a running plant: valves closed, zones reset, valves reopened."""
    valves = list(runtime.valves)
    for vid in valves:
        await wait_until(_valve_is(runtime, vid, "closed"), f"{vid} closed", timeout_s)
    for _, zone in runtime.site.zones():
        result = await runtime.operate(
            OperatorCommand(OperatorAction.RESET, zone.id, BENCH_USER, reason="benchmark commissioning")
        )
        if not result.accepted:
            raise RuntimeError(f"reset of {zone.id} refused: {result.message}")
    for vid in valves:
        result = await runtime.operate(
            OperatorCommand(OperatorAction.OPEN, vid, BENCH_USER, reason="benchmark commissioning")
        )
        if not result.accepted:
            raise RuntimeError(f"opening {vid} refused: {result.message}")
    for vid in valves:
        await wait_until(_valve_is(runtime, vid, "open"), f"{vid} open", timeout_s)
