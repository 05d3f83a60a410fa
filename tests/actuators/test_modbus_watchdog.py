"""The Modbus valve driver feeding its I/O module's watchdog, and what it reports after the watchdog fired.

Against pymodbus's own server (``modbus_fake``), whose units have a communication watchdog like the
WAGO, Moxa and Advantech modules: no write for ``watchdog_s`` and every coil drops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from gasguard.actuators.modbus import ModbusValve
from gasguard.config import ModbusValveDriver
from gasguard.domain import Event, SystemFault, ValveAction, ValveFeedback, ValvePosition
from modbus_fake import FakeModbusDevice, FakeValve

COIL, HEARTBEAT_COIL, OPEN_IN, CLOSED_IN, UNIT = 7, 9, 20, 21, 3
BEAT = 0.1


def driver(port: int, **overrides: Any) -> ModbusValveDriver:
    fields: dict[str, Any] = {
        "kind": "modbus",
        "host": "127.0.0.1",
        "port": port,
        "unit": UNIT,
        "coil": COIL,
        "feedback_open_input": OPEN_IN,
        "feedback_closed_input": CLOSED_IN,
        "poll_s": 0.05,
        "timeout_s": 0.5,
        "heartbeat_s": BEAT,
        **overrides,
    }
    return ModbusValveDriver.model_validate(fields)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(valve: ModbusValve) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(valve.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def feedback(events: list[Event]) -> list[ValveFeedback]:
    return [e for e in events if isinstance(e, ValveFeedback)]


class Clock:
    """``time.monotonic`` for the driver, moved by the test (a freeze without freezing the test)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_watchdog_of_the_fake_module_drops_every_coil_when_nothing_is_written() -> None:
    async def scenario() -> tuple[dict[int, bool], int, bool]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            unit.watchdog_s = 0.3
            valve = FakeValve(unit, COIL, OPEN_IN, CLOSED_IN)
            driver_ = ModbusValve("v1", driver(device.port, heartbeat_s=None))
            await driver_.drive(ValveAction.OPEN)
            await driver_.drive(ValveAction.OPEN)
            assert valve.is_open
            await wait_for(lambda: bool(unit.watchdog_fired))
            await driver_.aclose()
            return dict(unit.coils), len(unit.watchdog_fired), valve.is_closed

    coils, fired, closed = asyncio.run(scenario())
    assert coils == {COIL: False}
    assert (fired, closed) == (1, True)


def test_watchdog_heartbeat_toggles_its_own_coil_and_leaves_the_valve_coil_to_commands() -> None:
    async def scenario() -> tuple[list[tuple[int, bool]], int]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            unit.watchdog_s = 3 * BEAT
            FakeValve(unit, COIL, OPEN_IN, CLOSED_IN)
            valve = ModbusValve("v1", driver(device.port, heartbeat_coil=HEARTBEAT_COIL))
            await valve.drive(ValveAction.OPEN)
            async with running(valve):
                await wait_for(lambda: valve.heartbeats >= 6)
            return unit.coil_writes, len(unit.watchdog_fired)

    writes, fired = asyncio.run(scenario())
    assert writes[0] == (COIL, True)
    assert writes[1:7] == [(HEARTBEAT_COIL, level) for level in (True, False, True, False, True, False)]
    assert [w for w in writes if w[0] == COIL] == [(COIL, True)]
    assert fired == 0  # fed every heartbeat: the watchdog never fired


def test_watchdog_heartbeat_without_its_own_coil_rewrites_the_commanded_value() -> None:
    async def scenario() -> tuple[list[tuple[int, bool]], int]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            unit.watchdog_s = 3 * BEAT
            FakeValve(unit, COIL, OPEN_IN, CLOSED_IN)
            valve = ModbusValve("v1", driver(device.port))
            async with running(valve):
                await wait_for(lambda: valve.heartbeats == 0 and valve.position is ValvePosition.CLOSED)
                await valve.drive(ValveAction.OPEN)
                await wait_for(lambda: valve.heartbeats >= 4)
                await valve.drive(ValveAction.CLOSE)
                count = valve.heartbeats
                await wait_for(lambda: valve.heartbeats >= count + 2)
            return unit.coil_writes, len(unit.watchdog_fired)

    writes, fired = asyncio.run(scenario())
    opened = writes.index((COIL, False))
    assert set(writes[:opened]) == {(COIL, True)} and len(writes[:opened]) >= 5  # the open, then heartbeats
    assert set(writes[opened:]) == {(COIL, False)} and len(writes[opened:]) >= 3  # the close, then heartbeats
    assert fired == 0


