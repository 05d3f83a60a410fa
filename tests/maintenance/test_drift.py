"""Zero drift from clean-air periods of the stored readings (all three databases), and the span trend
from bump tests."""

from __future__ import annotations

import math

import pytest

from gasguard.domain import Reading
from gasguard.maintenance.drift import DAY_S, MONTH_DAYS, channel_drift, fit_line
from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.records import BumpInput, store_record
from gasguard.storage.engine import make_session_factory
from gasguard.storage.events import EventKind, add_event
from gasguard.storage.migrate import engine_at_head
from gasguard.storage.readings import add_readings

END = 1_700_000_000.0
DAYS = 60
SLOPE_PER_MONTH = 0.8


def _zero(ts: float) -> float:
    return SLOPE_PER_MONTH / MONTH_DAYS * (ts - (END - DAYS * DAY_S)) / DAY_S


def test_drift_of_the_zero_is_fitted_on_clean_air_only(any_database_url: str, plant: PlantDirectory) -> None:
    start = END - DAYS * DAY_S
    leak_at = start + 20 * DAY_S + 5 * 3600  # an hour of gas on day 20: not clean air
    alarm_at = start + 30 * DAY_S + 8 * 3600  # three hours of an A1 alarm on day 30
    readings = []
    for i in range(DAYS * 24 * 6):  # every 10 minutes
        ts = start + i * 600.0
        value = _zero(ts) + 0.05 * math.sin(i)  # steady: a few hundredths of noise
        if leak_at <= ts < leak_at + 3600:
            value += 25.0
        if alarm_at <= ts < alarm_at + 3 * 3600:
            value += 2.0
        readings.append(Reading("lab-ch2", value, ts))
    engine = engine_at_head(any_database_url)
    with make_session_factory(engine)() as session:
        add_readings(session, readings=readings)
        for ts, state in ((alarm_at, "unacknowledged"), (alarm_at + 3 * 3600, "normal")):
            add_event(
                session,
                kind=EventKind.ALARM,
                ts=ts,
                zone="lab",
                source="lab/lab-ch2/A1",
                payload={"alarm_id": "lab/lab-ch2/A1", "source": "lab-ch2", "level": "A1", "state": state},
            )
        session.commit()
        report = channel_drift(session, plant=plant, channel="lab-ch2", end=END)
    engine.dispose()

    assert report.buckets_total == DAYS * 24
    assert report.buckets_clean == DAYS * 24 - 1 - 3  # the leak hour and the alarm's three hours left out
    assert len(report.zero_points) == DAYS
    assert report.zero_fit is not None
    assert report.zero_fit.per_month == pytest.approx(SLOPE_PER_MONTH, abs=0.01)
    zero_now = _zero(END)
    expected_days = (3.0 - zero_now) / (SLOPE_PER_MONTH / MONTH_DAYS)  # +/-3 %LEL tolerance
    assert report.zero_days_to_tolerance == pytest.approx(expected_days, abs=1.0)
    assert report.warnings == [
        f"lab-ch2 zero drifting +0.8 %LEL/month; out of tolerance in about {expected_days:.0f} days"
    ]
    chart = report.to_json()
    assert chart["zero"]["fit"]["per_month"] == pytest.approx(0.8, abs=0.01)
    assert chart["zero"]["points"][0]["zero_lel_pct"] == pytest.approx(_zero(start + 12 * 3600), abs=0.05)


def test_drift_needs_enough_clean_days_before_it_warns(sqlite_url: str, plant: PlantDirectory) -> None:
    engine = engine_at_head(sqlite_url)
    with make_session_factory(engine)() as session:
        add_readings(
            session, readings=[Reading("lab-ch2", 2.5, END - 3 * DAY_S + i * 600.0) for i in range(3 * 24 * 6)]
        )
        session.commit()
        report = channel_drift(session, plant=plant, channel="lab-ch2", end=END)
    engine.dispose()
    assert len(report.zero_points) == 3 and report.zero_fit is None and report.warnings == []


def test_drift_of_the_span_response_from_bump_tests(sqlite_url: str, plant: PlantDirectory) -> None:
    engine = engine_at_head(sqlite_url)
    with make_session_factory(engine)() as session:
        for month, peak in enumerate((50.0, 47.0, 44.0, 41.5)):  # 100 %, 94 %, 88 %, 83 % of 50 %LEL
            store_record(
                session,
                plant=plant,
                record=BumpInput("lab-ch2", "methane", 50.0, peak, ts=END - (3 - month) * 30 * DAY_S),
                recorded_by="otto",
                now=END,
            )
        session.commit()
        report = channel_drift(session, plant=plant, channel="lab-ch2", end=END)
    engine.dispose()
    assert [round(r) for _, r in report.span_points] == [100, 94, 88, 83]
    assert report.span_fit is not None and report.span_fit.per_month == pytest.approx(-5.7, abs=0.2)
    assert report.warnings and report.warnings[0].startswith("lab-ch2 span response 83 % of the test gas")


def test_fit_line_of_two_points_is_exact() -> None:
    fit = fit_line([(0.0, 1.0), (DAY_S, 2.0)])
    assert fit is not None and fit.slope_per_day == pytest.approx(1.0) and fit.at(2 * DAY_S) == pytest.approx(3.0)
