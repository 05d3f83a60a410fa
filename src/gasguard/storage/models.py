"""The database schema as SQLAlchemy 2 models.

Alembic migrations in ``storage/migrations`` are the source of truth for the schema; these models
mirror them for queries, and a test checks that the two never drift apart.

Times are epoch seconds in double-precision columns: the same number the safety core and the devices
use, with no time-zone conversion in any of the three supported databases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere readings need 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every GasGuard table."""


class ReadingRow(Base):
    """One stored sample of one channel (the channel's own unit)."""

    __tablename__ = "readings"
    __table_args__ = (Index("ix_readings_channel_ts", "channel", "ts"), Index("ix_readings_ts", "ts"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(128), nullable=False)
    ts: Mapped[float] = mapped_column(Double(), nullable=False)
    value: Mapped[float | None] = mapped_column(Double(), nullable=True)


class EventRow(Base):
    """One event: an alarm, valve, health or trip change, an operator command, or an audit entry."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_ts", "ts"),
        Index("ix_events_kind_ts", "kind", "ts"),
        Index("ix_events_zone_ts", "zone", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Double(), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str | None] = mapped_column(String(128), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str] = mapped_column(Text(), nullable=False, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON(), nullable=False, default=dict)


class UserRow(Base):
    """A person who signs in to the dashboard or the API."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean(), nullable=False, default=True)
    created_at: Mapped[float] = mapped_column(Double(), nullable=False)


class ApiTokenRow(Base):
    """A bearer token: a sign-in session of a user, or a device token for ingestion.

    Only a keyed hash of the token is stored; the token itself is shown once, when it is made.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # "session" | "device"
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_id: Mapped[int | None] = mapped_column(Integer(), ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    created_at: Mapped[float] = mapped_column(Double(), nullable=False)
    expires_at: Mapped[float | None] = mapped_column(Double(), nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Double(), nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Double(), nullable=True)
    # Device tokens only: {"channels": [...], "zones": [...]} limits what the token may post; null: any.
    scope: Mapped[dict[str, Any] | None] = mapped_column(JSON(), nullable=True)


class LoginFailureRow(Base):
    """One failed sign-in: kept in the database so a restart does not clear a lock-out."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_ts", "username", "ts"),
        Index("ix_login_failures_client_ts", "client", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Double(), nullable=False)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    client: Mapped[str] = mapped_column(String(64), nullable=False)


class SnapshotRow(Base):
    """The safety core's persisted state for one scope (a zone id, or ``plant`` for everything)."""

    __tablename__ = "safety_snapshots"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    saved_at: Mapped[float] = mapped_column(Double(), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON(), nullable=False)


