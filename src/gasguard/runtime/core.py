"""``Runtime``: one process's live safety pipeline with the valves, outputs, sources, models and
cameras of the zones it owns, wired together and run.

Sources (MQTT, Modbus, HTTP ingest, the demo's simulated plant, dataset replay) only call
``submit_reading``; cameras and models only submit ``MlSignal``s. Nothing here sits between a
reading and the safety step except the pipeline's inbox. What the pipeline did leaves through the
taps in ``feed`` (storage, observers, the state events the read model is folded from); the runtime
builds no dashboard JSON and knows nothing of the web app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gasguard.actuators.base import OutputDriver, ValveDriver
from gasguard.actuators.factory import close_drivers, run_drivers
from gasguard.config import SiteConfig
from gasguard.domain import MlSignal, OperatorCommand, OperatorResult, Output, Reading, ZoneTripChanged
from gasguard.notify import FanoutBus, Message
from gasguard.pipeline import SafetyPipeline
from gasguard.runtime.feed import OutputTap, ReadingTap, StateFeed
from gasguard.runtime.parts import (
    Camera,
    GasIdentification,
    ModelInfo,
    Observer,
    SourceFactory,
    SourceStatus,
    UnknownChannelError,
)
from gasguard.runtime.supervision import STORAGE_WATCH_S, run_camera, supervise, watch_storage
from gasguard.safety.interlock import PlantState
from gasguard.safety.snapshot import to_snapshot
from gasguard.services import Services
from gasguard.storage.snapshots import SnapshotStore

log = logging.getLogger(__name__)


class Runtime:
    """Everything live about one GasGuard process: the zones it owns and what feeds and serves them."""

    def __init__(
        self,
        site: SiteConfig,
        services: Services,
        state: PlantState,
        initial_outputs: Sequence[Output],
        *,
        valves: Mapping[str, ValveDriver],
        snapshots: SnapshotStore,
        clock: Callable[[], float],
        tick_s: float,
        outputs: Mapping[str, OutputDriver] | None = None,
    ) -> None:
        self.site = site
        self.services = services
        self.bus: FanoutBus = services.bus
        self.clock = clock
        self.valves = dict(valves)
        self.outputs = dict(outputs or {})
        self.snapshots = snapshots
        self.feed = StateFeed(self)
        self.pipeline = SafetyPipeline(
            state,
            valves=self.valves,
            outputs=self.outputs,
            events=OutputTap(self, self.feed),
            readings=ReadingTap(self, self.feed),
            snapshots=self.snapshots,
            clock=clock,
            tick_s=tick_s,
        )
        self.observers: list[Observer] = []
        self.models: list[ModelInfo] = []
        self.cameras: dict[str, Camera] = {}
        self.identifications: dict[str, GasIdentification] = {}
        self.model_errors = 0
        """Inputs a model could not use (counted by the models; shown in health)."""
        self.sources: dict[str, SourceStatus] = {}
        self._source_factories: dict[str, SourceFactory] = {}
        self._initial_outputs = list(initial_outputs)
        self._zone_of_channel: dict[str, str] = {}
        self._zone_of_valve: dict[str, str] = {}
        self._site_of_zone: dict[str, str] = {}
        for site_entry, zone in site.zones():
            self._site_of_zone[zone.id] = site_entry.id
            self._zone_of_channel.update({ch.id: zone.id for ch in zone.channels})
            self._zone_of_valve.update({valve.id: zone.id for valve in zone.valves})
        self.started_at: float | None = None
        self.running = False
        self._pipeline_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ wiring

    def add_source(
        self, name: str, factory: SourceFactory, detail: Callable[[], Mapping[str, Any]] | None = None
    ) -> None:
        """Register a reading source, run (and restarted after a failure) while the runtime runs."""
        if name in self._source_factories:
            raise ValueError(f"source {name!r} is already registered")
        self._source_factories[name] = factory
        self.sources[name] = SourceStatus(name, detail=detail)

    def add_observer(self, observer: Observer) -> None:
        self.observers.append(observer)

    def notify_observers(self, item: Reading | Output) -> None:
        for observer in self.observers:
            try:
                observer(item)
            except Exception:
                log.exception("observer %s failed", getattr(observer, "__qualname__", observer))

    def add_camera(self, camera: Camera) -> None:
        if camera.zone not in self._site_of_zone:
            raise ValueError(f"camera {camera.id!r} watches unknown zone {camera.zone!r}")
        self.cameras[camera.id] = camera
        attach = getattr(camera, "attach_storage", None)
        if callable(attach):  # its commissioned scene and evidence clips live in <data_dir>/cameras/<id>
            settings = self.services.settings
            zone = camera.zone
            attach(
                settings.data_dir / "cameras" / camera.id,
                zone_alarm=lambda: self._zone_in_alarm(zone),
                clip_retention_days=settings.camera_clip_retention_days,
                clip_max_bytes=settings.camera_clip_max_mb * 1_000_000,
            )
        mark = getattr(camera, "mark_event", None)
        if callable(mark):  # a trip of the camera's zone keeps an evidence clip too
            self.add_observer(lambda item: _clip_on_trip(camera, mark, item))
        self.feed.zone(camera.zone)  # the zone's state names its cameras

    def _zone_in_alarm(self, zone_id: str) -> bool:
        """Tripped or any alarm active: a camera's scene baseline must not adapt meanwhile."""
        zone = self.pipeline.state.zones.get(zone_id)
        return zone is None or zone.tripped or any(alarm.active for alarm in zone.all_alarms())

    # ------------------------------------------------------------------ inputs

    def submit_reading(self, reading: Reading) -> None:
        """Queue a reading for the safety step. Unknown channels are refused, never silently dropped."""
        if reading.channel not in self._zone_of_channel:
            raise UnknownChannelError(reading.channel)
        self.pipeline.submit(reading)

    def submit_signal(self, signal: MlSignal) -> None:
        if signal.zone not in self._site_of_zone:
            log.error("ML signal for unknown zone %s ignored", signal.zone)
            return
        self.pipeline.submit(signal)

    def identify(self, identification: GasIdentification) -> None:
        """Record and push a gas identification (advisory: shown to operators, it trips nothing)."""
        self.identifications[identification.zone] = identification
        self.bus.publish_nowait(Message(topic="identification", payload=identification.to_json(), ts=self.clock()))

    async def operate(self, command: OperatorCommand) -> OperatorResult:
        """Run an operator command through the safety core; returns once its audit event is stored."""
        result = await self.pipeline.request(command)
        await self.services.recorder.wait_recorded()
        return result

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Run the pipeline, the sources, the cameras and the snapshot writer until cancelled."""
        self.running = True
        self.started_at = self.clock()
        self.pipeline.apply(self._initial_outputs, ts=self.started_at)
        self._initial_outputs = []
        tasks = [
            asyncio.create_task(self.pipeline.run(), name="safety-pipeline"),
            asyncio.create_task(self.snapshots.run(), name="snapshot-store"),
            asyncio.create_task(run_drivers(self.valves), name="valve-drivers"),
            asyncio.create_task(run_drivers(self.outputs), name="output-drivers"),
            asyncio.create_task(self._watch_storage(), name="storage-watch"),
            asyncio.create_task(self.feed.run(), name="state-feed"),
        ]
        tasks += [
            asyncio.create_task(supervise(self, self.sources[name], factory), name=f"source-{name}")
            for name, factory in self._source_factories.items()
        ]
        tasks += [
            asyncio.create_task(run_camera(self, camera, self.submit_signal), name=f"camera-{camera.id}")
            for camera in self.cameras.values()
        ]
        self._pipeline_task = tasks[0]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.running = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Orderly shutdown step: stop the loop, process what is queued, store the newest safety snapshot."""
        task = self._pipeline_task
        if task is not None and not task.done():
            # One writer of the safety state at a time: the loop stops before the drain.
            self.pipeline.stop()
            done, _ = await asyncio.wait({task}, timeout=5.0)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 5.0)
        with contextlib.suppress(Exception):
            await self.pipeline.drain()
        with contextlib.suppress(Exception):
            self.snapshots.save(to_snapshot(self.pipeline.state), saved_at=self.clock())
            await self.snapshots.flush()
        await close_drivers(self.valves)
        await close_drivers(self.outputs)

    async def _watch_storage(self, every_s: float = STORAGE_WATCH_S) -> None:
        """The reading writer watched for an outage (``supervision.watch_storage``)."""
        await watch_storage(self, every_s)

    # ------------------------------------------------------------------ lookups

    def zone_of_channel(self, channel_id: str) -> str | None:
        return self._zone_of_channel.get(channel_id)

    def zone_of_valve(self, valve_id: str) -> str | None:
        return self._zone_of_valve.get(valve_id)


def _clip_on_trip(camera: Camera, mark: Callable[[str], Any], item: Reading | Output) -> None:
    if isinstance(item, ZoneTripChanged) and item.tripped and item.zone == camera.zone and camera.latest() is not None:
        mark(f"zone {item.zone} tripped: {item.cause}"[:200])
