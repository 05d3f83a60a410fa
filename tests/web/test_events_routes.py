from __future__ import annotations

import csv
import io

from gasguard.domain import AlarmChanged, AlarmState, Level, ValveAction, ValveCommand
from gasguard.storage.events import EventKind, add_event, add_events, event_from_output
from gasguard.web.testing import NOW, ApiHarness


def _seed(api: ApiHarness) -> None:
    with api.services.session_factory() as session, session.begin():
        add_events(
            session,
            events=[
                event_from_output(
                    AlarmChanged("kitchen", "kitchen/ch1/A2", "ch1", Level.A2, AlarmState.LATCHED, 23.5), ts=NOW + 1
                ),
                event_from_output(ValveCommand("kitchen", "kv", ValveAction.CLOSE, "A2 trip"), ts=NOW + 2),
                event_from_output(
                    AlarmChanged("boiler", "boiler/ch9/A1", "ch9", Level.A1, AlarmState.UNACKED, 11.0), ts=NOW + 3
                ),
            ],
        )
        add_event(session, kind=EventKind.AUDIT, ts=NOW + 4, actor="=cmd|calc", reason="+formula", source="x")


def test_events_need_a_signed_in_person(api: ApiHarness) -> None:
    assert api.client.get("/api/v1/events").status_code == 401
    assert api.client.get("/api/v1/events", headers=api.headers("vera")).status_code == 200


def test_events_are_filtered_and_newest_first(api: ApiHarness) -> None:
    _seed(api)
    headers = api.headers("vera")
    body = api.client.get("/api/v1/events", params={"kind": "alarm"}, headers=headers).json()
    assert [(e["zone"], e["source"], e["payload"]["state"]) for e in body["events"]] == [
        ("boiler", "boiler/ch9/A1", "unacknowledged"),
        ("kitchen", "kitchen/ch1/A2", "latched"),
    ]
    kitchen = api.client.get("/api/v1/events", params={"zone": "kitchen"}, headers=headers).json()["events"]
    assert [e["kind"] for e in kitchen] == ["valve_command", "alarm"]
    window = api.client.get("/api/v1/events", params={"start": NOW + 2, "end": NOW + 3}, headers=headers).json()
    assert [e["kind"] for e in window["events"]] == ["valve_command"]
    two_kinds = api.client.get("/api/v1/events", params=[("kind", "trip"), ("kind", "valve_command")], headers=headers)
    assert [e["source"] for e in two_kinds.json()["events"]] == ["kv"]


def test_events_page_backwards(api: ApiHarness) -> None:
    _seed(api)
    headers = api.headers("vera")
    first = api.client.get(
        "/api/v1/events", params={"limit": 2, "kind": ["alarm", "valve_command", "audit"]}, headers=headers
    )
    page = first.json()
    assert [e["ts"] for e in page["events"]] == [NOW + 4, NOW + 3]
    second = api.client.get(
        "/api/v1/events",
        params={"limit": 2, "before_id": page["next_before_id"], "kind": ["alarm", "valve_command", "audit"]},
        headers=headers,
    ).json()
    assert [e["ts"] for e in second["events"]] == [NOW + 2, NOW + 1]


def test_bad_filters_are_422(api: ApiHarness) -> None:
    headers = api.headers("vera")
    assert api.client.get("/api/v1/events", params={"kind": "nonsense"}, headers=headers).status_code == 422
    assert api.client.get("/api/v1/events", params={"limit": 0}, headers=headers).status_code == 422
    assert api.client.get("/api/v1/events", params={"start": 10, "end": 5}, headers=headers).status_code == 422


def test_csv_export_is_oldest_first_and_defuses_formulas(api: ApiHarness) -> None:
    _seed(api)
    response = api.client.get("/api/v1/events", params={"format": "csv"}, headers=api.headers("vera"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # vera's sign-in (at NOW) is the oldest event
    assert [r["kind"] for r in rows] == ["audit", "alarm", "valve_command", "alarm", "audit"]
    assert rows[0]["reason"] == "signed in"
    assert rows[2]["reason"] == "A2 trip"
    assert rows[4]["actor"] == "'=cmd|calc"
    assert rows[4]["reason"] == "'+formula"


def _seed_out_of_order(api: ApiHarness) -> list[str]:
    """Seven audit events whose ids do not follow their times (late ones stored last); returns their
    sources newest first, the order the log lists them in."""
    times = [NOW + 10, NOW + 20, NOW + 30, NOW + 40, NOW + 50, NOW + 25, NOW + 30]
    with api.services.session_factory() as session, session.begin():
        for n, ts in enumerate(times):
            add_event(session, kind=EventKind.AUDIT, ts=ts, source=f"e{n}", reason="test")
    order = sorted(range(len(times)), key=lambda n: (times[n], n), reverse=True)
    return [f"e{n}" for n in order]


def test_events_page_older_and_newer_without_skipping_or_repeating(api: ApiHarness) -> None:
    newest_first = _seed_out_of_order(api)
    headers = api.headers("vera")

    def page(**params: object) -> dict:
        response = api.client.get("/api/v1/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        body["sources"] = [e["source"] for e in body["events"] if e["source"].startswith("e")]
        return body

    filtered = {"kind": "audit", "limit": 3}
    # vera's sign-in is an audit event too (at NOW, the oldest): it ends the last page.
    first = page(**filtered)
    assert first["sources"] == newest_first[:3]
    assert first["next_after_id"] is None and first["next_after_ts"] is None  # nothing newer
    second = page(**filtered, before_id=first["next_before_id"], before_ts=first["next_before_ts"])
    assert second["sources"] == newest_first[3:6]
    third = page(**filtered, before_id=second["next_before_id"], before_ts=second["next_before_ts"])
    assert third["sources"] == newest_first[6:] and third["events"][-1]["source"] == "auth.login"
    assert third["next_before_id"] is None and third["next_before_ts"] is None  # the oldest page

    # Newer from the last page gives back exactly the page before it, then the first one.
    back = page(**filtered, after_id=third["next_after_id"], after_ts=third["next_after_ts"])
    assert back["sources"] == second["sources"]
    assert back["next_before_id"] == second["next_before_id"]
    front = page(**filtered, after_id=back["next_after_id"], after_ts=back["next_after_ts"])
    assert front["sources"] == first["sources"]
    assert front["next_after_id"] is None  # the newest page again


def test_events_paging_rejects_half_cursors(api: ApiHarness) -> None:
    headers = api.headers("vera")
    for params in (
        {"before_ts": NOW},
        {"after_id": 3},
        {"after_ts": NOW},
        {"before_id": 3, "after_id": 2, "after_ts": NOW},
    ):
        response = api.client.get("/api/v1/events", params=params, headers=headers)
        assert response.status_code == 422, params
