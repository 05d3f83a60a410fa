"""The Modbus valve driver against pymodbus's own server on a free localhost port (see ``modbus_fake``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from pymodbus.constants import ExcCodes

from gasguard.actuators.base import RetryingValve, ValveDriverError
from gasguard.actuators.modbus import ModbusValve, position_from_switches
from gasguard.config import ModbusValveDriver
from gasguard.domain import Event, SystemFault, ValveAction, ValveDriverFailed, ValveFeedback, ValvePosition
from modbus_fake import FakeModbusDevice, free_port

COIL, OPEN_IN, CLOSED_IN, UNIT = 7, 20, 21, 3


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
        "feedback_lost_s": 0.3,
        "heartbeat_s": None,  # the watchdog heartbeat has tests of its own (test_modbus_watchdog.py)
        **overrides,
    }
    return ModbusValveDriver.model_validate(fields)


def positions(events: list[Event]) -> list[ValvePosition]:
    return [e.position for e in events if isinstance(e, ValveFeedback)]


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(valve: ModbusValve) -> Any:
    task = asyncio.create_task(valve.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(
    ("open_on", "closed_on", "expected"),
    [
        (True, False, ValvePosition.OPEN),
        (False, True, ValvePosition.CLOSED),
        (False, False, ValvePosition.MOVING),
        (True, True, ValvePosition.UNKNOWN),
        (None, True, ValvePosition.CLOSED),
        (None, False, ValvePosition.OPEN),
        (True, None, ValvePosition.OPEN),
        (False, None, ValvePosition.MOVING),  # "not open" is never taken for closed
        (None, None, ValvePosition.UNKNOWN),
    ],
)
def test_limit_switches_map_to_positions(open_on: bool | None, closed_on: bool | None, expected: ValvePosition) -> None:
    assert position_from_switches(open_on, closed_on) is expected


def test_close_writes_false_and_open_writes_true_to_the_coil_of_the_unit() -> None:
    async def scenario() -> FakeModbusDevice:
        async with FakeModbusDevice(units=(1, UNIT)) as device:
            valve = ModbusValve("v1", driver(device.port))
            await valve.drive(ValveAction.CLOSE)
            await valve.drive(ValveAction.OPEN)
            await valve.aclose()
            return device

    device = asyncio.run(scenario())
    assert device.unit(UNIT).coil_writes == [(COIL, False), (COIL, True)]
    assert device.unit(1).coil_writes == []


def test_a_close_is_reported_open_moving_closed_from_the_switches() -> None:
    async def scenario() -> tuple[list[Event], list[tuple[int, bool]]]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            unit.discrete_inputs.update({OPEN_IN: True, CLOSED_IN: False})

            def leave_open_seat(coil: int, value: bool) -> None:
                if coil == COIL and not value:
                    unit.discrete_inputs[OPEN_IN] = False

            unit.on_coil_write = leave_open_seat
            events: list[Event] = []
            valve = ModbusValve("v1", driver(device.port))
            valve.attach(events.append)
            async with running(valve):
                await wait_for(lambda: positions(events) == [ValvePosition.OPEN])
                await valve.drive(ValveAction.CLOSE)
                await wait_for(lambda: positions(events)[-1] is ValvePosition.MOVING)
                unit.discrete_inputs[CLOSED_IN] = True
                await wait_for(lambda: positions(events)[-1] is ValvePosition.CLOSED)
            return events, unit.coil_writes

    events, writes = asyncio.run(scenario())
    assert events == [
        ValveFeedback("v1", ValvePosition.OPEN),
        ValveFeedback("v1", ValvePosition.MOVING),
        ValveFeedback("v1", ValvePosition.CLOSED),
    ]
    assert writes == [(COIL, False)]


def test_switches_that_disagree_report_unknown() -> None:
    async def scenario() -> list[Event]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            device.unit(UNIT).discrete_inputs.update({OPEN_IN: True, CLOSED_IN: True})
            events: list[Event] = []
            valve = ModbusValve("v1", driver(device.port))
            valve.attach(events.append)
            async with running(valve):
                await wait_for(lambda: len(events) == 1)
            return events

    assert asyncio.run(scenario()) == [ValveFeedback("v1", ValvePosition.UNKNOWN)]


def test_a_single_closed_switch_reads_closed_or_open() -> None:
    async def scenario() -> list[Event]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            unit.discrete_inputs[CLOSED_IN] = True
            events: list[Event] = []
            valve = ModbusValve("v1", driver(device.port, feedback_open_input=None))
            valve.attach(events.append)
            async with running(valve):
                await wait_for(lambda: len(events) == 1)
                unit.discrete_inputs[CLOSED_IN] = False
                await wait_for(lambda: len(events) == 2)
            return events

    assert positions(asyncio.run(scenario())) == [ValvePosition.CLOSED, ValvePosition.OPEN]


def test_unreadable_switches_report_unknown_once_then_the_position_again() -> None:
    async def scenario() -> tuple[list[Event], ModbusValve]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            unit.discrete_inputs.update({OPEN_IN: True, CLOSED_IN: False})
            events: list[Event] = []
            valve = ModbusValve("v1", driver(device.port))
            valve.attach(events.append)
            async with running(valve):
                await wait_for(lambda: len(events) == 1)
                unit.refuse = ExcCodes.DEVICE_FAILURE
                await wait_for(lambda: len(events) == 2)
                failed_reads = valve.errors
                await wait_for(lambda: valve.errors >= failed_reads + 3)  # still failing, nothing more reported
                assert len(events) == 2
                unit.refuse = None
                await wait_for(lambda: len(events) == 3)
            return events, valve

    events, valve = asyncio.run(scenario())
    assert positions(events) == [ValvePosition.OPEN, ValvePosition.UNKNOWN, ValvePosition.OPEN]
    assert "exception code 4" in (valve.last_error or "")


def test_a_refused_write_raises_and_changes_nothing() -> None:
    async def scenario() -> tuple[str, FakeModbusDevice]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            device.unit(UNIT).refuse = ExcCodes.DEVICE_FAILURE
            valve = ModbusValve("v1", driver(device.port))
            with pytest.raises(ValveDriverError) as err:
                await valve.drive(ValveAction.CLOSE)
            await valve.aclose()
            return str(err.value), device

    message, device = asyncio.run(scenario())
    assert message == f"v1: write coil {COIL}=False on 127.0.0.1:{device.port}: refused (exception code 4)"
    assert device.unit(UNIT).coil_writes == []


def test_a_silent_device_times_out() -> None:
    async def scenario() -> str:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            device.unit(UNIT).silent_s = 2.0
            valve = ModbusValve("v1", driver(device.port, timeout_s=0.2))
            with pytest.raises(ValveDriverError) as err:
                await valve.drive(ValveAction.CLOSE)
            await valve.aclose()
            return str(err.value)

    assert asyncio.run(scenario()).endswith("no answer within 0.2 s")


def test_an_unreachable_valve_becomes_a_driver_failure_after_retries() -> None:
    port = free_port()

    async def scenario() -> tuple[bool, list[Event]]:
        events: list[Event] = []
        valve = ModbusValve("v1", driver(port, timeout_s=0.2))
        sent = await RetryingValve(valve, events.append, attempts=2, backoff_s=0.01).send(ValveAction.CLOSE)
        return sent, events

    sent, events = asyncio.run(scenario())
    assert sent is False
    assert len(events) == 2
    failed, unreachable = events
    assert isinstance(failed, ValveDriverFailed)
    assert failed.valve == "v1"
    assert failed.detail.startswith("close failed after 2 tries: v1: write coil 7=False")
    assert "cannot connect" in failed.detail
    # the driver that cannot be reached is also a system fault: it drops the fault relay
    assert unreachable == SystemFault("valve:v1", True, failed.detail)


def test_the_valve_reconnects_for_the_next_command_after_a_device_restart() -> None:
    async def scenario() -> list[tuple[int, bool]]:
        device = FakeModbusDevice(units=(UNIT,))
        await device.start()
        valve = ModbusValve("v1", driver(device.port))
        try:
            await valve.drive(ValveAction.CLOSE)
            await device.stop()
            with pytest.raises(ValveDriverError):
                await valve.drive(ValveAction.CLOSE)
            await device.start()
            await valve.drive(ValveAction.CLOSE)
        finally:
            await valve.aclose()
            await device.stop()
        writes: list[tuple[int, bool]] = device.unit(UNIT).coil_writes
        return writes

    assert asyncio.run(scenario()) == [(COIL, False), (COIL, False)]


def test_a_valve_without_switches_is_driven_and_reports_nothing() -> None:
    async def scenario() -> tuple[list[Event], list[tuple[int, bool]]]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            events: list[Event] = []
            valve = ModbusValve("v1", driver(device.port, feedback_open_input=None, feedback_closed_input=None))
            valve.attach(events.append)
            await valve.run()  # nothing to watch: returns at once
            await valve.drive(ValveAction.CLOSE)
            await valve.aclose()
            return events, device.unit(UNIT).coil_writes

    events, writes = asyncio.run(scenario())
    assert events == []
    assert writes == [(COIL, False)]
