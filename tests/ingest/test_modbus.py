"""Modbus TCP polling against pymodbus's own server on a free localhost port (see ``modbus_fake``)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from pymodbus.constants import ExcCodes

from gasguard.actuators.factory import build_valve_drivers
from gasguard.config import ModbusChannelSource, SiteConfig, parse_site_config
from gasguard.domain import ChannelHealth, ChannelHealthChanged, Output, Reading, ValveCommand, ZoneTripChanged
from gasguard.ingest.modbus import ModbusChannel, ModbusPoller, decode_registers, modbus_channels
from gasguard.pipeline import SafetyPipeline
from gasguard.safety.interlock import running_start
from modbus_fake import FakeModbusDevice, free_port

NOW = 1_700_000_000.0


def site(*channels: dict[str, Any], extra_zone: bool = False) -> SiteConfig:
    zones: list[dict[str, Any]] = [{"id": "boiler", "channels": list(channels)}]
    if extra_zone:
        zones.append({"id": "kitchen", "channels": [{"id": "kitchen-ch1", "gas": "methane"}]})
    return parse_site_config({"sites": [{"id": "plant", "zones": zones}]})


def channel(cid: str, port: int, **modbus: Any) -> dict[str, Any]:
    source = {"host": "127.0.0.1", "port": port, "poll_s": 0.05, "timeout_s": 0.5, **modbus}
    return {"id": cid, "gas": "methane", "unit": "ppm", "modbus": source}


def float_words(value: float) -> tuple[int, int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return high, low


async def collect(poller: ModbusPoller, until: Callable[[list[Reading]], bool]) -> tuple[list[Reading], dict[str, Any]]:
    """Run the poller until ``until(readings)`` holds (10 s guard against a hang).

    Returns the readings and ``health()`` as it was at that moment, while the poller was still running.
    """
    got: list[Reading] = []
    seen: dict[str, Any] = {}
    done = asyncio.Event()

    def submit(reading: Reading) -> None:
        got.append(reading)
        if not done.is_set() and until(got):
            seen.update(poller.health())
            done.set()

    task = asyncio.create_task(poller.run(submit))
    try:
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return got, seen


def values_of(readings: list[Reading], cid: str) -> list[float | None]:
    return [r.value for r in readings if r.channel == cid]


# --------------------------------------------------------------------------- decoding and config


def test_decode_scales_16_bit_and_float32_registers() -> None:
    assert decode_registers([250], ModbusChannelSource(host="d", register=0, scale=0.1)) == pytest.approx(25.0)
    assert decode_registers([819], ModbusChannelSource(host="d", register=0, scale=2.0, offset=-1.0)) == 1637.0
    assert decode_registers([0xFFFE], ModbusChannelSource(host="d", register=0)) == 65534.0
    assert decode_registers([0xFFFE], ModbusChannelSource(host="d", register=0, signed=True)) == -2.0
    high, low = float_words(12.5)
    assert decode_registers([high, low], ModbusChannelSource(host="d", register=0, count=2)) == 12.5
    little = ModbusChannelSource(host="d", register=0, count=2, word_order="little")
    assert decode_registers([low, high], little) == 12.5


def test_decode_turns_nan_and_infinity_into_none() -> None:
    source = ModbusChannelSource(host="d", register=0, count=2)
    assert decode_registers(list(float_words(float("nan"))), source) is None
    assert decode_registers(list(float_words(float("inf"))), source) is None


def test_decode_refuses_a_short_answer() -> None:
    with pytest.raises(ValueError, match="expected 2 register"):
        decode_registers([1], ModbusChannelSource(host="d", register=0, count=2))


def test_modbus_channels_lists_only_polled_channels() -> None:
    config = site(channel("boiler-ch1", 1502, register=3), extra_zone=True)
    assert modbus_channels(config) == [
        ModbusChannel(
            "plant",
            "boiler",
            "boiler-ch1",
            ModbusChannelSource(host="127.0.0.1", port=1502, register=3, poll_s=0.05, timeout_s=0.5),
        )
    ]


def test_a_site_without_modbus_channels_returns_at_once() -> None:
    config = site({"id": "boiler-ch1", "gas": "methane"})
    poller = ModbusPoller(config)
    asyncio.run(poller.run(lambda reading: None))
    assert poller.health()["ok"] is True
    assert poller.health()["devices"] == []


# --------------------------------------------------------------------------- against a device


def test_poller_reads_every_channel_scaled_with_its_own_unit_and_clock() -> None:
    async def scenario() -> tuple[list[Reading], dict[str, Any]]:
        async with FakeModbusDevice(units=(1, 2)) as device:
            high, low = float_words(12.5)
            device.unit(1).input_registers.update({0: 250, 10: low, 11: high})
            device.unit(2).input_registers[5] = 0xFFF6  # -10 as int16
            config = site(
                channel("ch-scaled", device.port, register=0, scale=0.1),
                channel("ch-float", device.port, register=10, count=2, word_order="little"),
                channel("ch-signed", device.port, unit=2, register=5, signed=True, offset=100),
            )
            poller = ModbusPoller(config, clock=lambda: NOW)
            return await collect(
                poller, lambda got: all(len(values_of(got, c)) >= 2 for c in ("ch-scaled", "ch-float", "ch-signed"))
            )

    readings, health = asyncio.run(scenario())
    assert set(values_of(readings, "ch-scaled")) == {25.0}
    assert set(values_of(readings, "ch-float")) == {12.5}
    assert set(values_of(readings, "ch-signed")) == {90.0}
    assert {r.ts for r in readings} == {NOW}
    assert len(health["devices"]) == 1  # one connection for both units behind the same host
    assert health["devices"][0]["units"] == [1, 2]
    assert health["devices"][0]["channels"] == ["ch-scaled", "ch-float", "ch-signed"]
    assert health["failing_channels"] == []
    assert health["errors"] == 0


def test_a_changed_register_shows_in_the_next_reading() -> None:
    async def scenario() -> list[Reading]:
        async with FakeModbusDevice() as device:
            device.unit(1).input_registers[0] = 100
            poller = ModbusPoller(site(channel("ch1", device.port, register=0)))

            def until(got: list[Reading]) -> bool:
                if got[-1].value == 100.0:
                    device.unit(1).input_registers[0] = 4200
                return got[-1].value == 4200.0

            return (await collect(poller, until))[0]

    values = values_of(asyncio.run(scenario()), "ch1")
    assert values[0] == 100.0
    assert values[-1] == 4200.0
    assert set(values) == {100.0, 4200.0}


def test_a_float_nan_is_submitted_as_an_invalid_reading() -> None:
    async def scenario() -> list[Reading]:
        async with FakeModbusDevice() as device:
            high, low = float_words(float("nan"))
            device.unit(1).input_registers.update({0: high, 1: low})
            poller = ModbusPoller(site(channel("ch1", device.port, register=0, count=2)), clock=lambda: NOW)
            return (await collect(poller, lambda got: len(got) >= 1))[0]

    assert asyncio.run(scenario())[0] == Reading("ch1", None, NOW)


def test_a_refused_read_submits_nothing_for_that_channel_only() -> None:
    async def scenario() -> tuple[list[Reading], dict[str, Any], ModbusPoller]:
        async with FakeModbusDevice(units=(1, 2)) as device:
            device.unit(1).input_registers[0] = 50
            device.unit(2).refuse = ExcCodes.DEVICE_FAILURE
            poller = ModbusPoller(
                site(channel("ch-ok", device.port, register=0), channel("ch-broken", device.port, unit=2, register=0))
            )
            readings, health = await collect(poller, lambda got: len(values_of(got, "ch-ok")) >= 5)
            return readings, health, poller

    readings, health, poller = asyncio.run(scenario())
    assert values_of(readings, "ch-broken") == []
    assert set(values_of(readings, "ch-ok")) == {50.0}
    assert health["failing_channels"] == ["ch-broken"]
    assert health["ok"] is False
    assert health["connected"] is True
    assert poller.stats.errors >= 4  # every poll of the broken channel failed
    assert "ch-broken" in (poller.stats.last_error or "")
    assert "exception code 4" in (poller.stats.last_error or "")


def test_an_illegal_register_faults_only_its_channel() -> None:
    async def scenario() -> tuple[list[Reading], dict[str, Any], ModbusPoller]:
        async with FakeModbusDevice() as device:
            device.unit(1).input_registers[0] = 7
            poller = ModbusPoller(
                site(channel("ch-ok", device.port, register=0), channel("ch-typo", device.port, register=9000))
            )
            readings, health = await collect(poller, lambda got: len(values_of(got, "ch-ok")) >= 3)
            return readings, health, poller

    readings, health, poller = asyncio.run(scenario())
    assert values_of(readings, "ch-typo") == []
    assert health["failing_channels"] == ["ch-typo"]
    assert "exception code 2" in (poller.stats.last_error or "")  # illegal data address


def test_a_silent_device_times_out_and_submits_nothing() -> None:
    async def scenario() -> tuple[list[Reading], dict[str, Any], ModbusPoller]:
        async with FakeModbusDevice(units=(1, 2)) as device:
            device.unit(1).input_registers[0] = 1
            device.unit(2).silent_s = 2.0
            poller = ModbusPoller(
                site(
                    channel("ch-ok", device.port, register=0),
                    channel("ch-silent", device.port, unit=2, register=0, timeout_s=0.2),
                )
            )
            readings, health = await collect(
                poller, lambda got: len(values_of(got, "ch-ok")) >= 3 and poller.stats.errors >= 1
            )
            return readings, health, poller

    readings, health, poller = asyncio.run(scenario())
    assert values_of(readings, "ch-silent") == []
    assert health["failing_channels"] == ["ch-silent"]
    assert "no answer within 0.2 s" in (poller.stats.last_error or "")


def test_an_unreachable_device_is_retried_until_it_answers() -> None:
    port = free_port()

    async def scenario() -> tuple[list[Reading], dict[str, Any], dict[str, Any]]:
        device = FakeModbusDevice(port=port)
        device.unit(1).input_registers[0] = 321
        poller = ModbusPoller(site(channel("ch1", port, register=0)), backoff_initial_s=0.05, backoff_max_s=0.2)
        seen_down: dict[str, Any] = {}
        got: list[Reading] = []
        done = asyncio.Event()

        def submit(reading: Reading) -> None:
            got.append(reading)
            done.set()

        task = asyncio.create_task(poller.run(submit))
        try:
            async with asyncio.timeout(10):
                while poller.stats.errors < 3:  # three failed connects, with backoff between them
                    await asyncio.sleep(0.02)
                seen_down.update(poller.health())
                await device.start()
                await done.wait()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await device.stop()
        return got, seen_down, poller.health()

    readings, down, up = asyncio.run(scenario())
    assert down["connected"] is False
    assert down["failing_channels"] == ["ch1"]
    assert "cannot connect" in down["last_error"]
    assert values_of(readings, "ch1")[0] == 321.0
    assert up["devices"][0]["connected"] is False  # closed when the poller stopped


def test_the_poller_reconnects_after_the_device_restarts() -> None:
    async def scenario() -> tuple[list[float | None], ModbusPoller]:
        device = FakeModbusDevice()
        device.unit(1).input_registers[0] = 10
        await device.start()
        poller = ModbusPoller(site(channel("ch1", device.port, register=0)), backoff_initial_s=0.05, backoff_max_s=0.2)
        restarted = asyncio.Event()

        async def restart() -> None:
            await device.stop()
            while poller.stats.connected:  # the poller notices the lost connection
                await asyncio.sleep(0.01)
            device.unit(1).input_registers[0] = 20
            await device.start()
            restarted.set()

        pending: list[asyncio.Task[None]] = []

        def until(got: list[Reading]) -> bool:
            if len(got) == 2 and not pending:
                pending.append(asyncio.get_running_loop().create_task(restart()))
            return restarted.is_set() and got[-1].value == 20.0

        try:
            readings, _ = await collect(poller, until)
        finally:
            await device.stop()
        return values_of(readings, "ch1"), poller

    values, poller = asyncio.run(scenario())
    assert values[:2] == [10.0, 10.0]
    assert values[-1] == 20.0
    assert poller.stats.polls == len(values)
    assert poller.stats.errors >= 1


def test_a_bug_in_submit_does_not_stop_polling() -> None:
    async def scenario() -> tuple[int, ModbusPoller]:
        async with FakeModbusDevice() as device:
            device.unit(1).input_registers[0] = 5
            poller = ModbusPoller(site(channel("ch1", device.port, register=0)), backoff_initial_s=0.01)
            calls = 0
            done = asyncio.Event()

            def submit(reading: Reading) -> None:
                nonlocal calls
                calls += 1
                if calls >= 3:
                    done.set()
                raise RuntimeError("sink exploded")

            task = asyncio.create_task(poller.run(submit))
            try:
                async with asyncio.timeout(10):
                    await done.wait()
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            return calls, poller

    calls, poller = asyncio.run(scenario())
    assert calls >= 3
    assert "sink exploded" in (poller.stats.last_error or "")


def test_a_detector_that_stops_answering_goes_stale_and_trips_its_zone() -> None:
    """The documented fail-safe path, end to end: no reading -> STALE -> FAULT votes -> trip -> close."""

    class Outputs:
        def __init__(self) -> None:
            self.seen: list[Output] = []

        def submit_outputs(self, outputs: list[Output], *, ts: float) -> None:
            self.seen.extend(outputs)

    async def scenario() -> tuple[list[Output], list[float | None]]:
        async with FakeModbusDevice() as device:
            device.unit(1).input_registers[0] = 100  # 100 ppm methane: 0.2 %LEL, healthy
            data = {
                "sites": [
                    {
                        "id": "plant",
                        "zones": [
                            {
                                "id": "boiler",
                                "channels": [
                                    {
                                        **channel("boiler-ch1", device.port, register=0, timeout_s=0.2),
                                        "stale_timeout_s": 1.0,
                                        "warmup_s": 0,
                                    }
                                ],
                                "valves": [{"id": "boiler-valve", "travel_time_s": 0.2}],
                            }
                        ],
                    }
                ]
            }
            config = parse_site_config(data)
            sink = Outputs()
            pipeline = SafetyPipeline(
                running_start(config.plant_spec(), time.time()),
                valves=build_valve_drivers(config, mqtt=None),
                events=sink,
                tick_s=0.05,
            )
            readings: list[float | None] = []

            def submit(reading: Reading) -> None:
                readings.append(reading.value)
                pipeline.submit(reading)

            tasks = [asyncio.create_task(pipeline.run()), asyncio.create_task(ModbusPoller(config).run(submit))]
            try:
                async with asyncio.timeout(10):
                    while len(readings) < 3:
                        await asyncio.sleep(0.01)
                    device.unit(1).refuse = ExcCodes.GATEWAY_NO_RESPONSE
                    while not any(isinstance(o, ZoneTripChanged) for o in sink.seen):
                        await asyncio.sleep(0.01)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            return sink.seen, readings

    seen, readings = asyncio.run(scenario())
    assert set(readings) == {100.0}  # nothing was invented while the detector was silent
    health = [o for o in seen if isinstance(o, ChannelHealthChanged)]
    assert [(h.channel, h.health) for h in health] == [("boiler-ch1", ChannelHealth.STALE)]
    trips = [o for o in seen if isinstance(o, ZoneTripChanged)]
    assert [(t.zone, t.tripped) for t in trips] == [("boiler", True)]
    closes = [o for o in seen if isinstance(o, ValveCommand)]
    assert [(c.valve, c.action.value) for c in closes][:1] == [("boiler-valve", "close")]
