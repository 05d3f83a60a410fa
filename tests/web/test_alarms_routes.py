"""Alarms: the active list and history, acknowledge (not reset), shelve and inhibit (always expiring)."""

from __future__ import annotations

from typing import Any

from gasguard.storage.events import EventFilter, EventKind, list_events
from live_harness import LiveHarness

A2 = "kitchen/kitchen-ch1/A2"
A1 = "kitchen/kitchen-ch1/A1"


def _gas_in_kitchen(live: LiveHarness) -> dict[str, str]:
    otto = live.commission()
    live.ingest("kitchen-ch1", 25.0, live.headers("ada"))
    return otto


def _alarm(live: LiveHarness, alarm_id: str) -> dict[str, Any] | None:
    return next((a for a in live.zone(alarm_id.split("/")[0])["alarms"] if a["id"] == alarm_id), None)


def test_active_alarms_unacknowledged_first_then_by_priority(live: LiveHarness) -> None:
    _gas_in_kitchen(live)
    vera = live.headers("vera")
    active = live.client.get("/api/v1/alarms", headers=vera).json()
    assert [(a["id"], a["level"], a["source"], a["state"], a["latched"], a["value"]) for a in active] == [
        (A2, "A2", "kitchen-ch1", "unacknowledged", True, 25.0),
        (A1, "A1", "kitchen-ch1", "unacknowledged", False, 25.0),
    ]
    assert live.client.get("/api/v1/alarms", params={"zone": "boiler"}, headers=vera).json() == []
    assert [a["id"] for a in live.client.get("/api/v1/alarms", params={"limit": 1}, headers=vera).json()] == [A2]
    missing = live.client.get("/api/v1/alarms", params={"zone": "attic"}, headers=vera)
    assert (missing.status_code, missing.json()) == (404, {"detail": "no zone 'attic'"})
    bad = live.client.get("/api/v1/alarms", params={"include": "all"}, headers=vera)
    assert (bad.status_code, bad.json()["detail"]) == (422, "query.include: Input should be 'active' or 'history'")


def test_history_comes_from_the_event_log_newest_first(live: LiveHarness) -> None:
    otto = _gas_in_kitchen(live)
    live.client.post(f"/api/v1/alarms/{A2}/ack", json={"reason": ""}, headers=otto)
    history = live.client.get(
        "/api/v1/alarms", params={"include": "history", "zone": "kitchen", "limit": 3}, headers=live.headers("vera")
    ).json()
    assert [(e["kind"], e["source"], e["payload"]["state"]) for e in history] == [
        ("alarm", A2, "acknowledged"),
        ("alarm", A2, "unacknowledged"),
        ("alarm", A1, "unacknowledged"),
    ]
    assert live.client.get("/api/v1/alarms", params={"include": "history", "zone": "boiler"}, headers=otto).json() == []


def test_acknowledge_is_not_reset(live: LiveHarness) -> None:
    otto = _gas_in_kitchen(live)
    response = live.client.post(f"/api/v1/alarms/{A2}/ack", json={"reason": "on my way"}, headers=otto)
    assert (response.status_code, response.json()) == (
        200,
        {"accepted": True, "message": "acknowledged (acknowledge is not reset)"},
    )
    alarm = _alarm(live, A2)
    assert alarm is not None
    assert (alarm["state"], alarm["acked"], alarm["latched"]) == ("acknowledged", True, True)
    assert live.zone("kitchen")["tripped"] is True
    again = live.client.post(f"/api/v1/alarms/{A2}/ack", headers=otto)
    assert again.json() == {"accepted": True, "message": "already acknowledged"}
    with live.services.session_factory() as session:
        audits = list_events(session, flt=EventFilter(kinds=[EventKind.OPERATOR], source=A2))
    # newest first: the second acknowledge, with no reason, is audited too
    assert [(e.actor, e.reason, e.payload["action"]) for e in audits] == [
        ("otto", "", "ack"),
        ("otto", "on my way", "ack"),
    ]


def test_unknown_alarms_are_404_and_viewers_cannot_act(live: LiveHarness) -> None:
    otto, vera = live.headers("otto"), live.headers("vera")
    for action, body in (
        ("ack", {}),
        ("shelve", {"reason": "nuisance", "minutes": 10}),
        ("unshelve", {}),
        ("inhibit", {"reason": "calibration", "minutes": 10}),
        ("uninhibit", {}),
    ):
        missing = live.client.post(f"/api/v1/alarms/kitchen/nowhere/A2/{action}", json=body, headers=otto)
        assert (action, missing.status_code, missing.json()) == (
            action,
            404,
            {"detail": "no alarm 'kitchen/nowhere/A2'"},
        )
        assert live.client.post(f"/api/v1/alarms/{A2}/{action}", json=body, headers=vera).status_code == 403


def test_shelve_hides_an_alarm_until_it_expires(live: LiveHarness) -> None:
    otto = _gas_in_kitchen(live)
    shelved = live.client.post(
        f"/api/v1/alarms/{A1}/shelve", json={"reason": "nuisance during cleaning", "minutes": 30}, headers=otto
    )
    assert (shelved.status_code, shelved.json()) == (
        200,
        {"accepted": True, "message": "shelved for 1800 s (the interlock still acts on it)"},
    )
    alarm = _alarm(live, A1)
    assert alarm is not None and alarm["state"] == "shelved"
    live.clock.now += 31 * 60
    alarm = _alarm(live, A1)
    assert alarm is not None and alarm["state"] == "unacknowledged"  # shelving always expires
    live.client.post(f"/api/v1/alarms/{A1}/shelve", json={"reason": "again", "minutes": 5}, headers=otto)
    unshelved = live.client.post(f"/api/v1/alarms/{A1}/unshelve", json={"reason": "done"}, headers=otto)
    assert (unshelved.status_code, unshelved.json()) == (200, {"accepted": True, "message": "unshelved"})
    alarm = _alarm(live, A1)
    assert alarm is not None and alarm["state"] == "unacknowledged"


