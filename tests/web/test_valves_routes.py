"""Valves: close is always allowed; reopening needs an operator, a reason, and a reset zone."""

from __future__ import annotations

from gasguard.domain import ValveAction
from gasguard.storage.events import EventFilter, EventKind, list_events
from live_harness import LiveHarness


def test_valves_are_listed_with_their_zone(live: LiveHarness) -> None:
    live.commission()
    valves = live.client.get("/api/v1/valves", headers=live.headers("vera")).json()
    assert [(v["id"], v["name"], v["zone"], v["state"], v["open_permitted"], v["travel_time_s"]) for v in valves] == [
        ("kitchen-valve", "Kitchen gas main", "kitchen", "open", True, 3.0),
        ("boiler-valve", "boiler-valve", "boiler", "open", True, 5.0),
    ]


def test_close_is_always_allowed_and_idempotent(live: LiveHarness) -> None:
    otto = live.commission()
    first = live.client.post("/api/v1/valves/kitchen-valve/close", json={"reason": "smell of gas"}, headers=otto)
    assert (first.status_code, first.json()) == (
        200,
        {"accepted": True, "message": "closing kitchen-valve (close is always allowed)"},
    )
    assert live.valves["kitchen-valve"].commands[-1] is ValveAction.CLOSE
    live.wait_for(lambda: live.valves["kitchen-valve"].position.value == "closed", "the valve closed")
    again = live.client.post("/api/v1/valves/kitchen-valve/close", headers=otto)  # no body: no reason needed
    assert again.status_code == 200
    assert live.valve_state("kitchen-valve") == "closed"
    assert live.valve_state("boiler-valve") == "open"
    with live.services.session_factory() as session:
        [audit, *_] = list_events(session, flt=EventFilter(kinds=[EventKind.OPERATOR], source="kitchen-valve"))
    assert (audit.actor, audit.reason, audit.payload["action"]) == ("otto", "", "close")
    unknown = live.client.post("/api/v1/valves/gate/close", headers=otto)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no valve 'gate'"})


def test_open_needs_a_reason(live: LiveHarness) -> None:
    otto = live.headers("otto")
    for body, detail in (
        ({}, "body.reason: Field required"),
        ({"reason": "ok"}, "body.reason: String should have at least 3 characters"),
        ({"reason": "     "}, "body.reason: String should have at least 3 characters"),
        ({"reason": "x" * 501}, "body.reason: String should have at most 500 characters"),
    ):
        response = live.client.post("/api/v1/valves/kitchen-valve/open", json=body, headers=otto)
        assert (response.status_code, response.json()["detail"]) == (422, detail)
    assert live.valves["kitchen-valve"].commands == [ValveAction.CLOSE]  # only the cold start's close


def test_open_is_refused_until_the_zone_is_reset(live: LiveHarness) -> None:
    otto = live.commission()
    ada = live.headers("ada")
    live.ingest("kitchen-ch1", 30.0, ada)
    live.wait_for(lambda: live.valves["kitchen-valve"].position.value == "closed", "the trip closed the valve")
    tripped = live.client.post("/api/v1/valves/kitchen-valve/open", json={"reason": "need to cook"}, headers=otto)
    assert tripped.status_code == 409
    assert tripped.json()["detail"].startswith("refused: zone kitchen is tripped (")
    assert tripped.json()["detail"].endswith("); reset it first")

    live.ingest("kitchen-ch1", 0.0, ada)
    still_latched = live.client.post("/api/v1/valves/kitchen-valve/open", json={"reason": "gas gone"}, headers=otto)
    assert still_latched.status_code == 409  # gas gone is not a reset

    assert (
        live.client.post("/api/v1/zones/kitchen/reset", json={"reason": "leak fixed"}, headers=otto).status_code == 200
    )
    opened = live.client.post(
        "/api/v1/valves/kitchen-valve/open", json={"reason": "  leak fixed by the fitter  "}, headers=otto
    )
    assert (opened.status_code, opened.json()) == (200, {"accepted": True, "message": "opening kitchen-valve"})
    assert live.valves["kitchen-valve"].commands[-1] is ValveAction.OPEN
    live.wait_for(lambda: live._valve_state_now("kitchen-valve") == "open", "the valve open")
    with live.services.session_factory() as session:
        [audit, *_] = list_events(session, flt=EventFilter(kinds=[EventKind.OPERATOR], source="kitchen-valve"))
    assert (audit.actor, audit.reason, audit.payload["accepted"]) == ("otto", "leak fixed by the fitter", True)


def test_only_operators_move_valves(live: LiveHarness) -> None:
    vera = live.headers("vera")
    assert live.client.post("/api/v1/valves/kitchen-valve/close", headers=vera).status_code == 403
    assert (
        live.client.post("/api/v1/valves/kitchen-valve/open", json={"reason": "abc"}, headers=vera).status_code == 403
    )
    assert live.client.post("/api/v1/valves/kitchen-valve/close").status_code == 401
    assert live.valves["kitchen-valve"].commands == [ValveAction.CLOSE]
