"""A sounder, beacon, fan, relay or the system-failure relay on a Modbus TCP coil.

The coil is written **True to energise** the output. ``on`` energises it, ``off`` de-energises it and
``pulsed`` toggles it every ``PULSE_HALF_PERIOD_S`` (the driver times the pulsing; the safety core
only says "pulsed"). A ``fault_relay`` is commanded ``on`` while GasGuard is healthy, so a dead
controller, a cut cable or a module whose watchdog fired leaves it de-energised: the fault shows.

``set`` returns once the module took the first write of the new mode; it raises
``OutputDriverError`` when the module does not answer, refuses or cannot be reached, and
``RetryingOutput`` tries again and reports the output unreachable (``SystemFault``).

Hardware watchdog (``docs/watchdog.md``): ``run`` writes a heartbeat every ``heartbeat_s`` while the
safety loop ticks: it toggles ``heartbeat_coil`` when one is configured, and otherwise re-writes the
output's coil with the commanded value (for an output that is always right: unlike a valve, a
re-energised sounder or fault relay opens nothing). While ``pulsed``, the pulse writes feed the
watchdog as well. Set the module's watchdog to three heartbeats and each channel's safe value as the
plant needs it (fault relay off; a sounder may be set to sound). After a stall the commanded state
is written again at once, and the gap is logged.

``feedback_input`` (optional) is read every heartbeat into ``feedback`` (energised or not), shown to
operators beside the commanded mode and, with ``check_feedback``, held against it
(``gasguard.actuators.feedback``: a lasting disagreement is a SystemFault).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gasguard.actuators.base import Alive, LinkHealth, OutputDriverError, Report
from gasguard.actuators.feedback import FEEDBACK_SETTLE_S, FeedbackCheck
from gasguard.actuators.heartbeat import WriteGaps, always_alive
from gasguard.actuators.modbus_io import ClientFactory, CoilModule, default_client
from gasguard.config import ModbusOutputDriver
from gasguard.domain import OutputMode

logger = logging.getLogger(__name__)

PULSE_HALF_PERIOD_S = 0.5
"""A pulsed output is energised this long, then de-energised this long, and so on."""

HEARTBEAT_FAILURES_UNREACHABLE = 2


class ModbusOutput:
    """Drives one output through a Modbus coil and feeds the module's watchdog (an ``OutputDriver``)."""

    def __init__(
        self,
        output_id: str,
        config: ModbusOutputDriver,
        *,
        client_factory: ClientFactory = default_client,
        clock: Callable[[], float] = time.monotonic,
        pulse_half_period_s: float = PULSE_HALF_PERIOD_S,
        check_feedback: bool = False,
    ) -> None:
        self.output_id = output_id
        self.config = config
        self.mode: OutputMode | None = None  # last mode the module took
        self.modes: list[OutputMode] = []
        self.feedback: bool | None = None  # the feedback input, when fitted and read
        self.heartbeats = 0
        self.pulse_half_period_s = pulse_half_period_s
        self.link = LinkHealth(f"output:{output_id}")
        # The input is read once per heartbeat: give the device two of them (and a slow read) to agree.
        settle_s = max(FEEDBACK_SETTLE_S, 2 * config.heartbeat_s + config.timeout_s)
        self.feedback_check = (
            FeedbackCheck(output_id, pulsed_reports_on=False, settle_s=settle_s, clock=clock)
            if check_feedback and config.feedback_input is not None
            else None
        )
        self.gaps = WriteGaps(config.heartbeat_s, clock=clock)
        self._module = CoilModule(
            host=config.host,
            port=config.port,
            unit=config.unit,
            timeout_s=config.timeout_s,
            error=OutputDriverError,
            client_factory=client_factory,
        )
        self._alive: Alive = always_alive
        self._coil: bool | None = None  # last value written to the output's coil
        self._heartbeat_level = False
        self._heartbeat_failures = 0
        self._changed = asyncio.Event()

    @property
    def errors(self) -> int:
        return self._module.errors

    @property
    def last_error(self) -> str | None:
        return self._module.last_error

    def attach(self, report: Report) -> None:
        self.link.attach(report)
        if self.feedback_check is not None:
            self.feedback_check.attach(report)

    def set_alive(self, alive: Alive) -> None:
        """Write heartbeats and pulses only while ``alive()`` (the safety loop ticks)."""
        self._alive = alive

    async def set(self, mode: OutputMode) -> None:
        """Energise (on, and the first half of pulsed) or de-energise (off) the coil."""
        async with self._module.lock:
            self.gaps.look()
            await self._write(mode is not OutputMode.OFF, "")
            self.mode = mode
        self.modes.append(mode)
        if self.feedback_check is not None:
            self.feedback_check.update(mode, self.feedback)
        logger.info("output %s: %s (coil %d)", self.output_id, mode.value, self.config.coil)
        self._changed.set()  # restart the pulse/heartbeat timing from this write

    async def run(self) -> None:
        """Pulse, write heartbeats and read the feedback input until cancelled."""
        withheld: bool | None = None  # None until the safety loop first ticks: start-up is not a hang
        try:
            while True:
                pulsing = self.mode is OutputMode.PULSED
                self._changed.clear()
                try:
                    async with asyncio.timeout(self.pulse_half_period_s if pulsing else self.config.heartbeat_s):
                        await self._changed.wait()
                    continue  # a new mode was just written: time the next write from it
                except TimeoutError:
                    pass
                if not self._alive():
                    if withheld is False:
                        logger.error(
                            "output %s: safety loop not ticking; writes withheld so the module's watchdog drops it",
                            self.output_id,
                        )
                        withheld = True
                    continue
                if withheld:
                    logger.warning("output %s: safety loop ticking again; writes resumed", self.output_id)
                withheld = False
                try:
                    await self.beat(pulse=pulsing)
                except OutputDriverError as exc:
                    self._heartbeat_failures += 1
                    logger.warning("%s", exc)
                    if self._heartbeat_failures >= HEARTBEAT_FAILURES_UNREACHABLE:
                        self.link.failed(f"heartbeat failed {self._heartbeat_failures} times: {exc}")
                else:
                    self._heartbeat_failures = 0
                    self.link.ok()
        finally:
            self._module.close()

    async def beat(self, *, pulse: bool = False) -> None:
        """One pulse step or heartbeat, then the feedback input; raise ``OutputDriverError`` if it fails."""
        cfg = self.config
        async with self._module.lock:
            stall = self.gaps.look()
            if stall is not None:
                logger.warning(
                    "output %s: nothing reached its I/O module for %.1f s (%s); writing %s again",
                    self.output_id,
                    stall,
                    "GasGuard stopped" if self.gaps.frozen else "writes failed",
                    self.mode.value if self.mode else "nothing",
                )
            if pulse and self._coil is not None:
                await self._write(not self._coil, "pulse ")
            elif self.mode is not None and (cfg.heartbeat_coil is None or stall is not None):
                await self._write(self.mode is not OutputMode.OFF, "heartbeat ")
            if cfg.heartbeat_coil is not None:
                level = not self._heartbeat_level
                where = f"{self.output_id}: heartbeat coil {cfg.heartbeat_coil}={level} on {self._module.address}"
                self.gaps.trying()
                await self._module.write_coil(cfg.heartbeat_coil, level, where)
                self.gaps.wrote()
                self._heartbeat_level = level
            self.gaps.clear()
            self.heartbeats += 1
            if cfg.feedback_input is not None:
                where = f"{self.output_id}: read feedback input {cfg.feedback_input} on {self._module.address}"
                bits = await self._module.read_bits("inputs", [cfg.feedback_input], where)
                self.feedback = bits[cfg.feedback_input]
                if self.feedback_check is not None:
                    self.feedback_check.update(self.mode, self.feedback)

    async def aclose(self) -> None:
        self._module.close()

    async def _write(self, value: bool, what: str) -> None:
        where = f"{self.output_id}: {what}write coil {self.config.coil}={value} on {self._module.address}"
        self.gaps.trying()
        await self._module.write_coil(self.config.coil, value, where)
        self.gaps.wrote()
        self._coil = value
