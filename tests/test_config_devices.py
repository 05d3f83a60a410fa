"""Site configuration of field devices: Modbus channel sources and valve drivers."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from gasguard.config import (
    ConfigError,
    ModbusChannelSource,
    ModbusValveDriver,
    MqttValveDriver,
    SimulatedValveDriver,
    WordOrder,
    example_config_path,
    load_site_config,
    parse_site_config,
)

BASE: dict[str, Any] = {
    "sites": [
        {
            "id": "plant",
            "zones": [
                {
                    "id": "boiler",
                    "channels": [{"id": "boiler-ch1", "gas": "methane", "unit": "ppm"}],
                    "valves": [{"id": "boiler-valve", "travel_time_s": 4}],
                }
            ],
        }
    ]
}
CHANNEL = ("sites", 0, "zones", 0, "channels", 0)
VALVE = ("sites", 0, "zones", 0, "valves", 0)


def config_with(path: tuple[Any, ...], **fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node: Any = data
    for key in path:
        node = node[key]
    node.update(fields)
    return data


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        parse_site_config(data, "site.yaml")
    return str(err.value)


def uncomment_examples(text: str) -> str:
    """Uncomment each block that follows a comment ending in "To use, uncomment:" at the same indentation."""
    out: list[str] = []
    indent: int | None = None
    for line in text.splitlines():
        stripped = line.lstrip()
        depth = len(line) - len(stripped)
        if indent is not None and depth == indent and stripped.startswith("# "):
            out.append(line[:indent] + stripped[2:])
            continue
        indent = depth if stripped.startswith("#") and stripped.endswith("To use, uncomment:") else None
        out.append(line)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- defaults and the example file


def test_channels_and_valves_without_device_blocks_keep_their_meaning() -> None:
    config = parse_site_config(BASE)
    zone = config.sites[0].zones[0]
    assert zone.channels[0].modbus is None
    assert zone.valves[0].driver is None
    assert parse_site_config(BASE).plant_spec() == config.plant_spec()


def test_the_shipped_example_has_no_devices_until_its_examples_are_uncommented() -> None:
    shipped = load_site_config(example_config_path())
    assert all(c.modbus is None for _, z in shipped.zones() for c in z.channels)
    assert all(v.driver is None for _, z in shipped.zones() for v in z.valves)

    data = yaml.safe_load(uncomment_examples(example_config_path().read_text(encoding="utf-8")))
    config = parse_site_config(data, "example with its device blocks uncommented")
    channels = {c.id: c for _, z in config.zones() for c in z.channels}
    valves = {v.id: v for _, z in config.zones() for v in z.valves}
    assert channels["kitchen-ch3"].modbus == ModbusChannelSource(host="192.168.1.50", register=0)
    assert valves["kitchen-valve"].driver == ModbusValveDriver(
        kind="modbus", host="192.168.1.60", coil=0, feedback_open_input=0, feedback_closed_input=1
    )
    assert valves["boiler-valve"].driver == MqttValveDriver(kind="mqtt")
    assert valves["lab-valve"].driver is None


# --------------------------------------------------------------------------- Modbus channel source


def test_a_modbus_channel_source_with_defaults() -> None:
    data = config_with(CHANNEL, modbus={"host": "10.0.0.5", "register": 30})
    source = parse_site_config(data).sites[0].zones[0].channels[0].modbus
    assert source is not None
    assert (source.host, source.port, source.unit, source.address, source.count) == ("10.0.0.5", 502, 1, 30, 1)
    assert (source.scale, source.offset, source.poll_s, source.timeout_s) == (1.0, 0.0, 1.0, 1.0)
    assert (source.word_order, source.signed) == (WordOrder.BIG, False)


def test_a_float32_modbus_channel_with_little_word_order() -> None:
    modbus = {"host": "gw", "port": 1502, "unit": 7, "register": 100, "count": 2, "word_order": "little"}
    source = parse_site_config(config_with(CHANNEL, modbus=modbus)).sites[0].zones[0].channels[0].modbus
    assert source is not None
    assert (source.port, source.unit, source.count, source.word_order) == (1502, 7, 2, WordOrder.LITTLE)


@pytest.mark.parametrize(
    ("modbus", "expected"),
    [
        ({"host": "gw", "register": 0, "count": 3}, "modbus.count: Input should be 1 or 2"),
        ({"host": "gw", "register": 0, "scale": 0}, "modbus: Value error, scale must not be zero"),
        ({"host": "gw", "register": 70000}, "modbus.register: Input should be less than or equal to 65535"),
        ({"host": "gw", "register": 65535, "count": 2}, "register 65535 with count 2 runs past address 65535"),
        ({"host": "gw", "register": 0, "count": 2, "signed": True}, "a float32 is always signed"),
        ({"register": 0}, "modbus.host: Field required"),
        ({"host": "gw"}, "modbus.register: Field required"),
        (
            {"host": "gw", "register": 0, "unit": 300},
            "modbus.unit: Input should be less than or equal to 255",
        ),
        ({"host": "gw", "register": 0, "slave": 2}, "modbus: unknown key 'slave' (did you mean 'scale'?)"),
        (
            {"host": "gw", "register": 0, "word_order": "middle"},
            "modbus.word_order: Input should be 'big' or",
        ),
        ({"host": "gw", "register": 0, "poll_s": 0}, "modbus.poll_s: Input should be greater than or equal"),
    ],
)
def test_bad_modbus_channel_sources_are_refused_with_their_path(modbus: dict[str, Any], expected: str) -> None:
    message = refused(config_with(CHANNEL, modbus=modbus))
    assert message.startswith("site.yaml: invalid site configuration")
    assert expected in message


def test_a_poll_slower_than_the_stale_timeout_is_refused() -> None:
    data = config_with(CHANNEL, stale_timeout_s=5, modbus={"host": "gw", "register": 0, "poll_s": 4.5})
    assert (
        "modbus poll_s + timeout_s (4.5 + 1 s) must be below stale_timeout_s (5 s), "
        "or the channel goes stale between polls" in refused(data)
    )


# --------------------------------------------------------------------------- valve drivers


def test_each_valve_driver_kind_is_parsed() -> None:
    def driver_of(driver: dict[str, Any], **valve: Any) -> Any:
        return parse_site_config(config_with(VALVE, driver=driver, **valve)).sites[0].zones[0].valves[0].driver

    assert driver_of({"kind": "simulated"}) == SimulatedValveDriver()
    modbus = driver_of({"kind": "modbus", "host": "relay", "coil": 4, "feedback_closed_input": 9})
    assert isinstance(modbus, ModbusValveDriver)
    assert (modbus.host, modbus.port, modbus.unit, modbus.coil) == ("relay", 502, 1, 4)
    assert (modbus.feedback_open_input, modbus.feedback_closed_input) == (None, 9)
    assert driver_of({"kind": "modbus", "host": "relay", "coil": 4}, feedback=False).coil == 4
    assert driver_of({"kind": "mqtt"}) == MqttValveDriver(kind="mqtt", topic=None)
    assert driver_of({"kind": "mqtt", "topic": "site/relay7"}).topic == "site/relay7"


@pytest.mark.parametrize(
    ("driver", "valve", "expected"),
    [
        ({"kind": "zigbee"}, {}, "driver: Input tag 'zigbee' found using 'kind' does not match"),
        ({"host": "relay", "coil": 1}, {}, "driver: Unable to extract tag using discriminator 'kind'"),
        ({"kind": "modbus", "host": "relay"}, {}, "driver.modbus.coil: Field required"),
        (
            {"kind": "modbus", "host": "relay", "coil": 1},
            {},
            "feedback: true needs driver.feedback_closed_input (the switch that proves the valve closed)",
        ),
        (
            {"kind": "modbus", "host": "relay", "coil": 1, "feedback_closed_input": 2},
            {"feedback": False},
            "driver feedback inputs are set but feedback is false",
        ),
        (
            {"kind": "modbus", "host": "relay", "coil": 1, "feedback_closed_input": 2},
            {"normally_closed": False},
            "the modbus driver energises the coil to open, so it needs a normally-closed valve",
        ),
        (
            {"kind": "modbus", "host": "relay", "coil": 1, "feedback_open_input": 2, "feedback_closed_input": 2},
            {},
            "feedback_open_input and feedback_closed_input must be different inputs",
        ),
        ({"kind": "mqtt", "topic": "site/+/relay"}, {}, "driver.mqtt.topic: String should match pattern"),
        ({"kind": "mqtt", "host": "broker"}, {}, "driver.mqtt: unknown key 'host' (not valid here)"),
        ({"kind": "simulated", "coil": 1}, {}, "driver.simulated: unknown key 'coil' (not valid here)"),
    ],
)
def test_bad_valve_drivers_are_refused_with_a_clear_reason(
    driver: dict[str, Any], valve: dict[str, Any], expected: str
) -> None:
    assert expected in refused(config_with(VALVE, driver=driver, **valve))


def _with_outputs(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    data = config_with(("sites", 0))
    data["sites"][0]["outputs"] = outputs
    return data


def test_outputs_build_the_cause_and_effect_matrix() -> None:
    data = _with_outputs(
        [
            {
                "id": "horn",
                "kind": "sounder",
                "zones": ["boiler"],
                "levels": ["A2", "A3"],
                "latching": True,
                "pulse_until_silenced": True,
                "when_silenced": "steady",
            },
            {"id": "fan", "kind": "fan", "levels": ["A1"], "min_on_s": 60},
            {"id": "relay", "kind": "fault_relay", "normally_energised": True},
        ]
    )
    spec = parse_site_config(data).plant_spec()
    horn, fan, relay = spec.outputs
    assert (horn.zones, sorted(horn.levels), horn.latching, horn.steady_when_silenced) == (
        ("boiler",),
        ["A2", "A3"],
        True,
        True,
    )
    assert (fan.zones, fan.min_on_s) == (("boiler",), 60.0)
    assert (relay.kind.value, relay.fault_zones) == ("fault_relay", ("boiler",))


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            {"id": "horn", "kind": "sounder", "zones": ["attic"], "levels": ["A2"]},
            "output horn: zones names no zone 'attic' of site plant",
        ),
        (
            {"id": "relay", "kind": "fault_relay"},
            "a fault_relay must be normally_energised: true (energised while GasGuard is healthy)",
        ),
        ({"id": "horn", "kind": "sounder"}, "name the alarm levels that drive it"),
        ({"id": "horn", "kind": "sounder", "levels": ["A9"]}, "output horn: levels.0: Input should be 'A1'"),
        ({"id": "boiler-valve", "kind": "beacon", "levels": ["FAULT"]}, "id 'boiler-valve' is used twice"),
    ],
)
def test_bad_outputs_are_refused_with_a_clear_reason(output: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_site_config(_with_outputs([output]), "site.yaml")
    assert expected in str(err.value)
