"""Alarm KPIs after ISA-18.2 / EEMUA 191 from stored events: rate per operator per 10 minutes,
chattering, standing, shelved and out-of-service time, time to acknowledge; per zone and site."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from gasguard.maintenance.kpis import alarm_kpis, weekly_kpis
from gasguard.storage.engine import make_session_factory
from gasguard.storage.events import EventKind, add_event
from gasguard.storage.migrate import engine_at_head

T0 = 1_700_000_000.0
HOUR = 3600.0


def _alarm(session: Session, ts: float, alarm_id: str, state: str, *, test: bool = False) -> None:
    zone, source, level = alarm_id.split("/")
    add_event(
        session,
        kind=EventKind.ALARM,
        ts=T0 + ts,
        zone=zone,
        source=alarm_id,
        payload={"alarm_id": alarm_id, "source": source, "level": level, "state": state, "test": test},
    )


def _ack(session: Session, ts: float, target: str, zone: str) -> None:
    add_event(
        session,
        kind=EventKind.OPERATOR,
        ts=T0 + ts,
        zone=zone,
        source=target,
        actor="otto",
        payload={"action": "ack", "target": target, "accepted": True, "user": "otto"},
    )


@pytest.fixture
def kpis(sqlite_url: str) -> dict[str, Any]:
    engine = engine_at_head(sqlite_url)
    with make_session_factory(engine)() as session:
        for k in range(5):  # chattering: five times in 45 s, then acknowledged at 100 s for the zone
            _alarm(session, 10 * k, "z/c1/A1", "unacknowledged")
            _alarm(session, 10 * k + 5, "z/c1/A1", "returned_unacknowledged")
        _ack(session, 100, "z", "z")
        _alarm(session, 100, "z/c1/A1", "normal")
        _alarm(session, 500, "z/c1/A2", "unacknowledged", test=True)  # a test alarm: not counted
        _alarm(session, 1000, "z/c2/A2", "unacknowledged")  # standing: acknowledged, active for 26 h
        _alarm(session, 1060, "z/c2/A2", "acknowledged")
        _alarm(session, 1000 + 26 * HOUR, "z/c2/A2", "normal")
        _alarm(session, 2000, "z/c3/A1", "unacknowledged")
        _alarm(session, 2010, "z/c3/A1", "shelved")  # shelved for an hour, then shown again
        _alarm(session, 2010 + HOUR, "z/c3/A1", "unacknowledged")
        _alarm(session, 2010 + HOUR + 90, "z/c3/A1", "acknowledged")
        _alarm(session, 6000, "z/c3/A1", "normal")
        for level in ("A1", "FAULT"):  # one channel out of service for two hours: counted once
            _alarm(session, 3000, f"z/c4/{level}", "out_of_service")
            _alarm(session, 3000 + 2 * HOUR, f"z/c4/{level}", "normal")
        _alarm(session, 4000, "y/d1/A1", "unacknowledged")  # another zone, never acknowledged
        session.commit()
        result = alarm_kpis(session, start=T0, end=T0 + 2 * 24 * HOUR, zones_by_site={"plant": ["z", "y"]})
    engine.dispose()
    return result


def test_alarm_kpis_of_the_site(kpis: dict[str, Any]) -> None:
    [site] = kpis["sites"]
    assert site["annunciations"] == 9  # 5 chattering + 1 standing + 2 shelved-and-shown + 1 in zone y
    rate = site["per_operator_per_10min"]
    assert rate["slices"] == 288 and rate["peak"] == 5 and rate["average"] == pytest.approx(9 / 288, abs=1e-3)
    assert rate["flood_slices"] == 0
    assert site["chattering"] == [{"alarm_id": "z/c1/A1", "most_in_a_minute": 5, "annunciations": 5}]
    # Standing: c2 (26 h, then cleared) and y's alarm, still unacknowledged at the end of the period.
    standing = {s["alarm_id"]: s for s in site["standing"]}
    assert set(standing) == {"z/c2/A2", "y/d1/A1"} and standing["z/c2/A2"]["hours"] == 26.0
    assert standing["y/d1/A1"]["until"] is None
    assert site["shelved_s"] == 3600.0
    assert site["out_of_service_s"] == 7200.0
    ack = site["time_to_ack_s"]
    # Acknowledge times: 100, 90, 80, 70, 60 (the zone's acknowledge), 60 (c2), 90 (c3 shown again);
    # c3's first showing (2000 s) was shelved before anyone acknowledged it: acknowledged at 5700 s, 3700 s on.
    assert ack["acknowledged"] == 8 and ack["not_acknowledged"] == 1
    assert ack["median"] == 85.0 and ack["max"] == 3700.0
    assert site["top_alarms"][0] == {"alarm_id": "z/c1/A1", "annunciations": 5}


def test_alarm_kpis_per_zone(kpis: dict[str, Any]) -> None:
    zones = {z["zone"]: z for z in kpis["sites"][0]["zones"]}
    assert zones["z"]["annunciations"] == 8 and zones["y"]["annunciations"] == 1
    assert zones["y"]["chattering"] == [] and zones["y"]["time_to_ack_s"]["median"] is None


def test_weekly_alarm_kpis_split_the_weeks(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    with make_session_factory(engine)() as session:
        _alarm(session, 3 * 24 * HOUR, "z/c1/A1", "unacknowledged")
        _alarm(session, 10 * 24 * HOUR, "z/c1/A1", "acknowledged")
        session.commit()
        weeks = weekly_kpis(session, end=T0 + 14 * 24 * HOUR, weeks=2, zones_by_site={"plant": ["z"]})
    engine.dispose()
    assert [w["annunciations"] for w in weeks] == [1, 0]
    assert weeks[0]["time_to_ack_s"]["not_acknowledged"] == 1  # acknowledged only in the next week


def test_weekly_alarm_kpis_give_each_zone_of_the_site_its_own_figures(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    with make_session_factory(engine)() as session:
        _alarm(session, 3 * 24 * HOUR, "z/c1/A1", "unacknowledged")
        _alarm(session, 3 * 24 * HOUR + 60, "z/c1/A1", "acknowledged")
        _alarm(session, 4 * 24 * HOUR, "y/c9/A2", "unacknowledged")
        _alarm(session, 9 * 24 * HOUR, "y/c9/A1", "unacknowledged")
        session.commit()
        weeks = weekly_kpis(session, end=T0 + 14 * 24 * HOUR, weeks=2, zones_by_site={"plant": ["z", "y"]})
    engine.dispose()
    assert [w["annunciations"] for w in weeks] == [2, 1]
    first, second = ({z["zone"]: z for z in w["zones"]} for w in weeks)
    assert list(first) == ["z", "y"]
    assert (first["z"]["annunciations"], first["y"]["annunciations"]) == (1, 1)
    assert (second["z"]["annunciations"], second["y"]["annunciations"]) == (0, 1)
    assert first["z"]["time_to_ack_s"]["median"] == 60.0 and first["y"]["time_to_ack_s"]["not_acknowledged"] == 1
    assert first["z"]["from"] == weeks[0]["from"] and second["y"]["to"] == weeks[1]["to"]
