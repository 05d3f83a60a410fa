"""A valve driver that errors (bus down, relay board not answering): retries, then a VALVE FAULT alarm.

The driver is the simulated valve with a failure switch; the runtime wraps it in its retrying sender
(three attempts, 0.2 s then 0.4 s apart). The zone re-asserts close every second while tripped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from faults.helpers import alarm, channel, commission, eventually, operate, running, site, submit, valve_state, zone
from gasguard.actuators.base import ValveDriverError
from gasguard.actuators.simulated import SimulatedValve
from gasguard.domain import OperatorAction, Reading, ValveAction
from gasguard.storage.events import EventFilter, EventKind, list_events


class FailingValve(SimulatedValve):
    """A simulated valve whose driver fails every command while ``failing`` (and counts every attempt)."""

    def __init__(self, valve_id: str) -> None:
        super().__init__(valve_id, travel_time_s=0.0)
        self.failing = False
        self.attempts: list[ValveAction] = []

    async def drive(self, action: ValveAction) -> None:
        self.attempts.append(action)
        if self.failing:
            raise ValveDriverError(f"{self.valve_id}: relay board does not answer")
        await super().drive(action)


CONFIG = site(
    {
        "kitchen": {
            "close_reassert_s": 1.0,
            "channels": [{**channel("k1")}],
            "valves": [{"id": "kv", "travel_time_s": 1}],
        }
    }
)


def test_a_failing_close_is_tried_three_times_then_raises_a_latched_valve_fault(
    database_url: str, tmp_path: Path
) -> None:
    valve = FailingValve("kv")

    async def scenario() -> None:
        async with running(CONFIG, database_url, tmp_path, valves={"kv": valve}) as runtime:
            await commission(runtime)
            valve.failing = True
            valve.attempts.clear()
            await submit(runtime, Reading("k1", 15_000.0, 1.0))  # 30 % LEL: trip, close
            await eventually(lambda: valve_state(runtime, "kv") == "fault", "the valve fault")
            assert valve.attempts == [ValveAction.CLOSE] * 3
            fault = alarm(runtime, "kitchen/kv/VALVE_FAULT")
            assert fault is not None
            assert (fault["active"], fault["latched"], zone(runtime, "kitchen")["status"]) == (True, True, "tripped")
            detail = next(v["detail"] for v in runtime.services.plant.valves_view() if v["id"] == "kv")
            assert detail == "driver failed: close failed after 3 tries: kv: relay board does not answer"

            # the board answers again: the re-asserted close goes through, the fault alarm stays latched
            valve.failing = False
            await eventually(lambda: valve_state(runtime, "kv") == "closed", "the re-asserted close", 5)
            fault = alarm(runtime, "kitchen/kv/VALVE_FAULT")
            assert fault is not None and (fault["active"], fault["latched"]) == (False, True)
            await runtime.services.recorder.wait_recorded()
            with runtime.services.session_factory() as session:
                stored = list_events(session, flt=EventFilter(kinds=[EventKind.ALARM], source="kitchen/kv/VALVE_FAULT"))
            assert [e.payload["state"] for e in reversed(stored)][:2] == ["unacknowledged", "latched"]

    asyncio.run(scenario())


def test_a_failing_open_leaves_the_valve_in_fault_not_open(database_url: str, tmp_path: Path) -> None:
    valve = FailingValve("kv")

    async def scenario() -> None:
        async with running(CONFIG, database_url, tmp_path, valves={"kv": valve}) as runtime:
            await eventually(lambda: valve_state(runtime, "kv") == "closed", "the cold-start close")
            assert (await operate(runtime, OperatorAction.RESET, "kitchen")).accepted
            valve.failing = True
            result = await operate(runtime, OperatorAction.OPEN, "kv")
            assert result.accepted  # the core commands it; the driver is what fails
            await eventually(lambda: valve_state(runtime, "kv") == "fault", "the valve fault")
            assert valve.attempts[-3:] == [ValveAction.OPEN] * 3
            assert valve.position.value == "closed"
            assert alarm(runtime, "kitchen/kv/VALVE_FAULT")["active"] is True  # type: ignore[index]

    asyncio.run(scenario())
