"""Migrations, readings, events, snapshots and retention on every supported database."""

from __future__ import annotations

import asyncio
import math

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gasguard.domain import AlarmChanged, AlarmState, Level, Reading, ValveAction, ValveCommand, ZoneTripChanged
from gasguard.storage.engine import make_session_factory
from gasguard.storage.events import (
    EventFilter,
    EventKind,
    add_event,
    add_events,
    event_from_output,
    export_events_csv,
    list_events,
)
from gasguard.storage.migrate import current_revision, engine_at_head, head_revision
from gasguard.storage.readings import (
    add_readings,
    count_readings,
    downsample_readings,
    latest_readings,
    query_readings,
)
from gasguard.storage.retention import DAY_S, purge
from gasguard.storage.snapshots import PLANT_SCOPE, SnapshotStore, load_snapshot, load_snapshots, save_snapshot

T0 = 1_700_000_000.0


@pytest.fixture
def session(any_database_url: str):  # type: ignore[no-untyped-def]
    engine = engine_at_head(any_database_url)
    factory = make_session_factory(engine)
    with factory() as s:
        yield s
    engine.dispose()


def test_migrations_create_every_table_at_head(any_database_url: str) -> None:
    engine = engine_at_head(any_database_url)
    try:
        assert current_revision(engine) == head_revision() == "0007"
        tables = set(inspect(engine).get_table_names())
        expected = {
            "readings",
            "events",
            "users",
            "api_tokens",
            "safety_snapshots",
            "login_failures",
            "notification_incidents",
            "notification_deliveries",
            "notification_ack_nonces",
            "maintenance_test_sessions",
            "alembic_version",
        }
        assert expected <= tables
        engine_at_head(any_database_url).dispose()  # running again is a no-op
        assert current_revision(engine) == "0007"
    finally:
        engine.dispose()


def test_readings_round_trip_with_full_precision(session: Session) -> None:
    readings = [Reading("kitchen-ch1", 12.345678901234, T0 + 0.123456), Reading("kitchen-ch1", None, T0 + 1)]
    readings.append(Reading("kitchen-ch1", math.nan, T0 + 2))
    readings.append(Reading("boiler-ch1", 3.0, T0))
    assert add_readings(session, readings=readings) == 4
    session.commit()
    got = query_readings(session, channel="kitchen-ch1", start=T0, end=T0 + 10)
    assert got == [
        Reading("kitchen-ch1", 12.345678901234, T0 + 0.123456),
        Reading("kitchen-ch1", None, T0 + 1),
        Reading("kitchen-ch1", None, T0 + 2),
    ]
    assert count_readings(session) == 4
    assert latest_readings(session) == {
        "kitchen-ch1": Reading("kitchen-ch1", None, T0 + 2),
        "boiler-ch1": Reading("boiler-ch1", 3.0, T0),
    }
    assert latest_readings(session, channels=["boiler-ch1"]) == {"boiler-ch1": Reading("boiler-ch1", 3.0, T0)}


def test_downsampling_aggregates_in_equal_buckets(session: Session) -> None:
    # 0..99 one per second, plus an invalid sample at 250 s; 3 buckets of 100 s over [T0, T0+300)
    add_readings(session, readings=[Reading("c", float(i), T0 + i) for i in range(100)])
    add_readings(
        session, readings=[Reading("c", None, T0 + 250), Reading("c", 7.0, T0 + 299.5), Reading("c", 1.0, T0 + 300)]
    )
    session.commit()
    buckets = downsample_readings(session, channel="c", start=T0, end=T0 + 300, max_points=3)
    assert [(b.start - T0, b.count, b.invalid, b.mean, b.minimum, b.maximum) for b in buckets] == [
        (0.0, 100, 0, 49.5, 0.0, 99.0),
        (200.0, 2, 1, 7.0, 7.0, 7.0),
    ]
    with pytest.raises(ValueError, match="max_points"):
        downsample_readings(session, channel="c", start=T0, end=T0 + 1, max_points=0)


def test_downsampling_floors_instead_of_rounding(session: Session) -> None:
    # 0.9 of a bucket must land in bucket 0 on every database (CAST rounds on PostgreSQL and MySQL)
    add_readings(session, readings=[Reading("c", 5.0, T0 + 9.0), Reading("c", 6.0, T0 + 10.0)])
    session.commit()
    buckets = downsample_readings(session, channel="c", start=T0, end=T0 + 20, max_points=2)
    assert [(b.start - T0, b.mean) for b in buckets] == [(0.0, 5.0), (10.0, 6.0)]


