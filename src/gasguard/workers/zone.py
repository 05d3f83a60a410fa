"""One owned zone inside a worker: the unchanged ``Runtime`` and ``SafetyPipeline`` built for a site file
cut down to that zone, its snapshot fenced by the lease, and its readings from the zone's own MQTT
session.

Why a session per zone (client id ``gasguard-zone-<site>-<zone>``, clean session off, QoS 1) and not
a shared subscription: readings belong to the zone, not to whichever worker runs it. While the owner
is dead and before a standby takes over, the broker queues the zone's QoS 1 readings in that
session; the new owner connects with the same client id and receives them, so no reading the broker
acknowledged to a detector is lost across a takeover (up to the broker's ``max_queued_messages``,
see deploy/compose/mosquitto.conf). A shared subscription (``$share/...``) would instead hand a zone's
readings to any worker, and the ones sent to the dead worker's session would be dropped. Connecting
with the same client id also disconnects a paused former owner from the zone's readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiomqtt
from sqlalchemy import Engine

from gasguard.actuators.factory import build_output_drivers, build_valve_drivers, close_drivers
from gasguard.config import SiteConfig
from gasguard.domain import ValveState
from gasguard.ingest.mqtt import MqttReadingSource
from gasguard.mqtt_client import BrokerAddress, make_client
from gasguard.runtime import Runtime, UnknownChannelError, initial_state
from gasguard.services import Services
from gasguard.storage.snapshots import PLANT_SCOPE, SnapshotStore, load_snapshot, save_snapshot
from gasguard.workers.lease import LeaseTable

log = logging.getLogger(__name__)


class LeaseLostError(RuntimeError):
    """A snapshot write was refused because the writer no longer holds the zone's lease."""


def site_for_zone(site: SiteConfig, zone_id: str) -> SiteConfig:
    """The site file with only ``zone_id`` (and the outputs that only that zone drives)."""
    for entry, zone in site.zones():
        if zone.id != zone_id:
            continue
        outputs = [o for o in entry.outputs if isinstance(o.zones, list) and o.zones == [zone_id]]
        skipped = [o.id for o in entry.outputs if o not in outputs]
        if skipped:
            log.warning("outputs %s span several zones and are not driven by a zone worker", ", ".join(skipped))
        sub = entry.model_copy(update={"zones": [zone], "outputs": outputs})
        return site.model_copy(update={"sites": [sub]})
    raise KeyError(f"zone {zone_id!r} is not in the site file")


class FencedSnapshotStore(SnapshotStore):
    """The zone's snapshot (scope = zone id), written only while our lease token is current.

    Loading falls back to the single-process ``plant`` snapshot, so a site moving from one process to
    workers keeps its latched trips and closed valves."""

    def __init__(
        self,
        engine: Engine,
        session_factory: Callable[[], Any],
        leases: LeaseTable,
        *,
        zone: str,
        owner: str,
        token: int,
    ) -> None:
        super().__init__(session_factory, scope=zone)
        self._engine = engine
        self._leases = leases
        self._owner = owner
        self._token = token

    def _write(self, data: dict[str, Any], saved_at: float) -> None:
        with self._session_factory() as session, session.begin():
            if not self._leases.holds(session.connection(), self.scope, self._owner, self._token):
                raise LeaseLostError(f"lease on zone {self.scope} lost; snapshot not stored")
            save_snapshot(session, scope=self.scope, data=data, saved_at=saved_at)

    def load(self) -> tuple[dict[str, Any], float] | None:
        with self._session_factory() as session:
            return load_snapshot(session, scope=self.scope) or load_snapshot(session, scope=PLANT_SCOPE)


class ZoneReadingSource(MqttReadingSource):
    """Readings of one zone from its persistent MQTT session (see the module docstring)."""

    def __init__(self, broker: BrokerAddress, *, prefix: str, site: str, zone: str, **kwargs: Any) -> None:
        super().__init__(broker, prefix=prefix, site=site, client_id=f"gasguard-zone-{site}-{zone}", **kwargs)
        self.subscription = f"{prefix}/{site}/{zone}/+/reading"
        self._client: aiomqtt.Client | None = None
        self._submit: Callable[[Any], None] | None = None
        self._handed_over = False

    async def feed(self, submit: Callable[[Any], None]) -> None:
        """Connect (same client id, clean session off), subscribe at QoS 1 and submit every reading.

        After ``hand_over`` it stays idle (never reconnects) until the zone's task is cancelled."""
        client = make_client(self.broker, client_id=self.client_id, availability_topic=None, clean_session=False)
        self._client, self._submit = client, submit
        try:
            async with client:
                self.stats.connected = True
                self.stats.connects += 1
                await client.subscribe(self.subscription, qos=1)
                log.info("zone session %s subscribed to %s", self.client_id, self.subscription)
                try:
                    async for message in client.messages:
                        self._take(message, submit)
                finally:
                    self.stats.connected = False
        except aiomqtt.MqttError:
            if not self._handed_over:
                raise
        if self._handed_over:
            await asyncio.Event().wait()

    def _take(self, message: aiomqtt.Message, submit: Callable[[Any], None]) -> None:
        payload = message.payload if isinstance(message.payload, bytes | str) else b""
        incoming = self.handle(message.topic.value, payload)
        if incoming is None:
            return
        for reading in incoming.parsed.readings:
            try:
                submit(reading)
            except UnknownChannelError as exc:
                log.warning("reading for a channel the site file lacks: %s", exc)

    def hand_over(self) -> int:
        """Stop reading the zone's session without losing what it has already acknowledged; the number
        of readings messages handed to the safety step here.

        The client acknowledges each message as it reads it from the socket, before the safety step
        sees it, so messages can sit acknowledged in its queue. Disconnecting first (the DISCONNECT
        goes out after the acknowledgements already queued) makes the broker queue everything newer
        for the session, for the next owner; what was read before it is then submitted here, at once,
        so the pipeline's drain decides it before the snapshot is stored. A message read after the
        DISCONNECT is never acknowledged, and the broker delivers it again to the next owner."""
        self._handed_over = True
        client, submit = self._client, self._submit
        if client is None or submit is None:
            return 0
        with contextlib.suppress(Exception):
            client._client.disconnect()  # paho's DISCONNECT, queued behind the PUBACKs already pending
        queue: asyncio.Queue[aiomqtt.Message] = client._queue  # read and acknowledged
        taken = 0
        while True:
            try:
                message = queue.get_nowait()
            except asyncio.QueueEmpty:
                return taken
            self._take(message, submit)
            taken += 1


