"""Maintenance records: check, judge, store and audit calibrations, bump, stroke and proof tests.

The REST routes, the CLI and the test recorder all come through ``store_record``, so a record is
judged by the same rules (``Tolerances`` of the site's maintenance plan) however it was entered, and
every stored record has its audit event in the same commit. Functions take a ``Session`` and
keyword-only arguments and flush but never commit, like the rest of ``storage``.

Bad input is a ``RecordError`` that names the field: an unknown channel, a value the sensor cannot
read (outside its ``valid_range``), a time in the future. The web tier turns it into a 422.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gasguard.maintenance.config import Tolerances
from gasguard.maintenance.plant import ChannelInfo, PlantDirectory
from gasguard.storage.events import EventKind, EventRecord, add_event
from gasguard.storage.models import BumpTestRow, CalibrationRow, ProofTestRow, StrokeTestRow

FUTURE_SLACK_S = 60.0
"""A record may be dated this far ahead of the server clock (a technician's watch a little fast)."""
MAX_LIST = 1000


class RecordKind(StrEnum):
    CALIBRATION = "calibration"
    BUMP = "bump"
    STROKE = "stroke"
    PROOF_TEST = "proof_test"


AUDIT_SOURCE = {kind: f"maintenance.{kind.value}" for kind in RecordKind}
"""``source`` of the audit event each record makes (``maintenance.calibration``, ...)."""

_ROWS: dict[RecordKind, Any] = {
    RecordKind.CALIBRATION: CalibrationRow,
    RecordKind.BUMP: BumpTestRow,
    RecordKind.STROKE: StrokeTestRow,
    RecordKind.PROOF_TEST: ProofTestRow,
}
TARGET_FIELD = {
    RecordKind.CALIBRATION: "channel",
    RecordKind.BUMP: "channel",
    RecordKind.STROKE: "valve",
    RecordKind.PROOF_TEST: "zone",
}
"""What a record of each kind is about: a channel, a valve or a zone."""


class RecordError(ValueError):
    """A record that cannot be stored; ``field`` names the input at fault (for a 422)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True, slots=True)
class CalibrationInput:
    """A calibration as the technician reports it; values in the channel's unit."""

    channel: str
    gas: str
    concentration: float
    as_left_zero: float
    as_left_span: float
    as_found_zero: float | None = None
    as_found_span: float | None = None
    instrument: str = ""
    note: str = ""
    performed_by: str | None = None
    ts: float | None = None


@dataclass(frozen=True, slots=True)
class BumpInput:
    """A bump test: test gas applied and how the channel answered. ``measured`` when GasGuard measured it."""

    channel: str
    gas: str
    applied_lel_pct: float | None
    peak_lel_pct: float | None
    t50_s: float | None = None
    t90_s: float | None = None
    note: str = ""
    performed_by: str | None = None
    ts: float | None = None
    ended_at: float | None = None
    measured: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)
    judged: tuple[bool, list[str]] | None = None  # a measured test already judged with what it saw


@dataclass(frozen=True, slots=True)
class StrokeInput:
    valve: str
    close_s: float | None
    open_s: float | None = None
    note: str = ""
    performed_by: str | None = None
    ts: float | None = None
    measured: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProofInput:
    """A proof test of a zone; times in seconds from the gas reaching the detector."""

    zone: str
    alarm_s: float | None
    trip_s: float | None
    closed_s: float | None
    channel: str | None = None
    gas: str = ""
    note: str = ""
    performed_by: str | None = None
    ts: float | None = None
    measured: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)


RecordInput = CalibrationInput | BumpInput | StrokeInput | ProofInput


# --------------------------------------------------------------------------- judging (pure)


