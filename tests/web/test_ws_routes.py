"""The live WebSocket: first-message auth, a snapshot, stored events as they happen, pings, slow clients.

Every receive here is bounded: the server pings often (the interval is shortened for the tests), and each
test has a timeout, so a missing message fails the test instead of hanging it.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

import gasguard.web.routes.ws as ws_route
from gasguard.notify import Message
from gasguard.web.testing import NOW, ApiHarness
from live_harness import LiveHarness

pytestmark = pytest.mark.timeout(60)

URL = "/api/v1/ws"


@pytest.fixture(autouse=True)
def quick_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws_route, "AUTH_TIMEOUT_S", 2.0)  # room for a sign-in on a loaded machine
    monkeypatch.setattr(ws_route, "PING_INTERVAL_S", 0.1)


def _signed_in(ws: WebSocketTestSession, token: str) -> dict[str, Any]:
    ws.send_json({"type": "auth", "token": token})
    snapshot: dict[str, Any] = ws.receive_json()
    return snapshot


def _close_code(ws: WebSocketTestSession, most: int = 200) -> tuple[int, str]:
    """Read (pings and all) until the server closes; its close code and reason."""
    for _ in range(most):
        try:
            ws.receive_json()
        except WebSocketDisconnect as closed:
            return closed.code, closed.reason
    raise AssertionError("the server did not close the connection")


def _next_events(ws: WebSocketTestSession, count: int, *, skip: tuple[str, ...] = ("ping",)) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for _ in range(200 + count):
        message = ws.receive_json()
        if message["type"] not in skip:
            events.append(message)
            if len(events) == count:
                return events
    raise AssertionError(f"got only {events}")


def test_without_an_auth_message_the_socket_is_closed(api: ApiHarness) -> None:
    with api.client.websocket_connect(URL) as ws:
        assert _close_code(ws) == (4401, "send {type: auth, token} within 2 s")


@pytest.mark.parametrize(
    "first",
    [
        {"type": "auth", "token": "gg_not-a-real-token"},
        {"type": "hello", "token": "x"},
        {"type": "auth"},
        ["auth"],
        "not json",
    ],
)
def test_a_wrong_first_message_closes_with_4401(api: ApiHarness, first: Any) -> None:
    with api.client.websocket_connect(URL) as ws:
        if isinstance(first, str):
            ws.send_text(first)
        else:
            ws.send_json(first)
        code, _reason = _close_code(ws)
    assert code == 4401


def test_device_tokens_cannot_watch(api: ApiHarness) -> None:
    issued = api.client.post(
        "/api/v1/tokens", json={"name": "esp32", "reason": "new detector"}, headers=api.headers("ada")
    ).json()
    with api.client.websocket_connect(URL) as ws:
        ws.send_json({"type": "auth", "token": issued["token"]})
        assert _close_code(ws) == (4403, "the live feed needs a user token, not a device token")


def test_without_a_runtime_the_feed_is_unavailable(api: ApiHarness) -> None:
    with api.client.websocket_connect(URL) as ws:
        ws.send_json({"type": "auth", "token": api.login("vera")})
        assert _close_code(ws) == (4503, "the live runtime is not running in this service")


def test_snapshot_then_stored_events_as_they_happen(live: LiveHarness) -> None:
    otto = live.commission()
    ada = live.headers("ada")
    token = live.login("vera")
    site = live.client.get("/api/v1/site", headers=otto).json()
    with live.client.websocket_connect(URL) as ws:
        snapshot = _signed_in(ws, token)
        assert (snapshot["type"], snapshot["ts"], snapshot["user"]) == (
            "snapshot",
            NOW,
            {"username": "vera", "role": "viewer"},
        )
        assert snapshot["data"] == site

        closed = live.client.post("/api/v1/valves/kitchen-valve/close", json={"reason": "drill"}, headers=otto)
        assert closed.status_code == 200
        events = _next_events(ws, 4)
        assert [(e["type"], e["data"]["source"], e["data"]["stored"]) for e in events] == [
            ("valve_command", "kitchen-valve", True),
            ("valve", "kitchen-valve", True),
            ("operator", "kitchen-valve", True),
            ("valve", "kitchen-valve", True),
        ]
        assert [e["data"]["payload"].get("state") for e in events] == [None, "closing", None, "closed"]
        operator = events[2]["data"]
        assert (operator["actor"], operator["reason"], operator["payload"]["accepted"]) == ("otto", "drill", True)
        assert isinstance(operator["id"], int)  # stored before it was pushed

        live.ingest("kitchen-ch1", 5.0, ada)
        [reading] = _next_events(ws, 1)
        assert reading == {
            "type": "reading",
            "ts": NOW,
            "data": {"channel": "kitchen-ch1", "zone": "kitchen", "ts": NOW, "value": 5.0, "lel_pct": 5.0},
        }


def test_pings_keep_an_idle_connection_alive(live: LiveHarness) -> None:
    live.wait_for(
        lambda: {v["state"] for v in live.runtime.services.plant.valves_view()} == {"closed"}, "the cold start's closes"
    )
    with live.client.websocket_connect(URL) as ws:
        _signed_in(ws, live.login("vera"))
        assert [ws.receive_json() for _ in range(3)] == [{"type": "ping"}] * 3


def test_signing_out_ends_the_feed(live: LiveHarness) -> None:
    token = live.login("vera")
    with live.client.websocket_connect(URL) as ws:
        _signed_in(ws, token)
        logout = live.client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert logout.status_code == 204
        code, reason = _close_code(ws)
    # At once from this process ("signed out"); the periodic recheck could in principle get there first.
    assert (code, reason in ("signed out", ws_route.REASON_TOKEN_INVALID)) == (4401, True)


def test_a_client_too_slow_to_keep_up_is_dropped(live: LiveHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws_route, "QUEUE_SIZE", 2)
    with live.client.websocket_connect(URL) as ws:
        _signed_in(ws, live.login("vera"))

        def burst() -> None:  # more than the queue holds, faster than any client could read
            for i in range(10):
                live.services.bus.publish_nowait(Message("alarm", {"n": i}, NOW))

        portal = live.client.portal
        assert portal is not None
        portal.call(burst)
        assert _close_code(ws) == (4408, "too slow: live messages were lost; reconnect")


def test_a_closed_connection_leaves_no_subscription_behind(live: LiveHarness) -> None:
    bus = live.services.bus
    before = bus.subscriber_count
    with live.client.websocket_connect(URL) as ws:
        _signed_in(ws, live.login("vera"))
        assert bus.subscriber_count == before + 1
    live.wait_for(lambda: bus.subscriber_count == before, "the subscription to go")


def test_a_client_leaving_before_signing_in_does_not_disturb_others(live: LiveHarness) -> None:
    with live.client.websocket_connect(URL):
        pass
    with live.client.websocket_connect(URL) as ws:
        assert _signed_in(ws, live.login("vera"))["type"] == "snapshot"
