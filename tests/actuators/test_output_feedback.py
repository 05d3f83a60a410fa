"""An output whose feedback disagrees with its command (a sounder told on whose relay stays off) is a
SystemFault on ``output:<id>:feedback`` after its settling time, once, and clears when it agrees again."""

from __future__ import annotations

import asyncio

import yaml

from gasguard.actuators.factory import build_output_driver
from gasguard.actuators.feedback import FeedbackCheck, expected_feedback
from gasguard.actuators.modbus_output import ModbusOutput
from gasguard.actuators.mqtt_output import MqttOutput
from gasguard.config import ModbusOutputDriver, parse_site_config
from gasguard.domain import Event, OutputMode, SystemFault
from gasguard.mqtt_client import BrokerAddress
from modbus_fake import FakeModbusDevice

COIL, FEEDBACK_IN, UNIT = 4, 30, 2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_expected_feedback_per_mode() -> None:
    assert expected_feedback(OutputMode.ON, pulsed_reports_on=False) is True
    assert expected_feedback(OutputMode.OFF, pulsed_reports_on=False) is False
    assert expected_feedback(OutputMode.PULSED, pulsed_reports_on=False) is None  # follows the pulsing coil
    assert expected_feedback(OutputMode.PULSED, pulsed_reports_on=True) is True
    assert expected_feedback(None, pulsed_reports_on=True) is None


def test_a_sounder_commanded_on_whose_feedback_stays_off_is_a_fault_after_settling_then_clears() -> None:
    clock = Clock()
    events: list[Event] = []
    check = FeedbackCheck("kitchen-sounder", pulsed_reports_on=False, settle_s=3.0, clock=clock)
    check.attach(events.append)

    check.update(OutputMode.ON, False)
    clock.now += 2.9
    check.update(OutputMode.ON, False)
    assert events == []  # still within its settling time

    clock.now += 0.2
    check.update(OutputMode.ON, False)
    check.update(OutputMode.ON, False)  # reported once, not on every reading
    assert events == [
        SystemFault("output:kitchen-sounder:feedback", True, "commanded on, its feedback says off"),
    ]

    check.update(OutputMode.ON, True)
    assert events[1:] == [SystemFault("output:kitchen-sounder:feedback", False, "feedback agrees again")]


def test_a_new_command_gets_its_settling_time_again() -> None:
    clock = Clock()
    events: list[Event] = []
    check = FeedbackCheck("fan", pulsed_reports_on=False, settle_s=3.0, clock=clock)
    check.attach(events.append)
    check.update(OutputMode.ON, False)
    clock.now += 2.0
    check.update(OutputMode.OFF, True)  # switched off; the relay is still dropping out
    clock.now += 2.0
    check.update(OutputMode.OFF, True)
    assert events == []


def test_an_mqtt_node_that_never_reports_is_judged_when_its_settling_time_is_up() -> None:
    async def scenario() -> list[Event]:
        events: list[Event] = []
        check = FeedbackCheck("beacon", pulsed_reports_on=True, settle_s=0.1)
        check.attach(events.append)
        check.update(OutputMode.PULSED, None)  # and then nothing arrives on its state topic
        await asyncio.sleep(0.3)
        return events

    assert asyncio.run(scenario()) == [
        SystemFault("output:beacon:feedback", True, "commanded pulsed, its feedback says nothing")
    ]


def test_mqtt_output_state_messages_are_held_against_the_command() -> None:
    events: list[Event] = []
    output = MqttOutput(
        "sounder", BrokerAddress("127.0.0.1", 1), base_topic="gasguard/s/sounder", feedback=True, check_feedback=True
    )
    assert output.feedback_check is not None
    output.feedback_check.settle_s = 0.0
    output.attach(events.append)
    output.mode = OutputMode.ON  # as after a published ON
    output.handle(b"off")
    output.handle(b"on")
    assert events == [
        SystemFault("output:sounder:feedback", True, "commanded on, its feedback says off"),
        SystemFault("output:sounder:feedback", False, "feedback agrees again"),
    ]


def test_modbus_output_feedback_input_disagreeing_is_reported_through_attach() -> None:
    async def scenario() -> list[Event]:
        events: list[Event] = []
        async with FakeModbusDevice(units=(UNIT,)) as device:
            device.unit(UNIT).discrete_inputs[FEEDBACK_IN] = False  # the relay never pulls in
            config = ModbusOutputDriver.model_validate(
                {
                    "kind": "modbus",
                    "host": "127.0.0.1",
                    "port": device.port,
                    "unit": UNIT,
                    "coil": COIL,
                    "feedback_input": FEEDBACK_IN,
                    "heartbeat_s": 0.1,
                    "timeout_s": 0.3,
                }
            )
            sounder = ModbusOutput("sounder", config, check_feedback=True)
            assert sounder.feedback_check is not None
            sounder.feedback_check.settle_s = 0.3
            sounder.attach(events.append)
            task = asyncio.create_task(sounder.run())
            try:
                await sounder.set(OutputMode.ON)
                async with asyncio.timeout(5):
                    while not events:
                        await asyncio.sleep(0.02)
                device.unit(UNIT).discrete_inputs[FEEDBACK_IN] = True  # fixed: it pulls in
                async with asyncio.timeout(5):
                    while len(events) < 2:
                        await asyncio.sleep(0.02)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return events

    assert asyncio.run(scenario()) == [
        SystemFault("output:sounder:feedback", True, "commanded on, its feedback says off"),
        SystemFault("output:sounder:feedback", False, "feedback agrees again"),
    ]


def test_the_factory_checks_feedback_of_every_output_but_the_fault_relay() -> None:
    site = parse_site_config(
        yaml.safe_load(
            """
sites:
  - id: plant
    outputs:
      - id: horn
        kind: sounder
        levels: [A2]
        feedback: true
        driver: {kind: modbus, host: io, coil: 1, feedback_input: 1}
      - id: healthy
        kind: fault_relay
        normally_energised: true
        feedback: true
        driver: {kind: modbus, host: io, coil: 2, feedback_input: 2}
    zones:
      - id: kitchen
        channels: [{id: kitchen-ch1, gas: methane}]
        valves: [{id: kitchen-valve}]
"""
        )
    )
    drivers = {o.id: build_output_driver(s, o, mqtt=None) for s, o in site.outputs()}
    assert isinstance(drivers["horn"], ModbusOutput) and drivers["horn"].feedback_check is not None
    assert isinstance(drivers["healthy"], ModbusOutput) and drivers["healthy"].feedback_check is None