def judge_calibration(
    ch: ChannelInfo,
    tol: Tolerances,
    *,
    concentration: float,
    zero: float | None,
    span: float | None,
) -> tuple[bool | None, list[str]]:
    """Whether a zero and span reading (channel unit) are in tolerance, and why not. ``None``: not given."""
    if zero is None or span is None:
        return None, []
    problems = []
    zero_lel = ch.to_lel(zero)
    if abs(zero_lel) > tol.zero_lel_pct:
        problems.append(f"zero reads {zero_lel:+.1f} %LEL, outside +/-{tol.zero_lel_pct:g} %LEL")
    allowed = concentration * tol.calibration_span_pct / 100.0
    if abs(span - concentration) > allowed:
        problems.append(
            f"span reads {span:g} {ch.unit} for {concentration:g} {ch.unit} of test gas, "
            f"outside +/-{tol.calibration_span_pct:g} %"
        )
    return not problems, problems


def judge_bump(
    tol: Tolerances, *, applied: float | None, peak: float | None, t90_s: float | None
) -> tuple[bool, list[str]]:
    """A bump test passes when the peak is within ``bump_pct`` of the applied gas and T90 is short enough."""
    if applied is None:
        return False, ["no applied concentration given: the response cannot be judged"]
    if peak is None:
        return False, ["no reading while the test gas was applied"]
    problems = []
    allowed = applied * tol.bump_pct / 100.0
    if abs(peak - applied) > allowed:
        problems.append(f"peak {peak:.1f} %LEL for {applied:g} %LEL applied, outside +/-{tol.bump_pct:g} %")
    if t90_s is None:
        problems.append("the reading never reached 90 % of the applied gas")
    elif t90_s > tol.bump_t90_max_s:
        problems.append(f"T90 {t90_s:.0f} s is longer than {tol.bump_t90_max_s:g} s")
    return not problems, problems


def judge_stroke(
    travel_time_s: float, tol: Tolerances, *, close_s: float | None, open_s: float | None
) -> tuple[bool, list[str]]:
    """A stroke passes when the valve closed (and, if it was reopened, opened) within its travel time."""
    limit = travel_time_s + tol.valve_margin_s
    problems = []
    if close_s is None:
        problems.append("the valve did not report closed")
    elif close_s > limit:
        problems.append(f"closed in {close_s:.1f} s, longer than its travel time {limit:g} s")
    if open_s is not None and open_s > limit:
        problems.append(f"opened in {open_s:.1f} s, longer than its travel time {limit:g} s")
    return not problems, problems


def judge_proof(
    travel_time_s: float, tol: Tolerances, *, has_valves: bool, trip_s: float | None, closed_s: float | None
) -> tuple[bool, list[str]]:
    """A proof test passes when the zone tripped and (having valves) every valve closed in its travel time."""
    problems = []
    if trip_s is None:
        problems.append("the zone did not trip")
    if has_valves:
        if closed_s is None:
            problems.append("the valves did not all report closed")
        elif trip_s is not None and closed_s - trip_s > travel_time_s + tol.valve_margin_s:
            problems.append(
                f"valves closed {closed_s - trip_s:.1f} s after the trip, longer than the travel time "
                f"{travel_time_s + tol.valve_margin_s:g} s"
            )
    return not problems, problems


# --------------------------------------------------------------------------- checking input


def _when(ts: float | None, now: float) -> float:
    if ts is None:
        return now
    if not math.isfinite(ts):
        raise RecordError("ts", "must be a finite time")
    if ts > now + FUTURE_SLACK_S:
        raise RecordError("ts", "is in the future")
    return ts


def _channel(plant: PlantDirectory, channel: str) -> ChannelInfo:
    ch = plant.channels.get(channel)
    if ch is None:
        raise RecordError("channel", f"no channel {channel!r} in the site configuration")
    return ch


