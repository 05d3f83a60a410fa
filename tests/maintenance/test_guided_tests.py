"""Guided tests through the live system: a channel in TEST measured from the bus, a valve stroke, a zone
proof test. The record is measured by GasGuard, not typed."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from gasguard.maintenance.guided import TestBook, TestKind
from gasguard.maintenance.plant import PlantDirectory
from gasguard.notify import Message
from maintenance.conftest import MaintenanceHarness

NOGAS_END = 1600


def _mq5(shared_data: Path) -> list[int]:
    with (shared_data / "multimodalgasdata" / "Gas_Sensors_Measurements.csv").open(newline="") as handle:
        return [int(row["MQ5"]) for row in csv.DictReader(handle)]


def _records(lab: MaintenanceHarness, kind: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = lab.client.get(f"/api/v1/maintenance/records?kind={kind}", headers=headers)
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()
    return records


def test_bump_test_is_measured_live_from_the_perfume_curve(lab: MaintenanceHarness, shared_data: Path) -> None:
    otto = lab.commission()
    ada = lab.headers("ada")
    raw = _mq5(shared_data)
    for value in raw[NOGAS_END - 10 : NOGAS_END]:  # clean air before the test
        lab.ingest("lab-mq5", value, ada)
        lab.ingest("lab-ch2", 0.0, ada)
        lab.clock.now += 2.0
    started = lab.client.post(
        "/api/v1/maintenance/tests/bump",
        json={"channel": "lab-mq5", "applied_lel_pct": 40, "minutes": 30, "reason": "monthly bump test"},
        headers=otto,
    )
    assert started.status_code == 201, started.text
    test_id = started.json()["id"]
    lab.wait(lambda: lab.maintenance.recorder.book.sessions[test_id].active, "the channel in TEST")
    for value in raw[NOGAS_END : NOGAS_END + 40]:  # the perfume reaches the head
        lab.ingest("lab-mq5", value, ada)
        lab.clock.now += 2.0

    zone = lab.zone("lab")
    assert zone["tripped"] is False  # lab-ch2 keeps protecting; lab-mq5 in TEST does not vote
    assert lab.valve_state("lab-valve") == "open"
    a3 = next(a for a in zone["alarms"] if a["id"] == "lab/lab-mq5/A3")
    assert a3["latched"] is True  # a test alarm (the perfume has faded since): shown, driving nothing

    ended = lab.client.post(f"/api/v1/maintenance/tests/{test_id}/end", json={"reason": "gas removed"}, headers=otto)
    assert ended.status_code == 200, ended.text
    lab.wait(lambda: bool(lab.maintenance.recorder.stored), "the bump record")

    [record] = _records(lab, "bump", otto)
    # The same numbers as the hand computation in test_bump_measurement (the live path rounds to 1e-3 %LEL).
    assert record["measured"] is True and record["passed"] is True
    assert record["applied_lel_pct"] == 40 and record["peak_lel_pct"] == pytest.approx(41.5)
    assert record["t50_s"] == pytest.approx(9.18, abs=0.01) and record["t90_s"] == pytest.approx(21.9, abs=0.01)
    assert record["performed_by"] == "otto" and record["gas"] == "methane"
    full = lab.client.get(f"/api/v1/maintenance/records/bump/{record['id']}", headers=otto).json()
    assert set(full["detail"]["alarms_seen"]) == {"A1", "A2", "A3"}  # test alarms went off as the gas rose
    assert full["detail"]["response"]["baseline_lel_pct"] == pytest.approx(0.125)
    assert len(full["detail"]["samples"]) == 50
    tests = lab.client.get("/api/v1/maintenance/tests", headers=otto).json()
    assert tests["active"] == [] and tests["finished"][0]["record_id"] == record["id"]
    audit = lab.client.get("/api/v1/events?kind=audit", headers=lab.headers("ada")).json()
    assert any(e["source"] == "maintenance.bump" for e in audit["events"])


def test_bump_test_on_a_channel_already_reading_gas_is_refused_and_forgotten(lab: MaintenanceHarness) -> None:
    otto = lab.commission()
    lab.ingest("lab-ch2", 25.0, lab.headers("ada"))
    refused = lab.client.post(
        "/api/v1/maintenance/tests/bump",
        json={"channel": "lab-ch2", "applied_lel_pct": 50, "reason": "monthly bump test"},
        headers=otto,
    )
    assert refused.status_code == 409 and "reads 25 %LEL" in refused.json()["detail"]
    assert lab.on_loop(lambda: lab.maintenance.recorder.book.sessions) == {}


def test_stroke_test_times_the_close_and_the_reopening(lab: MaintenanceHarness) -> None:
    otto = lab.commission()
    started = lab.client.post(
        "/api/v1/maintenance/tests/stroke", json={"valve": "lab-valve", "reason": "yearly stroke test"}, headers=otto
    )
    assert started.status_code == 201, started.text
    lab.wait_for(lambda: lab._valve_state_now("lab-valve") == "closed", "lab-valve closed")
    again = lab.client.post(
        "/api/v1/maintenance/tests/stroke", json={"valve": "lab-valve", "reason": "again"}, headers=otto
    )
    assert again.status_code == 409 and "starts from an open valve" in again.json()["detail"]
    assert lab.client.post("/api/v1/zones/lab/reset", json={"reason": "stroke test"}, headers=otto).status_code == 200
    opened = lab.client.post("/api/v1/valves/lab-valve/open", json={"reason": "stroke test"}, headers=otto)
    assert opened.status_code == 200, opened.text
    lab.wait(lambda: bool(lab.maintenance.recorder.stored), "the stroke record")
    [record] = _records(lab, "stroke", otto)
    # Instant simulated valve and a clock that stands still: both strokes take 0 s of GasGuard's time.
    assert record["close_s"] == 0.0 and record["open_s"] == 0.0 and record["passed"] is True
    assert record["measured"] is True and record["travel_time_s"] == 3


def test_proof_test_times_gas_to_alarm_trip_and_valve_closed(lab: MaintenanceHarness) -> None:
    otto = lab.commission()
    ada = lab.headers("ada")
    started = lab.client.post(
        "/api/v1/maintenance/tests/proof",
        json={"zone": "lab", "channel": "lab-ch2", "gas": "methane", "reason": "yearly proof test"},
        headers=otto,
    )
    assert started.status_code == 201, started.text
    for value in (0.0, 0.0, 0.0, 15.0, 25.0):  # 2 s apart: gas at 6 s (A1), 8 s (A2 and the trip)
        lab.ingest("lab-ch2", value, ada)
        lab.clock.now += 2.0
    lab.wait(lambda: bool(lab.maintenance.recorder.stored), "the proof record")
    [record] = _records(lab, "proof_test", otto)
    # t0 is the last clean sample (4 s): alarm 2 s later, trip and valve closed 4 s later.
    assert (record["alarm_s"], record["trip_s"], record["closed_s"]) == (2.0, 4.0, 4.0)
    assert record["passed"] is True and record["channel"] == "lab-ch2"
    full = lab.client.get(f"/api/v1/maintenance/records/proof_test/{record['id']}", headers=otto).json()
    names = [name for name, _ts in full["detail"]["timeline"]]
    assert names[0] == "gas applied" and "A2 alarm" in names and "lab-valve closed" in names


# --------------------------------------------------------------------------- the book on crafted messages


def _event(topic: str, ts: float, **inner: Any) -> Message:
    return Message(topic=topic, payload={"kind": topic, "ts": ts, "payload": inner}, ts=ts)


def _reading(channel: str, zone: str, ts: float, lel: float) -> Message:
    return Message(topic="reading", payload={"channel": channel, "zone": zone, "ts": ts, "lel_pct": lel}, ts=ts)


def test_stroke_test_book_times_a_slow_valve_and_fails_it(plant: PlantDirectory) -> None:
    book = TestBook(plant)
    session = book.start_stroke("kitchen-valve", user="otto", now=100.0)
    for ts, state in ((100.0, "closing"), (106.5, "closed"), (130.0, "opening")):
        assert book.observe(_event("valve", ts, zone="kitchen", valve="kitchen-valve", state=state)) == []
    [record] = book.observe(_event("valve", 133.0, zone="kitchen", valve="kitchen-valve", state="open"))
    assert (record.close_s, record.open_s) == (6.5, 3.0)
    assert record.detail["test"] == session.id and record.measured
    assert book.sessions == {} and book.finished[0].ended_by == "valve reopened"


def test_stroke_test_book_records_a_valve_that_never_closed_when_time_is_over(plant: PlantDirectory) -> None:
    book = TestBook(plant)
    book.start_stroke("kitchen-valve", user="otto", now=100.0)
    book.observe(_event("valve", 100.0, zone="kitchen", valve="kitchen-valve", state="closing"))
    assert book.due(1000.0) == []
    [record] = book.due(100.0 + 30 * 60)
    assert record.close_s is None and record.open_s is None


def test_proof_test_book_follows_the_first_channel_that_rises(plant: PlantDirectory) -> None:
    book = TestBook(plant)
    book.start_proof("lab", user="otto", now=0.0)
    for ts in (0.0, 1.0, 2.0):
        book.observe(_reading("lab-mq5", "lab", ts, 0.0))
        book.observe(_reading("lab-ch2", "lab", ts, 0.1))
    book.observe(_reading("lab-ch2", "lab", 3.0, 12.0))
    book.observe(_event("alarm", 3.0, zone="lab", source="lab-ch2", level="A1", state="unacknowledged", test=False))
    book.observe(_event("alarm", 5.0, zone="lab", source="lab-ch2", level="A2", state="unacknowledged", test=False))
    book.observe(_event("trip", 5.0, zone="lab", tripped=True, cause="A2 on lab-ch2"))
    book.observe(_event("valve", 5.0, zone="lab", valve="lab-valve", state="closing"))
    [record] = book.observe(_event("valve", 7.5, zone="lab", valve="lab-valve", state="closed"))
    assert record.channel == "lab-ch2"
    assert (record.alarm_s, record.trip_s, record.closed_s) == (1.0, 3.0, 5.5)


def test_bump_test_book_ignores_a_test_it_did_not_plan_but_measures_it(plant: PlantDirectory) -> None:
    """A TEST started elsewhere (another client) may be a calibration: measured for the view, no record."""
    book = TestBook(plant)
    book.observe(
        _event(
            "operator",
            10.0,
            action="test_channel",
            target="lab-ch2",
            accepted=True,
            user="otto",
            message="lab-ch2 in TEST for 600 s; the zone's other channels keep protecting",
        )
    )
    [session] = book.sessions.values()
    assert session.kind is TestKind.CALIBRATION and session.deadline == 610.0
    book.observe(_reading("lab-ch2", "lab", 11.0, 0.0))
    book.observe(_reading("lab-ch2", "lab", 12.0, 30.0))
    assert book.observe(_event("operator", 20.0, action="end_test", target="lab-ch2", accepted=True, user="otto")) == []
    assert book.finished[0].result["peak_lel_pct"] == 30.0


def test_bump_test_book_records_when_the_test_time_is_over(plant: PlantDirectory) -> None:
    book = TestBook(plant)
    session = book.plan_channel_test(
        TestKind.BUMP, "lab-ch2", user="otto", now=0.0, until=600.0, applied_lel_pct=50.0, gas="methane"
    )
    book.observe(
        _event("operator", 0.0, action="test_channel", target="lab-ch2", accepted=True, user="otto", message="")
    )
    for ts, lel in ((1.0, 0.0), (2.0, 0.0), (3.0, 20.0), (4.0, 45.0), (5.0, 49.0)):
        book.observe(_reading("lab-ch2", "lab", ts, lel))
    for level, ts in (("A1", 3.0), ("A2", 3.0), ("A3", 4.0)):
        book.observe(_event("alarm", ts, zone="lab", source="lab-ch2", level=level, state="unacknowledged", test=True))
    assert book.due(599.0) == []
    [record] = book.due(600.0)
    assert record.detail["test"] == session.id and record.detail["ended"] == "test time over"
    assert record.peak_lel_pct == 49.0 and record.t90_s == pytest.approx(2.0)  # 45 %LEL reached at 4 s, t0 = 2 s
    assert record.judged == (True, [])
