"""``Services``: everything a running GasGuard process shares, built once per process (never at import
time) by ``build_services``: the database, the bus, the event recorder, the reading writer, health
checks and the tasks to run. The web app, the runtime and the zone workers are all handed one.

Tests build their own ``Services`` on their own SQLite file; the live pipeline adds its components
(sources, actuators, models) and their health checks to the same object.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.from_thread
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from gasguard.auth import LoginRateLimiter, TokenHasher
from gasguard.notify import FanoutBus, Message
from gasguard.services.health import ComponentHealth, HealthCheck
from gasguard.services.live_sessions import LiveSessions
from gasguard.settings import ServiceSettings
from gasguard.storage.engine import create_engine_for, make_session_factory
from gasguard.storage.events import EventKind, EventRecord, add_event
from gasguard.storage.migrate import check_schema_current, upgrade_to_head
from gasguard.storage.recorder import EventRecorder
from gasguard.storage.writer import ComponentStatus, ReadingWriter

if TYPE_CHECKING:
    from gasguard.readmodel import PlantReadModel

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: ServiceSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    hasher: TokenHasher
    bus: FanoutBus
    recorder: EventRecorder
    writer: ReadingWriter
    rate_limiter: LoginRateLimiter
    registry: CollectorRegistry
    clock: Callable[[], float] = time.time
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    runtime: Any = None
    """What runs operator commands here: the live ``gasguard.runtime.Runtime`` in one process, the
    command client to the owning workers in a web tier (``workers.remote``); ``None`` without either."""
    plant: PlantReadModel | None = None
    """The read model the routes show (zones, channels, valves, alarms, outputs), fed by the local bus
    in one process and by the broker in a web tier; ``None`` when this process shows no live plant."""
    shutdown: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    """Awaited in order when the app stops, before the background tasks are cancelled."""
    live_sessions: LiveSessions = field(default_factory=LiveSessions)
    """Live-feed sockets of this process, so account changes made here close them at once."""

    def publish_stored(self, events: Sequence[EventRecord]) -> None:
        """Publish events that were just committed. Safe from a worker thread and from the event loop."""
        messages = [Message(topic=str(e.kind), payload={**e.to_json(), "stored": True}, ts=e.ts) for e in events]

        def deliver() -> None:
            for message in messages:
                self.bus.publish_nowait(message)

        try:
            anyio.from_thread.run_sync(deliver)
        except RuntimeError:  # not in a worker thread: already on the event loop
            deliver()

    def record_audit(
        self, session: Session, *, ts: float, source: str, actor: str, reason: str, payload: dict[str, Any]
    ) -> EventRecord:
        """Store one audit event with the request's other changes (one commit), then publish it, so an
        account or sign-in change is never pushed live before it is stored."""
        event = add_event(
            session, kind=EventKind.AUDIT, ts=ts, source=source, actor=actor, reason=reason, payload=payload
        )
        session.commit()
        self.publish_stored([event])
        return event

    def dispose(self) -> None:
        self.engine.dispose()


def _database_check(engine: Engine) -> HealthCheck:
    def check() -> ComponentHealth:
        started = time.perf_counter()
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            return ComponentHealth(ComponentStatus.DOWN, {"error": f"{type(exc).__name__}: {exc}"[:300]})
        return ComponentHealth(
            ComponentStatus.OK,
            {"backend": engine.dialect.name, "latency_ms": round((time.perf_counter() - started) * 1000, 2)},
        )

    return check


def _writer_check(writer: ReadingWriter) -> HealthCheck:
    def check() -> ComponentHealth:
        h = writer.health()
        return ComponentHealth(
            h.status,
            {
                "buffered": h.buffered,
                "capacity": h.capacity,
                "fill": round(h.fill, 4),
                "written": h.written,
                "dropped": h.dropped,
                "last_error": h.last_error,
                "last_error_at": h.last_error_at,
                "last_success_at": h.last_success_at,
            },
        )

    return check


def _event_log_check(recorder: EventRecorder) -> HealthCheck:
    def check() -> ComponentHealth:
        if recorder.dropped:
            status = ComponentStatus.DOWN
        elif recorder.pending or recorder.last_error:
            status = ComponentStatus.DEGRADED
        else:
            status = ComponentStatus.OK
        return ComponentHealth(
            status, {"pending": recorder.pending, "dropped": recorder.dropped, "last_error": recorder.last_error}
        )

    return check


def _bus_check(bus: FanoutBus) -> HealthCheck:
    def check() -> ComponentHealth:
        return ComponentHealth(
            ComponentStatus.OK,
            {"subscribers": bus.subscriber_count, "published": bus.published, "dropped": bus.dropped_total},
        )

    return check


def build_services(
    settings: ServiceSettings, *, upgrade: bool = False, clock: Callable[[], float] = time.time
) -> Services:
    """Connect to the database and build the shared services.

    With ``upgrade`` the schema is migrated to the newest revision first; without it a database that
    is not up to date is refused with a message that says to run ``gasguard db upgrade``.
    """
    url = settings.resolved_database_url()
    if upgrade:
        upgrade_to_head(url)
    engine = create_engine_for(url)
    check_schema_current(engine)
    session_factory = make_session_factory(engine)
    bus = FanoutBus()
    recorder = EventRecorder(session_factory, bus)
    writer = ReadingWriter(
        session_factory,
        batch_size=settings.reading_batch_size,
        flush_interval_s=settings.reading_flush_interval_s,
        max_buffer=settings.reading_buffer_max,
        clock=clock,
    )
    services = Services(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        hasher=TokenHasher(settings.resolved_secret_key()),
        bus=bus,
        recorder=recorder,
        writer=writer,
        rate_limiter=LoginRateLimiter(max_failures=settings.login_max_failures, window_s=settings.login_window_s),
        registry=CollectorRegistry(),
        clock=clock,
    )
    services.health_checks.update(
        {
            "database": _database_check(engine),
            "reading_writer": _writer_check(writer),
            "event_log": _event_log_check(recorder),
            "notify": _bus_check(bus),
        }
    )
    services.background.extend([writer.run, recorder.run])
    return services
