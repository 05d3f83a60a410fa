"""Outputs over the API: their state, silence (operators) and the output test (admins only), and a
channel in TEST for a bump test. Names carry "output" and "sounder" for ``-k "output and sounder"``."""

from __future__ import annotations

from typing import Any

from live_harness import LiveHarness


def _outputs(live: LiveHarness) -> dict[str, dict[str, Any]]:
    response = live.client.get("/api/v1/outputs", headers=live.headers("vera"))
    assert response.status_code == 200, response.text
    return {o["id"]: o for o in response.json()}


def test_output_sounder_pulses_on_a2_silence_keeps_it_steady_and_reset_stops_it(live_outputs: LiveHarness) -> None:
    live = live_outputs
    otto = live.commission()
    assert _outputs(live)["kitchen-sounder"]["mode"] == "off"
    assert _outputs(live)["fault-relay"]["mode"] == "on"
    live.ingest("kitchen-ch1", 25.0, live.headers("ada"))
    sounder = _outputs(live)["kitchen-sounder"]
    assert (sounder["mode"], sounder["cause"], sounder["silenced"]) == ("pulsed", "kitchen-ch1 A2", False)
    silenced = live.client.post("/api/v1/outputs/kitchen-sounder/silence", json={"reason": "heard"}, headers=otto)
    assert (silenced.status_code, silenced.json()["message"]) == (
        200,
        "kitchen-sounder silenced (steady until reset); the alarms themselves are not acknowledged",
    )
    assert _outputs(live)["kitchen-sounder"]["mode"] == "on"
    alarm = next(a for a in live.zone("kitchen")["alarms"] if a["id"] == "kitchen/kitchen-ch1/A2")
    assert alarm["acked"] is False
    live.ingest("kitchen-ch1", 0.0, live.headers("ada"))
    reset = live.client.post("/api/v1/zones/kitchen/reset", json={"reason": "leak fixed"}, headers=otto)
    assert reset.status_code == 200, reset.text
    assert _outputs(live)["kitchen-sounder"]["mode"] == "off"


def test_output_sounder_test_is_for_admins_and_at_most_ten_minutes(live_outputs: LiveHarness) -> None:
    live = live_outputs
    live.commission()
    body = {"reason": "weekly sounder test", "minutes": 5}
    as_operator = live.client.post("/api/v1/outputs/kitchen-sounder/test", json=body, headers=live.headers("otto"))
    assert as_operator.status_code == 403
    too_long = live.client.post(
        "/api/v1/outputs/kitchen-sounder/test", json={**body, "minutes": 11}, headers=live.headers("ada")
    )
    assert too_long.status_code == 422
    tested = live.client.post("/api/v1/outputs/kitchen-sounder/test", json=body, headers=live.headers("ada"))
    assert (tested.status_code, tested.json()["message"]) == (200, "kitchen-sounder forced on for 300 s as a test")
    assert _outputs(live)["kitchen-sounder"]["mode"] == "pulsed"
    missing = live.client.post("/api/v1/outputs/attic-horn/silence", json={}, headers=live.headers("otto"))
    assert (missing.status_code, missing.json()) == (404, {"detail": "no output 'attic-horn'"})


def test_a_channel_in_test_sounds_nothing_and_the_other_channel_protects(live_outputs: LiveHarness) -> None:
    live = live_outputs
    otto = live.commission()
    started = live.client.post(
        "/api/v1/channels/kitchen-ch1/test", json={"reason": "monthly bump test", "minutes": 15}, headers=otto
    )
    assert (started.status_code, started.json()["message"]) == (
        200,
        "kitchen-ch1 in TEST for 900 s; the zone's other channels keep protecting",
    )
    live.ingest("kitchen-ch1", 50.0, live.headers("ada"))  # test gas
    assert live.zone("kitchen")["tripped"] is False
    assert live.valve_state("kitchen-valve") == "open"
    assert _outputs(live)["kitchen-sounder"]["mode"] == "off"
    channel = next(c for c in live.zone("kitchen")["channels"] if c["id"] == "kitchen-ch1")
    assert channel["test_until"] is not None
    too_long = live.client.post(
        "/api/v1/channels/kitchen-ch2/test", json={"reason": "bump", "minutes": 31}, headers=otto
    )
    assert too_long.status_code == 422
    live.ingest("kitchen-ch1", 0.0, live.headers("ada"))
    ended = live.client.post("/api/v1/channels/kitchen-ch1/end-test", json={"reason": "done"}, headers=otto)
    assert (ended.status_code, ended.json()["message"]) == (200, "kitchen-ch1 back from TEST")
    assert live.zone("kitchen")["tripped"] is False
