"""Guided tests, measured from the live bus: bump tests, valve stroke tests and zone proof tests.

``TestBook`` is pure: bus messages and the time go in, finished tests come out as records to store
(``BumpInput``, ``StrokeInput``, ``ProofInput``), so the record is measured, not typed. It never
commands anything; the web routes put a channel in TEST or close a valve through the safety core, and
the book only watches what happened:

- **bump test**: a channel in TEST (``OperatorAction.TEST_CHANNEL``, at most 30 minutes). From the
  readings of the channel it measures baseline, onset, peak, T50 and T90 (``maintenance.measure``) and
  notes which test alarms went off. It ends when the operator ends the test or its time is over; only a
  test started with an applied concentration makes a record (a TEST for a calibration does not);
- **stroke test**: a valve closed by an operator: close time from ``closing`` to ``closed``, and, when
  the operator reopens it (after the reset the core asks for), open time from ``opening`` to ``open``;
- **proof test**: a zone left in normal service while gas is applied to a detector: times from the
  gas reaching it (onset) to the first alarm, the trip, and every valve of the zone reporting closed.

Stroke and proof tests last at most ``MAX_TEST_S``; a test that did not finish by then is recorded with
what was seen, and fails.

A test in progress survives a restart of the service: ``TestSession.to_state`` is what the test recorder
stores (``maintenance_test_sessions``), ``TestBook.restore`` takes it back. The readings the service did
not see while it was down are a gap in the samples, kept in ``restarts``; a time that spans a gap is not
measured (``None``, and the record says why) rather than interpolated across readings nobody saw.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gasguard.maintenance.measure import measure_response
from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.records import BumpInput, ProofInput, StrokeInput, judge_bump, judge_proof
from gasguard.notify import Message

MAX_TEST_S = 30 * 60.0
"""Longest a guided test runs (the safety core holds a channel in TEST no longer either)."""
HISTORY_SAMPLES = 30
"""Readings kept per channel before a test starts: the baseline of a test whose gas came at once."""
MAX_STORED_SAMPLES = 1800
"""Samples kept in a bump record's detail (30 minutes at one reading a second)."""
TOPICS = ("reading", "alarm", "valve", "trip", "operator")
"""Bus topics the book follows."""

_TEST_FOR = re.compile(r"in TEST for (\d+) s")
_GAS_LEVELS = ("A1", "A2", "A3")

TestRecord = BumpInput | StrokeInput | ProofInput


class TestKind(StrEnum):
    __test__ = False

    BUMP = "bump"
    CALIBRATION = "calibration"  # a channel in TEST while it is calibrated: measured, not recorded as a bump
    STROKE = "stroke"
    PROOF_TEST = "proof_test"


def _inner(message: Message) -> Mapping[str, Any]:
    inner = message.payload.get("payload")
    return inner if isinstance(inner, Mapping) else {}


