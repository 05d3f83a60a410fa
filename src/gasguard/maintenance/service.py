"""Maintenance in a running GasGuard: the test recorder and the due-date watcher, both bus consumers.

``TestRecorder`` follows the bus with a bounded subscription (the oldest message is dropped and counted
when it falls behind, so it can never hold up the safety pipeline), feeds the pure ``TestBook``, and
stores each finished guided test as a record with its audit event, in a worker thread.

``DueWatcher`` recomputes the due list every ``every_s`` (and at once after a record is stored),
publishes a ``maintenance`` bus message ``{zone, reason}`` for each zone with newly due, overdue or
failed items (the notifications package turns it into a "Maintenance due" reminder), refreshes the
zero-drift warnings once a day, and serves the ``maintenance`` health component: ``degraded`` while a
calibration is overdue or failed, never anything that trips.

Guided tests in progress are kept in ``maintenance_test_sessions`` (schema 0006) so that a restart of
the service takes them over: a test is saved when it starts, checkpointed every ``checkpoint_s`` while
something was measured, and its row is deleted in the same commit that stores its record. Readings that
arrive between the last checkpoint and the restart are not seen; the book keeps that gap and never
measures a time across it.

``attach_maintenance(runtime)`` starts both for a live runtime and registers them for the web routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from gasguard.maintenance.drift import plant_drift
from gasguard.maintenance.due import DueItem, load_due
from gasguard.maintenance.guided import TOPICS, TestBook, TestKind, TestRecord, TestSession
from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.records import RecordInput, store_record
from gasguard.maintenance.registry import maintenance_for, register
from gasguard.notify import FanoutBus, Message
from gasguard.services.health import ComponentHealth
from gasguard.storage.events import EventRecord
from gasguard.storage.models import TestSessionRow
from gasguard.storage.writer import ComponentStatus

if TYPE_CHECKING:
    from gasguard.runtime import Runtime

log = logging.getLogger(__name__)

SUBSCRIPTION_SIZE = 10_000
CHECKPOINT_S = 5.0
"""How often a guided test in progress is saved while readings come in (what a restart may lose)."""
DUE_EVERY_S = 3600.0
DRIFT_EVERY_S = 86400.0
DRIFT_FIRST_AFTER_S = 600.0
NOTIFY_STATUSES = frozenset({"due_soon", "overdue", "failed"})


def publish_audit(bus: FanoutBus, events: Sequence[EventRecord]) -> None:
    """Push stored audit events live, as the event recorder does for the core's outputs."""
    for event in events:
        bus.publish_nowait(Message(topic=str(event.kind), payload={**event.to_json(), "stored": True}, ts=event.ts))


