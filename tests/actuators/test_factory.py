"""Valve and output drivers built from the site configuration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gasguard.actuators.base import ValveDriver
from gasguard.actuators.factory import (
    build_output_drivers,
    build_valve_driver,
    build_valve_drivers,
    close_valve_drivers,
    run_valve_drivers,
)
from gasguard.actuators.modbus import ModbusValve
from gasguard.actuators.modbus_output import ModbusOutput
from gasguard.actuators.mqtt import MqttValve
from gasguard.actuators.mqtt_output import MqttOutput
from gasguard.actuators.simulated import SimulatedOutput, SimulatedValve
from gasguard.config import ConfigError, SiteConfig, parse_site_config
from gasguard.domain import Event, ValveAction, ValveFeedback, ValvePosition
from gasguard.ingest.mqtt import BrokerAddress

BROKER = BrokerAddress("broker.example", 1883)


def site(*valves: dict[str, Any]) -> SiteConfig:
    return parse_site_config(
        {
            "sites": [
                {
                    "id": "plant",
                    "zones": [
                        {"id": "boiler", "channels": [{"id": "boiler-ch1", "gas": "methane"}], "valves": list(valves)},
                        {"id": "lab", "channels": [{"id": "lab-ch1", "gas": "ethanol"}], "valves": [{"id": "lab-v"}]},
                    ],
                }
            ]
        }
    )


def build(config: SiteConfig, valve_id: str, **kwargs: Any) -> ValveDriver:
    for entry, zone in config.zones():
        for valve in zone.valves:
            if valve.id == valve_id:
                return build_valve_driver(entry, zone, valve, **kwargs)
    raise KeyError(valve_id)


def test_a_valve_without_a_driver_is_simulated_open_with_half_its_travel_time() -> None:
    driver = build(site({"id": "v1", "travel_time_s": 4}), "v1", mqtt=None)
    assert isinstance(driver, SimulatedValve)
    assert driver.valve_id == "v1"
    assert driver.travel_time_s == 2.0
    events: list[Event] = []
    driver.attach(events.append)
    assert events == [ValveFeedback("v1", ValvePosition.OPEN)]


def test_a_simulated_driver_is_the_same_as_none() -> None:
    driver = build(site({"id": "v1", "travel_time_s": 3, "driver": {"kind": "simulated"}}), "v1", mqtt=None)
    assert isinstance(driver, SimulatedValve)
    assert (driver.travel_time_s, driver.position) == (1.5, ValvePosition.OPEN)


def test_a_modbus_driver_gets_its_coil_and_inputs() -> None:
    modbus = {"kind": "modbus", "host": "relay", "port": 1502, "unit": 4, "coil": 9, "feedback_closed_input": 3}
    driver = build(site({"id": "v1", "driver": modbus}), "v1", mqtt=None)
    assert isinstance(driver, ModbusValve)
    assert driver.valve_id == "v1"
    assert (driver.config.host, driver.config.port, driver.config.unit, driver.config.coil) == ("relay", 1502, 4, 9)
    assert driver.config.feedback_closed_input == 3


def test_an_mqtt_valve_alone_in_its_zone_uses_the_zone_topics() -> None:
    driver = build(site({"id": "v1", "driver": {"kind": "mqtt"}}), "v1", mqtt=BROKER, prefix="acme")
    assert isinstance(driver, MqttValve)
    assert driver.broker == BROKER
    assert driver.command_topic == "acme/plant/boiler/valve/set"
    assert driver.state_topic == "acme/plant/boiler/valve/state"


def test_mqtt_valves_sharing_a_zone_get_one_topic_pair_each() -> None:
    config = site({"id": "v1", "driver": {"kind": "mqtt"}}, {"id": "v2", "driver": {"kind": "mqtt"}})
    drivers = [build(config, vid, mqtt=BROKER) for vid in ("v1", "v2")]
    assert [(d.command_topic, d.state_topic) for d in drivers if isinstance(d, MqttValve)] == [
        ("gasguard/plant/boiler/valve/v1/set", "gasguard/plant/boiler/valve/v1/state"),
        ("gasguard/plant/boiler/valve/v2/set", "gasguard/plant/boiler/valve/v2/state"),
    ]


def test_an_mqtt_topic_in_the_config_overrides_the_default() -> None:
    mqtt = {"kind": "mqtt", "topic": "relays/board7/out2", "feedback_lost_s": 30, "heartbeat_s": 0.5}
    driver = build(site({"id": "v1", "driver": mqtt}), "v1", mqtt=BROKER)
    assert isinstance(driver, MqttValve)
    assert (driver.command_topic, driver.state_topic) == ("relays/board7/out2/set", "relays/board7/out2/state")
    assert (driver.feedback_lost_s, driver.heartbeat_s) == (30.0, 0.5)
    assert driver.heartbeat_topic == "relays/board7/out2/heartbeat"


def test_an_mqtt_valve_without_a_broker_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as err:
        build(site({"id": "v1", "driver": {"kind": "mqtt"}}), "v1", mqtt=None)
    assert str(err.value) == (
        "valve 'v1' (site 'plant', zone 'boiler') uses the mqtt driver, but no MQTT broker is configured: "
        "set GASGUARD_MQTT_URL (or --mqtt), or give the valve another driver"
    )


def test_build_valve_drivers_covers_every_valve_by_id() -> None:
    modbus = {"kind": "modbus", "host": "relay", "coil": 0, "feedback_closed_input": 1}
    drivers = build_valve_drivers(site({"id": "v1", "driver": modbus}), mqtt=None)
    assert sorted(drivers) == ["lab-v", "v1"]
    assert isinstance(drivers["v1"], ModbusValve)
    assert isinstance(drivers["lab-v"], SimulatedValve)


def test_run_valve_drivers_returns_when_nothing_needs_watching() -> None:
    no_switches = {"kind": "modbus", "host": "relay", "coil": 0, "heartbeat_s": None}
    drivers = build_valve_drivers(site({"id": "v1", "feedback": False, "driver": no_switches}), mqtt=None)
    # simulated: no loop; modbus without switches or heartbeat: returns at once
    asyncio.run(run_valve_drivers(drivers))
    asyncio.run(close_valve_drivers(drivers))


class Flaky:
    """A driver whose watch loop crashes once, then finishes."""

    def __init__(self) -> None:
        self.valve_id = "flaky"
        self.runs = 0
        self.closed = False

    def attach(self, report: Any) -> None: ...

    async def drive(self, action: ValveAction) -> None: ...

    async def run(self) -> None:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("bug in the watch loop")

    async def aclose(self) -> None:
        self.closed = True


def test_a_crashed_driver_loop_is_restarted_and_drivers_are_closed() -> None:
    flaky = Flaky()
    asyncio.run(run_valve_drivers([flaky], restart_after_s=0.01))
    asyncio.run(close_valve_drivers({"flaky": flaky}))
    assert flaky.runs == 2
    assert flaky.closed is True


# --------------------------------------------------------------------------- outputs


def site_with_outputs(*outputs: dict[str, Any]) -> SiteConfig:
    return parse_site_config(
        {
            "sites": [
                {
                    "id": "plant",
                    "zones": [{"id": "boiler", "channels": [{"id": "boiler-ch1", "gas": "methane"}]}],
                    "outputs": list(outputs),
                }
            ]
        }
    )


RELAY = {"id": "system-fault", "kind": "fault_relay", "normally_energised": True}
SOUNDER = {"id": "boiler-sounder", "kind": "sounder", "levels": ["A2"]}


def test_output_drivers_are_built_per_kind_with_default_mqtt_topics() -> None:
    modbus = {"kind": "modbus", "host": "io", "coil": 3, "heartbeat_coil": 9, "heartbeat_s": 0.5}
    config = site_with_outputs(
        {**RELAY, "driver": modbus},
        {**SOUNDER, "feedback": True, "driver": {"kind": "mqtt"}},
        {"id": "fan", "kind": "fan", "levels": ["A1"], "driver": {"kind": "mqtt", "topic": "site/fan1"}},
        {"id": "beacon", "kind": "beacon", "levels": ["FAULT"]},
    )
    drivers = build_output_drivers(config, mqtt=BROKER, prefix="gg")
    relay, sounder, fan, beacon = (drivers[k] for k in ("system-fault", "boiler-sounder", "fan", "beacon"))
    assert isinstance(relay, ModbusOutput)
    assert (relay.config.coil, relay.config.heartbeat_coil, relay.config.heartbeat_s) == (3, 9, 0.5)
    assert isinstance(sounder, MqttOutput)
    assert (sounder.command_topic, sounder.state_topic, sounder.heartbeat_topic, sounder.availability_topic) == (
        "gg/plant/output/boiler-sounder/set",
        "gg/plant/output/boiler-sounder/state",
        "gg/plant/output/boiler-sounder/heartbeat",
        "gg/plant/output/boiler-sounder/availability",
    )
    assert isinstance(fan, MqttOutput)
    assert (fan.command_topic, fan.state_topic) == ("site/fan1/set", None)  # no feedback: no state topic
    assert isinstance(beacon, SimulatedOutput)


def test_an_mqtt_output_without_a_broker_is_a_config_error_naming_it() -> None:
    config = site_with_outputs({**SOUNDER, "driver": {"kind": "mqtt"}})
    with pytest.raises(ConfigError, match="output 'boiler-sounder' \\(site 'plant'\\) uses the mqtt driver"):
        build_output_drivers(config, mqtt=None)


def test_mqtt_valves_get_heartbeat_and_availability_topics_beside_set_and_state() -> None:
    valve = build(site({"id": "v1", "driver": {"kind": "mqtt"}}), "v1", mqtt=BROKER, prefix="gg")
    assert isinstance(valve, MqttValve)
    assert (valve.heartbeat_topic, valve.availability_topic) == (
        "gg/plant/boiler/valve/heartbeat",
        "gg/plant/boiler/valve/availability",
    )