@dataclass
class TestSession:
    """One guided test in progress (or just finished)."""

    __test__ = False  # not a pytest test class, though its name starts with Test

    id: str
    kind: TestKind
    target: str
    zone: str
    user: str
    started_at: float
    deadline: float
    gas: str = ""
    applied_lel_pct: float | None = None
    note: str = ""
    channel: str | None = None  # proof test: where the gas is applied (any channel of the zone if none)
    active: bool = False  # a channel test becomes active when the core accepts TEST for it
    samples: list[tuple[float, float]] = field(default_factory=list)
    alarms: dict[str, float] = field(default_factory=dict)  # level -> first time seen
    marks: dict[str, float] = field(default_factory=dict)  # what happened when (valve states, trip, ...)
    valves_closed: dict[str, float] = field(default_factory=dict)
    ended_at: float | None = None
    ended_by: str = ""
    record_id: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    restarts: list[tuple[float, float]] = field(default_factory=list)  # (last saved, restored): readings not seen

    def signature(self) -> tuple[Any, ...]:
        """Changes whenever something worth saving changed (cheap: no copy of the samples)."""
        return (
            self.active,
            self.channel,
            len(self.samples),
            self.samples[-1] if self.samples else None,
            len(self.alarms),
            len(self.marks),
            len(self.valves_closed),
            len(self.result),
            len(self.restarts),
        )

    def to_state(self) -> dict[str, Any]:
        """What is stored to take the test over after a restart (JSON-ready, copied: safe to hand to a thread)."""
        return {
            "gas": self.gas,
            "applied_lel_pct": self.applied_lel_pct,
            "note": self.note,
            "channel": self.channel,
            "active": self.active,
            "samples": [list(sample) for sample in self.samples],
            "alarms": dict(self.alarms),
            "marks": dict(self.marks),
            "valves_closed": dict(self.valves_closed),
            "result": dict(self.result),
            "restarts": [list(gap) for gap in self.restarts],
        }

    @classmethod
    def from_state(
        cls,
        *,
        id: str,
        kind: str,
        target: str,
        zone: str,
        user: str,
        started_at: float,
        deadline: float,
        state: Mapping[str, Any],
    ) -> TestSession:
        """A stored test in progress, as ``to_state`` left it."""
        applied = state.get("applied_lel_pct")
        return cls(
            id=id,
            kind=TestKind(kind),
            target=target,
            zone=zone,
            user=user,
            started_at=float(started_at),
            deadline=float(deadline),
            gas=str(state.get("gas", "")),
            applied_lel_pct=None if applied is None else float(applied),
            note=str(state.get("note", "")),
            channel=state.get("channel"),
            active=bool(state.get("active", False)),
            samples=[(float(ts), float(v)) for ts, v in state.get("samples", [])],
            alarms={str(k): float(v) for k, v in dict(state.get("alarms", {})).items()},
            marks={str(k): float(v) for k, v in dict(state.get("marks", {})).items()},
            valves_closed={str(k): float(v) for k, v in dict(state.get("valves_closed", {})).items()},
            result=dict(state.get("result", {})),
            restarts=[(float(a), float(b)) for a, b in state.get("restarts", [])],
        )

    def gap_within(self, start: float | None, end: float | None) -> tuple[float, float] | None:
        """The first restart whose unseen readings fall between ``start`` and ``end`` (a measured interval)."""
        if start is None or end is None:
            return None
        return next(((a, b) for a, b in self.restarts if a < end and b > start), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "target": self.target,
            "zone": self.zone,
            "user": self.user,
            "started_at": self.started_at,
            "deadline": self.deadline,
            "gas": self.gas,
            "applied_lel_pct": self.applied_lel_pct,
            "active": self.active,
            "samples": len(self.samples),
            "alarms": dict(self.alarms),
            "marks": dict(self.marks),
            "ended_at": self.ended_at,
            "ended_by": self.ended_by,
            "record_id": self.record_id,
            "result": dict(self.result),
            "restarts": [list(gap) for gap in self.restarts],
        }