class TestRecorder:
    """Measures guided tests from the bus and stores them as records (see the module docstring)."""

    __test__ = False

    def __init__(
        self,
        plant: PlantDirectory,
        *,
        bus: FanoutBus,
        session_factory: sessionmaker[Session],
        clock: Callable[[], float],
        poll_s: float = 0.5,
        on_record: Callable[[], None] | None = None,
        checkpoint_s: float = CHECKPOINT_S,
    ) -> None:
        self.plant = plant
        self.book = TestBook(plant)
        self.bus = bus
        self.clock = clock
        self.poll_s = poll_s
        self.on_record = on_record
        self.checkpoint_s = checkpoint_s
        self._session_factory = session_factory
        self.subscription = bus.subscribe(maxsize=SUBSCRIPTION_SIZE, topics=TOPICS)
        self.stored = 0
        self.store_errors = 0
        self.last_error: str | None = None
        self._saved: dict[str, tuple[Any, ...]] = {}  # test id -> its signature when last saved
        self._last_checkpoint = float("-inf")  # monotonic
        self._db_lock: asyncio.Lock | None = None

    def _lock(self) -> asyncio.Lock:
        """One writer of the sessions table at a time (a checkpoint never re-saves a test just stored)."""
        if self._db_lock is None:
            self._db_lock = asyncio.Lock()
        return self._db_lock

    # ------------------------------------------------------------------ tests in progress, saved

    def restore(self) -> list[TestSession]:
        """Take over the tests an earlier run of the service left in progress (call once, before ``run``).

        A test whose channel, valve or zone is no longer in the site file cannot be measured: it is
        dropped with a warning. A test whose time ran out while the service was down ends at the next
        step, with what was measured before."""
        with self._session_factory() as session, session.begin():
            rows = list(session.scalars(select(TestSessionRow)))
            sessions: list[TestSession] = []
            saved_at: dict[str, float] = {}
            dropped: list[str] = []
            for row in rows:
                if not self._knows(row.kind, row.target):
                    dropped.append(row.id)
                    continue
                sessions.append(
                    TestSession.from_state(
                        id=row.id,
                        kind=row.kind,
                        target=row.target,
                        zone=row.zone,
                        user=row.performed_by,
                        started_at=row.started_at,
                        deadline=row.deadline,
                        state=row.state,
                    )
                )
                saved_at[row.id] = row.saved_at
            if dropped:
                session.execute(delete(TestSessionRow).where(TestSessionRow.id.in_(dropped)))
        for test_id in dropped:
            log.warning("maintenance: guided test %s no longer matches the site configuration; dropped", test_id)
        self.book.restore(sessions, saved_at=saved_at, now=self.clock())
        self._saved = {s.id: s.signature() for s in sessions}
        for restored in sessions:
            log.info("maintenance: guided test %s taken over after a restart", restored.id)
        return sessions

    def _knows(self, kind: str, target: str) -> bool:
        """Whether a stored test's kind and target still exist in the site file."""
        if kind == TestKind.STROKE.value:
            return target in self.plant.valves
        if kind == TestKind.PROOF_TEST.value:
            return target in self.plant.zones
        if kind in (TestKind.BUMP.value, TestKind.CALIBRATION.value):
            return target in self.plant.channels
        return False

    def _save(self, rows: list[dict[str, Any]], gone: list[str]) -> None:
        with self._session_factory() as session, session.begin():
            if gone:
                session.execute(delete(TestSessionRow).where(TestSessionRow.id.in_(gone)))
            for row in rows:
                session.merge(TestSessionRow(**row))

    def _pending(self) -> tuple[list[dict[str, Any]], dict[str, tuple[Any, ...]], list[str]]:
        """Rows to save (tests whose measurements changed), their signatures, and ids of ended tests."""
        now = self.clock()
        changed = {sid: s.signature() for sid, s in self.book.sessions.items() if self._saved.get(sid) != s.signature()}
        rows = [
            {
                "id": s.id,
                "kind": s.kind.value,
                "target": s.target,
                "zone": s.zone,
                "performed_by": s.user,
                "started_at": s.started_at,
                "deadline": s.deadline,
                "saved_at": now,
                "state": s.to_state(),  # copied here, on the loop: the thread never sees a list growing
            }
            for sid, s in self.book.sessions.items()
            if sid in changed
        ]
        return rows, changed, [sid for sid in self._saved if sid not in self.book.sessions]

    async def checkpoint(self, *, force: bool = False) -> None:
        """Save the tests whose measurements changed (at most every ``checkpoint_s`` unless forced) and
        forget the rows of tests that ended without a record; a failure is logged and retried next time."""
        sessions = self.book.sessions
        started_or_ended = any(sid not in self._saved for sid in sessions) or any(
            sid not in sessions for sid in self._saved
        )
        if not (force or started_or_ended) and time.monotonic() - self._last_checkpoint < self.checkpoint_s:
            return
        async with self._lock():
            self._last_checkpoint = time.monotonic()
            rows, changed, gone = self._pending()
            if not rows and not gone:
                return
            try:
                await asyncio.to_thread(self._save, rows, gone)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.error("maintenance: cannot save the guided tests in progress: %s", self.last_error)
                return
            for sid in gone:
                self._saved.pop(sid, None)
            self._saved.update(changed)

    # ------------------------------------------------------------------ finished tests, stored

    def write(
        self, record: RecordInput, *, recorded_by: str, test_id: str | None = None
    ) -> tuple[dict[str, Any], EventRecord]:
        """Store one record and its audit event in one commit, and forget the saved test it came from
        in the same commit: a restart never measures a stored test twice (call from a worker thread)."""
        with self._session_factory() as session, session.begin():
            if test_id is not None:
                session.execute(delete(TestSessionRow).where(TestSessionRow.id == test_id))
            return store_record(session, plant=self.plant, record=record, recorded_by=recorded_by, now=self.clock())

    async def store(self, records: Sequence[TestRecord]) -> list[dict[str, Any]]:
        """Store finished tests; a failure is logged and kept in health, never raised into the loop."""
        stored = []
        for record in records:
            test_id = record.detail.get("test")
            test_id = test_id if isinstance(test_id, str) else None
            try:
                async with self._lock():
                    data, event = await asyncio.to_thread(
                        self.write, record, recorded_by=record.performed_by or "gasguard", test_id=test_id
                    )
                    self._saved.pop(test_id or "", None)
            except Exception as exc:
                self.store_errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.error("maintenance: cannot store a measured test record: %s", self.last_error)
                continue
            self.stored += 1
            publish_audit(self.bus, [event])
            for session in self.book.finished:
                if session.id == test_id:
                    session.record_id = int(data["id"])
            stored.append(data)
            if self.on_record is not None:
                self.on_record()
        return stored

    async def step(self) -> list[dict[str, Any]]:
        """Take what the bus has queued, finish tests whose time is over, store the finished ones."""
        finished: list[TestRecord] = []
        while True:
            try:
                message = self.subscription.get_nowait()
            except asyncio.QueueEmpty:
                break
            finished.extend(self.book.observe(message))
        finished.extend(self.book.due(self.clock()))
        stored = await self.store(finished) if finished else []
        await self.checkpoint()
        return stored

    async def run(self) -> None:
        try:
            while True:
                message: Message | None = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_s):
                        message = await self.subscription.get()
                if message is not None:
                    finished = self.book.observe(message)
                    if finished:
                        await self.store(finished)  # outside the timeout: a slow commit is never cancelled
                await self.step()
        finally:
            self.bus.unsubscribe(self.subscription)
            self._save_on_stop()

    def _save_on_stop(self) -> None:
        """An orderly stop saves what was measured since the last checkpoint (a crash loses at most
        ``checkpoint_s`` of it). Blocking, once, while the service shuts down."""
        rows, _changed, gone = self._pending()
        if not rows and not gone:
            return
        try:
            self._save(rows, gone)
        except Exception as exc:
            log.error(
                "maintenance: cannot save the guided tests in progress at shutdown: %s: %s", type(exc).__name__, exc
            )


