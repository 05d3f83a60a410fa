"""The plant read model: state events in, the dashboard's exact JSON out, and staleness shown."""

from __future__ import annotations

import json
from typing import Any

from gasguard.mqtt_client import parse_mqtt_url
from gasguard.notify import FanoutBus, Message
from gasguard.readmodel import PlantReadModel
from gasguard.readmodel.events import OUTPUTS_STATE, ZONE_STATE, outputs_state, zone_state
from gasguard.readmodel.follow import BrokerFollower
from gasguard.safety.interlock import cold_start
from live_harness import make_test_site, make_test_site_with_outputs

NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _kitchen_state(**changes: Any) -> dict[str, Any]:
    """A healthy kitchen as its owner publishes it: one channel at 25 %LEL with an unacked A2."""
    state: dict[str, Any] = {
        "zone": "kitchen",
        "ts": NOW,
        "tripped": True,
        "trip_cause": "kitchen-ch1 A2",
        "votes": 1,
        "vote_k": 1,
        "channels": {
            "kitchen-ch1": {
                "lel_pct": 25.0,
                "value": 25.0,
                "ts": NOW - 1,
                "health": "ok",
                "in_service": True,
                "over_range": False,
                "test_until": None,
                "levels": {"A1": True, "A2": True, "A3": False},
            },
            "kitchen-ch2": {
                "lel_pct": 0.0,
                "value": 0.0,
                "ts": NOW - 1,
                "health": "ok",
                "in_service": True,
                "over_range": False,
                "test_until": None,
                "levels": {"A1": False, "A2": False, "A3": False},
            },
        },
        "valves": {"kitchen-valve": {"state": "closed", "open_permitted": False, "detail": ""}},
        "alarms": [
            {
                "id": "kitchen/kitchen-ch1/A2",
                "level": "A2",
                "source": "kitchen-ch1",
                "latching": True,
                "active": True,
                "acked": False,
                "latched": True,
                "value": 25.0,
                "test": False,
                "shelved_until": None,
                "out_of_service_until": None,
            },
            {
                "id": "kitchen/kitchen-ch1/A1",
                "level": "A1",
                "source": "kitchen-ch1",
                "latching": False,
                "active": True,
                "acked": True,
                "latched": False,
                "value": 25.0,
                "test": False,
                "shelved_until": NOW + 60,
                "out_of_service_until": None,
            },
        ],
        "cameras": [],
    }
    state.update(changes)
    return state


def test_a_zone_state_event_becomes_the_dashboards_zone() -> None:
    clock = Clock()
    model = PlantReadModel(make_test_site(), clock=clock)
    model.apply(Message(ZONE_STATE, _kitchen_state(), NOW))
    assert model.zone_view("kitchen") == {
        "id": "kitchen",
        "name": "Kitchen",
        "site": "plant",
        "tripped": True,
        "trip_cause": "kitchen-ch1 A2",
        "status": "tripped",
        "votes": 1,
        "vote_k": 1,
        "channels": [
            {
                "id": "kitchen-ch1",
                "name": "Above the range",
                "gas": "methane",
                "unit": "lel_pct",
                "lel_pct": 25.0,
                "value": 25.0,
                "ts": NOW - 1,
                "health": "ok",
                "in_service": True,
                "over_range": False,
                "test_until": None,
                "levels": {"A1": True, "A2": True, "A3": False},
                "setpoints": {"a1": 10.0, "a2": 20.0, "a3": 40.0},
            },
            {
                "id": "kitchen-ch2",
                "name": "kitchen-ch2",
                "gas": "methane",
                "unit": "lel_pct",
                "lel_pct": 0.0,
                "value": 0.0,
                "ts": NOW - 1,
                "health": "ok",
                "in_service": True,
                "over_range": False,
                "test_until": None,
                "levels": {"A1": False, "A2": False, "A3": False},
                "setpoints": {"a1": 10.0, "a2": 20.0, "a3": 40.0},
            },
        ],
        "valves": [
            {
                "id": "kitchen-valve",
                "name": "Kitchen gas main",
                "zone": "kitchen",
                "state": "closed",
                "open_permitted": False,
                "detail": "",
                "travel_time_s": 3.0,
            }
        ],
        "alarms": [
            {
                "id": "kitchen/kitchen-ch1/A2",
                "level": "A2",
                "source": "kitchen-ch1",
                "state": "unacknowledged",
                "active": True,
                "acked": False,
                "latched": True,
                "value": 25.0,
                "test": False,
                "zone": "kitchen",
            },
            {
                "id": "kitchen/kitchen-ch1/A1",
                "level": "A1",
                "source": "kitchen-ch1",
                "state": "shelved",
                "active": True,
                "acked": True,
                "latched": False,
                "value": 25.0,
                "test": False,
                "zone": "kitchen",
            },
        ],
        "identification": None,
        "cameras": [],
    }
    assert "stale" not in model.zone_view("kitchen")  # type: ignore[operator]
    # The boiler was never heard from: it shows the cold-start state (tripped, valves being closed), stale.
    boiler = model.zone_view("boiler")
    assert boiler is not None
    assert (boiler["tripped"], boiler["valves"][0]["state"]) == (True, "closing")
    assert boiler["stale"] == {"reason": "no live state from this zone yet", "since": None}


