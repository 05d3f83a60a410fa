"""The notifier: a bus consumer that keeps the incident book, sends through Apprise, retries, stores.

It subscribes to the live bus with a bounded queue (``SUBSCRIPTION_SIZE``; the oldest message is dropped
and counted when it falls behind), so nothing it does can hold up the safety pipeline: the pipeline
never waits for the bus, the bus never waits for a subscriber, and every send runs in a worker thread.
The first message of an incident is started the moment its bus message is taken, before anything is
stored. Failed deliveries are retried with backoff on the injected clock; the ``notifications``
health component is degraded while a route's latest attempt failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import heapq
import itertools
import logging
import os
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from gasguard.config import SiteConfig
from gasguard.notifications.config import NotificationsConfig, Route
from gasguard.notifications.delivery import AppriseSender, Attachment, MissingSecretError, Outcome, expand, redact
from gasguard.notifications.incidents import (
    TOPICS,
    Incident,
    IncidentBook,
    IncidentKind,
    Send,
    SendReason,
)
from gasguard.notifications.links import AckClaim, LinkSigner, new_nonce
from gasguard.notifications.messages import MessageComposer, zone_directory
from gasguard.notifications.registry import register
from gasguard.notifications.store import DeliveryAttempt, add_deliveries, load_open_incidents, save_incidents
from gasguard.notify import FanoutBus, Message
from gasguard.services.health import ComponentHealth
from gasguard.storage.writer import ComponentStatus

if TYPE_CHECKING:
    from gasguard.runtime import Runtime

log = logging.getLogger(__name__)

SUBSCRIPTION_SIZE = 5000
BATCH_MAX = 500
RETRY_BACKOFF_S = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Waits before the 2nd, 3rd, ... attempt of a failed delivery; the last repeats."""
MAX_ATTEMPTS = 30
"""Attempts per message and URL (about 4 h of retrying) before it is given up and recorded as such."""
MAX_CONCURRENT_SENDS = 8
ACK_PATH = "/api/v1/notifications/ack/"


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    incident_id: str | None = field(compare=False)
    route: str = field(compare=False)
    url: str = field(compare=False)
    reason: str = field(compare=False)
    title: str = field(compare=False)
    body: str = field(compare=False)
    attachment: Attachment | None = field(compare=False, default=None)
    attempt: int = field(compare=False, default=1)


@dataclass
class RouteHealth:
    sent: int = 0
    failed: int = 0
    last_ok_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    failing: bool = False
    given_up: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "failing": self.failing,
            "given_up": self.given_up,
            "last_ok_at": self.last_ok_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


