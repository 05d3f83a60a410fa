"""Feeding a device's watchdog, and noticing afterwards that GasGuard had stopped feeding it.

A hung GasGuard must be caught outside GasGuard. Modbus I/O modules (WAGO, Moxa ioLogik, Advantech
ADAM) have a communication watchdog: no write within T seconds and every coil goes to its safe
state. MQTT relay nodes (ESPHome, Tasmota) can do the same on a heartbeat topic that stops, or on the
last will the broker publishes when GasGuard's connection dies. ``docs/watchdog.md`` says how to set
each one up; this module holds what the drivers share:

- ``WriteGaps`` remembers when a write last reached the module (``time.monotonic``, so a wall-clock
  step is never taken for a freeze) and, at the next I/O, how long nothing reached it. A gap longer
  than two heartbeats means the module's watchdog (set to three) may have fired: the driver then
  reads the coil back before it writes anything, and a valve the module closed is reported closed
  "by its watchdog", with the measured gap, instead of being re-energised.
- ``publish_heartbeats`` publishes ``<base>/heartbeat`` for MQTT nodes.

Heartbeats are written only while the safety loop ticks (``Alive``): a process whose event loop
still runs but whose safety loop hangs stops feeding the watchdog too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiomqtt

from gasguard.actuators.base import Alive

logger = logging.getLogger(__name__)

MISSED_BEATS = 2.0
"""A gap of more than this many heartbeats since the last write counts as a stall: the module's
watchdog (documented as three heartbeats) may have fired, so what it holds is checked before writing."""


def always_alive() -> bool:
    """The liveness of a driver used on its own (tests, tools): always alive."""
    return True


class WriteGaps:
    """When a write last reached a module, and the longest stretch nothing reached it since it was read.

    ``stall_s`` is the gap (seconds) that may have let the module's watchdog fire, until the driver
    has looked at what the module did about it (``clear``). ``frozen`` tells whether GasGuard itself
    stopped (no write was even tried) or its writes failed (the network or the module was down).
    """

    def __init__(self, heartbeat_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.last_ok: float | None = None
        self.last_try: float | None = None
        self.stall_s: float | None = None
        self.frozen = False

    @property
    def threshold_s(self) -> float:
        return MISSED_BEATS * self.heartbeat_s

    def look(self) -> float | None:
        """Call before any I/O: note a stall if nothing reached the module for too long; returns it."""
        now = self.clock()
        if self.last_ok is not None and now - self.last_ok > self.threshold_s:
            gap = now - self.last_ok
            if self.stall_s is None or gap > self.stall_s:
                self.stall_s = gap
                self.frozen = self.last_try is None or now - self.last_try > self.threshold_s
        return self.stall_s

    def trying(self) -> None:
        self.last_try = self.clock()

    def wrote(self) -> None:
        now = self.clock()
        self.last_ok = self.last_try = now

    def clear(self) -> None:
        self.stall_s = None
        self.frozen = False

    def describe(self) -> str:
        """Why the module went to its safe state, for the trip cause."""
        gap = self.stall_s or 0.0
        if self.frozen:
            return f"closed by its watchdog: GasGuard stopped answering for {gap:.0f} s"
        return f"closed by its watchdog: no write reached its I/O module for {gap:.0f} s"


async def publish_heartbeats(
    client: aiomqtt.Client,
    topic: str,
    *,
    every_s: float,
    alive: Alive,
    name: str,
) -> None:
    """Publish a heartbeat on ``topic`` every ``every_s`` while the safety loop ticks, until cancelled.

    QoS 0 and never retained: a retained heartbeat would look alive to a node after GasGuard died.
    The payload is the sending time (epoch seconds), handy when reading the broker's traffic. A
    publish error ends the loop; the driver's connection loop notices the broken client as well.
    """
    withheld: bool | None = None  # None until the safety loop first ticks: start-up is not a hang
    while True:
        if alive():
            if withheld:
                logger.warning("%s: safety loop ticking again; heartbeat resumed on %s", name, topic)
            withheld = False
            await client.publish(topic, f"{time.time():.0f}", qos=0, retain=False)
        elif withheld is False:
            logger.error("%s: safety loop not ticking; heartbeat withheld so the node goes to its safe state", name)
            withheld = True
        await asyncio.sleep(every_s)