def test_a_shelve_that_expires_shows_at_read_time_and_the_list_is_sorted_as_operators_work_it() -> None:
    clock = Clock()
    model = PlantReadModel(make_test_site(), clock=clock)
    model.apply(Message(ZONE_STATE, _kitchen_state(), NOW))
    assert [(a["id"], a["state"]) for a in model.alarms_view()] == [
        ("kitchen/kitchen-ch1/A1", "shelved"),
        ("kitchen/kitchen-ch1/A2", "unacknowledged"),
    ][::-1]
    clock.now = NOW + 61  # the shelve ran out: the core's own rule says what it shows now
    assert [(a["id"], a["state"]) for a in model.alarms_view("kitchen")] == [
        ("kitchen/kitchen-ch1/A2", "unacknowledged"),
        ("kitchen/kitchen-ch1/A1", "acknowledged"),
    ]
    assert model.alarms_view("boiler") == []


def test_readings_and_identifications_update_the_channel_and_the_zone() -> None:
    model = PlantReadModel(make_test_site(), clock=Clock())
    model.apply(Message(ZONE_STATE, _kitchen_state(), NOW))
    model.apply(
        Message("reading", {"channel": "kitchen-ch2", "zone": "kitchen", "ts": NOW, "value": 3.5, "lel_pct": 3.5}, NOW)
    )
    model.apply(
        Message("reading", {"channel": "attic-ch9", "zone": "attic", "ts": NOW, "value": 1.0, "lel_pct": 1.0}, NOW)
    )
    ident = {"zone": "kitchen", "gas": "methane", "confidence": 0.97, "ts": NOW, "model": "sensor-lgbm"}
    model.apply(Message("identification", ident, NOW))
    model.apply(Message("alarm", {"zone": "kitchen"}, NOW))  # a fine-grained event: the zone state covers it
    assert model.channel_reading("kitchen-ch2") == {
        "channel": "kitchen-ch2",
        "zone": "kitchen",
        "lel_pct": 3.5,
        "value": 3.5,
        "ts": NOW,
    }
    assert model.latest_readings("boiler") == [
        {"channel": "boiler-ch1", "zone": "boiler", "lel_pct": None, "value": None, "ts": None, "unit": "ppm"}
    ]
    assert model.zone_view("kitchen")["identification"] == ident  # type: ignore[index]
    assert (model.applied, model.ignored) == (3, 1)


def test_outputs_state_becomes_the_outputs_list_in_site_file_order() -> None:
    site = make_test_site_with_outputs()
    state, _ = cold_start(site.plant_spec(), NOW)
    model = PlantReadModel(site, clock=Clock())
    assert model.outputs_view() == []
    devices = {
        "kitchen-sounder": {"feedback": False, "reachable": True},
        "fault-relay": {"feedback": True, "reachable": False},
    }
    model.apply(Message(OUTPUTS_STATE, outputs_state(state, NOW, devices=devices), NOW))
    rows = {row["id"]: row for row in model.outputs_view()}
    assert list(rows) == ["kitchen-sounder", "fault-relay"]
    assert rows["fault-relay"] == {
        "id": "fault-relay",
        "name": "fault-relay",
        "kind": "fault_relay",
        "mode": rows["fault-relay"]["mode"],
        "cause": rows["fault-relay"]["cause"],
        "silenced": False,
        "latched": False,
        "forced_until": None,
        "zones": ["kitchen", "boiler"],
        "levels": [],
        "driver": "simulated",
        "feedback": True,
        "reachable": False,
    }
    assert model.has_output("kitchen-sounder") and not model.has_output("attic-horn")


