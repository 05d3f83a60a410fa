"""HTTP ingest: device tokens, one reading or a batch, all or nothing, bad values become a FAULT."""

from __future__ import annotations

from typing import Any

from gasguard.web.testing import NOW
from live_harness import LiveHarness

URL = "/api/v1/ingest/readings"


def _device(live: LiveHarness) -> dict[str, str]:
    response = live.client.post(
        "/api/v1/tokens", json={"name": "kitchen-esp32", "reason": "new detector"}, headers=live.headers("ada")
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _channel(live: LiveHarness, zone: str, channel: str) -> dict[str, Any]:
    return next(c for c in live.zone(zone)["channels"] if c["id"] == channel)


def test_a_device_posts_one_reading(live: LiveHarness) -> None:
    device = _device(live)
    response = live.client.post(URL, json={"channel": "kitchen-ch1", "ts": NOW - 1, "value": 12.5}, headers=device)
    assert (response.status_code, response.json()) == (202, {"accepted": 1})
    channel = _channel(live, "kitchen", "kitchen-ch1")
    assert (channel["value"], channel["lel_pct"], channel["levels"]["A1"]) == (12.5, 12.5, True)


def test_a_batch_in_any_time_format(live: LiveHarness) -> None:
    device = _device(live)
    batch = {
        "readings": [
            {"channel": "kitchen-ch1", "ts": "2023-11-14T22:13:19Z", "value": 3.0},
            {"channel": "kitchen-ch2", "ts": (NOW - 1) * 1000, "value": 4.0},  # epoch milliseconds
            {"channel": "boiler-ch1", "value": 2100.0},  # no ts: time of receipt
        ]
    }
    response = live.client.post(URL, json=batch, headers=device)
    assert (response.status_code, response.json()) == (202, {"accepted": 3})
    assert [c["lel_pct"] for c in live.zone("kitchen")["channels"]] == [3.0, 4.0]
    assert _channel(live, "boiler", "boiler-ch1")["lel_pct"] == 10.0


def test_a_batch_with_an_unknown_channel_is_refused_whole(live: LiveHarness) -> None:
    device = _device(live)
    batch = {
        "readings": [
            {"channel": "kitchen-ch1", "value": 3.0},
            {"channel": "garage-ch9", "value": 4.0},
            {"channel": "attic-ch1", "value": 5.0},
        ]
    }
    response = live.client.post(URL, json=batch, headers=device)
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "unknown channel(s): attic-ch1, garage-ch9; nothing was accepted"},
    )
    bad_time: dict[str, list[dict[str, Any]]] = {
        "readings": [{"channel": "kitchen-ch1", "value": 3.0}, {"channel": "kitchen-ch1", "ts": "noon"}]
    }
    response = live.client.post(URL, json=bad_time, headers=device)
    assert (response.status_code, response.json()["detail"]) == (422, "body.readings.1.value: Field required")
    bad_time["readings"][1]["value"] = 1.0
    response = live.client.post(URL, json=bad_time, headers=device)
    assert (response.status_code, response.json()["detail"]) == (
        422,
        "body.readings.1.ts: ts 'noon' is not ISO-8601",
    )
    assert _channel(live, "kitchen", "kitchen-ch1")["value"] is None  # nothing partially accepted


def test_a_missing_value_puts_the_channel_in_fault_and_trips(live: LiveHarness) -> None:
    device = _device(live)
    live.commission()
    response = live.client.post(URL, json={"channel": "boiler-ch1", "value": None}, headers=device)
    assert response.status_code == 202
    boiler = live.zone("boiler")
    assert (boiler["channels"][0]["health"], boiler["status"], boiler["tripped"]) == ("invalid", "tripped", True)


def test_bad_bodies_are_422_with_a_clear_message(live: LiveHarness) -> None:
    device = _device(live)
    for body, detail in (
        ({"channel": "kitchen-ch1"}, "body.value: Field required"),
        (
            {"channel": "kitchen-ch1", "value": "high"},
            "body.value: Input should be a valid number, unable to parse string as a number",
        ),
        ({"channel": "kitchen-ch1", "value": 1, "ppm": 3}, "body.ppm: Extra inputs are not permitted"),
        ({"readings": []}, "body.readings: List should have at least 1 item after validation, not 0"),
        (
            {"readings": [{"channel": "kitchen-ch1", "value": 1.0}] * 1001},
            "body.readings: List should have at most 1000 items after validation, not 1001",
        ),
        ([1, 2], "body: Input should be a valid dictionary or object to extract fields from"),
    ):
        response = live.client.post(URL, json=body, headers=device)
        assert (response.status_code, response.json()["detail"]) == (422, detail)
    broken = live.client.post(URL, content=b'{"channel": ', headers={**device, "Content-Type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("body: not valid JSON: ")


def test_only_devices_and_admins_may_ingest(live: LiveHarness) -> None:
    reading = {"channel": "kitchen-ch1", "value": 1.0}
    assert live.client.post(URL, json=reading).status_code == 401
    for person in ("vera", "otto"):
        response = live.client.post(URL, json=reading, headers=live.headers(person))
        assert (response.status_code, response.json()) == (403, {"detail": "needs a device token"})
    assert live.client.post(URL, json=reading, headers=live.headers("ada")).status_code == 202
