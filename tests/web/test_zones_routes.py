"""Zones: live state, and reset (refused with the core's reason while gas is at or above the trip level)."""

from __future__ import annotations

from gasguard.storage.events import EventFilter, EventKind, list_events
from live_harness import LiveHarness


def _operator_events(live: LiveHarness) -> list[tuple[str | None, str | None, str, bool, str]]:
    """(zone, actor, reason, accepted, message) of every stored operator event, oldest first."""
    with live.services.session_factory() as session:
        events = list_events(session, flt=EventFilter(kinds=[EventKind.OPERATOR]), limit=100)
    return [(e.zone, e.actor, e.reason, e.payload["accepted"], e.payload["message"]) for e in reversed(events)]


def test_zones_list_and_one_zone(live: LiveHarness) -> None:
    vera = live.headers("vera")
    zones = live.client.get("/api/v1/zones", headers=vera).json()
    assert [(z["id"], z["name"], z["site"]) for z in zones] == [
        ("kitchen", "Kitchen", "plant"),
        ("boiler", "Boiler room", "plant"),
    ]
    boiler = live.client.get("/api/v1/zones/boiler", headers=vera).json()
    assert [c["id"] for c in boiler["channels"]] == ["boiler-ch1"]
    assert [v["id"] for v in boiler["valves"]] == ["boiler-valve"]
    missing = live.client.get("/api/v1/zones/attic", headers=vera)
    assert (missing.status_code, missing.json()) == (404, {"detail": "no zone 'attic'"})


def test_reset_is_refused_while_gas_is_at_the_trip_level(live: LiveHarness) -> None:
    otto = live.commission()
    ada = live.headers("ada")
    live.ingest("kitchen-ch1", 25.0, ada)
    assert live.zone("kitchen")["status"] == "tripped"
    assert live.valve_state("kitchen-valve") in ("closing", "closed")

    refused = live.client.post("/api/v1/zones/kitchen/reset", json={"reason": "looks fine"}, headers=otto)
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "refused: condition still present: kitchen-ch1 reads 25.0 %LEL, at or above its A2 20 %LEL"
    }
    assert live.zone("kitchen")["tripped"] is True

    live.ingest("kitchen-ch1", 1.0, ada)
    assert live.zone("kitchen")["tripped"] is True  # latched: gas going away does not reset
    accepted = live.client.post("/api/v1/zones/kitchen/reset", json={"reason": "leak fixed"}, headers=otto)
    assert (accepted.status_code, accepted.json()) == (
        200,
        {"accepted": True, "message": "reset accepted; valves may be reopened by an operator"},
    )
    kitchen = live.zone("kitchen")
    assert (kitchen["tripped"], kitchen["status"]) == (False, "normal")
    # a reset never reopens a valve
    assert live.valve_state("kitchen-valve") == "closed"
    assert kitchen["valves"][0]["open_permitted"] is True
    # both answers are audited with who and why, before the response came back
    assert _operator_events(live)[-2:] == [
        (
            "kitchen",
            "otto",
            "looks fine",
            False,
            "refused: condition still present: kitchen-ch1 reads 25.0 %LEL, at or above its A2 20 %LEL",
        ),
        ("kitchen", "otto", "leak fixed", True, "reset accepted; valves may be reopened by an operator"),
    ]


def test_reset_needs_a_reason_an_operator_and_a_known_zone(live: LiveHarness) -> None:
    otto = live.headers("otto")
    no_reason = live.client.post("/api/v1/zones/kitchen/reset", headers=otto)
    assert (no_reason.status_code, no_reason.json()["detail"]) == (422, "body: Field required")
    blank = live.client.post("/api/v1/zones/kitchen/reset", json={"reason": "  "}, headers=otto)
    opened = live.client.post("/api/v1/valves/kitchen-valve/open", json={"reason": "  "}, headers=otto)
    assert (blank.status_code, opened.status_code) == (422, 422)  # one shape for a missing reason
    assert (
        live.client.post("/api/v1/zones/kitchen/reset", json={"reason": "x"}, headers=live.headers("vera")).status_code
        == 403
    )
    assert live.client.post("/api/v1/zones/kitchen/reset", json={"reason": "x"}).status_code == 401
    unknown = live.client.post("/api/v1/zones/attic/reset", json={"reason": "x"}, headers=otto)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no zone 'attic'"})
    bad = live.client.post("/api/v1/zones/kitchen/reset", json={"reason": 5}, headers=otto)
    assert (bad.status_code, bad.json()["detail"]) == (422, "body.reason: Input should be a valid string")
    extra = live.client.post("/api/v1/zones/kitchen/reset", json={"reason": "x", "force": True}, headers=otto)
    assert (extra.status_code, extra.json()["detail"]) == (422, "body.force: Extra inputs are not permitted")