class Notifier:
    """Runs the notifications of one process: ``run`` until cancelled (the web app's lifespan runs it)."""

    def __init__(
        self,
        config: NotificationsConfig,
        site: SiteConfig,
        *,
        bus: FanoutBus,
        session_factory: sessionmaker[Session],
        clock: Callable[[], float],
        secret_key: str,
        public_url: str | None,
        env: Mapping[str, str] | None = None,
        poll_s: float = 0.25,
        runtime: Runtime | None = None,
        heartbeat_alive: Callable[[], int] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.poll_s = poll_s
        self.runtime = runtime
        self._session_factory = session_factory
        self._env = env if env is not None else os.environ
        self.book = IncidentBook(config)
        self.composer = MessageComposer(config, zone_directory(site), public_url=public_url)
        self.signer = LinkSigner(secret_key)
        self.sender = AppriseSender(env=self._env)
        self._bus = bus
        self.subscription = bus.subscribe(maxsize=SUBSCRIPTION_SIZE, topics=(*TOPICS, "identification"))
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._inflight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        self._lanes: dict[tuple[str, str], asyncio.Lock] = {}
        self._persist_lock = asyncio.Lock()
        self._attempts: list[DeliveryAttempt] = []
        self._persist_wanted = asyncio.Event()
        self.routes = {route.name: RouteHealth() for route in config.routes}
        self.store_error: str | None = None
        self.restored = 0
        self.heartbeat_alive = heartbeat_alive
        self.heartbeat: dict[str, Any] = {"sent": 0, "failed": 0, "last_error": None, "skipped_stalled": 0}
        self.started = False

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        self.sender.redactor.install()
        try:
            await self._restore()
            self.started = True
            tasks = [
                asyncio.create_task(self._consume(), name="notifications-consume"),
                asyncio.create_task(self._timers(), name="notifications-timers"),
                asyncio.create_task(self._persist_loop(), name="notifications-store"),
            ]
            if self.config.heartbeat_url and self.heartbeat_alive is not None:
                tasks.append(asyncio.create_task(self._heartbeat(), name="notifications-heartbeat"))
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in (*tasks, *self._inflight):
                    task.cancel()
                await asyncio.gather(*tasks, *self._inflight, return_exceptions=True)
                with contextlib.suppress(Exception):
                    await self.flush()
        finally:
            self.sender.redactor.uninstall()
            self._bus.unsubscribe(self.subscription)

    async def _restore(self) -> None:
        """Open incidents from the store; a route that never got its first message gets it now."""
        try:
            incidents = await asyncio.to_thread(self._load)
        except Exception as exc:
            self.store_error = f"{type(exc).__name__}: {exc}"[:300]
            log.error("notifications: cannot load open incidents: %s", self.store_error)
            return
        self.book.restore(incidents)
        self.restored = len(incidents)
        if incidents:
            log.info("notifications: %d open incident(s) restored", len(incidents))
        for incident in incidents:
            for name, state in incident.routes.items():
                if not state.delivered:
                    reason = SendReason.ESCALATED if state.escalated_from else SendReason.OPENED
                    self._dispatch([Send(incident, name, reason, "sent again after a restart")])

    def _load(self) -> list[Incident]:
        with self._session_factory() as session:
            return load_open_incidents(session)

    async def _consume(self) -> None:
        while True:
            batch = [await self.subscription.get()]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self.subscription.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                self._take(batch)
            except Exception:  # one odd message must not end notifications
                log.exception("notifications: a bus message could not be handled")

    def _take(self, batch: Sequence[Message]) -> None:
        for message in batch:
            if message.topic == "identification":
                zone, gas = message.payload.get("zone"), message.payload.get("gas")
                if isinstance(zone, str) and isinstance(gas, str):
                    self.composer.identified[zone] = gas
        sends = self.book.observe(batch, self.clock())
        self._seed_valves(sends)
        self._dispatch(sends)
        if self.book.dirty:
            self._persist_wanted.set()

    def _seed_valves(self, sends: Sequence[Send]) -> None:
        """A new incident learns its zone's valve states from the live runtime (bus events only say changes)."""
        plant = None if self.runtime is None else self.runtime.services.plant
        if plant is None:
            return
        for send in sends:
            incident = send.incident
            if send.reason is not SendReason.OPENED or incident.zone is None:
                continue
            with contextlib.suppress(Exception):
                for valve in plant.valves_view():
                    if valve.get("zone") == incident.zone:
                        incident.valves.setdefault(str(valve["id"]), str(valve["state"]))

    async def _timers(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                self.tick()
            except Exception:
                log.exception("notifications: timer step failed")

    def tick(self) -> None:
        """Repeats, escalations and retries whose time has come on the injected clock."""
        now = self.clock()
        sends = self.book.due(now)
        if sends:
            self._dispatch(sends)
            self._persist_wanted.set()
        while self._jobs and self._jobs[0].due <= now:
            self._start(heapq.heappop(self._jobs))

    # ------------------------------------------------------------------ sending

    def _dispatch(self, sends: Sequence[Send]) -> None:
        now = self.clock()
        for send in sends:
            route = self._route(send.route)
            if route is None:
                continue
            link, until = None, None
            if route.ack_as and self.composer.wants_ack_link(send):
                until = now + self.config.ack_link_valid_min * 60.0
                claim = AckClaim(send.incident.id, route.name, route.ack_as, new_nonce(), until)
                link = f"{self.composer.public_url}{ACK_PATH}{self.signer.sign(claim)}"
            composed = self.composer.compose(send, ack_link=link, ack_as=route.ack_as, ack_until=until)
            attachment = self._snapshot(send)
            for url in route.urls:
                job = _Job(
                    due=now,
                    seq=next(self._seq),
                    incident_id=send.incident.id,
                    route=route.name,
                    url=url,
                    reason=str(send.reason),
                    title=composed.title,
                    body=composed.body,
                    attachment=attachment,
                )
                self._start(job)

    def _route(self, name: str) -> Route | None:
        return next((r for r in self.config.routes if r.name == name), None)

    def _snapshot(self, send: Send) -> Attachment | None:
        """The zone's newest camera frame with the plume overlay, for a first or escalated message."""
        runtime = self.runtime
        incident = send.incident
        if runtime is None or send.reason not in {SendReason.OPENED, SendReason.ESCALATED}:
            return None
        if incident.kind not in {IncidentKind.TRIP, IncidentKind.CAMERA_LEAK}:
            return None
        for camera in list(runtime.cameras.values()):
            if camera.zone != incident.zone:
                continue
            try:
                frame = camera.latest()
                jpeg = frame.jpeg("mask") if frame is not None else None
            except Exception:
                log.warning("notifications: no snapshot from camera %s", camera.id, exc_info=True)
                continue
            if jpeg:
                return Attachment(name=f"{camera.id}.jpg", content=jpeg)
        return None

    def _start(self, job: _Job) -> None:
        task = asyncio.get_running_loop().create_task(self._attempt(job))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _attempt(self, job: _Job) -> None:
        # One message at a time per URL, in the order they were made: an update never overtakes the
        # first message on somebody's phone (a failed one waiting for its retry is not waited for).
        lane = self._lanes.setdefault((job.route, job.url), asyncio.Lock())
        async with lane, self._slots:
            try:
                outcome = await self.sender.send(job.url, title=job.title, body=job.body, attachment=job.attachment)
            except Exception as exc:
                outcome = Outcome(False, self.sender.shown_url(job.url), f"{type(exc).__name__}: {exc}"[:300])
        now = self.clock()
        self._record(job, outcome, now)
        if outcome.ok:
            return
        if job.attempt >= MAX_ATTEMPTS:
            self.routes[job.route].given_up += 1
            log.error(
                "notifications: gave up on route %s (%s) after %d attempts: %s",
                job.route,
                outcome.url,
                job.attempt,
                outcome.error,
            )
            return
        wait = RETRY_BACKOFF_S[min(job.attempt - 1, len(RETRY_BACKOFF_S) - 1)]
        job.attempt += 1
        job.due = now + wait
        job.seq = next(self._seq)
        heapq.heappush(self._jobs, job)

    def _record(self, job: _Job, outcome: Outcome, now: float) -> None:
        health = self.routes.setdefault(job.route, RouteHealth())
        if outcome.ok:
            health.sent += 1
            health.last_ok_at = now
            health.failing = False
            incident = self.book.by_id.get(job.incident_id or "")
            if incident is not None and job.route in incident.routes and not incident.routes[job.route].delivered:
                incident.routes[job.route].delivered = True
                self.book.dirty.add(incident.id)
            log.info("notifications: %s message sent to route %s (%s)", job.reason, job.route, outcome.url)
        else:
            health.failed += 1
            health.failing = True
            health.last_error = outcome.error
            health.last_error_at = now
            log.warning(
                "notifications: %s message to route %s (%s) failed (attempt %d): %s",
                job.reason,
                job.route,
                outcome.url,
                job.attempt,
                outcome.error,
            )
        self._attempts.append(
            DeliveryAttempt(
                job.incident_id, job.route, outcome.url, job.reason, now, job.attempt, outcome.ok, outcome.error
            )
        )
        self._persist_wanted.set()

    async def send_test(self, route_name: str | None = None) -> list[dict[str, Any]]:
        """One test message to every URL of each route (or of ``route_name``), at once; per-URL results."""
        routes = [r for r in self.config.routes if route_name is None or r.name == route_name]
        if route_name is not None and not routes:
            raise KeyError(route_name)
        results: list[dict[str, Any]] = []
        for route in routes:
            for url in route.urls:
                outcome = await self.sender.send(
                    url,
                    title="GasGuard test message",
                    body=f"A test of the notification route {route.name}. Nothing needs doing.",
                )
                job = _Job(self.clock(), next(self._seq), None, route.name, url, "test", "", "")
                self._record(job, outcome, self.clock())
                results.append({"route": route.name, "url": outcome.url, "ok": outcome.ok, "error": outcome.error})
        return results

    # ------------------------------------------------------------------ storing

    async def _persist_loop(self) -> None:
        while True:
            await self._persist_wanted.wait()
            self._persist_wanted.clear()
            try:
                await self.flush()
            except Exception as exc:
                self.store_error = f"{type(exc).__name__}: {exc}"[:300]
                log.error("notifications: cannot store incidents and deliveries: %s", self.store_error)
                await asyncio.sleep(5.0)
                self._persist_wanted.set()

    async def flush(self) -> None:
        """Store what changed. The changes are copied on the event loop (where they are made) and written
        in a worker thread; one write at a time, and what fails to be written is kept for the next."""
        async with self._persist_lock:
            ids = set(self.book.dirty)
            closed = {incident.id: incident for incident in self.book.take_closed()}
            found = [self.book.by_id.get(i) or closed.get(i) for i in ids]
            incidents = [copy.deepcopy(i) for i in found if i is not None]
            attempts = list(self._attempts)
            if not incidents and not attempts:
                return
            self.book.dirty.difference_update(ids)
            del self._attempts[: len(attempts)]
            try:
                await asyncio.to_thread(self._write, incidents, attempts, self.clock())
            except BaseException:
                self.book.dirty.update(ids)
                self.book.closed.update(closed)
                self._attempts[:0] = attempts
                raise
            self.store_error = None

    def _write(self, incidents: list[Incident], attempts: list[DeliveryAttempt], now: float) -> None:
        with self._session_factory() as session, session.begin():
            save_incidents(session, incidents=incidents, now=now)
            add_deliveries(session, attempts=attempts)

    async def wait_idle(self, timeout_s: float = 10.0) -> None:
        """Until the bus queue is empty and no send is running (tests)."""
        deadline = time.monotonic() + timeout_s
        while self.subscription.pending() or self._inflight:
            if time.monotonic() > deadline:
                raise TimeoutError("notifications still busy")
            await asyncio.sleep(0.005)
        await asyncio.sleep(0)

    # ------------------------------------------------------------------ heartbeat

    async def _heartbeat(self) -> None:
        """Ping the dead-man URL only while the safety loop is ticking, so a frozen GasGuard goes quiet."""
        assert self.config.heartbeat_url is not None and self.heartbeat_alive is not None
        last = self.heartbeat_alive()
        while True:
            await asyncio.sleep(self.config.heartbeat_every_s)
            now_count = self.heartbeat_alive()
            if now_count == last:
                self.heartbeat["skipped_stalled"] = int(self.heartbeat["skipped_stalled"] or 0) + 1
                log.warning("notifications: the safety loop has not ticked; heartbeat withheld")
                continue
            last = now_count
            values: list[str] = []
            try:
                url, values = expand(self.config.heartbeat_url, self._env)
                self.sender.redactor.add(values)
                await asyncio.to_thread(_ping, url)
                self.heartbeat["sent"] = int(self.heartbeat["sent"] or 0) + 1
                self.heartbeat["last_error"] = None
            except (MissingSecretError, OSError, ValueError) as exc:
                self.heartbeat["failed"] = int(self.heartbeat["failed"] or 0) + 1
                self.heartbeat["last_error"] = redact(f"{type(exc).__name__}: {exc}", values)[:300]
                log.warning("notifications: heartbeat failed: %s", self.heartbeat["last_error"])

    # ------------------------------------------------------------------ health

    def health(self) -> ComponentHealth:
        failing = sorted(name for name, h in self.routes.items() if h.failing)
        missing = sorted(
            {name for route in self.config.routes for url in route.urls for name in _missing(url, self._env)}
        )
        detail: dict[str, Any] = {
            "running": self.started,
            "open_incidents": len(self.book.open),
            "retries_pending": len(self._jobs),
            "sending": len(self._inflight),
            "dropped": self.subscription.dropped,
            "routes": {name: h.to_json() for name, h in self.routes.items()},
            "failing_routes": failing,
            "public_url": self.composer.public_url,
        }
        if missing:
            detail["missing_environment"] = missing
        if self.store_error:
            detail["store_error"] = self.store_error
        if self.config.heartbeat_url:
            detail["heartbeat"] = dict(self.heartbeat)
        degraded = bool(failing or missing or self.store_error or self.subscription.dropped)
        return ComponentHealth(ComponentStatus.DEGRADED if degraded else ComponentStatus.OK, detail)


def _missing(url: str, env: Mapping[str, str]) -> list[str]:
    try:
        expand(url, env)
    except MissingSecretError as exc:
        return [str(exc).split()[2]]
    return []


def _ping(url: str) -> None:
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "GasGuard heartbeat"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read(1024)


class NotificationsCollector(Collector):
    """``/metrics``: deliveries and failures per route, routes failing now, open incidents."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sent = GaugeMetricFamily("gasguard_notifications_sent", "Messages accepted, per route", labels=["route"])
        failed = GaugeMetricFamily(
            "gasguard_notifications_failed", "Failed delivery attempts, per route", labels=["route"]
        )
        failing = GaugeMetricFamily(
            "gasguard_notifications_route_failing", "1 while a route's latest attempt failed", labels=["route"]
        )
        for name, health in self._notifier.routes.items():
            sent.add_metric([name], health.sent)
            failed.add_metric([name], health.failed)
            failing.add_metric([name], 1.0 if health.failing else 0.0)
        yield sent
        yield failed
        yield failing
        yield GaugeMetricFamily(
            "gasguard_notifications_open_incidents",
            "Incidents not yet reset or cleared",
            value=len(self._notifier.book.open),
        )


def attach_notifications(
    runtime: Runtime,
    *,
    env: Mapping[str, str] | None = None,
    poll_s: float = 0.25,
) -> Notifier | None:
    """Start notifications for a runtime whose site file has a ``notifications:`` block (else nothing)."""
    config = runtime.site.notifications
    if config is None or (not config.routes and not config.heartbeat_url):
        return None
    services = runtime.services
    settings = services.settings
    public_url = settings.public_url
    if public_url is None:
        log.warning(
            "notifications: GASGUARD_PUBLIC_URL is not set, so messages carry no dashboard or acknowledge links"
        )
    pipeline = runtime.pipeline
    notifier = Notifier(
        config,
        runtime.site,
        bus=services.bus,
        session_factory=services.session_factory,
        clock=runtime.clock,
        secret_key=settings.resolved_secret_key(),
        public_url=public_url,
        env=env,
        poll_s=poll_s,
        runtime=runtime,
        heartbeat_alive=lambda: int(pipeline.counters.get("events", 0)),
    )
    services.health_checks["notifications"] = notifier.health
    services.background.append(notifier.run)
    with contextlib.suppress(ValueError):  # already registered for these services
        services.registry.register(NotificationsCollector(notifier))
    register(services, notifier)
    return notifier
