"""The system clock steps (NTP correction, a wrong RTC at boot): GasGuard must stay safe either way.

The runtime takes its time from an injectable clock; here the test sets it, so an hour passes in no
real time. Before each step the plant has run normally for two hours (a reading every five minutes,
stale after ten), so warm-up is long over. The safety loop ticks every 50 ms of real time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from faults.helpers import (
    MutableClock,
    alarm,
    channel,
    channel_health,
    commission,
    eventually,
    operate,
    running,
    site,
    submit,
    valve_state,
    zone,
)
from gasguard.actuators.simulated import SimulatedValve
from gasguard.config import SiteConfig
from gasguard.domain import OperatorAction, OperatorCommand, Reading, ValveAction
from gasguard.runtime import Runtime

HOUR = 3600.0
STALE_S = 600.0
CLEAN_PPM = 500.0  # 1 % LEL


def _plant() -> tuple[SiteConfig, dict[str, SimulatedValve]]:
    config = site(
        {
            "kitchen": {
                "channels": [channel("k1", stale_timeout_s=STALE_S)],
                "valves": [{"id": "kv", "travel_time_s": 1}],
            }
        }
    )
    return config, {"kv": SimulatedValve("kv", travel_time_s=0.0)}


async def _two_hours_of_normal_operation(runtime: Runtime, clock: MutableClock) -> None:
    await commission(runtime)
    for _ in range(24):
        clock.now += 300
        await submit(runtime, Reading("k1", CLEAN_PPM, clock()))
    assert zone(runtime, "kitchen")["status"] == "normal"


def test_a_step_forward_trips_on_stale_channels_and_nothing_reopens(database_url: str, tmp_path: Path) -> None:
    """An hour ahead, every channel looks silent for an hour: FAULT votes to trip (fail-safe)."""
    config, valves = _plant()
    clock = MutableClock()

    async def scenario() -> None:
        async with running(config, database_url, tmp_path, valves=valves, clock=clock) as runtime:
            await _two_hours_of_normal_operation(runtime, clock)
            clock.now += HOUR
            await eventually(lambda: zone(runtime, "kitchen")["tripped"], "the trip")
            assert channel_health(runtime, "k1") == "stale"
            await eventually(lambda: valve_state(runtime, "kv") == "closed", "the valve closed")
            # the sensor reports again (stamped with the new time): the channel heals, the trip stays latched
            await submit(runtime, Reading("k1", CLEAN_PPM, clock()))
            assert channel_health(runtime, "k1") == "ok"
            await asyncio.sleep(0.2)
            assert (zone(runtime, "kitchen")["tripped"], valve_state(runtime, "kv")) == (True, "closed")
            assert valves["kv"].commands.count(ValveAction.OPEN) == 1  # the commissioning one only
            assert (await operate(runtime, OperatorAction.RESET, "kitchen")).accepted

    asyncio.run(scenario())


def test_a_step_forward_ends_a_shelve_early_never_extends_it(database_url: str, tmp_path: Path) -> None:
    config, valves = _plant()
    clock = MutableClock()

    async def scenario() -> None:
        async with running(config, database_url, tmp_path, valves=valves, clock=clock) as runtime:
            await _two_hours_of_normal_operation(runtime, clock)
            await submit(runtime, Reading("k1", 6_000.0, clock()))  # 12 % LEL: A1 warning
            assert alarm(runtime, "kitchen/k1/A1") is not None
            shelve = OperatorCommand(OperatorAction.SHELVE, "kitchen/k1/A1", "otto", "calibration", clock() + HOUR)
            result = await runtime.operate(shelve)
            assert result.accepted, result.message
            assert alarm(runtime, "kitchen/k1/A1")["state"] == "shelved"  # type: ignore[index]
            clock.now += 2 * HOUR
            await submit(runtime, Reading("k1", 6_000.0, clock()))
            await eventually(lambda: alarm(runtime, "kitchen/k1/A1")["state"] != "shelved", "the shelve to end")  # type: ignore[index]

    asyncio.run(scenario())


def test_a_step_back_does_not_delay_a_gas_trip(database_url: str, tmp_path: Path) -> None:
    config, valves = _plant()
    clock = MutableClock()

    async def scenario() -> None:
        async with running(config, database_url, tmp_path, valves=valves, clock=clock) as runtime:
            await _two_hours_of_normal_operation(runtime, clock)
            clock.now -= HOUR
            await submit(runtime, Reading("k1", 15_000.0, clock()))  # 30 % LEL
            assert zone(runtime, "kitchen")["tripped"]
            assert alarm(runtime, "kitchen/k1/A2")["latched"] is True  # type: ignore[index]
            await eventually(lambda: valve_state(runtime, "kv") == "closed", "the valve closed")

    asyncio.run(scenario())


def test_a_step_back_past_the_start_counts_as_warm_up_and_trips(database_url: str, tmp_path: Path) -> None:
    """Stepped back to before the service started, sensors are 'warming up' again: FAULT, fail-safe trip."""
    config, valves = _plant()
    clock = MutableClock()

    async def scenario() -> None:
        async with running(config, database_url, tmp_path, valves=valves, clock=clock) as runtime:
            await _two_hours_of_normal_operation(runtime, clock)
            clock.now -= 3 * HOUR
            await submit(runtime, Reading("k1", CLEAN_PPM, clock()))
            assert channel_health(runtime, "k1") == "warming_up"
            assert zone(runtime, "kitchen")["tripped"]
            await eventually(lambda: valve_state(runtime, "kv") == "closed", "the valve closed")

    asyncio.run(scenario())


def test_a_step_back_still_notices_a_sensor_that_stopped(database_url: str, tmp_path: Path) -> None:
    config, valves = _plant()
    clock = MutableClock()

    async def scenario() -> None:
        async with running(config, database_url, tmp_path, valves=valves, clock=clock) as runtime:
            await _two_hours_of_normal_operation(runtime, clock)
            clock.now -= HOUR  # the clock steps back an hour, and the sensor stops reporting at that moment
            await asyncio.sleep(0.2)
            clock.now += STALE_S + 1  # longer than stale_timeout_s by any clock
            await eventually(lambda: channel_health(runtime, "k1") == "stale", "the silent channel stale", 2.0)
            assert zone(runtime, "kitchen")["tripped"]

    asyncio.run(scenario())
