"""Readings repository: batch insert, history with downsampling, latest value per channel.

Functions take a ``Session`` and keyword-only arguments; they flush but never commit, so the caller
decides the transaction (the ``ReadingWriter`` commits one batch at a time).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, cast, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gasguard.domain import Reading
from gasguard.storage.models import ReadingRow

MAX_POINTS_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ReadingBucket:
    """Aggregate of the readings of one channel in ``[start, start + width)``.

    ``mean``, ``minimum`` and ``maximum`` ignore invalid (``None``) samples; ``invalid`` counts them, so
    a chart can show that a channel reported garbage in that interval.
    """

    start: float
    width: float
    count: int
    invalid: int
    mean: float | None
    minimum: float | None
    maximum: float | None


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def add_readings(session: Session, *, readings: Iterable[Reading]) -> int:
    """Insert readings in one multi-row statement; NaN and infinity are stored as NULL (invalid)."""
    rows = [{"channel": r.channel, "ts": float(r.ts), "value": _finite_or_none(r.value)} for r in readings]
    if rows:
        session.execute(insert(ReadingRow), rows)
    return len(rows)


def query_readings(
    session: Session, *, channel: str, start: float, end: float, limit: int = MAX_POINTS_LIMIT
) -> list[Reading]:
    """Raw readings of ``channel`` with ``start <= ts < end``, oldest first (at most ``limit``)."""
    statement = (
        select(ReadingRow.channel, ReadingRow.value, ReadingRow.ts)
        .where(ReadingRow.channel == channel, ReadingRow.ts >= start, ReadingRow.ts < end)
        .order_by(ReadingRow.ts, ReadingRow.id)
        .limit(limit)
    )
    return [Reading(channel=c, value=v, ts=t) for c, v, t in session.execute(statement)]


def _bucket_index(session: Session, offset: ColumnElement[float]) -> ColumnElement[int]:
    """floor(offset) for a non-negative offset. CAST truncates on SQLite but rounds on PostgreSQL and MySQL."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(offset, Integer)
    return cast(func.floor(offset), Integer)


def downsample_readings(
    session: Session, *, channel: str, start: float, end: float, max_points: int
) -> list[ReadingBucket]:
    """History of ``channel`` in at most ``max_points`` equal time buckets, aggregated in the database.

    Empty buckets are left out, so gaps in the data stay visible as gaps.
    """
    if not end > start:
        raise ValueError("end must be after start")
    if not 1 <= max_points <= MAX_POINTS_LIMIT:
        raise ValueError(f"max_points must be between 1 and {MAX_POINTS_LIMIT}")
    width = (end - start) / max_points
    index = _bucket_index(session, (ReadingRow.ts - start) / width).label("bucket")
    statement = (
        select(
            index,
            func.count(),
            func.count(ReadingRow.value),
            func.avg(ReadingRow.value),
            func.min(ReadingRow.value),
            func.max(ReadingRow.value),
        )
        .where(ReadingRow.channel == channel, ReadingRow.ts >= start, ReadingRow.ts < end)
        .group_by(index)
        .order_by(index)
    )
    buckets: list[ReadingBucket] = []
    for bucket, count, valid, mean, minimum, maximum in session.execute(statement):
        slot = min(int(bucket), max_points - 1)  # float rounding at the very end of the range
        buckets.append(
            ReadingBucket(
                start=start + slot * width,
                width=width,
                count=int(count),
                invalid=int(count) - int(valid),
                mean=None if mean is None else float(mean),
                minimum=None if minimum is None else float(minimum),
                maximum=None if maximum is None else float(maximum),
            )
        )
    return buckets


def latest_readings(session: Session, *, channels: Sequence[str] | None = None) -> dict[str, Reading]:
    """The newest stored reading of each channel (or of the given channels)."""
    newest = select(ReadingRow.channel, func.max(ReadingRow.ts).label("ts")).group_by(ReadingRow.channel)
    if channels is not None:
        newest = newest.where(ReadingRow.channel.in_(list(channels)))
    sub = newest.subquery()
    statement = (
        select(ReadingRow.channel, ReadingRow.value, ReadingRow.ts, ReadingRow.id)
        .join(sub, (ReadingRow.channel == sub.c.channel) & (ReadingRow.ts == sub.c.ts))
        .order_by(ReadingRow.id)
    )
    result: dict[str, Reading] = {}
    for channel, value, ts, _id in session.execute(statement):
        result[channel] = Reading(channel=channel, value=value, ts=ts)  # last id wins on equal ts
    return result


def count_readings(session: Session, *, channel: str | None = None) -> int:
    statement = select(func.count()).select_from(ReadingRow)
    if channel is not None:
        statement = statement.where(ReadingRow.channel == channel)
    return int(session.execute(statement).scalar_one())