def test_watchdog_a_coil_dropped_by_the_module_is_never_reenergised_by_a_heartbeat() -> None:
    """A local override (or a module restart) drops the coil: the heartbeat reads it back first."""

    async def scenario() -> tuple[list[Event], list[tuple[int, bool]]]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            events: list[Event] = []
            valve = ModbusValve("v1", driver(device.port, feedback_open_input=None, feedback_closed_input=None))
            valve.attach(events.append)
            await valve.drive(ValveAction.OPEN)
            async with running(valve):
                await wait_for(lambda: valve.heartbeats >= 2)
                unit.set_coil(COIL, False)
                await wait_for(lambda: bool(feedback(events)))
                count = valve.heartbeats
                await wait_for(lambda: valve.heartbeats >= count + 3)
            return events, unit.coil_writes

    events, writes = asyncio.run(scenario())
    assert feedback(events) == [
        ValveFeedback(
            "v1",
            ValvePosition.CLOSED,
            "closed by its I/O module, which dropped the coil (module restart or local override)",
        )
    ]
    last_true = max(i for i, w in enumerate(writes) if w == (COIL, True))
    assert writes[last_true + 1 :] and set(writes[last_true + 1 :]) == {(COIL, False)}


def test_watchdog_after_a_freeze_the_closed_valve_is_reported_closed_by_its_watchdog_with_the_gap() -> None:
    """GasGuard frozen 12 s (the driver's monotonic clock jumps); the module's watchdog had dropped the coil."""

    async def scenario() -> tuple[list[Event], list[tuple[int, bool]]]:
        clock = Clock()
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            fake = FakeValve(unit, COIL, OPEN_IN, CLOSED_IN)
            events: list[Event] = []
            valve = ModbusValve("v1", driver(device.port, heartbeat_s=1.0), clock=clock)
            valve.attach(events.append)
            await valve.drive(ValveAction.OPEN)
            async with running(valve):
                await wait_for(lambda: [f.position for f in feedback(events)] == [ValvePosition.OPEN])
            # frozen: nothing is written for 12 s, the module's watchdog drops its coils, the valve closes
            clock.now += 12.0
            unit.watchdog_s = 3.0
            unit.last_write = 0.0
            unit.check_watchdog(1e9)
            assert fake.is_closed
            writes_before = len(unit.coil_writes)
            async with running(valve):
                await wait_for(lambda: feedback(events)[-1].position is ValvePosition.CLOSED)
                await valve.heartbeat()
                await valve.heartbeat()
            return events, unit.coil_writes[writes_before:]

    events, writes = asyncio.run(scenario())
    assert feedback(events) == [
        ValveFeedback("v1", ValvePosition.OPEN),
        ValveFeedback("v1", ValvePosition.CLOSED, "closed by its watchdog: GasGuard stopped answering for 12 s"),
    ]
    assert (COIL, True) not in writes  # the heartbeats after the thaw keep it closed
    assert writes and set(writes) == {(COIL, False)}


def test_watchdog_heartbeats_are_withheld_while_the_safety_loop_does_not_tick() -> None:
    async def scenario() -> tuple[list[Event], int]:
        ticking = {"yes": True}
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            unit.watchdog_s = 3 * BEAT
            fake = FakeValve(unit, COIL, OPEN_IN, CLOSED_IN)
            events: list[Event] = []
            valve = ModbusValve("v1", driver(device.port, heartbeat_coil=HEARTBEAT_COIL))
            valve.attach(events.append)
            valve.set_alive(lambda: ticking["yes"])
            await valve.drive(ValveAction.OPEN)
            async with running(valve):
                await wait_for(lambda: valve.heartbeats >= 3 and fake.is_open)
                ticking["yes"] = False  # the safety loop hangs; the event loop (and this driver) still run
                await wait_for(lambda: fake.is_closed)
                assert unit.watchdog_fired
                ticking["yes"] = True
                await wait_for(lambda: feedback(events)[-1].position is ValvePosition.CLOSED)
            return events, len(unit.watchdog_fired)

    events, fired = asyncio.run(scenario())
    closed = feedback(events)[-1]
    assert fired == 1
    assert closed.detail.startswith("closed by its watchdog: GasGuard stopped answering for ")


def test_watchdog_heartbeats_that_fail_report_the_module_unreachable_then_reachable() -> None:
    async def scenario() -> list[Event]:
        device = FakeModbusDevice(units=(UNIT,))
        await device.start()
        events: list[Event] = []
        valve = ModbusValve(
            "v1", driver(device.port, heartbeat_coil=HEARTBEAT_COIL, feedback_open_input=None, timeout_s=0.2)
        )
        valve.attach(events.append)
        try:
            async with running(valve):
                await wait_for(lambda: valve.heartbeats >= 1)
                await device.stop()
                await wait_for(lambda: any(isinstance(e, SystemFault) for e in events))
                await device.start()
                await wait_for(lambda: len([e for e in events if isinstance(e, SystemFault)]) == 2)
        finally:
            await device.stop()
        return [e for e in events if isinstance(e, SystemFault)]

    down, up = asyncio.run(scenario())
    assert isinstance(down, SystemFault) and (down.component, down.active) == ("valve:v1", True)
    assert down.detail.startswith("heartbeat failed 2 times: v1: heartbeat coil 9=")
    assert up == SystemFault("valve:v1", False, "reachable again")