class LeaseGatedDriver:
    """A valve or output driver that drops commands once our lease deadline has passed.

    The zone task is cancelled at the deadline anyway; this closes the gap of a worker that was paused
    (SIGSTOP, a VM migration, a long GC) past its deadline and, on waking, runs a pipeline step before
    its deadline watcher: no command leaves a worker that no longer holds the zone. Everything else
    (feedback, heartbeats, ``aclose``) is the wrapped driver's own."""

    def __init__(self, driver: Any, allowed: Callable[[], bool], zone: str) -> None:
        self._driver = driver
        self._allowed = allowed
        self._zone = zone
        self.dropped = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)

    def attach(self, report: Any) -> None:
        self._driver.attach(report)

    def _gate(self, what: object) -> bool:
        if self._allowed():
            return True
        self.dropped += 1
        log.error("zone %s: %s not sent, this worker no longer holds the zone's lease", self._zone, what)
        return False

    async def drive(self, action: Any) -> None:
        if self._gate(action):
            await self._driver.drive(action)

    async def set(self, mode: Any) -> None:
        if self._gate(mode):
            await self._driver.set(mode)


class OwnedZone:
    """A zone this worker owns: its runtime running as a task, stopped the moment the lease is gone."""

    def __init__(
        self,
        site: SiteConfig,
        zone: str,
        services: Services,
        *,
        engine: Engine,
        leases: LeaseTable,
        owner: str,
        token: int,
        broker: BrokerAddress | None,
        clock: Callable[[], float],
        allowed: Callable[[], bool] = lambda: True,
        tick_s: float = 0.5,
    ) -> None:
        self.zone = zone
        self.token = token
        subsite = site_for_zone(site, zone)
        prefix = services.settings.mqtt_topic_prefix
        store = FencedSnapshotStore(engine, services.session_factory, leases, zone=zone, owner=owner, token=token)
        self.store = store
        state, initial = initial_state(subsite, store, clock())
        self.runtime = Runtime(
            subsite,
            services,
            state,
            initial,
            valves={
                vid: LeaseGatedDriver(d, allowed, zone)
                for vid, d in build_valve_drivers(subsite, mqtt=broker, prefix=prefix).items()
            },
            outputs={
                oid: LeaseGatedDriver(d, allowed, zone)
                for oid, d in build_output_drivers(subsite, mqtt=broker, prefix=prefix).items()
            },
            snapshots=store,
            clock=clock,
            tick_s=tick_s,
        )
        self.source: ZoneReadingSource | None = None
        if broker is not None:
            site_id = subsite.sites[0].id
            self.source = ZoneReadingSource(broker, prefix=prefix, site=site_id, zone=zone, clock=clock)
            source = self.source

            async def consume(rt: Runtime) -> None:
                await source.feed(rt.submit_reading)

            self.runtime.add_source(f"mqtt-zone-{zone}", consume, lambda: {"connected": source.stats.connected})
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.runtime.run(), name=f"zone-{self.zone}")

    @property
    def received(self) -> int:
        """Readings this zone's MQTT session has received and parsed so far."""
        return self.source.stats.readings if self.source is not None else 0

    @property
    def tripped(self) -> bool:
        return bool(self.runtime.pipeline.state.zones[self.zone].tripped)

    @property
    def valve_moving(self) -> bool:
        """A valve of the zone is closing or opening (the zone is not handed over until it arrives)."""
        valves = self.runtime.pipeline.state.zones[self.zone].valves.values()
        return any(v.state in (ValveState.CLOSING, ValveState.OPENING) for v in valves)

    async def stop(self, *, orderly: bool) -> bool:
        """Stop driving the zone now. ``orderly``: also store the newest snapshot (while the lease is
        still ours); after a lost lease nothing is written, the next owner restores what was stored.

        Returns whether the zone's newest state is stored: a worker hands a zone over (releases its
        lease early) only then; otherwise the lease runs out and the next owner restores the snapshot
        stored last, exactly as after a crash."""
        task = self._task
        stored = False
        if orderly:
            if self.source is not None:
                taken = self.source.hand_over()  # before the pipeline's drain, which then decides them
                if taken:
                    log.info("zone %s: %d readings read before the hand-over decided", self.zone, taken)
            await self.runtime.stop()
            stored = await self.store.flush()  # nothing left to write: True; the database refused: False
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not orderly:
            await close_drivers(self.runtime.valves)
            await close_drivers(self.runtime.outputs)
        return stored