class DueWatcher:
    """Keeps the due list and drift warnings fresh, notifies due items, and reports health."""

    def __init__(
        self,
        plant: PlantDirectory,
        *,
        bus: FanoutBus,
        session_factory: sessionmaker[Session],
        clock: Callable[[], float],
        every_s: float = DUE_EVERY_S,
        drift_every_s: float = DRIFT_EVERY_S,
        drift_first_after_s: float = DRIFT_FIRST_AFTER_S,
    ) -> None:
        self.plant = plant
        self.bus = bus
        self.clock = clock
        self.every_s = every_s
        self.drift_every_s = drift_every_s
        self.drift_first_after_s = drift_first_after_s
        self._session_factory = session_factory
        self.items: list[DueItem] = []
        self.computed_at: float | None = None
        self.drift_warnings: list[str] = []
        self.drift_at: float | None = None
        self.error: str | None = None
        self._notified: set[tuple[str, str, str, float | None]] = set()
        self._wake = asyncio.Event()

    def refresh_soon(self) -> None:
        self._wake.set()

    def _load(self) -> list[DueItem]:
        with self._session_factory() as session:
            return load_due(session, plant=self.plant, now=self.clock())

    def _drift(self) -> list[str]:
        with self._session_factory() as session:
            return [w for report in plant_drift(session, plant=self.plant, end=self.clock()) for w in report.warnings]

    async def refresh(self) -> list[DueItem]:
        try:
            items = await asyncio.to_thread(self._load)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:300]
            log.error("maintenance: cannot compute due dates: %s", self.error)
            return self.items
        self.error = None
        self.items = items
        self.computed_at = self.clock()
        self._notify(items)
        return items

    async def refresh_drift(self) -> None:
        try:
            self.drift_warnings = await asyncio.to_thread(self._drift)
        except Exception as exc:
            log.error("maintenance: cannot compute zero drift: %s", exc)
            return
        self.drift_at = self.clock()
        for warning in self.drift_warnings:
            log.warning("maintenance: %s", warning)

    def _notify(self, items: Sequence[DueItem]) -> None:
        """One ``maintenance`` message per zone with items newly due soon, overdue or failed."""
        by_zone: dict[str, list[DueItem]] = {}
        for item in items:
            key = (item.kind, item.target, item.status, item.due_at)
            if item.status in NOTIFY_STATUSES and key not in self._notified:
                self._notified.add(key)
                by_zone.setdefault(item.zone, []).append(item)
        now = self.clock()
        for zone, due in by_zone.items():
            reason = "; ".join(item.describe() for item in due)
            payload = {"zone": zone, "reason": reason, "items": [item.to_json() for item in due]}
            self.bus.publish_nowait(Message(topic="maintenance", payload=payload, ts=now))

    async def run(self) -> None:
        # Drift reads weeks of readings per channel: not at every start (a restart loop, a test), only
        # once the service has been up a while, then daily (on the monotonic clock).
        next_drift = time.monotonic() + self.drift_first_after_s
        while True:
            await self.refresh()
            if time.monotonic() >= next_drift:
                await self.refresh_drift()
                next_drift = time.monotonic() + self.drift_every_s
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.every_s):
                    await self._wake.wait()

    def health(self) -> ComponentHealth:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.status] = counts.get(item.status, 0) + 1
        late = ("overdue", "failed")
        calibration = [item.describe() for item in self.items if item.kind == "calibration" and item.status in late]
        detail: dict[str, Any] = {**counts, "computed_at": self.computed_at}
        if calibration:
            detail["calibration"] = calibration[:20]
        if self.drift_warnings:
            detail["drift"] = self.drift_warnings[:20]
        if self.error:
            detail["error"] = self.error
        degraded = bool(calibration or self.error)
        return ComponentHealth(ComponentStatus.DEGRADED if degraded else ComponentStatus.OK, detail)


