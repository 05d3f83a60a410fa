"""Where the pipeline's effects leave the runtime: readings to storage, outputs to the event recorder,
and the state events (``readmodel.events``) that every read model of the plant is folded from.

State messages go on the bus: a read model in this process listens to it directly (every message, in
order), a worker forwards them to the broker for the web tiers. Readings are pushed to live clients at
most once a second per channel; the ones in between are only noted for the in-process listeners, so
the read model here is exact while browsers and the broker are spared the full rate. A zone's state is
published when a step changed it (an output for the zone, or a reading that moved a level, a vote, the
channel's health or an alarm's condition without an output, as under a shelve), and every
``HEARTBEAT_S`` regardless, which tells remote readers that the zone's owner is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from gasguard.domain import OperatorResult, Output, OutputCommand, Reading
from gasguard.notify import Message
from gasguard.readmodel import HEARTBEAT_S, events
from gasguard.readmodel.views import driver_kind

if TYPE_CHECKING:
    from gasguard.runtime.core import Runtime

log = logging.getLogger(__name__)

READING_PUSH_INTERVAL_S = 1.0
"""Live readings are pushed to clients at most this often per channel (every reading is still stored)."""

DEVICE_CHECK_S = 0.25
"""How often output drivers' feedback and reachability are compared with what was last published."""


class StateFeed:
    """Publishes the state events of the zones a runtime owns (see the module docstring)."""

    def __init__(
        self, runtime: Runtime, *, interval_s: float = READING_PUSH_INTERVAL_S, heartbeat_s: float = HEARTBEAT_S
    ) -> None:
        self._runtime = runtime
        self._interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self._last_push: dict[str, float] = {}
        self._marks: dict[str, tuple[Any, ...]] = {}
        self._devices: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ after each step

    def reading(self, reading: Reading) -> None:
        runtime = self._runtime
        zone_id = runtime.zone_of_channel(reading.channel)
        if zone_id is None:
            return
        state = runtime.pipeline.state
        now = runtime.clock()
        bus = runtime.bus
        pushing = now - self._last_push.get(reading.channel, -1e18) >= self._interval_s
        if pushing or bus.has_listeners:
            message = Message(
                topic=events.READING, payload=events.channel_reading(state, zone_id, reading.channel), ts=now
            )
            if pushing:
                self._last_push[reading.channel] = now
                bus.publish_nowait(message)
            else:
                bus.note(message)
        mark = self._mark(zone_id, reading.channel)
        if self._marks.get(reading.channel) != mark:
            self._marks[reading.channel] = mark
            self.zone(zone_id)

    def outputs(self, outputs: list[Output]) -> None:
        zones = {zone for out in outputs if isinstance(zone := getattr(out, "zone", None), str)}
        for zone_id in zones:
            if zone_id in self._runtime.pipeline.state.zones:
                self.zone(zone_id)
        if any(isinstance(out, OutputCommand | OperatorResult) or not hasattr(out, "zone") for out in outputs):
            self.outputs_state()

    def _mark(self, zone_id: str, channel_id: str) -> tuple[Any, ...]:
        """What a reading can change about a channel and its zone besides the value itself."""
        zone = self._runtime.pipeline.state.zones[zone_id]
        ch = zone.channels[channel_id]
        return (
            ch.a1,
            ch.a2,
            ch.a3,
            ch.health,
            ch.over_range,
            zone.votes,
            zone.tripped,
            tuple(alarm.active for alarm in ch.alarms.values()),
        )

    # ------------------------------------------------------------------ state messages

    def zone(self, zone_id: str) -> None:
        runtime = self._runtime
        now = runtime.clock()
        cameras = [cid for cid, cam in runtime.cameras.items() if cam.zone == zone_id]
        payload = events.zone_state(runtime.pipeline.state, zone_id, now, cameras=cameras)
        runtime.bus.publish_nowait(Message(topic=events.ZONE_STATE, payload=payload, ts=now))

    def outputs_state(self) -> None:
        runtime = self._runtime
        if not runtime.pipeline.state.outputs:
            return
        now = runtime.clock()
        self._devices = self._device_facts()
        payload = events.outputs_state(runtime.pipeline.state, now, devices=self._devices)
        runtime.bus.publish_nowait(Message(topic=events.OUTPUTS_STATE, payload=payload, ts=now))

    def publish_all(self) -> None:
        for zone_id in self._runtime.pipeline.state.zones:
            self.zone(zone_id)
        self.outputs_state()

    def _device_facts(self) -> dict[str, dict[str, Any]]:
        """Each output's ``feedback`` (where its device reports one) and ``reachable``, from its driver."""
        facts = {}
        for _site, cfg in self._runtime.site.outputs():
            driver = self._runtime.outputs.get(cfg.id)
            feedback = getattr(driver, "feedback", None)
            wants_feedback = bool(cfg.feedback) or driver_kind(cfg) == "simulated"
            link = getattr(driver, "link", None)
            facts[cfg.id] = {
                "feedback": feedback if wants_feedback and isinstance(feedback, bool) else None,
                "reachable": not bool(getattr(link, "down", False)),
            }
        return facts

    async def run(self) -> None:
        """Heartbeats: every zone's state every ``heartbeat_s``; outputs whenever a driver's view moved."""
        beat = 0.0
        while True:
            await asyncio.sleep(DEVICE_CHECK_S)
            beat += DEVICE_CHECK_S
            with contextlib.suppress(Exception):
                if beat >= self.heartbeat_s:
                    beat = 0.0
                    self.publish_all()
                elif self._runtime.outputs and self._device_facts() != self._devices:
                    self.outputs_state()


class ReadingTap:
    """The pipeline's reading sink: every reading to the batched writer and the observers, then the feed."""

    def __init__(self, runtime: Runtime, feed: StateFeed) -> None:
        self._runtime = runtime
        self._feed = feed

    def submit(self, reading: Reading) -> None:
        runtime = self._runtime
        runtime.services.writer.submit(reading)
        runtime.notify_observers(reading)
        self._feed.reading(reading)


class OutputTap:
    """The pipeline's event sink: outputs to the recorder (stored, then pushed), the observers and the feed."""

    def __init__(self, runtime: Runtime, feed: StateFeed) -> None:
        self._runtime = runtime
        self._feed = feed

    def submit_outputs(self, outputs: list[Output], *, ts: float) -> None:
        self._runtime.services.recorder.submit_outputs(outputs, ts=ts)
        for output in outputs:
            self._runtime.notify_observers(output)
        self._feed.outputs(outputs)
