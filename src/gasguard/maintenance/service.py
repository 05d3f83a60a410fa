"""Maintenance in a running GasGuard: the test recorder and the due-date watcher, both bus consumers.

``TestRecorder`` follows the bus with a bounded subscription (the oldest message is dropped and counted
when it falls behind, so it can never hold up the safety pipeline), feeds the pure ``TestBook``, and
stores each finished guided test as a record with its audit event, in a worker thread.

``DueWatcher`` recomputes the due list every ``every_s`` (and at once after a record is stored),
publishes a ``maintenance`` bus message ``{zone, reason}`` for each zone with newly due, overdue or
failed items (the notifications package turns it into a "Maintenance due" reminder), refreshes the
zero-drift warnings once a day, and serves the ``maintenance`` health component: ``degraded`` while a
calibration is overdue or failed, never anything that trips.

``attach_maintenance(runtime)`` starts both for a live runtime and registers them for the web routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from gasguard.maintenance.drift import plant_drift
from gasguard.maintenance.due import DueItem, load_due
from gasguard.maintenance.guided import TOPICS, TestBook, TestRecord
from gasguard.maintenance.plant import PlantDirectory
from gasguard.maintenance.records import RecordInput, store_record
from gasguard.maintenance.registry import maintenance_for, register
from gasguard.notify import FanoutBus, Message
from gasguard.services.health import ComponentHealth
from gasguard.storage.events import EventRecord
from gasguard.storage.writer import ComponentStatus

if TYPE_CHECKING:
    from gasguard.runtime import Runtime

log = logging.getLogger(__name__)

SUBSCRIPTION_SIZE = 10_000
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
    ) -> None:
        self.plant = plant
        self.book = TestBook(plant)
        self.bus = bus
        self.clock = clock
        self.poll_s = poll_s
        self.on_record = on_record
        self._session_factory = session_factory
        self.subscription = bus.subscribe(maxsize=SUBSCRIPTION_SIZE, topics=TOPICS)
        self.stored = 0
        self.store_errors = 0
        self.last_error: str | None = None

    def write(self, record: RecordInput, *, recorded_by: str) -> tuple[dict[str, Any], EventRecord]:
        """Store one record and its audit event in one commit (call from a worker thread)."""
        with self._session_factory() as session, session.begin():
            return store_record(session, plant=self.plant, record=record, recorded_by=recorded_by, now=self.clock())

    async def store(self, records: Sequence[TestRecord]) -> list[dict[str, Any]]:
        """Store finished tests; a failure is logged and kept in health, never raised into the loop."""
        stored = []
        for record in records:
            try:
                data, event = await asyncio.to_thread(self.write, record, recorded_by=record.performed_by or "gasguard")
            except Exception as exc:
                self.store_errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.error("maintenance: cannot store a measured test record: %s", self.last_error)
                continue
            self.stored += 1
            publish_audit(self.bus, [event])
            test_id = record.detail.get("test")
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
        return await self.store(finished) if finished else []

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
    maintenance = Maintenance(plant, recorder, watcher)
    services.background.extend([recorder.run, watcher.run])
    services.health_checks["maintenance"] = watcher.health
    register(services, maintenance)
    return maintenance
