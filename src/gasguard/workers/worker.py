"""``gasguard serve --role worker``: own zones through leases, run their safety pipelines, give them up
the moment a lease cannot be renewed, and take over zones whose owner died.

The worker is two loops over leases (``gasguard.workers.lease``) around ``OwnedZone``s:

- the renewal loop renews every lease it holds, in one statement, every ``renew_every_s``; it does
  nothing else, so taking or handing over zones never delays a renewal;
- the ownership loop, as often, says the worker is alive (``worker_presence``), reads the leases and
  the live workers, and takes or hands over zones: a pinned worker (``--zones``) takes its free zones,
  first come; a balancing worker (no ``--zones``) follows ``gasguard.workers.balance``: its share of
  the zones among the live balancing workers, surplus handed over in order (snapshot stored, lease
  released) only to a worker with room for it.

A separate deadline watcher, on the monotonic clock and independent of the database calls (which may
hang), stops a zone whose last successful renewal was sent more than ``hold_s`` ago: before its lease
can expire for anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine

from gasguard.config import SiteConfig
from gasguard.domain import OperatorCommand, OperatorResult
from gasguard.ingest.mqtt import MqttPublisher
from gasguard.mqtt_client import BrokerAddress
from gasguard.services import Services
from gasguard.workers.balance import plan
from gasguard.workers.decisions import DecisionLatency
from gasguard.workers.lease import LeaseTable, LeaseTiming
from gasguard.workers.zone import OwnedZone

log = logging.getLogger(__name__)

DEADLINE_CHECK_S = 0.1
"""How often held leases are checked against their deadlines (seconds)."""


def worker_id() -> str:
    """A name that says which process on which machine owns a zone (shown in health and refusals)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Held:
    """A zone we own: its runtime, the lease token and our own deadline (monotonic seconds)."""

    zone: OwnedZone
    token: int
    deadline: float


@dataclass
class WorkerStats:
    acquired: int = 0
    lost: int = 0
    handed_over: int = 0
    share: int | None = None
    live_workers: int | None = None
    last_error: str | None = None
    takeovers: list[dict[str, Any]] = field(default_factory=list)