class Maintenance:
    """The maintenance parts of one process, looked up by the web routes through ``maintenance_for``."""

    def __init__(self, plant: PlantDirectory, recorder: TestRecorder, watcher: DueWatcher) -> None:
        self.plant = plant
        self.recorder = recorder
        self.watcher = watcher


def attach_maintenance(runtime: Runtime, *, poll_s: float = 0.5) -> Maintenance:
    """Start the test recorder and the due watcher for a live runtime (run by the web app's lifespan).

    Once per ``Services``: a second call returns the first one's parts."""
    services = runtime.services
    running = maintenance_for(services)
    if running is not None:
        return running
    plant = PlantDirectory(runtime.site)
    watcher = DueWatcher(plant, bus=services.bus, session_factory=services.session_factory, clock=runtime.clock)
    recorder = TestRecorder(
        plant,
        bus=services.bus,
        session_factory=services.session_factory,
        clock=runtime.clock,
        poll_s=poll_s,
        on_record=watcher.refresh_soon,
    )
    try:
        recorder.restore()
    except Exception as exc:  # a missing table (an old schema) must not keep the service from starting
        log.error("maintenance: cannot take over the guided tests in progress: %s: %s", type(exc).__name__, exc)
    maintenance = Maintenance(plant, recorder, watcher)
    services.background.extend([recorder.run, watcher.run])
    services.health_checks["maintenance"] = watcher.health
    register(services, maintenance)
    return maintenance
