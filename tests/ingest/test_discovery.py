"""Home Assistant MQTT discovery payloads, close requests from Home Assistant and the state messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gasguard import __version__
from gasguard.config import SiteConfig, parse_site_config
from gasguard.domain import (
    AlarmChanged,
    AlarmState,
    ChannelHealth,
    ChannelHealthChanged,
    Level,
    OperatorAction,
    OperatorCommand,
    Output,
    Reading,
    ValveAction,
    ValveChanged,
    ValveCommand,
    ValveState,
    ZoneTripChanged,
)
from gasguard.ingest.discovery import (
    HomeAssistantStates,
    command_subscription,
    discovery_messages,
    parse_ha_command,
)
from gasguard.safety.interlock import running_start, step

AVAILABILITY = "gasguard/availability/gasguard-publish-1"


def site_config() -> SiteConfig:
    return parse_site_config(
        {
            "sites": [
                {
                    "id": "plant",
                    "zones": [
                        {
                            "id": "kitchen",
                            "name": "Kitchen",
                            "channels": [
                                {"id": "kitchen-ch1", "name": "Above the range", "gas": "methane", "unit": "ppm"},
                                {"id": "kitchen-ch2", "gas": "methane", "unit": "lel_pct"},
                            ],
                            "valves": [{"id": "kitchen-valve", "name": "Kitchen gas main"}],
                        },
                        {"id": "boiler", "channels": [{"id": "boiler-ch1", "gas": "propane", "unit": "ppm"}]},
                    ],
                }
            ]
        }
    )


def by_topic() -> dict[str, dict[str, Any]]:
    return dict(discovery_messages(site_config(), availability_topic=AVAILABILITY))


KITCHEN_DEVICE = {
    "identifiers": ["gasguard_plant_kitchen"],
    "name": "Kitchen",
    "manufacturer": "GasGuard",
    "model": "Gas detection zone",
    "sw_version": __version__,
    "suggested_area": "Kitchen",
}
COMMON = {"origin": {"name": "GasGuard", "sw_version": __version__}, "availability_topic": AVAILABILITY, "qos": 1}


# --------------------------------------------------------------------------- discovery


def test_discovery_topics_one_entity_each() -> None:
    topics = [topic for topic, _ in discovery_messages(site_config(), availability_topic=AVAILABILITY)]
    assert topics == [
        "homeassistant/sensor/gasguard/plant_kitchen-ch1_lel/config",
        "homeassistant/sensor/gasguard/plant_kitchen-ch2_lel/config",
        "homeassistant/binary_sensor/gasguard/plant_kitchen_gas/config",
        "homeassistant/binary_sensor/gasguard/plant_kitchen_tripped/config",
        "homeassistant/binary_sensor/gasguard/plant_kitchen_fault/config",
        "homeassistant/valve/gasguard/plant_kitchen-valve_valve/config",
        "homeassistant/sensor/gasguard/plant_boiler-ch1_lel/config",
        "homeassistant/binary_sensor/gasguard/plant_boiler_gas/config",
        "homeassistant/binary_sensor/gasguard/plant_boiler_tripped/config",
        "homeassistant/binary_sensor/gasguard/plant_boiler_fault/config",
    ]


def test_a_channel_is_a_percent_lel_sensor_in_its_zone_device() -> None:
    assert by_topic()["homeassistant/sensor/gasguard/plant_kitchen-ch1_lel/config"] == {
        "name": "Above the range LEL",
        "unique_id": "gasguard_plant_kitchen-ch1_lel",
        "device": KITCHEN_DEVICE,
        "state_topic": "gasguard/plant/kitchen/kitchen-ch1/lel",
        "value_template": "{{ value_json.lel_pct }}",
        "json_attributes_topic": "gasguard/plant/kitchen/kitchen-ch1/lel",
        "unit_of_measurement": "%",
        "state_class": "measurement",
        "suggested_display_precision": 1,
        "icon": "mdi:gauge",
        **COMMON,
    }


@pytest.mark.parametrize(
    ("key", "name", "device_class"),
    [("gas", "Gas detected", "gas"), ("tripped", "Gas shut-off tripped", "safety"), ("fault", "Fault", "problem")],
)
def test_each_zone_has_gas_trip_and_fault_binary_sensors(key: str, name: str, device_class: str) -> None:
    assert by_topic()[f"homeassistant/binary_sensor/gasguard/plant_kitchen_{key}/config"] == {
        "name": name,
        "unique_id": f"gasguard_plant_kitchen_{key}",
        "device": KITCHEN_DEVICE,
        "device_class": device_class,
        "state_topic": "gasguard/plant/kitchen/status",
        "value_template": f"{{{{ 'ON' if value_json.{key} else 'OFF' }}}}",
        "json_attributes_topic": "gasguard/plant/kitchen/status",
        **COMMON,
    }


def test_the_valve_entity_can_close_but_never_open() -> None:
    payload = by_topic()["homeassistant/valve/gasguard/plant_kitchen-valve_valve/config"]
    assert payload == {
        "name": "Kitchen gas main",
        "unique_id": "gasguard_plant_kitchen-valve_valve",
        "device": KITCHEN_DEVICE,
        "device_class": "gas",
        "state_topic": "gasguard/plant/kitchen/kitchen-valve/status",
        "value_template": "{{ value_json.state }}",
        "json_attributes_topic": "gasguard/plant/kitchen/kitchen-valve/status",
        "command_topic": "gasguard/plant/kitchen/kitchen-valve/command",
        "payload_open": None,
        "payload_close": "CLOSE",
        "reports_position": False,
        "optimistic": False,
        "retain": False,
        **COMMON,
    }
    assert '"payload_open":null' in json.dumps(payload, separators=(",", ":"))
    assert "payload_stop" not in payload
    assert not payload["command_topic"].endswith("/valve/set")  # never the controller's own topic


def test_entities_are_unique_and_grouped_by_zone() -> None:
    messages = discovery_messages(site_config(), availability_topic=AVAILABILITY)
    unique_ids = [payload["unique_id"] for _, payload in messages]
    assert len(unique_ids) == len(set(unique_ids))
    devices = {payload["device"]["identifiers"][0] for _, payload in messages}
    assert devices == {"gasguard_plant_kitchen", "gasguard_plant_boiler"}


def test_prefixes_are_configurable() -> None:
    messages = dict(
        discovery_messages(site_config(), prefix="acme", discovery_prefix="ha", availability_topic="acme/avail")
    )
    payload = messages["ha/sensor/acme/plant_boiler-ch1_lel/config"]
    assert payload["state_topic"] == "acme/plant/boiler/boiler-ch1/lel"
    assert payload["unique_id"] == "acme_plant_boiler-ch1_lel"
    assert payload["availability_topic"] == "acme/avail"


def test_ids_that_collide_as_discovery_topics_are_refused() -> None:
    config = parse_site_config(
        {
            "sites": [
                {
                    "id": "p",
                    "zones": [
                        {"id": "z", "channels": [{"id": "a.b", "gas": "methane"}, {"id": "a_b", "gas": "methane"}]}
                    ],
                }
            ]
        }
    )
    with pytest.raises(ValueError, match="homeassistant/sensor/gasguard/p_a_b_lel/config"):
        discovery_messages(config, availability_topic=AVAILABILITY)


# --------------------------------------------------------------------------- close requests from HA


def test_a_close_request_becomes_an_audited_operator_close() -> None:
    command = parse_ha_command("gasguard/plant/kitchen/kitchen-valve/command", b"CLOSE", site=site_config())
    assert command == OperatorCommand(
        OperatorAction.CLOSE, target="kitchen-valve", user="homeassistant", reason="close requested from Home Assistant"
    )
    assert command_subscription() == "gasguard/+/+/+/command"


def test_the_safety_core_closes_the_valve_on_a_request_from_home_assistant() -> None:
    config = site_config()
    command = parse_ha_command("gasguard/plant/kitchen/kitchen-valve/command", " close\n", site=config)
    _, outputs = step(running_start(config.plant_spec(), 0.0), command, 1.0)
    commands = [o for o in outputs if isinstance(o, ValveCommand)]
    assert [(c.zone, c.valve, c.action) for c in commands] == [("kitchen", "kitchen-valve", ValveAction.CLOSE)]
    assert "homeassistant" in commands[0].reason


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("gasguard/plant/kitchen/kitchen-valve/command", b"OPEN", "Home Assistant may only CLOSE"),
        ("gasguard/plant/kitchen/kitchen-valve/command", b"50", "Home Assistant may only CLOSE"),
        ("gasguard/plant/kitchen/kitchen-valve/command", b"\xff", "not UTF-8"),
        (
            "gasguard/plant/boiler/kitchen-valve/command",
            b"CLOSE",
            "no valve 'kitchen-valve' in site 'plant', zone 'boiler'",
        ),
        ("gasguard/plant/kitchen/nope/command", b"CLOSE", "no valve 'nope'"),
        ("gasguard/plant/kitchen/valve/set", b"CLOSE", "not a GasGuard command topic"),
        ("other/plant/kitchen/kitchen-valve/command", b"CLOSE", "not a GasGuard command topic"),
    ],
)
def test_anything_but_a_close_of_a_known_valve_is_refused(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_ha_command(topic, payload, site=site_config())


# --------------------------------------------------------------------------- state messages


def test_a_reading_is_sent_as_percent_lel_with_its_raw_value() -> None:
    states = HomeAssistantStates(site_config())
    assert states.state_messages(Reading("kitchen-ch1", 10_000.0, 100.0)) == [
        ("gasguard/plant/kitchen/kitchen-ch1/lel", {"lel_pct": 20.0, "value": 10_000.0, "health": None})
    ]
    assert states.state_messages(Reading("kitchen-ch2", None, 100.0)) == [
        ("gasguard/plant/kitchen/kitchen-ch2/lel", {"lel_pct": None, "value": None, "health": None})
    ]
    assert states.state_messages(Reading("kitchen-ch1/MQ2", 555.0, 100.0)) == []
    assert states.state_messages(Reading("elsewhere", 1.0, 100.0)) == []


def test_a_steady_channel_is_sent_on_change_or_once_a_minute() -> None:
    states = HomeAssistantStates(site_config())
    sent = [
        bool(states.state_messages(Reading("kitchen-ch2", value, ts)))
        for value, ts in [(5.0, 0.0), (5.05, 1.0), (5.2, 2.0), (5.2, 30.0), (5.2, 62.1), (None, 63.0), (None, 64.0)]
    ]
    assert sent == [True, False, True, False, True, True, False]


def outputs_to_messages(states: HomeAssistantStates, outputs: list[Output]) -> dict[str, Any]:
    """The latest payload per topic after feeding ``outputs``."""
    latest: dict[str, Any] = {}
    for out in outputs:
        latest.update(states.state_messages(out))
    return latest


def test_zone_status_follows_alarms_and_the_latched_trip() -> None:
    states = HomeAssistantStates(site_config())
    a2 = AlarmChanged("kitchen", "kitchen/kitchen-ch1/A2", "kitchen-ch1", Level.A2, AlarmState.UNACKED, 24.0)
    status = outputs_to_messages(states, [a2, ZoneTripChanged("kitchen", True, "kitchen-ch1 at A2")])
    assert status["gasguard/plant/kitchen/status"] == {
        "gas": True,
        "tripped": True,
        "fault": False,
        "trip_cause": "kitchen-ch1 at A2",
        "alarms": ["kitchen/kitchen-ch1/A2"],
        "faulty_channels": [],
        "faulty_valves": [],
    }
    latched = AlarmChanged("kitchen", "kitchen/kitchen-ch1/A2", "kitchen-ch1", Level.A2, AlarmState.LATCHED, 1.0)
    status = outputs_to_messages(states, [latched])["gasguard/plant/kitchen/status"]
    assert (status["gas"], status["tripped"], status["alarms"]) == (False, True, ["kitchen/kitchen-ch1/A2"])
    cleared = AlarmChanged("kitchen", "kitchen/kitchen-ch1/A2", "kitchen-ch1", Level.A2, AlarmState.NORMAL, 1.0)
    status = outputs_to_messages(states, [cleared, ZoneTripChanged("kitchen", False, "reset by ops")])
    assert status["gasguard/plant/kitchen/status"] == {
        "gas": False,
        "tripped": False,
        "fault": False,
        "trip_cause": "",
        "alarms": [],
        "faulty_channels": [],
        "faulty_valves": [],
    }


def test_a_stale_channel_and_a_faulty_valve_turn_the_fault_sensor_on() -> None:
    states = HomeAssistantStates(site_config())
    states.state_messages(Reading("kitchen-ch1", 500.0, 0.0))
    messages = outputs_to_messages(
        states,
        [
            ChannelHealthChanged("kitchen", "kitchen-ch1", ChannelHealth.STALE, "no reading for 10 s"),
            ValveChanged("kitchen", "kitchen-valve", ValveState.FAULT, "did not close within 5 s"),
        ],
    )
    assert messages["gasguard/plant/kitchen/kitchen-ch1/lel"] == {"lel_pct": 1.0, "value": 500.0, "health": "stale"}
    assert messages["gasguard/plant/kitchen/kitchen-valve/status"] == {
        "state": None,
        "gasguard_state": "fault",
        "detail": "did not close within 5 s",
    }
    status = messages["gasguard/plant/kitchen/status"]
    assert (status["fault"], status["faulty_channels"], status["faulty_valves"]) == (
        True,
        ["kitchen-ch1"],
        ["kitchen-valve"],
    )
    closed = outputs_to_messages(states, [ValveChanged("kitchen", "kitchen-valve", ValveState.CLOSED)])
    assert closed["gasguard/plant/kitchen/kitchen-valve/status"] == {"state": "closed", "gasguard_state": "closed"}


def test_a_gas_trip_through_the_safety_core_shows_in_home_assistant() -> None:
    config = site_config()
    states = HomeAssistantStates(config)
    state = running_start(config.plant_spec(), 0.0)
    latest: dict[str, Any] = {}
    for reading in [Reading("kitchen-ch1", 12_000.0, 1.0), Reading("kitchen-ch1", 0.0, 2.0)]:
        state, outputs = step(state, reading, reading.ts)
        latest.update(states.state_messages(reading))
        latest.update(outputs_to_messages(states, outputs))
    status = latest["gasguard/plant/kitchen/status"]
    assert status["gas"] is False  # the gas is gone ...
    assert status["tripped"] is True  # ... but the trip stays latched until an operator resets it
    assert "kitchen/kitchen-ch1/A2" in status["alarms"]
    assert latest["gasguard/plant/kitchen/kitchen-valve/status"]["state"] == "closing"
    assert latest["gasguard/plant/kitchen/kitchen-ch1/lel"]["lel_pct"] == 0.0


def _site_with_outputs() -> SiteConfig:
    data = site_config().model_dump(mode="json", exclude_defaults=True)
    data["sites"][0]["outputs"] = [
        {"id": "horn", "kind": "sounder", "zones": ["kitchen"], "levels": ["A2"], "pulse_until_silenced": True},
        {"id": "fan", "kind": "fan", "zones": ["kitchen"], "levels": ["A1"]},
        {"id": "relay", "kind": "fault_relay", "normally_energised": True, "name": "System failure"},
    ]
    return parse_site_config(data)


def test_outputs_are_read_only_sirens_switches_and_a_problem_sensor() -> None:
    site = _site_with_outputs()
    configs = {topic: payload for topic, payload in discovery_messages(site, availability_topic=AVAILABILITY)}
    horn = configs["homeassistant/siren/gasguard/plant_horn_output/config"]
    fan = configs["homeassistant/switch/gasguard/plant_fan_output/config"]
    relay = configs["homeassistant/binary_sensor/gasguard/plant_relay_output/config"]
    assert horn["state_topic"] == "gasguard/plant/output/horn/status"
    assert horn["command_topic"] == "gasguard/plant/output/horn/ha_command"
    assert (horn["optimistic"], fan["optimistic"]) == (False, False)
    assert relay["device_class"] == "problem" and "command_topic" not in relay
    # GasGuard only listens for valve close requests: an output's ha_command never matches that filter.
    pattern = command_subscription().split("/")
    topic = ["gasguard", "plant", "output", "horn", "ha_command"]
    assert len(pattern) != len(topic) or any(p not in ("+", t) for p, t in zip(pattern, topic, strict=True))


def test_output_state_messages_follow_the_core() -> None:
    from gasguard.domain import OutputCommand, OutputMode

    states = HomeAssistantStates(_site_with_outputs())
    ((topic, payload),) = states.state_messages(OutputCommand("relay", OutputMode.OFF, "kitchen-ch1 in FAULT (stale)"))
    assert topic == "gasguard/plant/output/relay/status"
    assert (payload["state"], payload["dropped"], payload["cause"]) == ("OFF", True, "kitchen-ch1 in FAULT (stale)")
    ((_, horn),) = states.state_messages(OutputCommand("horn", OutputMode.PULSED, "kitchen-ch1 A2"))
    assert (horn["state"], horn["mode"]) == ("ON", "pulsed")