class ZoneWorker:
    """Leases in, zone runtimes out (see the module docstring)."""

    def __init__(
        self,
        site: SiteConfig,
        services: Services,
        *,
        candidates: list[str],
        broker: BrokerAddress | None,
        balancing: bool = False,
        lease_engine: Engine | None = None,
        timing: LeaseTiming = LeaseTiming(),
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.site = site
        self.services = services
        self.candidates = list(candidates)
        self.balancing = balancing
        self.broker = broker
        self.timing = timing
        self.owner = owner or worker_id()
        self.clock = clock
        self.monotonic = monotonic
        # Leases on their own small pool, so a slow reading writer never delays a renewal.
        url = services.settings.resolved_database_url()
        self.engine = lease_engine or create_engine(
            url, pool_size=2, max_overflow=2, pool_pre_ping=True, connect_args={"connect_timeout": 2}
        )
        self.leases = LeaseTable(self.engine)
        self.held: dict[str, Held] = {}
        self.stats = WorkerStats()
        self._free_since: dict[str, float] = {}
        self._received_before = 0  # readings received by zones no longer held (health's "received")
        zone_of = {ch.id: zone.id for _entry, zone in site.zones() for ch in zone.channels}
        self.decisions = DecisionLatency(zone_of.get, clock=clock)
        """Reading -> decision latency of every zone this worker has run (health; the load benchmark)."""

    # ------------------------------------------------------------------ lease loop

    async def run(self) -> None:
        """Renew, take, hand over and watch deadlines until cancelled; then give every zone up in order."""
        watcher = asyncio.create_task(self._watch_deadlines(), name="lease-deadlines")
        renewer = asyncio.create_task(self._every_round(self._renew, "lease renewal"), name="lease-renewals")
        try:
            await self._every_round(self._round, "ownership round")
        finally:
            for task in (watcher, renewer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.release_all()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.leases.leave, self.owner)

    async def _every_round(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        while True:
            started = self.monotonic()
            try:
                await step()
            except Exception as exc:  # the database is away: deadlines still stop our zones in time
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("%s failed: %s", what, self.stats.last_error)
            await asyncio.sleep(max(0.0, self.timing.renew_every_s - (self.monotonic() - started)))

    async def _renew(self) -> None:
        """Renew every lease we hold in one statement; a zone not renewed is lost at once."""
        tokens = {zone_id: held.token for zone_id, held in self.held.items()}
        if not tokens:
            return
        sent = self.monotonic()
        renewed = await asyncio.to_thread(self.leases.renew_many, self.owner, tokens, self.timing.ttl_s)
        for zone_id, token in tokens.items():
            held = self.held.get(zone_id)
            if held is None or held.token != token:
                continue  # lost to its deadline or handed over while the renewal was in flight
            if zone_id in renewed:
                held.deadline = sent + self.timing.hold_s
            else:
                await self._lose(zone_id, "the lease was not renewed in time (another worker may own it)")

    async def _round(self) -> None:
        """Presence first (so a dead worker's presence expires before its leases do), then ownership."""
        await asyncio.to_thread(self.leases.beat, self.owner, balancing=self.balancing, ttl_s=self.timing.ttl_s)
        view = await asyncio.to_thread(self.leases.view)
        now = self.monotonic()
        owners = {zone_id: view.owner(zone_id) for zone_id in self.candidates}
        for zone_id, owner in owners.items():
            if owner is None and zone_id not in self.held:
                self._free_since.setdefault(zone_id, now)
            else:
                self._free_since.pop(zone_id, None)
        self.stats.live_workers = len(view.workers)
        if not self.balancing:
            take = [zone_id for zone_id, owner in owners.items() if owner is None and zone_id not in self.held]
        else:
            decided = plan(
                me=self.owner,
                zones=self.candidates,
                mine=list(self.held),
                owners=owners,
                balancing=[w for w, info in view.workers.items() if info.balancing],
                free_for_s={zone_id: now - since for zone_id, since in self._free_since.items()},
                tripped=lambda zone_id: (held := self.held.get(zone_id)) is not None and held.zone.tripped,
                moving=lambda zone_id: (held := self.held.get(zone_id)) is not None and held.zone.valve_moving,
            )
            self.stats.share = decided.share
            take = decided.take
            for zone_id in decided.give_up:
                await self._hand_over(zone_id, decided.share)
        for zone_id in take:
            if zone_id in self.held:
                continue
            sent = self.monotonic()
            token = await asyncio.to_thread(self.leases.acquire, zone_id, self.owner, self.timing.ttl_s)
            if token is not None:
                self._free_since.pop(zone_id, None)
                await self._take(zone_id, token, deadline=sent + self.timing.hold_s)

    async def _hand_over(self, zone_id: str, share: int) -> None:
        """Give a surplus zone to a worker with room: stop it, store its snapshot while the lease is
        still ours, then release the lease so the taker's next poll gets it. If the snapshot could not
        be stored the lease is not released: it runs out, and the taker restores the snapshot stored
        last, as after a crash (the zone is never restored from older state than failover would)."""
        held = self.held.pop(zone_id, None)
        if held is None:
            return
        self._received_before += held.zone.received
        stored = await held.zone.stop(orderly=True)
        if not stored:
            log.error("zone %s: snapshot not stored on hand-over; its lease is left to expire", zone_id)
            return
        await asyncio.to_thread(self.leases.release, zone_id, self.owner, held.token)
        self.stats.handed_over += 1
        log.warning(
            "worker %s handed zone %s over (holds %d, share %d): snapshot stored, lease released",
            self.owner,
            zone_id,
            len(self.held),
            share,
        )

    async def _take(self, zone_id: str, token: int, *, deadline: float) -> None:
        began = self.clock()
        # Built on the loop: drivers may make asyncio objects; the snapshot read is one short query.
        zone = OwnedZone(
            self.site,
            zone_id,
            self.services,
            engine=self.engine,
            leases=self.leases,
            owner=self.owner,
            token=token,
            broker=self.broker,
            clock=self.clock,
            allowed=lambda: self._holds(zone_id, token),
        )
        if self.monotonic() >= deadline:
            log.warning("zone %s restored too late for its lease deadline; not started", zone_id)
            return
        zone.runtime.add_observer(self.decisions)
        zone.start()
        self.held[zone_id] = Held(zone, token, deadline)
        self.stats.acquired += 1
        record = {"zone": zone_id, "token": token, "at": began, "restored_s": round(self.clock() - began, 3)}
        record["tripped"] = zone.tripped
        self.stats.takeovers.append(record)
        log.warning(
            "worker %s owns zone %s (lease token %d; restored %s in %.2f s)",
            self.owner,
            zone_id,
            token,
            "tripped" if zone.tripped else "not tripped",
            record["restored_s"],
        )

    async def _lose(self, zone_id: str, why: str) -> None:
        held = self.held.pop(zone_id, None)
        if held is None:
            return
        self._received_before += held.zone.received
        self.stats.lost += 1
        log.error("worker %s stops driving zone %s: %s", self.owner, zone_id, why)
        await held.zone.stop(orderly=False)

    async def _watch_deadlines(self) -> None:
        while True:
            now = self.monotonic()
            for zone_id, held in list(self.held.items()):
                if now >= held.deadline:
                    await self._lose(zone_id, f"no lease renewal for {self.timing.hold_s:.0f} s")
            await asyncio.sleep(DEADLINE_CHECK_S)

    async def release_all(self) -> None:
        """Orderly stop: store each zone's snapshot while the lease is ours, then release the lease so a
        standby takes over at once instead of waiting for the expiry."""
        for zone_id, held in list(self.held.items()):
            self.held.pop(zone_id, None)
            with contextlib.suppress(Exception):
                await held.zone.stop(orderly=True)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.leases.release, zone_id, self.owner, held.token)
            log.info("worker %s released zone %s", self.owner, zone_id)

    def _holds(self, zone_id: str, token: int) -> bool:
        held = self.held.get(zone_id)
        return held is not None and held.token == token and self.monotonic() < held.deadline

    def operate_owned(self, zone_id: str, command: OperatorCommand) -> Awaitable[OperatorResult] | None:
        """Run an operator command on a zone we hold now; ``None`` (stay silent) for any other zone."""
        held = self.held.get(zone_id)
        if held is None or self.monotonic() >= held.deadline:
            return None
        return held.zone.runtime.operate(command)

    # ------------------------------------------------------------------ views

    def health(self) -> dict[str, Any]:
        return {
            "worker": self.owner,
            "candidates": self.candidates,
            "balancing": self.balancing,
            "share": self.stats.share,
            "live_workers": self.stats.live_workers,
            "handed_over": self.stats.handed_over,
            "received": self._received_before + sum(h.zone.received for h in self.held.values()),
            "decisions": self.decisions.to_json(),
            "owns": {
                zone_id: {
                    "token": h.token,
                    "tripped": h.zone.tripped,
                    "deadline_in_s": round(h.deadline - self.monotonic(), 2),
                }
                for zone_id, h in self.held.items()
            },
            "acquired": self.stats.acquired,
            "lost": self.stats.lost,
            "takeovers": self.stats.takeovers[-10:],
            "last_error": self.stats.last_error,
        }


async def forward_events(services: Services, broker: BrokerAddress, *, publish_audit: bool) -> None:
    """Everything on the worker's bus out to the broker (``gasguard/events/<kind>``): the stored events,
    its zones' state events and throttled readings (``runtime.feed``). What the web tier follows live."""
    publisher = MqttPublisher(broker, prefix=services.settings.mqtt_topic_prefix, publish_audit=publish_audit)
    subscription = services.bus.subscribe(maxsize=10_000)
    pump = asyncio.create_task(publisher.run())
    try:
        async for message in subscription:
            await publisher.publish(message)
    finally:
        pump.cancel()