class NotificationIncidentRow(Base):
    """An incident that people are told about (``gasguard.notifications``), kept so a restart resumes
    its repeat and escalation where they were."""

    __tablename__ = "notification_incidents"
    __table_args__ = (
        Index("ix_notification_incidents_closed_at", "closed_at"),
        Index("ix_notification_incidents_zone_opened_at", "zone", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    opened_at: Mapped[float] = mapped_column(Double(), nullable=False)
    closed_at: Mapped[float | None] = mapped_column(Double(), nullable=True)
    acked_at: Mapped[float | None] = mapped_column(Double(), nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    acked_via: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[float] = mapped_column(Double(), nullable=False)
    # Cause, routes told (with their repeat and escalation times), valves, highest %LEL, timeline.
    state: Mapped[dict[str, Any]] = mapped_column(JSON(), nullable=False)


class NotificationDeliveryRow(Base):
    """One attempt to deliver one message to one URL of a route; the URL is stored with secrets masked."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index("ix_notification_deliveries_incident_ts", "incident_id", "ts"),
        Index("ix_notification_deliveries_route_ts", "route", "ts"),
        Index("ix_notification_deliveries_ts", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # none: a test message
    route: Mapped[str] = mapped_column(String(64), nullable=False)
    url: Mapped[str] = mapped_column(String(512), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    ts: Mapped[float] = mapped_column(Double(), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer(), nullable=False)
    ok: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    error: Mapped[str | None] = mapped_column(Text(), nullable=True)


class NotificationNonceRow(Base):
    """A used acknowledge link: its nonce, so the same link is refused the second time."""

    __tablename__ = "notification_ack_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(32), nullable=False)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    used_at: Mapped[float] = mapped_column(Double(), nullable=False)


class CalibrationRow(Base):
    """A calibration of one channel (``gasguard.maintenance``): zero and span as found and as left.

    Values are in the channel's own unit (``unit``), as the technician's instrument shows them."""

    __tablename__ = "maintenance_calibrations"
    __table_args__ = (Index("ix_maintenance_calibrations_channel_ts", "channel", "ts"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Double(), nullable=False)
    zone: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(128), nullable=False)
    performed_by: Mapped[str] = mapped_column(String(128), nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(128), nullable=False)
    gas: Mapped[str] = mapped_column(String(64), nullable=False)
    concentration: Mapped[float] = mapped_column(Double(), nullable=False)
    unit: Mapped[str] = mapped_column(String(16), nullable=False)
    as_found_zero: Mapped[float | None] = mapped_column(Double(), nullable=True)
    as_found_span: Mapped[float | None] = mapped_column(Double(), nullable=True)
    as_left_zero: Mapped[float] = mapped_column(Double(), nullable=False)
    as_left_span: Mapped[float] = mapped_column(Double(), nullable=False)
    instrument: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    as_found_passed: Mapped[bool | None] = mapped_column(Boolean(), nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    note: Mapped[str] = mapped_column(Text(), nullable=False, default="")


class BumpTestRow(Base):
    """A bump test of one channel: test gas applied, the peak reading and the response times.

    ``measured`` is true when GasGuard measured it from live readings while the channel was in TEST;
    ``detail`` keeps how (baseline, onset, samples used, alarms seen)."""

    __tablename__ = "maintenance_bump_tests"
    __table_args__ = (Index("ix_maintenance_bump_tests_channel_ts", "channel", "ts"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Double(), nullable=False)
    ended_at: Mapped[float | None] = mapped_column(Double(), nullable=True)
    zone: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(128), nullable=False)
    performed_by: Mapped[str] = mapped_column(String(128), nullable=False)
    gas: Mapped[str] = mapped_column(String(64), nullable=False)
    applied_lel_pct: Mapped[float | None] = mapped_column(Double(), nullable=True)
    peak_lel_pct: Mapped[float | None] = mapped_column(Double(), nullable=True)
    t50_s: Mapped[float | None] = mapped_column(Double(), nullable=True)
    t90_s: Mapped[float | None] = mapped_column(Double(), nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    measured: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    note: Mapped[str] = mapped_column(Text(), nullable=False, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON(), nullable=False, default=dict)


class StrokeTestRow(Base):
    """A stroke test of one valve: close and open times against its ``travel_time_s``."""

    __tablename__ = "maintenance_stroke_tests"
    __table_args__ = (Index("ix_maintenance_stroke_tests_valve_ts", "valve", "ts"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Double(), nullable=False)
    zone: Mapped[str] = mapped_column(String(64), nullable=False)
    valve: Mapped[str] = mapped_column(String(128), nullable=False)
    performed_by: Mapped[str] = mapped_column(String(128), nullable=False)
    travel_time_s: Mapped[float] = mapped_column(Double(), nullable=False)
    close_s: Mapped[float | None] = mapped_column(Double(), nullable=True)
    open_s: Mapped[float | None] = mapped_column(Double(), nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    measured: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    note: Mapped[str] = mapped_column(Text(), nullable=False, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON(), nullable=False, default=dict)


class ProofTestRow(Base):
    """A proof test of a zone's whole safety function: gas applied -> alarm -> trip -> valves closed.

    Times are seconds from the gas reaching the detector; ``detail`` holds the timeline."""

    __tablename__ = "maintenance_proof_tests"
    __table_args__ = (Index("ix_maintenance_proof_tests_zone_ts", "zone", "ts"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Double(), nullable=False)
    zone: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str | None] = mapped_column(String(128), nullable=True)
    performed_by: Mapped[str] = mapped_column(String(128), nullable=False)
    gas: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    alarm_s: Mapped[float | None] = mapped_column(Double(), nullable=True)
    trip_s: Mapped[float | None] = mapped_column(Double(), nullable=True)
    closed_s: Mapped[float | None] = mapped_column(Double(), nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    measured: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    note: Mapped[str] = mapped_column(Text(), nullable=False, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON(), nullable=False, default=dict)


class ZoneLeaseRow(Base):
    """Who owns a zone's safety state until when (database clock, epoch seconds); ``token`` grows with
    every new owner and fences its writes. Only ``gasguard serve --role worker`` uses it."""

    __tablename__ = "zone_leases"

    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), nullable=False)
    token: Mapped[int] = mapped_column(BigInteger(), nullable=False)
    acquired_at: Mapped[float] = mapped_column(Double(), nullable=False)
    expires_at: Mapped[float] = mapped_column(Double(), nullable=False)


class WorkerPresenceRow(Base):
    """A zone worker that is alive until ``expires_at`` (database clock, epoch seconds), renewed every
    second; ``balancing`` is false for a worker pinned with ``--zones``. Balancing counts these rows."""

    __tablename__ = "worker_presence"

    worker: Mapped[str] = mapped_column(String(128), primary_key=True)
    balancing: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    started_at: Mapped[float] = mapped_column(Double(), nullable=False)
    expires_at: Mapped[float] = mapped_column(Double(), nullable=False)


class TestSessionRow(Base):
    """A guided test in progress (``maintenance.guided``), kept so that it survives a restart.

    ``state`` holds what was measured so far (samples, alarms, valve marks); ``saved_at`` is when it was
    last checkpointed, so the record can say which readings a restart made it miss."""

    __test__ = False  # not a pytest test class, though its name starts with Test
    __tablename__ = "maintenance_test_sessions"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    target: Mapped[str] = mapped_column(String(128), nullable=False)
    zone: Mapped[str] = mapped_column(String(64), nullable=False)
    performed_by: Mapped[str] = mapped_column(String(128), nullable=False)
    started_at: Mapped[float] = mapped_column(Double(), nullable=False)
    deadline: Mapped[float] = mapped_column(Double(), nullable=False)
    saved_at: Mapped[float] = mapped_column(Double(), nullable=False)
    state: Mapped[dict[str, Any]] = mapped_column(JSON(), nullable=False, default=dict)