def _finite(name: str, value: float | None, *, positive: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise RecordError(name, "must be a finite number")
    if positive and value <= 0:
        raise RecordError(name, "must be greater than 0")
    if value < 0:
        raise RecordError(name, "must not be negative")


def _in_range(ch: ChannelInfo, name: str, value: float | None) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise RecordError(name, "must be a finite number")
    if not ch.in_range(value):
        raise RecordError(
            name, f"{value:g} {ch.unit} is outside the range of {ch.id} ({ch.range_text()}): the sensor cannot read it"
        )


# --------------------------------------------------------------------------- storing


def _summary(kind: RecordKind, target: str, passed: bool, parts: Sequence[str]) -> str:
    verdict = "pass" if passed else "FAIL"
    return f"{kind.value.replace('_', ' ')} of {target}: {verdict}" + ("; " + "; ".join(parts) if parts else "")


def _fmt(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f} {unit}"


def store_record(
    session: Session, *, plant: PlantDirectory, record: RecordInput, recorded_by: str, now: float
) -> tuple[dict[str, Any], EventRecord]:
    """Check, judge and store one record with its audit event (flushed, not committed).

    Returns the record as JSON and the audit event (publish it after the commit). Raises
    ``RecordError`` for input that cannot be stored."""
    if isinstance(record, CalibrationInput):
        return _store_calibration(session, plant, record, recorded_by, now)
    if isinstance(record, BumpInput):
        return _store_bump(session, plant, record, recorded_by, now)
    if isinstance(record, StrokeInput):
        return _store_stroke(session, plant, record, recorded_by, now)
    return _store_proof(session, plant, record, recorded_by, now)


def _audit(
    session: Session,
    kind: RecordKind,
    row: Any,
    *,
    zone: str,
    target: str,
    actor: str,
    reason: str,
) -> tuple[dict[str, Any], EventRecord]:
    session.add(row)
    session.flush()
    data = row_json(kind, row)
    event = add_event(
        session,
        kind=EventKind.AUDIT,
        ts=row.ts,
        zone=zone,
        source=AUDIT_SOURCE[kind],
        actor=actor,
        reason=reason,
        payload={"record": kind.value, "id": row.id, "target": target, "passed": row.passed},
    )
    return data, event


def _store_calibration(
    session: Session, plant: PlantDirectory, rec: CalibrationInput, recorded_by: str, now: float
) -> tuple[dict[str, Any], EventRecord]:
    ch = _channel(plant, rec.channel)
    ts = _when(rec.ts, now)
    _finite("concentration", rec.concentration, positive=True)
    for name in ("concentration", "as_left_zero", "as_left_span", "as_found_zero", "as_found_span"):
        _in_range(ch, name, getattr(rec, name))
    if (rec.as_found_zero is None) != (rec.as_found_span is None):
        raise RecordError("as_found_span", "give both as-found zero and span, or neither")
    tol = plant.plan_for_zone(ch.zone).tolerances
    found_ok, found_problems = judge_calibration(
        ch, tol, concentration=rec.concentration, zero=rec.as_found_zero, span=rec.as_found_span
    )
    left_ok, left_problems = judge_calibration(
        ch, tol, concentration=rec.concentration, zero=rec.as_left_zero, span=rec.as_left_span
    )
    passed = bool(left_ok)
    notes = [f"as left: {p}" for p in left_problems]
    if found_ok is False:
        notes += [f"as found: {p}" for p in found_problems]
    row = CalibrationRow(
        ts=ts,
        zone=ch.zone,
        channel=ch.id,
        performed_by=(rec.performed_by or recorded_by).strip() or recorded_by,
        recorded_by=recorded_by,
        gas=rec.gas,
        concentration=rec.concentration,
        unit=ch.unit,
        as_found_zero=rec.as_found_zero,
        as_found_span=rec.as_found_span,
        as_left_zero=rec.as_left_zero,
        as_left_span=rec.as_left_span,
        instrument=rec.instrument,
        as_found_passed=found_ok,
        passed=passed,
        note=rec.note,
    )
    reason = _summary(
        RecordKind.CALIBRATION,
        ch.id,
        passed,
        [f"{rec.gas} {rec.concentration:g} {ch.unit}", *notes],
    )
    return _audit(session, RecordKind.CALIBRATION, row, zone=ch.zone, target=ch.id, actor=recorded_by, reason=reason)


def _store_bump(
    session: Session, plant: PlantDirectory, rec: BumpInput, recorded_by: str, now: float
) -> tuple[dict[str, Any], EventRecord]:
    ch = _channel(plant, rec.channel)
    ts = _when(rec.ts, now)
    _finite("applied_lel_pct", rec.applied_lel_pct, positive=True)
    if rec.applied_lel_pct is not None and rec.applied_lel_pct > 100:
        raise RecordError("applied_lel_pct", "must be at most 100 %LEL")
    if rec.peak_lel_pct is not None and not math.isfinite(rec.peak_lel_pct):
        raise RecordError("peak_lel_pct", "must be a finite number")
    if rec.peak_lel_pct is not None and not rec.measured:
        _in_range(ch, "peak_lel_pct", ch.from_lel(rec.peak_lel_pct))
    _finite("t50_s", rec.t50_s)
    _finite("t90_s", rec.t90_s)
    if rec.t50_s is not None and rec.t90_s is not None and rec.t50_s > rec.t90_s:
        raise RecordError("t50_s", "must not be longer than t90_s")
    tol = plant.plan_for_zone(ch.zone).tolerances
    passed, problems = rec.judged or judge_bump(
        tol, applied=rec.applied_lel_pct, peak=rec.peak_lel_pct, t90_s=rec.t90_s
    )
    row = BumpTestRow(
        ts=ts,
        ended_at=rec.ended_at,
        zone=ch.zone,
        channel=ch.id,
        performed_by=(rec.performed_by or recorded_by).strip() or recorded_by,
        gas=rec.gas,
        applied_lel_pct=rec.applied_lel_pct,
        peak_lel_pct=rec.peak_lel_pct,
        t50_s=rec.t50_s,
        t90_s=rec.t90_s,
        passed=passed,
        measured=rec.measured,
        note=rec.note,
        detail={**rec.detail, "problems": problems},
    )
    how = "measured" if rec.measured else "entered"
    parts = [
        f"{how}: {rec.gas} {_fmt(rec.applied_lel_pct, '%LEL')} applied, peak {_fmt(rec.peak_lel_pct, '%LEL')}, "
        f"T50 {_fmt(rec.t50_s, 's')}, T90 {_fmt(rec.t90_s, 's')}",
        *problems,
    ]
    reason = _summary(RecordKind.BUMP, ch.id, passed, parts)
    return _audit(session, RecordKind.BUMP, row, zone=ch.zone, target=ch.id, actor=recorded_by, reason=reason)


def _store_stroke(
    session: Session, plant: PlantDirectory, rec: StrokeInput, recorded_by: str, now: float
) -> tuple[dict[str, Any], EventRecord]:
    valve = plant.valves.get(rec.valve)
    if valve is None:
        raise RecordError("valve", f"no valve {rec.valve!r} in the site configuration")
    ts = _when(rec.ts, now)
    _finite("close_s", rec.close_s)
    _finite("open_s", rec.open_s)
    tol = plant.plan_for_zone(valve.zone).tolerances
    passed, problems = judge_stroke(valve.travel_time_s, tol, close_s=rec.close_s, open_s=rec.open_s)
    row = StrokeTestRow(
        ts=ts,
        zone=valve.zone,
        valve=valve.id,
        performed_by=(rec.performed_by or recorded_by).strip() or recorded_by,
        travel_time_s=valve.travel_time_s,
        close_s=rec.close_s,
        open_s=rec.open_s,
        passed=passed,
        measured=rec.measured,
        note=rec.note,
        detail={**rec.detail, "problems": problems},
    )
    parts = [
        f"close {_fmt(rec.close_s, 's')}, open {_fmt(rec.open_s, 's')} (travel time {valve.travel_time_s:g} s)",
        *problems,
    ]
    reason = _summary(RecordKind.STROKE, valve.id, passed, parts)
    return _audit(session, RecordKind.STROKE, row, zone=valve.zone, target=valve.id, actor=recorded_by, reason=reason)


def _store_proof(
    session: Session, plant: PlantDirectory, rec: ProofInput, recorded_by: str, now: float
) -> tuple[dict[str, Any], EventRecord]:
    zone = plant.zones.get(rec.zone)
    if zone is None:
        raise RecordError("zone", f"no zone {rec.zone!r} in the site configuration")
    if rec.channel is not None and rec.channel not in zone.channels:
        raise RecordError("channel", f"no channel {rec.channel!r} in zone {zone.id}")
    ts = _when(rec.ts, now)
    for name in ("alarm_s", "trip_s", "closed_s"):
        _finite(name, getattr(rec, name))
    tol = plant.plan_for_zone(zone.id).tolerances
    travel = max((plant.valves[v].travel_time_s for v in zone.valves), default=0.0)
    passed, problems = judge_proof(travel, tol, has_valves=bool(zone.valves), trip_s=rec.trip_s, closed_s=rec.closed_s)
    row = ProofTestRow(
        ts=ts,
        zone=zone.id,
        channel=rec.channel,
        performed_by=(rec.performed_by or recorded_by).strip() or recorded_by,
        gas=rec.gas,
        alarm_s=rec.alarm_s,
        trip_s=rec.trip_s,
        closed_s=rec.closed_s,
        passed=passed,
        measured=rec.measured,
        note=rec.note,
        detail={**rec.detail, "problems": problems},
    )
    parts = [
        f"alarm {_fmt(rec.alarm_s, 's')}, trip {_fmt(rec.trip_s, 's')}, valves closed {_fmt(rec.closed_s, 's')}",
        *problems,
    ]
    reason = _summary(RecordKind.PROOF_TEST, zone.id, passed, parts)
    return _audit(session, RecordKind.PROOF_TEST, row, zone=zone.id, target=zone.id, actor=recorded_by, reason=reason)


# --------------------------------------------------------------------------- reading


def row_json(kind: RecordKind, row: Any) -> dict[str, Any]:
    """A stored record as JSON: every column, plus ``kind`` and ``target``."""
    data = {column.key: getattr(row, column.key) for column in row.__table__.columns}
    data["kind"] = kind.value
    data["target"] = data[TARGET_FIELD[kind]]
    return data


def list_records(
    session: Session,
    *,
    kind: RecordKind,
    start: float | None = None,
    end: float | None = None,
    target: str | None = None,
    zone: str | None = None,
    limit: int = 100,
    oldest_first: bool = False,
) -> list[dict[str, Any]]:
    """Records of one kind, newest first (or oldest first), filtered by time, target and zone."""
    if not 1 <= limit <= MAX_LIST:
        raise ValueError(f"limit must be between 1 and {MAX_LIST}")
    model = _ROWS[kind]
    statement = select(model)
    if start is not None:
        statement = statement.where(model.ts >= start)
    if end is not None:
        statement = statement.where(model.ts < end)
    if target is not None:
        statement = statement.where(getattr(model, TARGET_FIELD[kind]) == target)
    if zone is not None:
        statement = statement.where(model.zone == zone)
    order = (model.ts, model.id) if oldest_first else (model.ts.desc(), model.id.desc())
    statement = statement.order_by(*order).limit(limit)
    return [row_json(kind, row) for row in session.scalars(statement)]


def get_record(session: Session, *, kind: RecordKind, record_id: int) -> dict[str, Any] | None:
    row = session.get(_ROWS[kind], record_id)
    return None if row is None else row_json(kind, row)


def latest_records(session: Session, *, kind: RecordKind) -> dict[str, dict[str, Any]]:
    """The newest record of each target (channel, valve or zone) of one kind.

    The database picks each target's newest time (a grouped query on the ``(target, ts)`` index), so only
    those rows are read, not every record ever kept; of two records at the same time the later stored
    (higher id) wins."""
    model = _ROWS[kind]
    column = getattr(model, TARGET_FIELD[kind])
    newest = select(column.label("target"), func.max(model.ts).label("ts")).group_by(column).subquery()
    statement = (
        select(model).join(newest, and_(column == newest.c.target, model.ts == newest.c.ts)).order_by(column, model.id)
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in session.scalars(statement):
        latest[getattr(row, TARGET_FIELD[kind])] = row_json(kind, row)
    return latest
