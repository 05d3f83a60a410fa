"""Keeping a runtime's inputs alive: reading sources and cameras restarted after a failure, and the
reading writer watched for a storage outage (told to operators and to the safety core)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from gasguard.domain import MlSignal, SystemFault
from gasguard.notify import Message
from gasguard.runtime.parts import Camera, CameraFrameLike, SourceFactory, SourceStatus
from gasguard.storage.events import EventKind, EventRecord
from gasguard.storage.writer import ComponentStatus

if TYPE_CHECKING:
    from gasguard.runtime.core import Runtime

log = logging.getLogger(__name__)

SOURCE_RESTART_S = (1.0, 30.0)
"""A source task that fails is restarted after a backoff between these bounds (seconds)."""

STORAGE_WATCH_S = 2.0
"""How often the reading writer's health is checked for an outage or lost readings (seconds)."""

STORAGE_COMPONENT = "storage"
"""The ``SystemFault`` component raised while storage is down past its buffer (it drops the fault relay)."""


async def supervise(runtime: Runtime, status: SourceStatus, factory: SourceFactory) -> None:
    """Run a reading source for ever, restarting it with a growing backoff whenever it ends or fails."""
    delay = SOURCE_RESTART_S[0]
    while True:
        status.running = True
        try:
            await factory(runtime)
            log.warning("source %s ended; restarting", status.name)
        except asyncio.CancelledError:
            status.running = False
            raise
        except Exception as exc:
            status.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.exception("source %s failed; restarting in %.1f s", status.name, delay)
        status.running = False
        status.restarts += 1
        await asyncio.sleep(delay)
        delay = min(delay * 2, SOURCE_RESTART_S[1])


async def run_camera(runtime: Runtime, camera: Camera, submit: Callable[[MlSignal], None]) -> None:
    """Run a camera for ever: its signals to the safety core, its frame scores to live clients."""

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
        runtime.bus.publish_nowait(Message(topic="camera", payload=payload, ts=frame.ts))

    while True:
        try:
            await camera.run(submit, on_frame)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("camera %s failed; restarting", camera.id)
        await asyncio.sleep(SOURCE_RESTART_S[0])


async def watch_storage(runtime: Runtime, every_s: float = STORAGE_WATCH_S) -> None:
    """Raise a health event (stored when possible, pushed live at once) when the reading writer
    starts buffering for an outage, starts dropping readings, or recovers: operators learn of it
    on the dashboard and in the event log, not only from ``/api/v1/health``.

    Storage down past its buffer (the writer DOWN: failing with the buffer full, readings being
    lost) is also a ``SystemFault`` into the safety core, which drops the fault relay until the
    database is back. Buffering through a short outage is not: that is what the buffer is for."""
    services = runtime.services
    last = ComponentStatus.OK
    last_dropped = 0
    while True:
        await asyncio.sleep(every_s)
        health = services.writer.health()
        if (health.status is ComponentStatus.DOWN) != (last is ComponentStatus.DOWN):
            down = health.status is ComponentStatus.DOWN
            detail = (
                f"database unreachable past the outage buffer of {health.capacity} readings"
                if down
                else "database reachable again"
            )
            runtime.pipeline.submit(SystemFault(STORAGE_COMPONENT, down, detail))
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
        services.recorder.submit(
            [EventRecord(runtime.clock(), EventKind.HEALTH, None, "reading_writer", None, reason, payload)]
        )
