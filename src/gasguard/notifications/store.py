"""Incidents, delivery attempts and used link nonces in the database (keyword-only functions).

Incidents are written whole after each change (the notifier coalesces changes), so a restart reloads
every open incident with the times its repeats and escalations run from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gasguard.notifications.incidents import Incident
from gasguard.storage.models import NotificationDeliveryRow, NotificationIncidentRow, NotificationNonceRow


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try at one URL of one route (``url`` has its secrets masked)."""

    incident_id: str | None
    route: str
    url: str
    reason: str
    ts: float
    attempt: int
    ok: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "incident": self.incident_id,
            "route": self.route,
            "url": self.url,
            "reason": self.reason,
            "ts": self.ts,
            "attempt": self.attempt,
            "ok": self.ok,
            "error": self.error,
        }


def save_incidents(session: Session, *, incidents: Iterable[Incident], now: float) -> None:
    """Insert or update each incident (flushed, not committed)."""
    for incident in incidents:
        row = session.get(NotificationIncidentRow, incident.id)
        if row is None:
            row = NotificationIncidentRow(id=incident.id, key=incident.key, opened_at=incident.opened_at)
            session.add(row)
        row.kind = str(incident.kind)
        row.zone = incident.zone
        row.closed_at = incident.closed_at
        row.acked_at = incident.acked_at
        row.acked_by = incident.acked_by
        row.acked_via = incident.acked_via
        row.updated_at = now
        row.state = incident.to_state()
    session.flush()


def _incident(row: NotificationIncidentRow) -> Incident:
    return Incident.from_row(
        id=row.id,
        key=row.key,
        kind=row.kind,
        zone=row.zone,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        acked_at=row.acked_at,
        acked_by=row.acked_by,
        acked_via=row.acked_via,
        state=row.state or {},
    )


def load_open_incidents(session: Session) -> list[Incident]:
    rows = session.scalars(select(NotificationIncidentRow).where(NotificationIncidentRow.closed_at.is_(None)))
    return [_incident(row) for row in rows]


def get_incident(session: Session, *, incident_id: str) -> Incident | None:
    row = session.get(NotificationIncidentRow, incident_id)
    return None if row is None else _incident(row)


def list_incidents(session: Session, *, limit: int = 50, open_only: bool = False) -> list[Incident]:
    """Newest first."""
    statement = select(NotificationIncidentRow)
    if open_only:
        statement = statement.where(NotificationIncidentRow.closed_at.is_(None))
    statement = statement.order_by(NotificationIncidentRow.opened_at.desc()).limit(limit)
    return [_incident(row) for row in session.scalars(statement)]


def add_deliveries(session: Session, *, attempts: Sequence[DeliveryAttempt]) -> None:
    session.add_all(
        NotificationDeliveryRow(
            incident_id=a.incident_id,
            route=a.route,
            url=a.url[:512],
            reason=a.reason,
            ts=a.ts,
            attempt=a.attempt,
            ok=a.ok,
            error=None if a.error is None else a.error[:2000],
        )
        for a in attempts
    )
    session.flush()


def list_deliveries(session: Session, *, incident_id: str | None = None, limit: int = 200) -> list[DeliveryAttempt]:
    """Newest first; for one incident when ``incident_id`` is given."""
    statement = select(NotificationDeliveryRow)
    if incident_id is not None:
        statement = statement.where(NotificationDeliveryRow.incident_id == incident_id)
    statement = statement.order_by(NotificationDeliveryRow.ts.desc(), NotificationDeliveryRow.id.desc()).limit(limit)
    return [
        DeliveryAttempt(
            incident_id=row.incident_id,
            route=row.route,
            url=row.url,
            reason=row.reason,
            ts=row.ts,
            attempt=row.attempt,
            ok=row.ok,
            error=row.error,
        )
        for row in session.scalars(statement)
    ]


def nonce_used(session: Session, *, nonce: str) -> NotificationNonceRow | None:
    return session.get(NotificationNonceRow, nonce)


def use_nonce(session: Session, *, nonce: str, incident_id: str, username: str, now: float) -> None:
    """Record a link as used (flushed): a second insert of the same nonce fails on the primary key."""
    session.add(NotificationNonceRow(nonce=nonce, incident_id=incident_id, username=username, used_at=now))
    session.flush()
