"""The live runtime: one site's safety pipeline with its valves, sources, models and cameras, wired up.

``build_runtime(site, services)`` is the composition root of a running GasGuard. It restores the
safety state from the stored snapshot (latched trips and closed valves survive a restart) or, with
none, starts in the safe state; builds one driver per configured valve and output; feeds the pipeline's
outputs to the event recorder (stored, then pushed) and its readings to the batched writer; and
adds its tasks to ``services.background`` so the web app runs them for as long as it serves.

Sources (MQTT, Modbus, HTTP ingest, the demo's simulated plant, dataset replay) only call
``submit_reading``; cameras and models only submit ``MlSignal``s. Nothing here sits between a
reading and the safety step except the pipeline's inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from gasguard.actuators.base import OutputDriver, ValveDriver
from gasguard.actuators.factory import build_output_drivers, build_valve_drivers, close_drivers, run_drivers
from gasguard.config import (
    ModbusOutputDriver,
    MqttOutputDriver,
    OutputConfig,
    SiteConfig,
)
from gasguard.domain import MlSignal, OperatorCommand, OperatorResult, Output, Reading, SystemFault, ZoneTripChanged
from gasguard.maintenance.service import attach_maintenance
from gasguard.mqtt_client import BrokerAddress
from gasguard.notify import FanoutBus, Message
from gasguard.pipeline import SafetyPipeline
from gasguard.safety.interlock import PlantState, cold_start
from gasguard.safety.snapshot import SnapshotError, restore, to_snapshot
from gasguard.services import Services
from gasguard.services.health import ComponentHealth
from gasguard.storage.events import EventKind, EventRecord
from gasguard.storage.snapshots import SnapshotStore
from gasguard.storage.writer import ComponentStatus

log = logging.getLogger(__name__)

READING_PUSH_INTERVAL_S = 1.0
"""Live readings are pushed to clients at most this often per channel (every reading is still stored)."""

SOURCE_RESTART_S = (1.0, 30.0)
"""A source task that fails is restarted after a backoff between these bounds (seconds)."""

STORAGE_WATCH_S = 2.0
"""How often the reading writer's health is checked for an outage or lost readings (seconds)."""

STORAGE_COMPONENT = "storage"
"""The ``SystemFault`` component raised while storage is down past its buffer (it drops the fault relay)."""


class UnknownChannelError(KeyError):
    """A reading names a channel the site configuration does not have."""

    def __str__(self) -> str:
        return f"unknown channel {self.args[0]!r}: not in the site configuration"


@dataclass(frozen=True)
class ModelInfo:
    """A model the runtime loaded (or failed to load), as shown by ``GET /api/v1/models``."""

    name: str
    kind: str
    version: str
    loaded: bool
    error: str | None = None
    card: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "loaded": self.loaded,
            "error": self.error,
            "card": dict(self.card),
        }


class CameraFrameLike(Protocol):
    @property
    def ts(self) -> float: ...
    @property
    def leak_score(self) -> float: ...
    @property
    def leak(self) -> bool: ...
    @property
    def mask_fraction(self) -> float: ...

    def jpeg(self, overlay: Literal["none", "mask", "gradcam"]) -> bytes | None: ...


class Camera(Protocol):
    """A camera watching a zone (``gasguard.cameras``): frames, plume detection, early-trip signals."""

    id: str
    zone: str
    name: str

    def latest(self) -> CameraFrameLike | None: ...

    async def run(
        self,
        on_signal: Callable[[MlSignal], None],
        on_frame: Callable[[CameraFrameLike], None] | None = None,
    ) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclass
class GasIdentification:
    zone: str
    gas: str
    confidence: float
    ts: float
    model: str

    def to_json(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "gas": self.gas,
            "confidence": round(self.confidence, 4),
            "ts": self.ts,
            "model": self.model,
        }


SourceFactory = Callable[["Runtime"], Coroutine[Any, Any, None]]
"""A reading source: a coroutine that runs for ever, calling ``runtime.submit_reading``."""


@dataclass
class SourceStatus:
    name: str
    running: bool = False
    restarts: int = 0
    last_error: str | None = None
    detail: Callable[[], Mapping[str, Any]] | None = None