def test_shelve_needs_a_reason_and_a_bounded_time(live: LiveHarness) -> None:
    otto = live.headers("otto")
    for body, status, detail in (
        ({"minutes": 10}, 422, "body.reason: Field required"),
        ({"reason": "  ", "minutes": 10}, 422, "body.reason: String should have at least 1 character"),
        ({"reason": "nuisance"}, 422, "body.minutes: Field required"),
        ({"reason": "nuisance", "minutes": 0}, 422, "body.minutes: Input should be greater than or equal to 1"),
        ({"reason": "nuisance", "minutes": 1441}, 422, "body.minutes: Input should be less than or equal to 1440"),
        ({"reason": "nuisance", "minutes": 600}, 409, "refused: at most 8 h is allowed"),
    ):
        response = live.client.post(f"/api/v1/alarms/{A1}/shelve", json=body, headers=otto)
        assert (response.status_code, response.json()["detail"]) == (status, detail)


def test_inhibit_takes_the_channel_out_of_service(live: LiveHarness) -> None:
    otto = live.commission()
    inhibited = live.client.post(
        "/api/v1/alarms/kitchen/kitchen-ch2/A1/inhibit", json={"reason": "calibration", "minutes": 60}, headers=otto
    )
    assert (inhibited.status_code, inhibited.json()) == (
        200,
        {"accepted": True, "message": "kitchen-ch2 out of service for 3600 s"},
    )
    assert [c["in_service"] for c in live.zone("kitchen")["channels"]] == [True, False]
    back = live.client.post("/api/v1/alarms/kitchen/kitchen-ch2/A1/uninhibit", json={"reason": "done"}, headers=otto)
    assert (back.status_code, back.json()) == (200, {"accepted": True, "message": "kitchen-ch2 back in service"})
    assert [c["in_service"] for c in live.zone("kitchen")["channels"]] == [True, True]
    with live.services.session_factory() as session:
        audits = list_events(session, flt=EventFilter(kinds=[EventKind.OPERATOR], source="kitchen-ch2"))
    assert [(e.actor, e.reason, e.payload["action"]) for e in audits] == [
        ("otto", "done", "uninhibit"),
        ("otto", "calibration", "inhibit"),
    ]


def test_inhibit_is_refused_when_the_zone_could_no_longer_trip(live: LiveHarness) -> None:
    otto = live.commission()
    refused = live.client.post(
        "/api/v1/alarms/boiler/boiler-ch1/A2/inhibit", json={"reason": "calibration", "minutes": 60}, headers=otto
    )
    assert (refused.status_code, refused.json()) == (
        409,
        {
            "detail": "refused: taking boiler-ch1 out of service leaves 0 voting channel(s), "
            "fewer than the 1 needed to trip boiler"
        },
    )
    valve_alarm = live.client.post(
        "/api/v1/alarms/kitchen/kitchen-valve/VALVE_FAULT/inhibit",
        json={"reason": "calibration", "minutes": 60},
        headers=otto,
    )
    assert (valve_alarm.status_code, valve_alarm.json()["detail"]) == (
        409,
        "alarm 'kitchen/kitchen-valve/VALVE_FAULT' is not about a gas channel; "
        "only a channel can be taken out of service",
    )
    assert [c["in_service"] for c in live.zone("boiler")["channels"]] == [True]


def test_the_probe_inhibit_reset_open_is_refused_while_the_detector_reads_gas(live: LiveHarness) -> None:
    """The hostile probe: kitchen tripped at 30 %LEL, inhibit the channel for a day, reset, reopen."""
    otto = live.commission()
    live.ingest("kitchen-ch1", 30.0, live.headers("ada"))
    live.wait_for(lambda: live._valve_state_now("kitchen-valve") == "closed", "kitchen valve closed")
    inhibit = live.client.post(
        "/api/v1/alarms/kitchen/kitchen-ch1/FAULT/inhibit", json={"reason": "x", "minutes": 480}, headers=otto
    )
    assert (inhibit.status_code, inhibit.json()) == (
        409,
        {"detail": "refused: kitchen-ch1 reads 30 %LEL; take it out of service once it is below A2"},
    )
    reset = live.client.post("/api/v1/zones/kitchen/reset", json={"reason": "x"}, headers=otto)
    assert reset.status_code == 409
    assert "kitchen-ch1 reads 30.0 %LEL, at or above its A2 20 %LEL" in reset.json()["detail"]
    reopen = live.client.post("/api/v1/valves/kitchen-valve/open", json={"reason": "gas is off"}, headers=otto)
    assert reopen.status_code == 409
    assert live.valve_state("kitchen-valve") == "closed"


def test_out_of_service_past_a_shelve_needs_an_admin(live: LiveHarness) -> None:
    otto = live.commission()
    day = {"reason": "sensor replaced next week", "minutes": 1440}
    refused = live.client.post("/api/v1/alarms/kitchen/kitchen-ch2/A1/inhibit", json=day, headers=otto)
    assert (refused.status_code, refused.json()) == (
        409,
        {"detail": "refused: out of service for more than 8 h (the longest shelve) needs an admin"},
    )
    accepted = live.client.post("/api/v1/alarms/kitchen/kitchen-ch2/A1/inhibit", json=day, headers=live.headers("ada"))
    assert (accepted.status_code, accepted.json()) == (
        200,
        {"accepted": True, "message": "kitchen-ch2 out of service for 86400 s"},
    )
