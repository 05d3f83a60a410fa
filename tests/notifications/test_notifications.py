"""Notifications end to end: a real SMTP server and a real HTTP receiver, the live safety pipeline, and
a fake clock for repeat, escalation, retries and link expiry."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from gasguard.domain import Reading
from gasguard.storage.events import EventFilter, EventKind, list_events
from notify_helpers import PUBLIC_URL, SMTP_PASS, NotifyHarness, SmtpServer, Webhooks, body_of

MakeHarness = Callable[..., NotifyHarness]

TRIP_EVENTS = ["a1", "trip", "a3", "fault", "valve_fault", "reset", "cleared"]


def mail_route(smtp: SmtpServer, name: str = "on-call-1", to: str = "ops@example.com", **extra: Any) -> dict[str, Any]:
    url = (
        f"mailto://{{env:SMTP_USER}}:{{env:SMTP_PASS}}@127.0.0.1:{smtp.port}"
        f"?from=gasguard@example.com&to={to}&mode=insecure"
    )
    return {"name": name, "urls": [url], "events": TRIP_EVENTS, **extra}


def tripped(h: NotifyHarness) -> None:
    """Commission the plant (cold start, reset, reopen), then gas at 25 %LEL in the kitchen: a trip."""
    h.commission()
    h.idle()
    h.reading("kitchen-ch1", 25.0)
    h.wait_for(lambda: h._valve_state_now("kitchen-valve") == "closed", "kitchen valve closed")
    h.idle()


def test_the_first_message_of_a_trip_reaches_a_real_smtp_server(make_harness: MakeHarness, smtp: SmtpServer) -> None:
    h = make_harness({"routes": [mail_route(smtp, ack_as="otto")]})
    tripped(h)
    [message, *_] = smtp.mailbox.wait(1)
    subject = str(message["Subject"])
    body = body_of(message)
    assert subject.startswith("GAS TRIP: Kitchen (Test plant)")
    assert "25 %LEL methane" in subject
    assert "GAS TRIP in Kitchen at Test plant." in body
    assert "Gas: methane" in body
    assert "Highest: 25.0 %LEL (Above the range)" in body
    assert "Kitchen gas main" in body
    assert "Do not switch lights" in body
    assert f"Dashboard: {PUBLIC_URL}/#/zones/kitchen" in body
    assert re.search(r"Acknowledge as otto \(once, valid until .* UTC\): https://gasguard\.example\.com/api/v1/", body)
    [incident] = [i for i in h.incidents() if i["kind"] == "trip"]
    assert incident["zone"] == "kitchen" and incident["routes"]["on-call-1"]["delivered"] is True


def test_updates_only_on_what_matters_and_reset_ends_it(make_harness: MakeHarness, smtp: SmtpServer) -> None:
    h = make_harness({"routes": [mail_route(smtp)]})
    tripped(h)
    smtp.mailbox.wait(1)
    h.reading("kitchen-ch1", 26.0)  # more gas, same alarm: no message
    h.reading("kitchen-ch1", 45.0)  # A3
    smtp.mailbox.wait(2)
    assert "UPDATE: GAS TRIP: Kitchen (Test plant): A3 reached on kitchen-ch1 (45.0 %LEL)" in smtp.mailbox.subjects()
    otto = h.headers("otto")
    for alarm in h.client.get("/api/v1/alarms?zone=kitchen", headers=otto).json():
        h.client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=otto)
    h.reading("kitchen-ch1", 0.0)
    assert h.client.post("/api/v1/zones/kitchen/reset", json={"reason": "leak fixed"}, headers=otto).status_code == 200
    h.settle()
    h.idle()
    subjects = [s.split("): ", 1)[1] if s.startswith(("UPDATE", "ENDED")) else "first" for s in smtp.mailbox.subjects()]
    # No storm: the first message, then only what matters, in order.
    assert subjects == [
        "first",
        "valve kitchen-valve closed",
        "A3 reached on kitchen-ch1 (45.0 %LEL)",
        "acknowledged by otto",
        "reset by otto: leak fixed",
    ]


def test_repeat_and_escalation_run_on_the_injected_clock(
    make_harness: MakeHarness, smtp: SmtpServer, webhooks: tuple[int, Webhooks]
) -> None:
    port, received = webhooks
    first = mail_route(smtp, repeat_every_min=5, escalate_after_min=15, escalate_to="on-call-2")
    second = {"name": "on-call-2", "urls": [f"json://127.0.0.1:{port}/hook"], "events": TRIP_EVENTS}
    h = make_harness({"routes": [first, second]})
    tripped(h)
    smtp.mailbox.wait(2)  # the trip, then its valve closed
    assert received.bodies == []  # an escalation level is told only by escalation
    h.advance(4 * 60)
    assert len(smtp.mailbox.messages) == 2
    h.advance(60)  # 5 min
    smtp.mailbox.wait(3)
    assert smtp.mailbox.subjects()[2].startswith("REPEAT, not acknowledged: GAS TRIP: Kitchen")
    h.advance(5 * 60)  # 10 min
    h.advance(5 * 60)  # 15 min: repeat and escalation
    smtp.mailbox.wait(5)
    [(path, data)] = received.wait(1)
    assert path == "/hook"
    assert data["title"].startswith("ESCALATED: GAS TRIP: Kitchen (Test plant)")
    assert "not acknowledged after 15 min" in data["message"]
    [incident] = [i for i in h.incidents() if i["kind"] == "trip"]
    steps = [
        (e["what"], e.get("route")) for e in incident["timeline"] if e["what"] in {"sent", "repeated", "escalated"}
    ]
    assert steps == [
        ("sent", "on-call-1"),
        ("repeated", "on-call-1"),
        ("repeated", "on-call-1"),
        ("repeated", "on-call-1"),
        ("escalated", "on-call-2"),
    ]


def test_acknowledge_in_the_dashboard_stops_the_repeats(make_harness: MakeHarness, smtp: SmtpServer) -> None:
    h = make_harness(
        {
            "routes": [
                mail_route(smtp, repeat_every_min=5, escalate_after_min=10, escalate_to="boss"),
                mail_route(smtp, name="boss", to="boss@example.com"),
            ]
        }
    )
    tripped(h)
    smtp.mailbox.wait(1)
    otto = h.headers("otto")
    alarm = h.client.get("/api/v1/alarms?zone=kitchen", headers=otto).json()[0]
    assert h.client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=otto).status_code == 200
    h.settle()
    h.idle()
    smtp.mailbox.wait(3)
    assert smtp.mailbox.subjects()[2].endswith("acknowledged by otto")
    h.advance(60 * 60)
    assert len(smtp.mailbox.messages) == 3
    assert smtp.mailbox.to("boss@example.com") == []
    [incident] = [i for i in h.incidents() if i["kind"] == "trip"]
    assert (incident["acked_by"], incident["acked_via"]) == ("otto", "alarm")


def test_quiet_hours_hold_back_a_warning_but_never_a_trip(make_harness: MakeHarness, smtp: SmtpServer) -> None:
    # The fake clock starts at 22:13 UTC, inside the window.
    quiet = {"start": "22:00", "end": "07:00", "timezone": "UTC"}
    h = make_harness({"routes": [mail_route(smtp, quiet_hours=quiet)]})
    h.commission()
    h.idle()
    h.reading("kitchen-ch1", 12.0)  # A1
    [warning] = [i for i in h.incidents() if i["kind"] == "a1"]
    assert {"what": "held back by quiet hours", "route": "on-call-1"}.items() <= warning["timeline"][-1].items()
    assert smtp.mailbox.messages == []
    h.reading("kitchen-ch1", 25.0)  # trip
    assert str(smtp.mailbox.wait(1)[0]["Subject"]).startswith("GAS TRIP: Kitchen")


def ack_link(message: Any) -> str:
    match = re.search(r"(https://gasguard\.example\.com)(/api/v1/notifications/ack/\S+)", body_of(message))
    assert match is not None, body_of(message)
    return match.group(2)


def test_the_signed_link_acknowledges_once_as_its_user(make_harness: MakeHarness, smtp: SmtpServer) -> None:
    h = make_harness({"routes": [mail_route(smtp, ack_as="otto", repeat_every_min=5)], "ack_link_valid_min": 30})
    tripped(h)
    link = ack_link(smtp.mailbox.wait(1)[0])

    page = h.client.get(link)
    assert page.status_code == 200
    assert "Acknowledge this alarm?" in page.text and 'method="post"' in page.text
    assert "<script" not in page.text and "style" not in page.text
    assert h.incidents()[0]["acked_at"] is None  # looking is not acknowledging

    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert h.client.post(tampered).status_code == 400
    assert h.client.post(link[:-3] + "ÄÖÜ").status_code == 400  # not base64url at all: refused, not a 500

    done = h.client.post(link)
    assert done.status_code == 200, done.text
    assert "Acknowledged as otto" in done.text
    h.settle()
    h.idle()
    assert h.client.post(link).status_code == 410
    assert h.client.get(link).status_code == 410

    [incident] = [i for i in h.incidents() if i["kind"] == "trip"]
    assert (incident["acked_by"], incident["acked_via"]) == ("otto", "link")
    with h.services.session_factory() as session:
        audit = list_events(session, flt=EventFilter(kinds=[EventKind.AUDIT], source="notifications.ack_link"))
        acks = list_events(session, flt=EventFilter(kinds=[EventKind.OPERATOR], actor="otto", zone="kitchen"))
    assert [(e.actor, e.payload["incident"]) for e in audit] == [("otto", incident["id"])]
    assert any(e.payload["action"] == "ack" and e.payload["accepted"] for e in acks)  # the zone's alarms too
    smtp.mailbox.wait(3)
    assert smtp.mailbox.subjects()[2].endswith("acknowledged by otto")
    zone = h.zone("kitchen")
    assert zone["tripped"] is True  # the link never resets


def test_an_expired_link_is_refused(make_harness: MakeHarness, smtp: SmtpServer) -> None:
    h = make_harness({"routes": [mail_route(smtp, ack_as="otto")], "ack_link_valid_min": 30})
    tripped(h)
    link = ack_link(smtp.mailbox.wait(1)[0])
    h.clock.now += 31 * 60
    refused = h.client.post(link)
    assert refused.status_code == 410 and "expired" in refused.text
    assert h.incidents()[0]["acked_at"] is None


def test_secrets_never_reach_the_logs_or_the_delivery_log(
    make_harness: MakeHarness, smtp: SmtpServer, smtp_down: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # Apprise, urllib3 and GasGuard at their most talkative
    h = make_harness({"routes": [mail_route(smtp), mail_route(smtp_down, name="broken", to="x@example.com")]})
    tripped(h)
    smtp.mailbox.wait(2)  # the password was right: the server checked it
    [incident] = [i for i in h.incidents() if i["kind"] == "trip"]
    detail = h.client.get(f"/api/v1/notifications/incidents/{incident['id']}", headers=h.headers("ada")).json()
    failed = [a for a in detail["deliveries"] if a["route"] == "broken"]
    assert failed and all(not a["ok"] and a["error"] and "****" in a["url"] for a in failed)
    health = h.client.get("/api/v1/health", headers=h.headers("ada")).json()["components"]["notifications"]
    assert health["status"] == "degraded" and health["detail"]["failing_routes"] == ["broken"]
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed (attempt 1)" in text  # the failure was logged ...
    assert SMTP_PASS not in text  # ... and no record anywhere holds the password
    assert SMTP_PASS not in str(detail) and SMTP_PASS not in str(health)
    assert SMTP_PASS not in h.client.get("/metrics").text


def test_a_trip_message_waits_out_an_smtp_outage(make_harness: MakeHarness, smtp_down: SmtpServer) -> None:
    h = make_harness({"routes": [mail_route(smtp_down)]})
    tripped(h)
    assert h.notifier.routes["on-call-1"].failing
    smtp_down.start()
    h.advance(5)
    assert smtp_down.mailbox.messages == []  # the first retry waits its backoff
    h.advance(10)
    messages = smtp_down.mailbox.wait(2)  # the trip, then its valve closed, in that order
    assert str(messages[0]["Subject"]).startswith("GAS TRIP: Kitchen")
    assert not h.notifier.routes["on-call-1"].failing


def test_a_json_webhook_route_works(make_harness: MakeHarness, webhooks: tuple[int, Webhooks]) -> None:
    port, received = webhooks
    route = {"name": "chat", "urls": [f"json://127.0.0.1:{port}/gasguard"], "events": ["trip"]}
    h = make_harness({"routes": [route]})
    tripped(h)
    path, data = received.wait(1)[0]
    assert path == "/gasguard"
    assert data["title"].startswith("GAS TRIP: Kitchen (Test plant)")
    assert "Highest: 25.0 %LEL" in data["message"]


def test_a_stuck_sender_never_slows_the_safety_pipeline(
    make_harness: MakeHarness, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = make_harness({"routes": [mail_route(smtp)]})

    async def never_returns(*_args: Any, **_kwargs: Any) -> Any:
        import asyncio

        await asyncio.Event().wait()

    monkeypatch.setattr(h.notifier.sender, "send", never_returns)
    h.commission()
    for value in (25.0, 30.0, 45.0, 50.0):  # the valve closes although no message ever leaves
        h.on_loop(lambda v=value: h.runtime.submit_reading(Reading("kitchen-ch1", v, h.clock.now)))
    h.wait_for(lambda: h._valve_state_now("kitchen-valve") == "closed", "kitchen valve closed")
    assert h.zone("kitchen")["tripped"] is True
    assert h.notifier.health().detail["sending"] >= 1