class ReadingTap:
    """The pipeline's reading sink: every reading to the batched writer, a throttled copy to live clients."""

    def __init__(self, runtime: Runtime, *, interval_s: float = READING_PUSH_INTERVAL_S) -> None:
        self._runtime = runtime
        self._interval_s = interval_s
        self._last_push: dict[str, float] = {}

    def submit(self, reading: Reading) -> None:
        runtime = self._runtime
        runtime.services.writer.submit(reading)
        runtime.notify_observers(reading)
        now = runtime.clock()
        if now - self._last_push.get(reading.channel, -1e18) < self._interval_s:
            return
        self._last_push[reading.channel] = now
        payload = runtime.channel_reading(reading.channel)
        if payload is not None:
            runtime.bus.publish_nowait(Message(topic="reading", payload=payload, ts=now))


class OutputTap:
    """The pipeline's event sink: outputs to the recorder (stored, then pushed) and to the observers."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def submit_outputs(self, outputs: list[Output], *, ts: float) -> None:
        self._runtime.services.recorder.submit_outputs(outputs, ts=ts)
        for output in outputs:
            self._runtime.notify_observers(output)


Observer = Callable[[Reading | Output], None]
"""Sees every reading and every safety-core output, in order (e.g. Home Assistant state messages)."""


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
        self.pipeline = SafetyPipeline(
            state,
            valves=self.valves,
            outputs=self.outputs,
            events=OutputTap(self),
            readings=ReadingTap(self),
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
        self._names: dict[str, str] = {}
        self._site_of_zone: dict[str, str] = {}
        self._units: dict[str, str] = {}
        for site_entry, zone in site.zones():
            self._site_of_zone[zone.id] = site_entry.id
            self._names[zone.id] = zone.name or zone.id
            for ch in zone.channels:
                self._zone_of_channel[ch.id] = zone.id
                self._units[ch.id] = ch.unit.value
                self._names[ch.id] = ch.name or ch.id
            for valve in zone.valves:
                self._zone_of_valve[valve.id] = zone.id
                self._names[valve.id] = valve.name or valve.id
        self.started_at: float | None = None
        self._running = False
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
        self._running = True
        self.started_at = self.clock()
        self.pipeline.apply(self._initial_outputs, ts=self.started_at)
        self._initial_outputs = []
        tasks = [
            asyncio.create_task(self.pipeline.run(), name="safety-pipeline"),
            asyncio.create_task(self.snapshots.run(), name="snapshot-store"),
            asyncio.create_task(run_drivers(self.valves), name="valve-drivers"),
            asyncio.create_task(run_drivers(self.outputs), name="output-drivers"),
            asyncio.create_task(self._watch_storage(), name="storage-watch"),
        ]
        tasks += [
            asyncio.create_task(self._supervise(name, factory), name=f"source-{name}")
            for name, factory in self._source_factories.items()
        ]
        tasks += [
            asyncio.create_task(self._run_camera(camera), name=f"camera-{camera.id}")
            for camera in self.cameras.values()
        ]
        self._pipeline_task = tasks[0]
        try:
            await asyncio.gather(*tasks)
        finally:
            self._running = False
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
        """Raise a health event (stored when possible, pushed live at once) when the reading writer
        starts buffering for an outage, starts dropping readings, or recovers: operators learn of it
        on the dashboard and in the event log, not only from ``/api/v1/health``.

        Storage down past its buffer (the writer DOWN: failing with the buffer full, readings being
        lost) is also a ``SystemFault`` into the safety core, which drops the fault relay until the
        database is back. Buffering through a short outage is not: that is what the buffer is for."""
        last = ComponentStatus.OK
        last_dropped = 0
        while True:
            await asyncio.sleep(every_s)
            health = self.services.writer.health()
            if (health.status is ComponentStatus.DOWN) != (last is ComponentStatus.DOWN):
                down = health.status is ComponentStatus.DOWN
                detail = (
                    f"database unreachable past the outage buffer of {health.capacity} readings"
                    if down
                    else "database reachable again"
                )
                self.pipeline.submit(SystemFault(STORAGE_COMPONENT, down, detail))
            if health.status is last and health.dropped == last_dropped:
                continue
            if health.dropped > last_dropped:
                reason = f"readings lost: the outage buffer of {health.capacity} is full ({health.dropped} dropped)"
            elif health.status is ComponentStatus.OK:
                reason = "database reachable again; buffered readings written"
            else:
                reason = f"database unreachable; buffering readings ({health.buffered} of {health.capacity})"
            last, last_dropped = health.status, health.dropped
            payload = {"component": "reading_writer", "status": health.status.value, "dropped": health.dropped}
            log.warning("storage health: %s", reason)
            self.services.recorder.submit(
                [EventRecord(self.clock(), EventKind.HEALTH, None, "reading_writer", None, reason, payload)]
            )

    async def _supervise(self, name: str, factory: SourceFactory) -> None:
        status = self.sources[name]
        delay = SOURCE_RESTART_S[0]
        while True:
            status.running = True
            try:
                await factory(self)
                log.warning("source %s ended; restarting", name)
            except asyncio.CancelledError:
                status.running = False
                raise
            except Exception as exc:
                status.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("source %s failed; restarting in %.1f s", name, delay)
            status.running = False
            status.restarts += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, SOURCE_RESTART_S[1])

    async def _run_camera(self, camera: Camera) -> None:
        def on_frame(frame: CameraFrameLike) -> None:
            payload = {
                "camera": camera.id,
                "zone": camera.zone,
                "ts": frame.ts,
                "leak_score": round(float(frame.leak_score), 4),
                "leak": bool(frame.leak),
            }
            for key in ("seq", "phase", "confirmed", "fault"):  # the same frame's caption facts (gasguard.cameras)
                if hasattr(frame, key):
                    payload[key] = getattr(frame, key)
            self.bus.publish_nowait(Message(topic="camera", payload=payload, ts=frame.ts))

        while True:
            try:
                await camera.run(self.submit_signal, on_frame)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("camera %s failed; restarting", camera.id)
            await asyncio.sleep(SOURCE_RESTART_S[0])

    # ------------------------------------------------------------------ views

    def zone_of_channel(self, channel_id: str) -> str | None:
        return self._zone_of_channel.get(channel_id)

    def zone_of_valve(self, valve_id: str) -> str | None:
        return self._zone_of_valve.get(valve_id)

    def zone_of_alarm(self, alarm_id: str) -> str | None:
        zone_id = alarm_id.split("/", 1)[0]
        zone = self.pipeline.state.zones.get(zone_id)
        if zone is None:
            return None
        return zone_id if any(a.id == alarm_id for a in zone.all_alarms()) else None

    def channel_reading(self, channel_id: str) -> dict[str, Any] | None:
        zone_id = self._zone_of_channel.get(channel_id)
        if zone_id is None:
            return None
        ch = self.pipeline.state.zones[zone_id].channels[channel_id]
        return {
            "channel": channel_id,
            "zone": zone_id,
            "ts": ch.last_seen,
            "value": ch.last_raw,
            "lel_pct": None if ch.lel is None else round(ch.lel, 3),
        }

    def latest_readings(self, zone: str | None = None) -> list[dict[str, Any]]:
        units = self._units
        rows = []
        for cid, zid in self._zone_of_channel.items():
            if zone is not None and zid != zone:
                continue
            row = self.channel_reading(cid)
            if row is not None:
                rows.append({**row, "unit": units[cid]})
        return rows

    def view(self) -> dict[str, Any]:
        """Sites, zones, channels, valves, alarms and identifications, JSON-ready (see the API contract)."""
        raw = self.pipeline.view()
        sites = []
        for site_entry in self.site.sites:
            zones = [self._zone_json(zone, raw["zones"][zone.id], raw["ts"]) for zone in site_entry.zones]
            sites.append({"id": site_entry.id, "name": site_entry.name or site_entry.id, "zones": zones})
        return {"ts": raw["ts"], "sites": sites}

    def zones_view(self) -> list[dict[str, Any]]:
        return [zone for site in self.view()["sites"] for zone in site["zones"]]

    def zone_view(self, zone_id: str) -> dict[str, Any] | None:
        return next((z for z in self.zones_view() if z["id"] == zone_id), None)

    def _zone_json(self, zone: Any, raw: Mapping[str, Any], now: float) -> dict[str, Any]:
        state = self.pipeline.state.zones[zone.id]
        channels = []
        for cfg in zone.channels:
            ch_raw = raw["channels"][cfg.id]
            ch = state.channels[cfg.id]
            channels.append(
                {
                    "id": cfg.id,
                    "name": cfg.name or cfg.id,
                    "gas": cfg.gas,
                    "unit": cfg.unit.value,
                    "lel_pct": None if ch.lel is None else round(ch.lel, 3),
                    "value": ch.last_raw,
                    "ts": ch.last_seen,
                    "health": ch_raw["health"],
                    "in_service": ch_raw["in_service"],
                    "over_range": ch_raw["over_range"],
                    "test_until": ch_raw["test_until"],
                    "levels": ch_raw["levels"],
                    "setpoints": {"a1": cfg.setpoints.a1, "a2": cfg.setpoints.a2, "a3": cfg.setpoints.a3},
                }
            )
        valves = [
            {
                "id": cfg.id,
                "name": cfg.name or cfg.id,
                "zone": zone.id,
                **raw["valves"][cfg.id],
                "travel_time_s": cfg.travel_time_s,
            }
            for cfg in zone.valves
        ]
        alarms = [{**alarm, "zone": zone.id} for alarm in raw["alarms"]]
        identification = self.identifications.get(zone.id)
        return {
            "id": zone.id,
            "name": zone.name or zone.id,
            "site": self._site_of_zone[zone.id],
            "tripped": raw["tripped"],
            "trip_cause": raw["trip_cause"],
            "status": zone_status(raw["tripped"], alarms, channels),
            "votes": raw["votes"],
            "vote_k": raw["vote_k"],
            "channels": channels,
            "valves": valves,
            "alarms": alarms,
            "identification": identification.to_json() if identification else None,
            "cameras": [cid for cid, cam in self.cameras.items() if cam.zone == zone.id],
        }

    def outputs_view(self) -> list[dict[str, Any]]:
        """Every output with its state, what drives it and what its driver sees, in site-file order.

        For each: ``id``, ``name``, ``kind``, ``mode`` (off / on / pulsed), ``cause``, ``silenced``,
        ``latched``, ``forced_until`` (an admin's test), ``zones``, ``levels``, ``driver`` (simulated,
        modbus or mqtt), ``feedback`` (energised or not as the device reports it; ``None`` without
        feedback or before the first report) and ``reachable`` (``False`` while its driver cannot reach
        the device).
        """
        raw = self.pipeline.view()["outputs"]
        rows = []
        for _site, cfg in self.site.outputs():
            state = raw.get(cfg.id)
            if state is None:
                continue
            driver = self.outputs.get(cfg.id)
            link = getattr(driver, "link", None)
            rows.append(
                {
                    "id": cfg.id,
                    "name": cfg.name or cfg.id,
                    **state,
                    "driver": _driver_kind(cfg),
                    "feedback": _feedback(driver) if cfg.feedback or _driver_kind(cfg) == "simulated" else None,
                    "reachable": not bool(getattr(link, "down", False)),
                }
            )
        return rows

    def valves_view(self) -> list[dict[str, Any]]:
        return [valve for zone in self.zones_view() for valve in zone["valves"]]

    def alarms_view(self, zone: str | None = None) -> list[dict[str, Any]]:
        alarms = [alarm for z in self.zones_view() if zone is None or z["id"] == zone for alarm in z["alarms"]]
        # Unacknowledged first, then by priority (A3 > A2 > FAULT > A1 ...), as an operator works them.
        return sorted(alarms, key=lambda a: (a["acked"], -_PRIORITY.get(a["level"], 0), a["id"]))

    # ------------------------------------------------------------------ health

    def _pipeline_health(self) -> ComponentHealth:
        counters = dict(self.pipeline.counters)
        detail: dict[str, Any] = {
            **counters,
            "last_step_us": round(self.pipeline.last_step_s * 1e6, 1),
            "zones": len(self.pipeline.state.zones),
            "running": self._running,
            "ticking": self.pipeline.ticking(),
        }
        if not self._running:
            return ComponentHealth(ComponentStatus.DOWN, detail)
        if counters.get("sink_errors") or counters.get("advisor_errors"):
            return ComponentHealth(ComponentStatus.DEGRADED, detail)
        return ComponentHealth(ComponentStatus.OK, detail)

    def _sources_health(self) -> ComponentHealth:
        detail: dict[str, Any] = {}
        status = ComponentStatus.OK
        for name, source in self.sources.items():
            entry: dict[str, Any] = {"running": source.running, "restarts": source.restarts}
            if source.last_error:
                entry["last_error"] = source.last_error
            if source.detail is not None:
                with contextlib.suppress(Exception):
                    entry.update(source.detail())
            detail[name] = entry
            if self._running and not source.running:
                status = ComponentStatus.DEGRADED
        return ComponentHealth(status, detail)

    def _models_health(self) -> ComponentHealth:
        detail: dict[str, Any] = {
            m.name: {"loaded": m.loaded, "version": m.version, "error": m.error} for m in self.models
        }
        detail["advisor_errors"] = self.pipeline.counters.get("advisor_errors", 0)
        detail["model_errors"] = self.model_errors
        failed = any(not m.loaded for m in self.models) or bool(detail["advisor_errors"])
        return ComponentHealth(ComponentStatus.DEGRADED if failed else ComponentStatus.OK, detail)

    def _cameras_health(self) -> ComponentHealth:
        detail: dict[str, Any] = {}
        worst = ComponentStatus.OK
        order = [ComponentStatus.OK, ComponentStatus.DEGRADED, ComponentStatus.DOWN]
        for cid, camera in self.cameras.items():
            try:
                h = dict(camera.health())
            except Exception as exc:
                h = {"status": "down", "error": str(exc)[:200]}
            detail[cid] = h
            status = ComponentStatus(h.get("status", "down"))
            # A camera is an extra, advisory input: at worst it degrades the service, never takes it down.
            status = min(status, ComponentStatus.DEGRADED, key=order.index)
            worst = max(worst, status, key=order.index)
        return ComponentHealth(worst, detail)

    def register_health(self) -> None:
        self.services.health_checks.update(
            {
                "pipeline": self._pipeline_health,
                "sources": self._sources_health,
                "models": self._models_health,
                "cameras": self._cameras_health,
            }
        )


def _clip_on_trip(camera: Camera, mark: Callable[[str], Any], item: Reading | Output) -> None:
    if isinstance(item, ZoneTripChanged) and item.tripped and item.zone == camera.zone and camera.latest() is not None:
        mark(f"zone {item.zone} tripped: {item.cause}"[:200])


def _driver_kind(cfg: OutputConfig) -> str:
    if isinstance(cfg.driver, ModbusOutputDriver):
        return "modbus"
    if isinstance(cfg.driver, MqttOutputDriver):
        return "mqtt"
    return "simulated"


def _feedback(driver: object) -> bool | None:
    value = getattr(driver, "feedback", None)
    return value if isinstance(value, bool) else None


_PRIORITY = {"A3": 5, "A2": 4, "VALVE_FAULT": 4, "ML": 3, "FAULT": 3, "ROR": 2, "A1": 1}


def zone_status(tripped: bool, alarms: Sequence[Mapping[str, Any]], channels: Sequence[Mapping[str, Any]]) -> str:
    """The zone's summary colour for operators: tripped > alarm > fault > warning > normal."""
    if tripped:
        return "tripped"
    active = {a["level"] for a in alarms if a.get("active")}
    if active & {"A2", "A3", "VALVE_FAULT", "ML", "ROR"}:
        return "alarm"
    if "FAULT" in active or any(c["health"] != "ok" for c in channels):
        return "fault"
    if "A1" in active:
        return "warning"
    return "normal"


