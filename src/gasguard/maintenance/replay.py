"""What-if replay: run the stored readings of a period through the pure safety core with a proposed
configuration, and compare its alarms and trips with what really happened.

The readings are streamed from the database in time windows (``chunk_s``), oldest first, each window
ordered by ``(ts, id)``, so a week of 100 channels at 1 Hz (60 million rows) never sits in memory. Each
reading goes straight into ``gasguard.safety.interlock.step`` with its own timestamp as ``now``; a
``Tick`` is stepped every ``tick_s`` of data time, so stale channels, shelve expiry and valve deadlines
behave as live. What people did is replayed too, from the stored operator events: acknowledge, reset,
reopen, shelve, out of service and TEST (their expiry is read back from the core's own answer,
"... for 600 s"), and ML or camera early trips (from the stored ML alarms). The core may refuse a
replayed reset under the proposed settings; that is part of the answer.

Assumptions, stated in every result: the plant starts the period running normally (sensors warm,
valves open, nothing latched: ``running_start``), and valves reach a commanded position at once. Trips
that readings cannot explain (a cold start, a valve closed by hand or by its watchdog) are counted as
``skipped``, not as removed; valve faults are not compared.

Matching: for each alarm id (or zone, for trips), every real occurrence is paired with the nearest
replayed one within ``match_window_s``; paired within ``same_within_s`` is the same, further apart is
*moved* (with the shift); the real ones left are *removed*, the replayed ones left *added*.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from gasguard.domain import (
    AlarmChanged,
    AlarmState,
    Event,
    Level,
    MlSignal,
    MlSignalKind,
    OperatorAction,
    OperatorCommand,
    Output,
    Reading,
    Tick,
    ValveAction,
    ValveCommand,
    ValveFeedback,
    ValvePosition,
    ZoneTripChanged,
)
from gasguard.safety.interlock import running_start, step
from gasguard.safety.spec import PlantSpec
from gasguard.storage.events import EventKind
from gasguard.storage.models import EventRow, ReadingRow

log = logging.getLogger(__name__)

ASSUMPTIONS = (
    "the plant starts the period running normally (sensors warm, valves open, nothing latched)",
    "valves reach a commanded position at once",
    "operator commands and ML/camera early trips are replayed from the stored events",
)
_FOR_SECONDS = re.compile(r"\bfor (\d+) s\b")
_REPLAYED_ACTIONS = frozenset(
    {
        OperatorAction.ACK,
        OperatorAction.RESET,
        OperatorAction.OPEN,
        OperatorAction.CLOSE,
        OperatorAction.SHELVE,
        OperatorAction.UNSHELVE,
        OperatorAction.INHIBIT,
        OperatorAction.UNINHIBIT,
        OperatorAction.TEST_CHANNEL,
        OperatorAction.END_TEST,
        OperatorAction.SILENCE,
    }
)
_NEEDS_UNTIL = frozenset({OperatorAction.SHELVE, OperatorAction.INHIBIT, OperatorAction.TEST_CHANNEL})
_NOT_FROM_READINGS = ("cold start", "without a command", "watchdog", "restored trip")
_UNACKED = AlarmState.UNACKED.value


@dataclass(frozen=True, slots=True)
class Occurrence:
    """An alarm annunciation or a zone trip, real or replayed."""

    kind: str  # "alarm" | "trip"
    key: str  # alarm id, or zone id for a trip
    zone: str
    ts: float
    detail: str = ""


@dataclass
class ReplayResult:
    start: float
    end: float
    readings: int = 0
    events_replayed: int = 0
    operator_skipped: int = 0
    seconds: float = 0.0
    real: list[Occurrence] = field(default_factory=list)
    replayed: list[Occurrence] = field(default_factory=list)
    skipped_real: list[Occurrence] = field(default_factory=list)
    same: list[tuple[Occurrence, Occurrence]] = field(default_factory=list)
    moved: list[tuple[Occurrence, Occurrence]] = field(default_factory=list)
    added: list[Occurrence] = field(default_factory=list)
    removed: list[Occurrence] = field(default_factory=list)

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        def occ(o: Occurrence) -> dict[str, Any]:
            return {"kind": o.kind, "key": o.key, "zone": o.zone, "ts": o.ts, "detail": o.detail}

        def pair(real: Occurrence, replayed: Occurrence) -> dict[str, Any]:
            return {
                "kind": real.kind,
                "key": real.key,
                "zone": real.zone,
                "real_ts": real.ts,
                "replay_ts": replayed.ts,
                "shift_s": round(replayed.ts - real.ts, 3),
                "detail": replayed.detail,
            }

        def count(items: list[Any], kind: str) -> int:
            return sum(1 for i in items if (i[0] if isinstance(i, tuple) else i).kind == kind)

        return {
            "from": self.start,
            "to": self.end,
            "readings": self.readings,
            "events_replayed": self.events_replayed,
            "operator_commands_skipped": self.operator_skipped,
            "seconds": round(self.seconds, 3),
            "readings_per_s": round(self.readings_per_s),
            "assumptions": list(ASSUMPTIONS),
            "summary": {
                kind: {
                    "real": count(self.real, kind),
                    "replayed": count(self.replayed, kind),
                    "same": count(self.same, kind),
                    "moved": count(self.moved, kind),
                    "added": count(self.added, kind),
                    "removed": count(self.removed, kind),
                    "skipped": count(self.skipped_real, kind),
                }
                for kind in ("alarm", "trip")
            },
            "added": [occ(o) for o in self.added],
            "removed": [occ(o) for o in self.removed],
            "moved": [pair(r, p) for r, p in self.moved],
            "skipped": [occ(o) for o in self.skipped_real],
        }


# --------------------------------------------------------------------------- what really happened


def _stored_events(engine: Engine, start: float, end: float) -> list[tuple[float, int, str, str | None, Any]]:
    statement = (
        select(EventRow.ts, EventRow.id, EventRow.kind, EventRow.zone, EventRow.payload)
        .where(EventRow.ts >= start, EventRow.ts < end)
        .where(EventRow.kind.in_([EventKind.ALARM.value, EventKind.TRIP.value, EventKind.OPERATOR.value]))
        .order_by(EventRow.ts, EventRow.id)
    )
    with engine.connect() as connection:
        return [(ts, i, kind, zone, payload) for ts, i, kind, zone, payload in connection.execute(statement)]


def real_occurrences(rows: list[tuple[float, int, str, str | None, Any]]) -> tuple[list[Occurrence], list[Occurrence]]:
    """What the stored events say happened: (comparable occurrences, trips readings cannot explain)."""
    real: list[Occurrence] = []
    skipped: list[Occurrence] = []
    for ts, _id, kind, zone, payload in rows:
        if kind == EventKind.ALARM.value:
            if payload.get("state") == _UNACKED and not payload.get("test") and payload.get("level") != "VALVE_FAULT":
                real.append(Occurrence("alarm", str(payload.get("alarm_id")), str(zone), ts, str(payload.get("level"))))
        elif kind == EventKind.TRIP.value and payload.get("tripped"):
            cause = str(payload.get("cause", ""))
            occurrence = Occurrence("trip", str(zone), str(zone), ts, cause)
            (skipped if any(word in cause for word in _NOT_FROM_READINGS) else real).append(occurrence)
    return real, skipped


def replay_inputs(rows: list[tuple[float, int, str, str | None, Any]]) -> tuple[list[tuple[float, Event]], int]:
    """Operator commands and ML signals to feed the core, in time order; and how many could not be."""
    events: list[tuple[float, Event]] = []
    skipped = 0
    for ts, _id, kind, zone, payload in rows:
        if kind == EventKind.OPERATOR.value and payload.get("accepted"):
            try:
                action = OperatorAction(str(payload.get("action")))
            except ValueError:
                skipped += 1
                continue
            if action not in _REPLAYED_ACTIONS:
                skipped += 1
                continue
            until = None
            if action in _NEEDS_UNTIL:
                match = _FOR_SECONDS.search(str(payload.get("message", "")))
                if match is None:
                    skipped += 1
                    continue
                until = ts + float(match.group(1))
            command = OperatorCommand(
                action=action,
                target=str(payload.get("target", "")),
                user=str(payload.get("user") or "replay"),
                reason=str(payload.get("reason") or "replayed"),
                until=until,
                admin=True,  # it was accepted once; the proposed settings, not the caller's role, are on trial
            )
            events.append((ts, command))
        elif (
            kind == EventKind.ALARM.value
            and payload.get("level") == Level.ML.value
            and payload.get("state") == _UNACKED
            and zone
        ):
            signal = MlSignal(str(zone), MlSignalKind.VISUAL_LEAK, "replay", 1.0, str(payload.get("detail", "")))
            events.append((ts, signal))
    return events, skipped


# --------------------------------------------------------------------------- the replay


_SQLITE_WINDOW = f"SELECT channel, ts, value FROM {ReadingRow.__tablename__} WHERE ts >= ? AND ts < ? ORDER BY ts, id"
"""On SQLite the windows are read through the driver itself: half the time of building SQLAlchemy rows."""


def stream_readings(
    engine: Engine, start: float, end: float, *, chunk_s: float = 600.0
) -> Iterator[Sequence[tuple[str, float, float | None]]]:
    """The stored readings of ``[start, end)`` as lists of ``(channel, ts, value)``, one time window each,
    oldest first and ordered by ``(ts, id)`` inside a window (the ``ix_readings_ts`` index serves it)."""
    window_start = start
    with engine.connect() as connection:
        raw = connection.connection.driver_connection if engine.dialect.name == "sqlite" else None
        while window_start < end:
            window_end = min(end, window_start + chunk_s)
            rows: Sequence[tuple[str, float, float | None]]
            if raw is not None:
                rows = raw.execute(_SQLITE_WINDOW, (window_start, window_end)).fetchall()
            else:
                query = (
                    select(ReadingRow.channel, ReadingRow.ts, ReadingRow.value)
                    .where(ReadingRow.ts >= window_start, ReadingRow.ts < window_end)
                    .order_by(ReadingRow.ts, ReadingRow.id)
                )
                rows = connection.execute(query).all()  # SQLAlchemy rows unpack like tuples
            if rows:
                yield rows
            window_start = window_end


def _collect(outputs: list[Output], ts: float, out: list[Occurrence], feedback: list[ValveFeedback]) -> None:
    for o in outputs:
        if type(o) is AlarmChanged:
            if o.state is AlarmState.UNACKED and not o.test and o.level is not Level.VALVE_FAULT:
                out.append(Occurrence("alarm", o.alarm_id, o.zone, ts, o.level.value))
        elif type(o) is ZoneTripChanged:
            if o.tripped:
                out.append(Occurrence("trip", o.zone, o.zone, ts, o.cause))
        elif type(o) is ValveCommand:
            position = ValvePosition.CLOSED if o.action is ValveAction.CLOSE else ValvePosition.OPEN
            feedback.append(ValveFeedback(o.valve, position))


def run_replay(
    engine: Engine,
    spec: PlantSpec,
    *,
    start: float,
    end: float,
    chunk_s: float = 600.0,
    tick_s: float = 1.0,
    match_window_s: float = 300.0,
    same_within_s: float = 1.0,
    progress: Callable[[int, float], None] | None = None,
) -> ReplayResult:
    """Replay ``[start, end)`` of the stored readings through the core with ``spec`` and compare."""
    if not end > start:
        raise ValueError("the period must end after it starts")
    result = ReplayResult(start, end)
    started = time.perf_counter()
    rows = _stored_events(engine, start, end)
    result.real, result.skipped_real = real_occurrences(rows)
    inputs, result.operator_skipped = replay_inputs(rows)
    state = running_start(spec, start)
    known = frozenset(state.channel_index)
    replayed = result.replayed
    feedback: list[ValveFeedback] = []
    tick = Tick()
    next_tick = start + tick_s
    next_input = 0
    inf = float("inf")

    def settle(now: float) -> None:
        while feedback:
            fb = feedback.pop(0)
            _, outs = step(state, fb, now)
            if outs:
                _collect(outs, now, replayed, feedback)

    def due_next() -> float:
        return min(next_tick, inputs[next_input][0] if next_input < len(inputs) else inf)

    def advance(ts: float) -> float:
        """Step every tick and replayed input due at or before ``ts``; return when the next one is due."""
        nonlocal next_tick, next_input
        while due_next() <= ts:
            if next_input < len(inputs) and inputs[next_input][0] < next_tick:
                now, event = inputs[next_input]
                next_input += 1
                result.events_replayed += 1
                _, outs = step(state, event, now)
            else:
                now = next_tick
                next_tick += tick_s
                _, outs = step(state, tick, now)
            if outs:
                _collect(outs, now, replayed, feedback)
                settle(now)
        return due_next()

    count = 0
    barrier = due_next()
    for chunk in stream_readings(engine, start, end, chunk_s=chunk_s):
        # The hot loop: one comparison per reading decides whether a tick or an input is due first.
        for channel, ts, value in chunk:
            if ts >= barrier:
                barrier = advance(ts)
            if channel in known:
                count += 1
                outs = step(state, Reading(channel, value, ts), ts)[1]
                if outs:
                    _collect(outs, ts, replayed, feedback)
                    if feedback:
                        settle(ts)
        if progress is not None:
            progress(count, chunk[-1][1])
    advance(end)
    result.readings = count
    result.seconds = time.perf_counter() - started
    compare(result, match_window_s=match_window_s, same_within_s=same_within_s)
    log.info(
        "replayed %d readings of %.0f s in %.1f s (%.0f readings/s)",
        count,
        end - start,
        result.seconds,
        result.readings_per_s,
    )
    return result


def compare(result: ReplayResult, *, match_window_s: float, same_within_s: float) -> None:
    """Pair real and replayed occurrences per key (see the module's docstring)."""
    by_key: dict[tuple[str, str], tuple[list[Occurrence], list[Occurrence]]] = {}
    for o in result.real:
        by_key.setdefault((o.kind, o.key), ([], []))[0].append(o)
    for o in result.replayed:
        by_key.setdefault((o.kind, o.key), ([], []))[1].append(o)
    result.same, result.moved, result.added, result.removed = [], [], [], []
    for real, replayed in by_key.values():
        free = sorted(replayed, key=lambda o: o.ts)
        for r in sorted(real, key=lambda o: o.ts):
            best = min(free, key=lambda p: abs(p.ts - r.ts), default=None)
            if best is None or abs(best.ts - r.ts) > match_window_s:
                result.removed.append(r)
                continue
            free.remove(best)
            (result.same if abs(best.ts - r.ts) <= same_within_s else result.moved).append((r, best))
        result.added.extend(free)
    for items in (result.added, result.removed):
        items.sort(key=lambda o: o.ts)
    result.moved.sort(key=lambda pair: pair[0].ts)
