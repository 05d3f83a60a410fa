"""Retention: delete readings and events older than the configured number of days."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from gasguard.storage.models import EventRow, ReadingRow

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class PurgeResult:
    readings_deleted: int
    events_deleted: int
    readings_before: float
    events_before: float


def purge(session: Session, *, now: float, reading_retention_days: int, event_retention_days: int) -> PurgeResult:
    """Delete readings and events older than their retention (flushed, not committed)."""
    if reading_retention_days < 1 or event_retention_days < 1:
        raise ValueError("retention must be at least one day")
    readings_before = now - reading_retention_days * DAY_S
    events_before = now - event_retention_days * DAY_S
    readings = session.execute(delete(ReadingRow).where(ReadingRow.ts < readings_before))
    events = session.execute(delete(EventRow).where(EventRow.ts < events_before))
    return PurgeResult(
        readings_deleted=int(getattr(readings, "rowcount", 0) or 0),
        events_deleted=int(getattr(events, "rowcount", 0) or 0),
        readings_before=readings_before,
        events_before=events_before,
    )
