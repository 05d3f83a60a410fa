"""A gas valve on a Modbus TCP coil, with its limit switches on discrete inputs.

Wiring convention: the coil energises the valve's solenoid, and the valve is normally closed, so the
coil is written **True to OPEN and False to CLOSE**. Losing power, the relay or the controller then
leaves the valve closed (the configuration refuses this driver on a normally-open valve).

``drive`` returns once the device acknowledged the coil write; it raises ``ValveDriverError`` when the
device does not answer within ``timeout_s``, refuses the write (a Modbus exception response) or cannot
be reached, so ``RetryingValve`` retries and then raises a VALVE FAULT in the safety core.

Position feedback (``run``): the limit switches are read every ``poll_s`` and reported as
``ValveFeedback`` when the position changes:

=================  ===================  ==========================================
open switch        closed switch        reported position
=================  ===================  ==========================================
on                 off                  OPEN
off                on                   CLOSED
off                off                  MOVING (between the seats)
on                 on                   UNKNOWN (switches disagree: wiring fault)
(not fitted)       on / off             CLOSED / OPEN ("not closed" counts as open)
=================  ===================  ==========================================

Counting "not closed" as open is the safe reading of a single closed-position switch: the core then
treats a close that never reaches the switch as a VALVE FAULT. When the switches cannot be read for
``feedback_lost_s`` the position is reported UNKNOWN once (the core raises a VALVE FAULT); the next
good read reports the position again.

Hardware watchdog (``heartbeat_s``, default 1 s; ``docs/watchdog.md``): set the I/O module's
communication watchdog to three heartbeats, so a hung or frozen GasGuard leaves the coil to the
module, which drops it and the valve closes. ``run`` writes a heartbeat every ``heartbeat_s`` while
the safety loop ticks:

- with ``heartbeat_coil``: that coil is toggled (the preferred wiring: the valve coil is then only
  ever written by a command);
- without: the valve coil is read back and re-written with the value last commanded, but only when
  it still holds that value. A coil that something else dropped (the watchdog, a module restart, a
  local override) is never re-energised by a heartbeat: that would reopen a valve by itself.

After a stall (no write reached the module for more than two heartbeats, measured on
``time.monotonic``: a frozen or stopped process, or a link that was down) the driver reads the coil
and the switches before it writes anything. A valve GasGuard had commanded open that is now closed is
reported ``ValveFeedback(CLOSED, detail="closed by its watchdog: GasGuard stopped answering for N s")``
with N the measured gap; the safety core trips the zone with that cause, and nothing reopens by
itself. Heartbeats that fail twice in a row report the module unreachable (``SystemFault``), which
drops the system-failure relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from gasguard.actuators.base import Alive, LinkHealth, Report, ValveDriverError
from gasguard.actuators.heartbeat import WriteGaps, always_alive
from gasguard.actuators.modbus_io import ClientFactory, CoilModule, ModbusBitClient, default_client
from gasguard.config import ModbusValveDriver
from gasguard.domain import ValveAction, ValveFeedback, ValvePosition

logger = logging.getLogger(__name__)

ValveModbusClient = ModbusBitClient
ValveClientFactory = ClientFactory
default_valve_client = default_client

HEARTBEAT_FAILURES_UNREACHABLE = 2
"""Heartbeats that fail in a row before the module is reported unreachable."""


def position_from_switches(open_on: bool | None, closed_on: bool | None) -> ValvePosition:
    """The valve position the limit switches show (``None`` = switch not fitted); see the module table.

    >>> position_from_switches(False, True)
    <ValvePosition.CLOSED: 'closed'>
    >>> position_from_switches(None, False)
    <ValvePosition.OPEN: 'open'>
    """
    if open_on is None and closed_on is None:
        return ValvePosition.UNKNOWN
    if open_on is None:
        return ValvePosition.CLOSED if closed_on else ValvePosition.OPEN
    if closed_on is None:
        return ValvePosition.OPEN if open_on else ValvePosition.MOVING
    if open_on and closed_on:
        return ValvePosition.UNKNOWN
    if open_on:
        return ValvePosition.OPEN
    if closed_on:
        return ValvePosition.CLOSED
    return ValvePosition.MOVING


class ModbusValve:
    """Drives one valve through a Modbus coil, reports its limit switches and feeds the module's watchdog."""

    def __init__(
        self,
        valve_id: str,
        config: ModbusValveDriver,
        *,
        client_factory: ValveClientFactory = default_valve_client,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.valve_id = valve_id
        self.config = config
        self.commands: list[ValveAction] = []
        self.position: ValvePosition | None = None  # last position reported
        self.commanded: bool | None = None  # coil value of the last command the module took (True = open)
        self.heartbeats = 0
        self.link = LinkHealth(f"valve:{valve_id}")
        self.gaps = WriteGaps(config.heartbeat_s or 1.0, clock=clock)
        self._module = CoilModule(
            host=config.host,
            port=config.port,
            unit=config.unit,
            timeout_s=config.timeout_s,
            error=ValveDriverError,
            client_factory=client_factory,
        )
        self._report: Report | None = None
        self._alive: Alive = always_alive
        self._poke = asyncio.Event()
        self._failing_since: float | None = None
        self._heartbeat_level = False
        self._heartbeat_failures = 0
        self._closed_detail = ""  # why the coil was found dropped, for the next CLOSED report

    @property
    def errors(self) -> int:
        return self._module.errors

    @property
    def last_error(self) -> str | None:
        return self._module.last_error

    @property
    def has_feedback(self) -> bool:
        return self.config.feedback_open_input is not None or self.config.feedback_closed_input is not None

    @property
    def watches_gaps(self) -> bool:
        """Whether a stall can have let the module's watchdog fire (only with a heartbeat configured)."""
        return self.config.heartbeat_s is not None

    def attach(self, report: Report) -> None:
        """Report positions through ``report`` (``run`` must run for the switches to be read)."""
        self._report = report
        self.link.attach(report)

    def set_alive(self, alive: Alive) -> None:
        """Write heartbeats only while ``alive()`` (the safety loop ticks)."""
        self._alive = alive

    async def drive(self, action: ValveAction) -> None:
        """Write the coil (True = open, False = close); raise ``ValveDriverError`` if the device does not take it."""
        value = action is ValveAction.OPEN
        where = f"{self.valve_id}: write coil {self.config.coil}={value} on {self._module.address}"
        async with self._module.lock:
            if self._look_for_gap() is not None:
                await self._check_coil()  # learn what the module did during the stall before changing it
            self.gaps.trying()
            await self._module.write_coil(self.config.coil, value, where)
            self.gaps.wrote()
            self.commanded = value
            if value:
                # An operator's open after a reset: whatever the module did before is accounted for.
                self.gaps.clear()
                self._closed_detail = ""
        self.commands.append(action)
        logger.info("valve %s: %s sent (coil %d = %s)", self.valve_id, action.value, self.config.coil, value)
        self._poke.set()  # read the switches now rather than at the next poll

    async def read_position(self) -> ValvePosition:
        """Read the limit switches once; raise ``ValveDriverError`` if they cannot be read."""
        cfg = self.config
        wanted = [a for a in (cfg.feedback_open_input, cfg.feedback_closed_input) if a is not None]
        if not wanted:
            return ValvePosition.UNKNOWN
        where = f"{self.valve_id}: read limit switches on {self._module.address}"
        async with self._module.lock:
            self._look_for_gap()
            bits = await self._module.read_bits("inputs", wanted, where)
        opened = bits[cfg.feedback_open_input] if cfg.feedback_open_input is not None else None
        closed = bits[cfg.feedback_closed_input] if cfg.feedback_closed_input is not None else None
        return position_from_switches(opened, closed)

    async def run(self) -> None:
        """Watch the limit switches and write heartbeats until cancelled. Returns at once when the valve
        has neither switches nor a heartbeat."""
        loops = []
        if self.has_feedback:
            loops.append(self._watch_switches())
        if self.config.heartbeat_s is not None:
            loops.append(self._beat())
        if not loops:
            return
        try:
            await asyncio.gather(*loops)
        finally:
            self._module.close()

    async def aclose(self) -> None:
        self._module.close()

    # ------------------------------------------------------------------ the switches

    async def _watch_switches(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                position = await self.read_position()
            except ValveDriverError as exc:
                now = loop.time()
                if self._failing_since is None:
                    self._failing_since = now
                    logger.warning("%s", exc)
                if (
                    now - self._failing_since >= self.config.feedback_lost_s
                    and self.position is not ValvePosition.UNKNOWN
                ):
                    logger.error(
                        "valve %s: limit switches unreadable for %.0f s; position unknown",
                        self.valve_id,
                        now - self._failing_since,
                    )
                    self._publish(ValvePosition.UNKNOWN)
            else:
                if self._failing_since is not None:
                    logger.info("valve %s: limit switches readable again", self.valve_id)
                self._failing_since = None
                if position is not self.position:
                    self._publish(position)
            self._poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.config.poll_s)

    # ------------------------------------------------------------------ the watchdog

    async def _beat(self) -> None:
        every_s = self.config.heartbeat_s or 1.0
        withheld: bool | None = None  # None until the safety loop first ticks: start-up is not a hang
        while True:
            if self._alive():
                if withheld:
                    logger.warning("valve %s: safety loop ticking again; heartbeat resumed", self.valve_id)
                withheld = False
                try:
                    await self.heartbeat()
                except ValveDriverError as exc:
                    self._heartbeat_failures += 1
                    logger.warning("%s", exc)
                    if self._heartbeat_failures >= HEARTBEAT_FAILURES_UNREACHABLE:
                        self.link.failed(f"heartbeat failed {self._heartbeat_failures} times: {exc}")
                else:
                    self._heartbeat_failures = 0
                    self.link.ok()
            elif withheld is False:
                logger.error(
                    "valve %s: safety loop not ticking; heartbeat withheld so the module's watchdog closes the valve",
                    self.valve_id,
                )
                withheld = True
            await asyncio.sleep(every_s)

    async def heartbeat(self) -> None:
        """One heartbeat write (see the module docstring); raise ``ValveDriverError`` if it fails."""
        cfg = self.config
        async with self._module.lock:
            stall = self._look_for_gap()
            if stall is not None or cfg.heartbeat_coil is None:
                await self._check_coil()
            self.gaps.trying()
            if cfg.heartbeat_coil is not None:
                level = not self._heartbeat_level
                where = f"{self.valve_id}: heartbeat coil {cfg.heartbeat_coil}={level} on {self._module.address}"
                await self._module.write_coil(cfg.heartbeat_coil, level, where)
                self._heartbeat_level = level
            elif self.commanded is not None:
                value = self.commanded
                where = f"{self.valve_id}: heartbeat coil {cfg.coil}={value} on {self._module.address}"
                await self._module.write_coil(cfg.coil, value, where)
            else:
                return  # nothing commanded yet and no heartbeat coil: nothing to write
            self.gaps.wrote()
            self.heartbeats += 1
            if stall is not None:
                logger.warning(
                    "valve %s: nothing reached its I/O module for %.1f s (%s); heartbeat written again",
                    self.valve_id,
                    stall,
                    "GasGuard stopped" if self.gaps.frozen else "writes failed",
                )
                # What the module did about the stall is known now (a dropped coil is in _closed_detail).
                self.gaps.clear()

    async def _check_coil(self) -> None:
        """Read the valve coil back (lock held). A coil found dropped while GasGuard had it energised is
        never written True again by a heartbeat; a valve without switches is reported closed now."""
        cfg = self.config
        if self.commanded is not True:
            return
        where = f"{self.valve_id}: read coil {cfg.coil} on {self._module.address}"
        coil = (await self._module.read_bits("coils", [cfg.coil], where))[cfg.coil]
        if coil:
            return
        self.commanded = False
        if self.gaps.stall_s is not None:
            self._closed_detail = self.gaps.describe()
        else:
            self._closed_detail = "closed by its I/O module, which dropped the coil (module restart or local override)"
        logger.error(
            "valve %s: coil %d found off although commanded on: %s", self.valve_id, cfg.coil, self._closed_detail
        )
        if not self.has_feedback:
            self._publish(ValvePosition.CLOSED)
        else:
            self._poke.set()

    def _look_for_gap(self) -> float | None:
        return self.gaps.look() if self.watches_gaps else None

    # ------------------------------------------------------------------ helpers

    def _publish(self, position: ValvePosition) -> None:
        detail = ""
        if position is ValvePosition.CLOSED and (self.commanded or self._closed_detail):
            # Closed while GasGuard had it open: say why when the driver knows (its watchdog fired). A
            # heartbeat re-writes what is commanded, so from now on that is "closed".
            if not self._closed_detail and self.gaps.stall_s is not None:
                self._closed_detail = self.gaps.describe()
            detail = self._closed_detail
            self.commanded = False
            self._closed_detail = ""
            self.gaps.clear()
        self.position = position
        if self._report is not None:
            self._report(ValveFeedback(self.valve_id, position, detail))
