"""The live runtime: safe start, restore after a restart, refusals, audit stored before the answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gasguard.actuators.simulated import SimulatedValve
from gasguard.config import SiteConfig, parse_site_config
from gasguard.domain import OperatorAction, OperatorCommand, Reading, ValvePosition
from gasguard.runtime import Runtime, UnknownChannelError, build_runtime
from gasguard.services import Services, build_services
from gasguard.storage.events import EventFilter, EventKind, list_events
from gasguard.storage.migrate import upgrade_to_head
from gasguard.web.testing import make_settings

SITE = {
    "sites": [
        {
            "id": "plant",
            "zones": [
                {
                    "id": "kitchen",
                    "name": "Kitchen",
                    "channels": [
                        {"id": "k1", "gas": "methane", "warmup_s": 0, "stale_timeout_s": 3600},
                    ],
                    "valves": [{"id": "kv", "travel_time_s": 0.2}],
                }
            ],
        }
    ]
}


def site() -> SiteConfig:
    return parse_site_config(SITE)


@asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Services, dict[str, SimulatedValve]]]:
    """A runtime on its own SQLite file, running with the recorder and writer like the web app runs it."""
    settings = make_settings(tmp_path)
    upgrade_to_head(settings.resolved_database_url())
    services = build_services(settings)
    valves = {"kv": SimulatedValve("kv", travel_time_s=0.05)}
    runtime = build_runtime(site(), services, valves=valves, tick_s=0.05)
    tasks = [asyncio.create_task(run()) for run in services.background]
    try:
        yield runtime, services, valves
    finally:
        for stop in services.shutdown:
            await stop()
        await services.writer.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        services.dispose()


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def ppm(runtime: Runtime, value: float) -> None:
    runtime.submit_reading(Reading("k1", value, time.time()))


async def command(runtime: Runtime, action: OperatorAction, target: str, reason: str = "test") -> bool:
    result = await runtime.operate(OperatorCommand(action, target, user="otto", reason=reason))
    return result.accepted


def test_first_start_is_the_safe_state_and_closes_the_valve(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as (runtime, _services, valves):
            await until(lambda: valves["kv"].position is ValvePosition.CLOSED)
            zone = runtime.services.plant.zone_view("kitchen")
            assert zone is not None
            assert zone["tripped"] is True
            assert zone["status"] == "tripped"

    asyncio.run(scenario())


def test_a_latched_trip_and_closed_valve_survive_a_restart(tmp_path: Path) -> None:
    async def first_run() -> None:
        async with running(tmp_path) as (runtime, _services, valves):
            ppm(runtime, 0.0)
            await until(lambda: valves["kv"].position is ValvePosition.CLOSED)
            assert await command(runtime, OperatorAction.RESET, "kitchen")
            assert await command(runtime, OperatorAction.OPEN, "kv", "start of shift")
            await until(lambda: valves["kv"].position is ValvePosition.OPEN)
            await until(lambda: runtime.services.plant.valves_view()[0]["state"] == "open")
            ppm(runtime, 15_000.0)  # 30 %LEL of methane
            await until(lambda: valves["kv"].position is ValvePosition.CLOSED)
            assert runtime.services.plant.zone_view("kitchen")["tripped"] is True  # type: ignore[index]

    async def second_run() -> None:
        async with running(tmp_path) as (runtime, _services, valves):
            zone = runtime.services.plant.zone_view("kitchen")
            assert zone is not None
            assert zone["tripped"] is True
            a2 = next(a for a in zone["alarms"] if a["level"] == "A2")
            assert a2["latched"] is True
            # Open is refused while tripped, whatever the valve reports.
            assert not await command(runtime, OperatorAction.OPEN, "kv", "try to reopen")
            # The new valve driver reports open; the restored trip drives it closed again, and only closed.
            await until(lambda: valves["kv"].position is ValvePosition.CLOSED)
            assert valves["kv"].commands
            assert all(c.value == "close" for c in valves["kv"].commands)

    asyncio.run(first_run())
    asyncio.run(second_run())


def test_reset_is_refused_while_gas_is_present(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as (runtime, _services, _valves):
            ppm(runtime, 15_000.0)
            await until(lambda: runtime.services.plant.channel_reading("k1")["lel_pct"] is not None)  # type: ignore[index]
            assert not await command(runtime, OperatorAction.RESET, "kitchen")
            ppm(runtime, 0.0)
            await until(lambda: runtime.services.plant.channel_reading("k1")["lel_pct"] == 0.0)  # type: ignore[index]
            assert await command(runtime, OperatorAction.RESET, "kitchen")

    asyncio.run(scenario())


def test_a_reading_for_an_unknown_channel_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as (runtime, _services, _valves):
            with pytest.raises(UnknownChannelError, match="nope"):
                runtime.submit_reading(Reading("nope", 1.0, time.time()))

    asyncio.run(scenario())


def test_an_operator_command_is_stored_in_the_audit_log_before_the_answer(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as (runtime, services, _valves):
            assert not await command(runtime, OperatorAction.OPEN, "kv", "trying while tripped")
            with services.session_factory() as session:
                events = list_events(session, flt=EventFilter(kinds=[EventKind.OPERATOR]), limit=10)
            assert [(e.actor, e.reason, e.payload["accepted"]) for e in events] == [
                ("otto", "trying while tripped", False)
            ]

    asyncio.run(scenario())
