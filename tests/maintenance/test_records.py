"""Records on SQLite, PostgreSQL and MariaDB: stored, judged against the tolerances, audited, listed;
bad input named by field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.records import (
    BumpInput,
    CalibrationInput,
    ProofInput,
    RecordError,
    RecordKind,
    StrokeInput,
    get_record,
    latest_records,
    list_records,
    store_record,
)
from gasguard.storage.engine import make_session_factory
from gasguard.storage.events import EventFilter, EventKind, list_events
from gasguard.storage.migrate import engine_at_head

NOW = 1_700_000_000.0


@pytest.fixture
def session(any_database_url: str) -> Iterator[Session]:
    engine = engine_at_head(any_database_url)
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


def _audit(session: Session) -> list[dict[str, object]]:
    events = list_events(session, flt=EventFilter(kinds=[EventKind.AUDIT]), limit=100)
    return [e.to_json() for e in events]


def test_calibration_record_is_judged_stored_and_audited(session: Session, plant: PlantDirectory) -> None:
    record = CalibrationInput(
        channel="kitchen-ch1",
        gas="methane",
        concentration=25000,
        as_found_zero=1500,  # 3 %LEL: at the edge of +/-3, in tolerance
        as_found_span=21000,  # 16 % low: out of the 10 % span tolerance
        as_left_zero=100,
        as_left_span=24800,
        instrument="cylinder lot 4471",
        performed_by="Kim (contractor)",
        ts=NOW - 3600,
    )
    data, event = store_record(session, plant=plant, record=record, recorded_by="otto", now=NOW)
    session.commit()
    assert data["passed"] is True and data["as_found_passed"] is False
    assert data["unit"] == "ppm" and data["zone"] == "kitchen" and data["performed_by"] == "Kim (contractor)"
    assert get_record(session, kind=RecordKind.CALIBRATION, record_id=data["id"]) == data
    [audit] = _audit(session)
    assert audit["source"] == "maintenance.calibration" and audit["actor"] == "otto" and audit["zone"] == "kitchen"
    assert audit["payload"] == {"record": "calibration", "id": data["id"], "target": "kitchen-ch1", "passed": True}
    assert "calibration of kitchen-ch1: pass" in str(audit["reason"])
    assert "as found: span reads 21000 ppm for 25000 ppm of test gas, outside +/-10 %" in str(audit["reason"])
    assert event.id == audit["id"]


def test_calibration_as_left_out_of_tolerance_fails(session: Session, plant: PlantDirectory) -> None:
    record = CalibrationInput(
        channel="kitchen-ch1", gas="methane", concentration=25000, as_left_zero=2000, as_left_span=25000
    )
    data, _ = store_record(session, plant=plant, record=record, recorded_by="otto", now=NOW)
    assert data["passed"] is False  # 2000 ppm methane = 4 %LEL zero, outside +/-3 %LEL
    assert data["as_found_passed"] is None


def test_bump_stroke_and_proof_test_records_round_trip(session: Session, plant: PlantDirectory) -> None:
    bump, _ = store_record(
        session,
        plant=plant,
        record=BumpInput("lab-ch2", "methane", applied_lel_pct=50, peak_lel_pct=47, t50_s=6, t90_s=14, ts=NOW - 60),
        recorded_by="otto",
        now=NOW,
    )
    stroke, _ = store_record(
        session, plant=plant, record=StrokeInput("lab-valve", close_s=3.5, open_s=2.0), recorded_by="otto", now=NOW
    )
    proof, _ = store_record(
        session,
        plant=plant,
        record=ProofInput("lab", alarm_s=8, trip_s=12, closed_s=14.5, channel="lab-ch2", gas="methane"),
        recorded_by="otto",
        now=NOW,
    )
    session.commit()
    assert bump["passed"] is True and bump["measured"] is False
    assert stroke["passed"] is False  # 3.5 s to close, travel time 3 s
    assert stroke["detail"]["problems"] == ["closed in 3.5 s, longer than its travel time 3 s"]
    assert proof["passed"] is True and proof["target"] == "lab"
    assert [r["id"] for r in list_records(session, kind=RecordKind.BUMP, target="lab-ch2")] == [bump["id"]]
    assert latest_records(session, kind=RecordKind.STROKE)["lab-valve"]["close_s"] == 3.5
    assert {a["source"] for a in _audit(session)} == {
        "maintenance.bump",
        "maintenance.stroke",
        "maintenance.proof_test",
    }


def test_bump_test_peak_outside_tolerance_fails_with_the_reason(plant: PlantDirectory, sqlite_url: str) -> None:
    engine = engine_at_head(sqlite_url)
    with make_session_factory(engine)() as session:
        data, _ = store_record(
            session,
            plant=plant,
            record=BumpInput("lab-ch2", "methane", applied_lel_pct=50, peak_lel_pct=35, t90_s=80),
            recorded_by="otto",
            now=NOW,
        )
    engine.dispose()
    assert data["passed"] is False
    assert data["detail"]["problems"] == [
        "peak 35.0 %LEL for 50 %LEL applied, outside +/-20 %",
        "T90 80 s is longer than 60 s",
    ]


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        (
            CalibrationInput("kitchen-ch1", "methane", 25000, as_left_zero=0, as_left_span=60000),
            "as_left_span",
            "60000 ppm is outside the range of kitchen-ch1 (0 to 50000 ppm)",
        ),
        (
            CalibrationInput("lab-ch2", "methane", 50, as_left_zero=-9, as_left_span=50),
            "as_left_zero",
            "-9 lel_pct is outside the range of lab-ch2",
        ),
        (
            CalibrationInput("nowhere-ch9", "methane", 50, as_left_zero=0, as_left_span=50),
            "channel",
            "no channel 'nowhere-ch9' in the site configuration",
        ),
        (
            BumpInput("ghost", "methane", applied_lel_pct=50, peak_lel_pct=50),
            "channel",
            "no channel 'ghost'",
        ),
        (
            BumpInput("lab-ch2", "methane", applied_lel_pct=50, peak_lel_pct=50, ts=NOW + 3600),
            "ts",
            "is in the future",
        ),
        (StrokeInput("no-valve", close_s=1), "valve", "no valve 'no-valve'"),
        (ProofInput("lab", alarm_s=1, trip_s=2, closed_s=3, channel="kitchen-ch1"), "channel", "no channel"),
    ],
)
def test_calibration_and_bump_bad_input_is_named(
    plant: PlantDirectory, sqlite_url: str, record: object, field: str, words: str
) -> None:
    engine = engine_at_head(sqlite_url)
    with make_session_factory(engine)() as session, pytest.raises(RecordError) as caught:
        store_record(session, plant=plant, record=record, recorded_by="otto", now=NOW)  # type: ignore[arg-type]
    engine.dispose()
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ") and words in str(caught.value)


def test_latest_stroke_and_bump_records_are_the_newest_per_target(session: Session, plant: PlantDirectory) -> None:
    """The grouped query picks each target's newest record; of two at the same time, the later stored."""

    def stroke(valve: str, close_s: float, ts: float) -> int:
        data, _ = store_record(
            session, plant=plant, record=StrokeInput(valve, close_s=close_s, ts=ts), recorded_by="otto", now=NOW
        )
        return int(data["id"])

    stroke("lab-valve", 1.0, NOW - 300)
    stroke("lab-valve", 2.0, NOW - 100)
    stroke("lab-valve", 1.5, NOW - 200)
    stroke("kitchen-valve", 4.0, NOW - 50)
    stroke("kitchen-valve", 4.5, NOW - 50)  # same time: the later stored counts
    for ts, peak in ((NOW - 90, 48.0), (NOW - 30, 51.0), (NOW - 60, 30.0)):
        store_record(
            session,
            plant=plant,
            record=BumpInput("lab-ch2", "methane", applied_lel_pct=50, peak_lel_pct=peak, t90_s=14, ts=ts),
            recorded_by="otto",
            now=NOW,
        )
    session.commit()
    latest = latest_records(session, kind=RecordKind.STROKE)
    assert {valve: r["close_s"] for valve, r in latest.items()} == {"lab-valve": 2.0, "kitchen-valve": 4.5}
    bumps = latest_records(session, kind=RecordKind.BUMP)
    assert list(bumps) == ["lab-ch2"] and bumps["lab-ch2"]["peak_lel_pct"] == 51.0
    assert latest_records(session, kind=RecordKind.PROOF_TEST) == {}
