"""Output drivers: the Modbus coil (exact writes, pulsing, heartbeat, feedback), the simulated output, and the
retrying wrapper that reports an output that cannot be reached."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gasguard.actuators.base import OutputDriverError, RetryingOutput
from gasguard.actuators.modbus_output import ModbusOutput
from gasguard.actuators.simulated import SimulatedOutput
from gasguard.config import ModbusOutputDriver
from gasguard.domain import Event, OutputMode, SystemFault
from modbus_fake import FakeModbusDevice, free_port

COIL, HEARTBEAT_COIL, FEEDBACK_IN, UNIT = 4, 12, 30, 2


def driver(port: int, **overrides: Any) -> ModbusOutputDriver:
    fields: dict[str, Any] = {
        "kind": "modbus",
        "host": "127.0.0.1",
        "port": port,
        "unit": UNIT,
        "coil": COIL,
        "heartbeat_s": 60,  # out of the way unless a test is about it
        "timeout_s": 0.3,
        **overrides,
    }
    return ModbusOutputDriver.model_validate(fields)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(output: ModbusOutput) -> AsyncIterator[None]:
    task = asyncio.create_task(output.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_output_on_energises_and_off_de_energises_the_coil_of_its_unit() -> None:
    async def scenario() -> FakeModbusDevice:
        async with FakeModbusDevice(units=(1, UNIT)) as device:
            relay = ModbusOutput("system-fault", driver(device.port))
            await relay.set(OutputMode.ON)  # a fault relay: energised while healthy
            await relay.set(OutputMode.OFF)
            await relay.set(OutputMode.ON)
            await relay.aclose()
            return device

    device = asyncio.run(scenario())
    assert device.unit(UNIT).coil_writes == [(COIL, True), (COIL, False), (COIL, True)]
    assert device.unit(1).coil_writes == []


def test_output_sounder_pulsed_toggles_its_coil_until_told_steady_or_off() -> None:
    async def scenario() -> list[tuple[int, bool]]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            sounder = ModbusOutput("sounder", driver(device.port), pulse_half_period_s=0.05)
            async with running(sounder):
                await sounder.set(OutputMode.PULSED)
                await wait_for(lambda: len(unit.coil_writes) >= 5)
                await sounder.set(OutputMode.ON)  # silenced: steady
                steady = len(unit.coil_writes)
                await asyncio.sleep(0.3)
                assert unit.coil_writes[steady - 1 :] == [(COIL, True)]  # no more pulsing
                await sounder.set(OutputMode.OFF)
                await asyncio.sleep(0.2)
            return unit.coil_writes

    writes = asyncio.run(scenario())
    pulses = writes[: writes.index((COIL, True), 5)]
    assert pulses[:5] == [(COIL, True), (COIL, False), (COIL, True), (COIL, False), (COIL, True)]
    assert writes[-1] == (COIL, False)
    assert writes.count((COIL, False)) >= 3


def test_output_heartbeat_toggles_its_coil_and_the_watchdog_drops_the_relay_when_the_loop_hangs() -> None:
    async def scenario() -> tuple[list[tuple[int, bool]], list[float], bool]:
        ticking = {"yes": True}
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            unit.watchdog_s = 0.3
            relay = ModbusOutput("system-fault", driver(device.port, heartbeat_coil=HEARTBEAT_COIL, heartbeat_s=0.1))
            relay.set_alive(lambda: ticking["yes"])
            async with running(relay):
                await relay.set(OutputMode.ON)
                await wait_for(lambda: relay.heartbeats >= 4)
                assert unit.watchdog_fired == []
                ticking["yes"] = False  # the safety loop stops ticking: no heartbeat, the module drops it
                await wait_for(lambda: not unit.coils[COIL])
                writes = list(unit.coil_writes)
                ticking["yes"] = True
                await wait_for(lambda: unit.coils[COIL])  # healthy again: the commanded state is written again
            return writes, unit.watchdog_fired, unit.coils[COIL]

    writes, fired, energised = asyncio.run(scenario())
    assert writes[0] == (COIL, True)
    assert writes[1:5] == [
        (HEARTBEAT_COIL, True),
        (HEARTBEAT_COIL, False),
        (HEARTBEAT_COIL, True),
        (HEARTBEAT_COIL, False),
    ]
    assert [w for w in writes if w[0] == COIL] == [(COIL, True)]
    assert len(fired) == 1 and energised is True


def test_output_heartbeat_without_its_own_coil_rewrites_the_commanded_value_and_reads_feedback() -> None:
    async def scenario() -> tuple[list[tuple[int, bool]], bool | None]:
        async with FakeModbusDevice(units=(UNIT,)) as device:
            unit = device.unit(UNIT)
            unit.watchdog_s = 0.3
            unit.discrete_inputs[FEEDBACK_IN] = True
            fan = ModbusOutput("fan", driver(device.port, heartbeat_s=0.1, feedback_input=FEEDBACK_IN))
            async with running(fan):
                await fan.set(OutputMode.ON)
                await wait_for(lambda: fan.heartbeats >= 3)
            assert unit.watchdog_fired == []
            return unit.coil_writes, fan.feedback

    writes, fed_back = asyncio.run(scenario())
    assert len(writes) >= 4 and set(writes) == {(COIL, True)}
    assert fed_back is True


def test_output_unreachable_is_a_system_fault_after_retries_and_recovers_with_the_newest_mode() -> None:
    async def scenario() -> tuple[list[Event], list[OutputMode]]:
        events: list[Event] = []
        sim = SimulatedOutput("system-fault")
        sim.unreachable = True
        wrapper = RetryingOutput(sim, events.append, attempts=3, backoff_s=0.01, retry_s=0.05)
        worker = wrapper.command(OutputMode.ON)
        await wait_for(lambda: bool(events))
        wrapper.command(OutputMode.OFF)
        wrapper.command(OutputMode.ON)  # the newest request wins
        sim.unreachable = False
        await wait_for(lambda: wrapper.applied is OutputMode.ON and len(events) == 2)
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        return events, sim.modes

    events, modes = asyncio.run(scenario())
    assert events == [
        SystemFault("output:system-fault", True, "on failed after 3 tries: system-fault: no answer"),
        SystemFault("output:system-fault", False, "reachable again"),
    ]
    assert modes == [OutputMode.ON]


def test_output_modbus_module_that_cannot_be_reached_raises_a_named_error() -> None:
    async def scenario() -> str:
        relay = ModbusOutput("system-fault", driver(free_port()))
        with pytest.raises(OutputDriverError) as err:
            await relay.set(OutputMode.ON)
        return str(err.value)

    message = asyncio.run(scenario())
    assert message.startswith(f"system-fault: write coil {COIL}=True on 127.0.0.1:")
    assert "cannot connect" in message


def test_output_simulated_follows_its_commands_and_reports_them_as_feedback() -> None:
    async def scenario() -> SimulatedOutput:
        beacon = SimulatedOutput("beacon")
        assert beacon.feedback is None
        await beacon.set(OutputMode.PULSED)
        return beacon

    beacon = asyncio.run(scenario())
    assert beacon.modes == [OutputMode.PULSED] and beacon.feedback is True