def test_events_round_trip_and_filter(session: Session) -> None:
    stored = add_events(
        session,
        events=[
            event_from_output(
                AlarmChanged("kitchen", "kitchen/ch1/A2", "ch1", Level.A2, AlarmState.LATCHED, 21.0), ts=T0
            ),
            event_from_output(ValveCommand("kitchen", "kv", ValveAction.CLOSE, "A2 trip"), ts=T0 + 0.5),
            event_from_output(ZoneTripChanged("kitchen", True, "ch1 A2 — 21 %LEL"), ts=T0 + 0.5),
        ],
    )
    add_event(session, kind=EventKind.AUDIT, ts=T0 + 9, actor="ada", reason="new operator", payload={"n": [1, 2]})
    session.commit()
    assert all(e.id is not None for e in stored)
    everything = list_events(session)
    assert [e.kind for e in everything] == [EventKind.AUDIT, EventKind.TRIP, EventKind.VALVE_COMMAND, EventKind.ALARM]
    trip = everything[1]
    assert (trip.zone, trip.reason, trip.payload) == (
        "kitchen",
        "ch1 A2 — 21 %LEL",
        {"zone": "kitchen", "tripped": True, "cause": "ch1 A2 — 21 %LEL", "type": "ZoneTripChanged"},
    )
    assert everything[0].payload == {"n": [1, 2]}
    alarm = list_events(session, flt=EventFilter(kinds=[EventKind.ALARM]))[0]
    assert alarm.payload["level"] == "A2" and alarm.payload["value"] == 21.0
    assert [e.kind for e in list_events(session, flt=EventFilter(actor="ada"))] == [EventKind.AUDIT]
    assert len(list_events(session, flt=EventFilter(start=T0 + 0.5, end=T0 + 9))) == 2
    csv_text = "".join(export_events_csv(session, flt=EventFilter(zone="kitchen")))
    assert csv_text.splitlines()[0] == "id,ts,kind,zone,source,actor,reason,payload"
    assert len(csv_text.splitlines()) == 4


def test_snapshots_are_replaced_per_scope(session: Session) -> None:
    assert load_snapshot(session, scope=PLANT_SCOPE) is None
    save_snapshot(session, scope=PLANT_SCOPE, data={"zones": {"kitchen": {"tripped": True}}}, saved_at=T0)
    save_snapshot(session, scope="boiler", data={"valves": {"bv": "closed"}}, saved_at=T0)
    session.commit()
    save_snapshot(session, scope=PLANT_SCOPE, data={"zones": {"kitchen": {"tripped": False}}}, saved_at=T0 + 5)
    session.commit()
    assert load_snapshot(session, scope=PLANT_SCOPE) == ({"zones": {"kitchen": {"tripped": False}}}, T0 + 5)
    assert set(load_snapshots(session)) == {PLANT_SCOPE, "boiler"}
    with pytest.raises(ValueError):
        save_snapshot(session, scope="x", data={"bad": math.inf}, saved_at=T0)


def test_purge_keeps_what_is_inside_retention(session: Session) -> None:
    now = T0 + 100 * DAY_S
    add_readings(session, readings=[Reading("c", 1.0, now - 91 * DAY_S), Reading("c", 2.0, now - 89 * DAY_S)])
    add_event(session, kind=EventKind.AUDIT, ts=now - 91 * DAY_S)
    session.commit()
    result = purge(session, now=now, reading_retention_days=90, event_retention_days=730)
    session.commit()
    assert (result.readings_deleted, result.events_deleted) == (1, 0)
    assert [r.value for r in query_readings(session, channel="c", start=0, end=now)] == [2.0]
    assert len(list_events(session)) == 1


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()


def test_snapshot_store_keeps_only_the_newest_and_survives_an_outage(sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    factory = make_session_factory(engine)
    down = True

    def flaky() -> Session:
        if down:
            raise OperationalError("connect", {}, Exception("gone"))
        return factory()

    store = SnapshotStore(flaky)
    store.save({"kitchen": "tripped"}, saved_at=T0)
    store.save({"kitchen": "tripped", "kv": "closed"}, saved_at=T0 + 1)
    assert asyncio.run(store.flush()) is False
    assert store.unsaved and store.last_error is not None
    down = False
    assert asyncio.run(store.flush()) is True
    assert store.load() == ({"kitchen": "tripped", "kv": "closed"}, T0 + 1)
    assert (store.saved, store.unsaved) == (1, False)
    engine.dispose()