class TestBook:
    """Guided tests in progress, fed with bus messages; finished tests come out of ``observe``/``due``."""

    __test__ = False

    def __init__(self, plant: PlantDirectory) -> None:
        self.plant = plant
        self.history: dict[str, deque[tuple[float, float]]] = {}
        self.sessions: dict[str, TestSession] = {}
        self.finished: deque[TestSession] = deque(maxlen=50)
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ starting

    def _new(self, kind: TestKind, target: str, zone: str, user: str, now: float, deadline: float) -> TestSession:
        session = TestSession(f"{kind.value}-{target}-{next(self._ids)}", kind, target, zone, user, now, deadline)
        self.sessions[session.id] = session
        return session

    def restore(self, sessions: list[TestSession], *, saved_at: Mapping[str, float], now: float) -> None:
        """Take back tests stored by an earlier run of the service; readings between each one's last save
        and ``now`` were not seen and are kept as a gap. New ids continue after the restored ones."""
        for session in sessions:
            last = saved_at.get(session.id, session.started_at)
            if now > last:
                session.restarts.append((last, now))
            session.marks.setdefault("service restarted", now)
            self.sessions[session.id] = session
            number = session.id.rsplit("-", 1)[-1]
            if number.isdigit():
                self._ids = itertools.count(max(int(number) + 1, next(self._ids)))

    def active_for(self, target: str) -> TestSession | None:
        return next((s for s in self.sessions.values() if s.target == target), None)

    def plan_channel_test(
        self,
        kind: TestKind,
        channel: str,
        *,
        user: str,
        now: float,
        until: float,
        applied_lel_pct: float | None = None,
        gas: str = "",
        note: str = "",
    ) -> TestSession:
        """A bump test (or a calibration) about to start: the core is asked next to put the channel in TEST."""
        info = self.plant.channels[channel]
        session = self._new(kind, channel, info.zone, user, now, until)
        session.applied_lel_pct = applied_lel_pct
        session.gas = gas or info.gas
        session.note = note
        session.samples = list(self.history.get(channel, ()))
        return session

    def start_stroke(self, valve: str, *, user: str, now: float, note: str = "") -> TestSession:
        info = self.plant.valves[valve]
        session = self._new(TestKind.STROKE, valve, info.zone, user, now, now + MAX_TEST_S)
        session.note = note
        session.active = True
        return session

    def start_proof(
        self, zone: str, *, user: str, now: float, channel: str | None = None, gas: str = "", note: str = ""
    ) -> TestSession:
        session = self._new(TestKind.PROOF_TEST, zone, zone, user, now, now + MAX_TEST_S)
        session.channel = channel
        session.gas = gas
        session.note = note
        session.active = True
        if channel is not None:
            session.samples = list(self.history.get(channel, ()))
        return session

    def cancel(self, session_id: str) -> None:
        """Forget a test the core refused to start."""
        self.sessions.pop(session_id, None)

    def end(self, session_id: str, *, now: float, by: str) -> TestRecord | None:
        """End a stroke or proof test by hand (a channel test ends through the core's END_TEST)."""
        session = self.sessions.get(session_id)
        if session is None:
            return None
        return self._finish(session, now, f"ended by {by}")

    # ------------------------------------------------------------------ observing

    def observe(self, message: Message) -> list[TestRecord]:
        """Take one bus message; returns the records of tests it finished."""
        handler = _HANDLERS.get(message.topic)
        if handler is None:
            return []
        return handler(self, message)

    def due(self, now: float) -> list[TestRecord]:
        """Finish tests whose time is over."""
        out = []
        for session in list(self.sessions.values()):
            if now >= session.deadline:
                record = self._finish(session, now, "test time over")
                if record is not None:
                    out.append(record)
        return out

    def _on_reading(self, message: Message) -> list[TestRecord]:
        payload = message.payload
        channel = payload.get("channel")
        lel = payload.get("lel_pct")
        ts = payload.get("ts", message.ts)
        if not isinstance(channel, str) or not isinstance(lel, int | float) or not isinstance(ts, int | float):
            return []
        sample = (float(ts), float(lel))
        self.history.setdefault(channel, deque(maxlen=HISTORY_SAMPLES)).append(sample)
        zone = payload.get("zone")
        for session in self.sessions.values():
            if session.kind is TestKind.PROOF_TEST:
                if session.zone == zone and session.channel in (None, channel):
                    if session.channel is None:
                        session.channel = self._proof_channel(session, channel, sample)
                    if session.channel == channel:
                        session.samples.append(sample)
            elif session.target == channel and len(session.samples) < MAX_STORED_SAMPLES + HISTORY_SAMPLES:
                session.samples.append(sample)
        return []

    def _proof_channel(self, session: TestSession, channel: str, sample: tuple[float, float]) -> str | None:
        """A proof test without a named channel follows the first channel of the zone whose reading rises."""
        history = list(self.history.get(channel, ()))
        if len(history) >= 2 and sample[1] - min(v for _, v in history[:-1]) > 1.0:
            session.samples = history[:-1]
            return channel
        return None

    def _on_alarm(self, message: Message) -> list[TestRecord]:
        alarm = _inner(message)
        if alarm.get("state") != "unacknowledged":
            return []
        level = str(alarm.get("level", ""))
        source, zone = alarm.get("source"), alarm.get("zone")
        for session in self.sessions.values():
            if session.kind in (TestKind.BUMP, TestKind.CALIBRATION):
                if session.target == source and alarm.get("test"):
                    session.alarms.setdefault(level, message.ts)
            elif session.kind is TestKind.PROOF_TEST and session.zone == zone and not alarm.get("test"):
                session.alarms.setdefault(level, message.ts)
        return []

    def _on_trip(self, message: Message) -> list[TestRecord]:
        trip = _inner(message)
        for session in self.sessions.values():
            if session.kind is TestKind.PROOF_TEST and session.zone == trip.get("zone") and trip.get("tripped"):
                session.marks.setdefault("trip", message.ts)
                session.result.setdefault("trip_cause", str(trip.get("cause", "")))
        return []

    def _on_valve(self, message: Message) -> list[TestRecord]:
        valve = _inner(message)
        vid, state = valve.get("valve"), str(valve.get("state", ""))
        out: list[TestRecord] = []
        for session in list(self.sessions.values()):
            if session.kind is TestKind.STROKE and session.target == vid:
                session.marks.setdefault(state, message.ts)
                if state == "fault":
                    session.result["fault"] = str(valve.get("detail", ""))
                if state in ("open", "fault") and "closed" in session.marks:
                    record = self._finish(session, message.ts, "valve reopened" if state == "open" else "valve fault")
                    if record is not None:
                        out.append(record)
            elif session.kind is TestKind.PROOF_TEST and session.zone == valve.get("zone"):
                if state == "closing":
                    session.marks.setdefault(f"{vid} closing", message.ts)
                if state == "closed" and isinstance(vid, str) and "trip" in session.marks:
                    session.valves_closed.setdefault(vid, message.ts)
                    zone = self.plant.zones.get(session.zone)
                    if zone is not None and set(zone.valves) <= set(session.valves_closed):
                        record = self._finish(session, message.ts, "every valve closed")
                        if record is not None:
                            out.append(record)
        return out

    def _on_operator(self, message: Message) -> list[TestRecord]:
        op = _inner(message)
        action, target = op.get("action"), op.get("target")
        if not op.get("accepted") or not isinstance(target, str):
            return []
        if action == "test_channel":
            session = self._channel_session(target)
            if session is None:
                # A TEST started elsewhere (another client, a script): measured for the view, never recorded.
                info = self.plant.channels.get(target)
                if info is None:
                    return []
                match = _TEST_FOR.search(str(op.get("message", "")))
                until = message.ts + (float(match.group(1)) if match else MAX_TEST_S)
                session = self.plan_channel_test(
                    TestKind.CALIBRATION, target, user=str(op.get("user", "")), now=message.ts, until=until
                )
            session.active = True
            session.marks["test_started"] = message.ts
            return []
        if action == "end_test":
            session = self._channel_session(target)
            if session is not None and session.active:
                record = self._finish(session, message.ts, f"ended by {op.get('user') or 'an operator'}")
                return [record] if record is not None else []
        return []

    def _channel_session(self, channel: str) -> TestSession | None:
        return next(
            (
                s
                for s in self.sessions.values()
                if s.target == channel and s.kind in (TestKind.BUMP, TestKind.CALIBRATION)
            ),
            None,
        )

    # ------------------------------------------------------------------ finishing

    def _finish(self, session: TestSession, now: float, why: str) -> TestRecord | None:
        self.sessions.pop(session.id, None)
        session.ended_at = now
        session.ended_by = why
        self.finished.appendleft(session)
        if session.kind in (TestKind.BUMP, TestKind.CALIBRATION):
            return self._finish_channel(session)
        if session.kind is TestKind.STROKE:
            return self._finish_stroke(session)
        return self._finish_proof(session)

    def _finish_channel(self, session: TestSession) -> BumpInput | None:
        info = self.plant.channels[session.target]
        response = measure_response(session.samples, applied_lel=session.applied_lel_pct)
        t50_s, t90_s = response.t50_s, response.t90_s
        rise_end = response.t0_ts + t90_s if response.t0_ts is not None and t90_s is not None else response.peak_ts
        gap = session.gap_within(response.t0_ts, rise_end)
        if gap is not None:
            # The rise crossed readings the service never saw: T50/T90 would be interpolated across the gap.
            t50_s = t90_s = None
        session.result.update(response.to_json())
        session.result.update({"t50_s": t50_s, "t90_s": t90_s})
        if session.kind is not TestKind.BUMP or not session.active:
            return None
        tol = self.plant.plan_for_zone(session.zone).tolerances
        passed, problems = judge_bump(tol, applied=session.applied_lel_pct, peak=response.peak_lel, t90_s=t90_s)
        if gap is not None:
            passed = False
            problems.insert(0, _gap_problem(gap, "while the reading rose: T50 and T90 not measured; repeat the test"))
        peak = response.peak_lel
        for level, setpoint in zip(_GAS_LEVELS, (info.a1, info.a2, info.a3), strict=True):
            if peak is not None and peak >= setpoint and level not in session.alarms:
                passed = False
                problems.append(f"{level} did not go off although the reading passed {setpoint:g} %LEL")
        session.result.update({"passed": passed, "problems": problems})
        return BumpInput(
            channel=session.target,
            gas=session.gas,
            applied_lel_pct=session.applied_lel_pct,
            peak_lel_pct=None if peak is None else round(peak, 3),
            t50_s=None if t50_s is None else round(t50_s, 3),
            t90_s=None if t90_s is None else round(t90_s, 3),
            note=session.note,
            performed_by=session.user,
            ts=session.started_at,
            ended_at=session.ended_at,
            measured=True,
            detail={
                "test": session.id,
                "ended": session.ended_by,
                "response": response.to_json(),
                "alarms_seen": dict(session.alarms),
                "samples": [list(s) for s in session.samples[-MAX_STORED_SAMPLES:]],
                **_restarts(session),
            },
            judged=(passed, problems),
        )

    def _finish_stroke(self, session: TestSession) -> StrokeInput:
        marks = session.marks
        close_s = marks["closed"] - marks["closing"] if "closed" in marks and "closing" in marks else None
        open_s = marks["open"] - marks["opening"] if "open" in marks and "opening" in marks else None
        problems = []
        for name, (a, b) in (("close", ("closing", "closed")), ("open", ("opening", "open"))):
            gap = session.gap_within(marks.get(a), marks.get(b))
            if gap is not None:  # the valve's feedback during the gap was not seen: no time, and say why
                problems.append(_gap_problem(gap, f"during the {name} stroke: its time not measured"))
                close_s, open_s = (None, open_s) if name == "close" else (close_s, None)
        session.result.update({"close_s": close_s, "open_s": open_s})
        if problems:
            session.result["restart_problems"] = problems
        return StrokeInput(
            valve=session.target,
            close_s=close_s,
            open_s=open_s,
            note=session.note,
            performed_by=session.user,
            ts=session.started_at,
            measured=True,
            detail={
                "test": session.id,
                "ended": session.ended_by,
                "marks": dict(marks),
                **session.result,
                **_restarts(session),
            },
        )

    def _finish_proof(self, session: TestSession) -> ProofInput:
        response = measure_response(session.samples, applied_lel=None)
        t0 = response.t0_ts
        if t0 is None:
            # No rise seen (the gas came before the test was started, or readings were missing): times
            # are then measured from the start of the test, and the record says so.
            t0 = session.started_at
            session.result["problem"] = "no rise of the readings was seen: times are from the start of the test"
        zone = self.plant.zones[session.zone]
        alarm_at = min((ts for level, ts in session.alarms.items() if level in _GAS_LEVELS), default=None)
        trip_at = session.marks.get("trip")
        closed_at = max(session.valves_closed.values()) if set(zone.valves) <= set(session.valves_closed) else None
        if not zone.valves and trip_at is not None:
            closed_at = None

        gap = session.gap_within(t0, max((ts for ts in (alarm_at, trip_at, closed_at) if ts is not None), default=None))
        if gap is not None:
            # What happened while the service was down was not seen: no times across it.
            alarm_at = trip_at = closed_at = None
            session.result["restart_problem"] = _gap_problem(gap, "during the test: its times not measured; repeat it")

        def since(ts: float | None) -> float | None:
            return None if ts is None else round(ts - t0, 3)

        timeline = sorted(
            [
                ("gas applied" if "problem" not in session.result else "test started", t0),
                *((f"{level} alarm", ts) for level, ts in session.alarms.items()),
                *((name, ts) for name, ts in session.marks.items()),
                *((f"{vid} closed", ts) for vid, ts in session.valves_closed.items()),
            ],
            key=lambda item: item[1],
        )
        session.result.update(
            {"alarm_s": since(alarm_at), "trip_s": since(trip_at), "closed_s": since(closed_at), "onset": t0}
        )
        travel = max((self.plant.valves[v].travel_time_s for v in zone.valves), default=0.0)
        tol = self.plant.plan_for_zone(zone.id).tolerances
        passed, problems = judge_proof(
            travel, tol, has_valves=bool(zone.valves), trip_s=since(trip_at), closed_s=since(closed_at)
        )
        session.result.update({"passed": passed, "problems": problems})
        return ProofInput(
            zone=session.zone,
            alarm_s=since(alarm_at),
            trip_s=since(trip_at),
            closed_s=since(closed_at),
            channel=session.channel,
            gas=session.gas,
            note=session.note,
            performed_by=session.user,
            ts=session.started_at,
            measured=True,
            detail={
                "test": session.id,
                "ended": session.ended_by,
                "timeline": [[name, ts] for name, ts in timeline],
                "response": response.to_json(),
                **({"problem": session.result["problem"]} if "problem" in session.result else {}),
                **({"restart_problem": session.result["restart_problem"]} if gap is not None else {}),
                **_restarts(session),
            },
        )

    def view(self) -> dict[str, list[dict[str, Any]]]:
        """Tests in progress and the most recent finished ones, JSON-ready."""
        return {
            "active": [s.to_json() for s in self.sessions.values()],
            "finished": [s.to_json() for s in self.finished],
        }


def _gap_problem(gap: tuple[float, float], what: str) -> str:
    seconds = gap[1] - gap[0]
    return f"the service was restarted ({seconds:.0f} s of readings not seen) {what}"


def _restarts(session: TestSession) -> dict[str, Any]:
    """The record's note of restarts during the test (nothing when there was none)."""
    return {"restarts": [list(gap) for gap in session.restarts]} if session.restarts else {}


_HANDLERS = {
    "reading": TestBook._on_reading,
    "alarm": TestBook._on_alarm,
    "trip": TestBook._on_trip,
    "valve": TestBook._on_valve,
    "operator": TestBook._on_operator,
}
