"""Events repository: one table for alarm, valve, health, trip, operator and audit events.

Each event says when (``ts``), what (``kind``, ``zone``, ``source``), who (``actor``) and why
(``reason``), with the full details as JSON in ``payload``. ``event_from_output`` turns every output of
the safety core into the event that is stored and then published.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gasguard.domain import (
    AlarmChanged,
    ChannelHealthChanged,
    OperatorResult,
    Output,
    OutputCommand,
    ValveChanged,
    ValveCommand,
    ZoneTripChanged,
)
from gasguard.storage.models import EventRow

MAX_LIST_LIMIT = 1000
CSV_COLUMNS = ("id", "ts", "kind", "zone", "source", "actor", "reason", "payload")


class EventKind(StrEnum):
    ALARM = "alarm"
    VALVE = "valve"  # the valve's believed state changed
    VALVE_COMMAND = "valve_command"  # the core commanded a valve
    HEALTH = "health"
    TRIP = "trip"
    OPERATOR = "operator"  # an operator command and whether it was accepted
    AUDIT = "audit"  # sign-ins, user and token changes, configuration changes
    OUTPUT = "output"  # a sounder, beacon, fan or relay was commanded to a new mode


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event as stored (``id`` is ``None`` until it is written)."""

    ts: float
    kind: EventKind
    zone: str | None = None
    source: str | None = None
    actor: str | None = None
    reason: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "kind": str(self.kind),
            "zone": self.zone,
            "source": self.source,
            "actor": self.actor,
            "reason": self.reason,
            "payload": dict(self.payload),
        }


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to list or export; every field left ``None`` matches everything."""

    start: float | None = None
    end: float | None = None
    kinds: Sequence[EventKind] | None = None
    zone: str | None = None
    source: str | None = None
    actor: str | None = None


def event_from_output(output: Output, *, ts: float) -> EventRecord:
    """The event that records one output of the safety core."""
    payload = {key: (str(value) if isinstance(value, StrEnum) else value) for key, value in asdict(output).items()}
    payload["type"] = type(output).__name__
    match output:
        case AlarmChanged():
            return EventRecord(ts, EventKind.ALARM, output.zone, output.alarm_id, None, output.detail, payload)
        case ValveChanged():
            return EventRecord(ts, EventKind.VALVE, output.zone, output.valve, None, output.detail, payload)
        case ValveCommand():
            return EventRecord(ts, EventKind.VALVE_COMMAND, output.zone, output.valve, None, output.reason, payload)
        case ChannelHealthChanged():
            return EventRecord(ts, EventKind.HEALTH, output.zone, output.channel, None, output.detail, payload)
        case ZoneTripChanged():
            return EventRecord(ts, EventKind.TRIP, output.zone, output.zone, None, output.cause, payload)
        case OperatorResult():
            return EventRecord(ts, EventKind.OPERATOR, output.zone, output.target, output.user, output.reason, payload)
        case OutputCommand():
            return EventRecord(ts, EventKind.OUTPUT, None, output.output, None, output.reason, payload)
    raise TypeError(f"not a safety-core output: {output!r}")  # pragma: no cover - exhaustive match


def _to_record(row: EventRow) -> EventRecord:
    return EventRecord(
        ts=row.ts,
        kind=EventKind(row.kind),
        zone=row.zone,
        source=row.source,
        actor=row.actor,
        reason=row.reason,
        payload=row.payload,
        id=row.id,
    )


def add_events(session: Session, *, events: Iterable[EventRecord]) -> list[EventRecord]:
    """Store events; returns them with their ids (flushed, not committed)."""
    rows = [
        EventRow(
            ts=e.ts,
            kind=str(e.kind),
            zone=e.zone,
            source=e.source,
            actor=e.actor,
            reason=e.reason,
            payload=dict(e.payload),
        )
        for e in events
    ]
    session.add_all(rows)
    session.flush()
    return [_to_record(row) for row in rows]


def add_event(
    session: Session,
    *,
    kind: EventKind,
    ts: float,
    zone: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    reason: str = "",
    payload: Mapping[str, Any] | None = None,
) -> EventRecord:
    """Store one event (flushed, not committed)."""
    record = EventRecord(ts, kind, zone, source, actor, reason, payload or {})
    return add_events(session, events=[record])[0]


def _filtered(statement: Any, flt: EventFilter) -> Any:
    if flt.start is not None:
        statement = statement.where(EventRow.ts >= flt.start)
    if flt.end is not None:
        statement = statement.where(EventRow.ts < flt.end)
    if flt.kinds:
        statement = statement.where(EventRow.kind.in_([str(k) for k in flt.kinds]))
    if flt.zone is not None:
        statement = statement.where(EventRow.zone == flt.zone)
    if flt.source is not None:
        statement = statement.where(EventRow.source == flt.source)
    if flt.actor is not None:
        statement = statement.where(EventRow.actor == flt.actor)
    return statement


def list_events(
    session: Session, *, flt: EventFilter | None = None, limit: int = 100, before_id: int | None = None
) -> list[EventRecord]:
    """Newest first. Page backwards by passing the smallest id seen as ``before_id``."""
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}")
    statement = _filtered(select(EventRow), flt or EventFilter())
    if before_id is not None:
        statement = statement.where(EventRow.id < before_id)
    statement = statement.order_by(EventRow.ts.desc(), EventRow.id.desc()).limit(limit)
    return [_to_record(row) for row in session.scalars(statement)]


@dataclass(frozen=True, slots=True)
class EventCursor:
    """A position in the log, newest first: the ``ts`` and ``id`` of one listed event.

    Pages are cut on ``(ts, id)``, the order the log is listed in, so a page never skips or repeats an
    event even when events are stored out of time order (a late reading's event, a clock step).
    """

    ts: float
    id: int


@dataclass(frozen=True, slots=True)
class EventSlice:
    """One page of the log, newest first, and whether there are older or newer events beside it."""

    events: list[EventRecord]
    has_older: bool
    has_newer: bool

    @property
    def older(self) -> EventCursor | None:
        """Pass as ``before`` for the next older page (``None`` on the oldest page)."""
        last = self.events[-1] if self.events else None
        return EventCursor(last.ts, last.id) if self.has_older and last and last.id is not None else None

    @property
    def newer(self) -> EventCursor | None:
        """Pass as ``after`` for the next newer page (``None`` on the newest page)."""
        first = self.events[0] if self.events else None
        return EventCursor(first.ts, first.id) if self.has_newer and first and first.id is not None else None


def page_events(
    session: Session,
    *,
    flt: EventFilter | None = None,
    limit: int = 100,
    before: EventCursor | None = None,
    after: EventCursor | None = None,
    before_id: int | None = None,
) -> EventSlice:
    """One page of at most ``limit`` events, newest first.

    Without a cursor: the newest events. ``before``: the events just older than that position;
    ``after``: the events just newer than it (the page next to it, not the newest ones).
    ``before_id`` alone is the older way to page (every event with a smaller id), kept for clients
    that send only the id.
    """
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}")
    if sum(c is not None for c in (before, after, before_id)) > 1:
        raise ValueError("give one of before, after and before_id")
    statement = _filtered(select(EventRow), flt or EventFilter())
    if after is not None:
        statement = statement.where(
            or_(EventRow.ts > after.ts, and_(EventRow.ts == after.ts, EventRow.id > after.id))
        ).order_by(EventRow.ts, EventRow.id)
        rows = list(session.scalars(statement.limit(limit + 1)))
        newer = len(rows) > limit
        return EventSlice([_to_record(row) for row in reversed(rows[:limit])], has_older=True, has_newer=newer)
    if before is not None:
        statement = statement.where(
            or_(EventRow.ts < before.ts, and_(EventRow.ts == before.ts, EventRow.id < before.id))
        )
    if before_id is not None:
        statement = statement.where(EventRow.id < before_id)
    statement = statement.order_by(EventRow.ts.desc(), EventRow.id.desc())
    rows = list(session.scalars(statement.limit(limit + 1)))
    paged = before is not None or before_id is not None
    return EventSlice([_to_record(row) for row in rows[:limit]], has_older=len(rows) > limit, has_newer=paged)


def _csv_safe(text: str) -> str:
    """Keep spreadsheet programs from running an exported cell as a formula (CSV injection)."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def export_events_csv(session: Session, *, flt: EventFilter | None = None, chunk_rows: int = 500) -> Iterator[str]:
    """The matching events as CSV text, oldest first, yielded in chunks so exports can stream."""
    statement = _filtered(select(EventRow), flt or EventFilter()).order_by(EventRow.ts, EventRow.id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    rows_in_buffer = 0
    for row in session.scalars(statement.execution_options(yield_per=chunk_rows)):
        writer.writerow(
            [
                row.id,
                repr(row.ts),
                row.kind,
                _csv_safe(row.zone or ""),
                _csv_safe(row.source or ""),
                _csv_safe(row.actor or ""),
                _csv_safe(row.reason),
                json.dumps(row.payload, sort_keys=True),
            ]
        )
        rows_in_buffer += 1
        if rows_in_buffer >= chunk_rows:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            rows_in_buffer = 0
    yield buffer.getvalue()