def test_state_events_of_a_real_safety_state_round_trip_to_the_same_zone() -> None:
    """What the runtime publishes (``events.zone_state`` of the core's state) folds into a consistent zone."""
    site = make_test_site()
    state, _ = cold_start(site.plant_spec(), NOW)
    model = PlantReadModel(site, clock=Clock())
    model.apply(Message(ZONE_STATE, zone_state(state, "boiler", NOW, cameras=["cam-1"]), NOW))
    boiler = model.zone_view("boiler")
    assert boiler is not None and "stale" not in boiler
    assert (boiler["tripped"], boiler["cameras"], [v["state"] for v in boiler["valves"]]) == (
        True,
        ["cam-1"],
        ["closing"],
    )
    assert boiler["status"] == "tripped"


def test_across_machines_a_silent_owner_or_a_lost_broker_makes_the_zone_stale() -> None:
    clock, ticks = Clock(), Clock(100.0)
    model = PlantReadModel(make_test_site(), clock=clock, monotonic=ticks, stale_after_s=6.0)
    model.apply(Message(ZONE_STATE, _kitchen_state(), NOW))
    assert model.stale("kitchen") is None
    ticks.now = 107.0
    stale = model.stale("kitchen")
    assert stale == {
        "reason": "nothing heard from the owner of zone kitchen for 7 s: "
        "no worker owns it, or it cannot reach the broker",
        "since": NOW,
    }
    assert model.zone_view("kitchen")["stale"] == stale  # type: ignore[index]
    model.apply(Message(ZONE_STATE, _kitchen_state(ts=NOW + 7), NOW + 7))
    assert model.stale("kitchen") is None
    model.feed_problem = "this web tier cannot reach the broker"
    assert model.stale("kitchen") == {"reason": "this web tier cannot reach the broker", "since": NOW + 7}
    assert set(model.stale_zones()) == {"kitchen", "boiler"}


def test_a_seeded_zone_is_stale_until_its_owner_speaks() -> None:
    model = PlantReadModel(make_test_site(), clock=Clock(), stale_after_s=6.0)
    model.seed_zone(_kitchen_state(), saved_at=NOW - 30)
    model.seed_reading("kitchen-ch1", value=24.0, ts=NOW - 40)  # older than the snapshot's value: kept out
    kitchen = model.zone_view("kitchen")
    assert kitchen is not None and kitchen["tripped"] is True
    assert kitchen["stale"]["since"] == NOW - 30
    model.seed_reading("boiler-ch1", value=120.0, ts=NOW - 5)
    assert model.channel_reading("boiler-ch1")["value"] == 120.0  # type: ignore[index]
    model.apply(Message(ZONE_STATE, _kitchen_state(), NOW))
    assert "stale" not in model.zone_view("kitchen")  # type: ignore[operator]
    model.seed_zone(_kitchen_state(tripped=False), saved_at=NOW - 30)  # too late: live state wins
    assert model.zone_view("kitchen")["tripped"] is True  # type: ignore[index]


def test_the_broker_follower_puts_the_workers_events_on_the_local_bus_for_the_model() -> None:
    bus = FanoutBus()
    model = PlantReadModel(make_test_site(), clock=Clock(), stale_after_s=6.0)
    bus.listen(model.apply)
    follower = BrokerFollower(parse_mqtt_url("mqtt://127.0.0.1:1"), bus, model, prefix="gasguard")
    assert model.stale("kitchen") is not None
    message = follower.handle("gasguard/events/zone_state", json.dumps({"ts": NOW, **_kitchen_state()}))
    assert message is not None and (message.topic, message.ts) == ("zone_state", NOW)
    assert model.zone_view("kitchen")["tripped"] is True  # type: ignore[index]
    assert follower.handle("gasguard/events/alarm", b"not json") is None
    assert follower.handle("other/events/alarm", b"{}") is None
    assert (follower.received, follower.invalid) == (1, 1)