def initial_state(site: SiteConfig, snapshots: SnapshotStore, now: float) -> tuple[PlantState, list[Output]]:
    """The stored snapshot restored, or the safe state when there is none (or it cannot be used)."""
    spec = site.plant_spec()
    stored = None
    try:
        stored = snapshots.load()
    except Exception:
        log.exception("cannot read the stored safety snapshot; starting in the safe state")
    if stored is not None:
        data, saved_at = stored
        try:
            state, outputs = restore(spec, data, now)
        except SnapshotError as exc:
            log.error("stored safety snapshot unusable (%s); starting in the safe state", exc)
        else:
            log.info("safety state restored from the snapshot saved at %.0f", saved_at)
            return state, outputs
    return cold_start(spec, now)


def build_runtime(
    site: SiteConfig,
    services: Services,
    *,
    valves: Mapping[str, ValveDriver] | None = None,
    outputs: Mapping[str, OutputDriver] | None = None,
    mqtt: BrokerAddress | None = None,
    clock: Callable[[], float] = time.time,
    tick_s: float = 0.5,
) -> Runtime:
    """Build the runtime for ``site`` and attach it to ``services`` (run by the web app's lifespan).

    Valve and output drivers come from the site file (simulated, Modbus or MQTT) unless ``valves`` or
    ``outputs`` is given.
    """
    if valves is None:
        valves = build_valve_drivers(site, mqtt=mqtt, prefix=services.settings.mqtt_topic_prefix)
    if outputs is None:
        outputs = build_output_drivers(site, mqtt=mqtt, prefix=services.settings.mqtt_topic_prefix)
    store = SnapshotStore(services.session_factory)
    state, initial = initial_state(site, store, clock())
    runtime = Runtime(
        site,
        services,
        state,
        initial,
        valves=valves,
        outputs=outputs,
        snapshots=store,
        clock=clock,
        tick_s=tick_s,
    )
    runtime.register_health()
    services.runtime = runtime
    services.background.append(runtime.run)
    services.shutdown.append(runtime.stop)
    attach_maintenance(runtime)  # test recorder and due dates: bus consumers, never on the safety path
    return runtime
