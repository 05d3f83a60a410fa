"""The driver protocols (valves and outputs) and the retrying wrappers every driver is used through.

A driver only knows how to move its device and how to report what it sees; what to do about a
failure is the safety core's job. ``RetryingValve`` retries a failed command a few times with backoff
and then reports ``ValveDriverFailed`` so the core raises a VALVE FAULT alarm. ``RetryingOutput``
keeps applying an output's newest mode until the device takes it.

Both also report whether the device can be reached at all, as a ``SystemFault`` (``valve:<id>`` or
``output:<id>``) through the device's ``LinkHealth``: a driver that cannot reach its device drops
the system-failure relay, and the relay comes back once the device answers again. Drivers that feed
an I/O module's watchdog (``heartbeat.py``) report through the same ``LinkHealth`` when their
heartbeats fail, so an idle device that stopped answering is noticed before the next command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from gasguard.domain import Event, OutputMode, SystemFault, ValveAction, ValveDriverFailed

log = logging.getLogger(__name__)

Report = Callable[[Event], None]
"""Where a driver sends ``ValveFeedback`` (and the wrapper ``ValveDriverFailed``): the pipeline's inbox."""


Alive = Callable[[], bool]
"""Whether the safety loop has ticked recently. Heartbeats are written only while it says so, so a
safety loop that hangs while the rest of the process runs lets the I/O module's watchdog fire."""


class ValveDriverError(RuntimeError):
    """The device did not take the command (no answer, bus error, refused)."""


class OutputDriverError(RuntimeError):
    """The output device did not take the command (no answer, bus error, refused)."""


class LinkHealth:
    """Whether one device can be reached, reported to the core as a ``SystemFault`` once per change.

    ``component`` is ``valve:<id>`` or ``output:<id>``. Until ``attach`` there is nowhere to report to
    and changes are only remembered.
    """

    def __init__(self, component: str) -> None:
        self.component = component
        self.down = False
        self.detail = ""
        self._report: Report | None = None

    def attach(self, report: Report) -> None:
        self._report = report
        if self.down:
            report(SystemFault(self.component, True, self.detail))

    def failed(self, detail: str) -> None:
        """The device cannot be reached (after the caller's own retries)."""
        if self.down:
            return
        self.down, self.detail = True, detail[:300]
        log.error("%s cannot be reached: %s", self.component, self.detail)
        if self._report is not None:
            self._report(SystemFault(self.component, True, self.detail))

    def ok(self) -> None:
        """The device answered."""
        if not self.down:
            return
        self.down, self.detail = False, ""
        log.info("%s answers again", self.component)
        if self._report is not None:
            self._report(SystemFault(self.component, False, "reachable again"))


def link_of(driver: object, component: str) -> LinkHealth:
    """The driver's own ``LinkHealth`` (shared with its heartbeat), or a new one for a driver without."""
    link = getattr(driver, "link", None)
    return link if isinstance(link, LinkHealth) else LinkHealth(component)


class ValveDriver(Protocol):
    """Moves one valve. ``drive`` returns once the device accepted the command (not when it arrived)."""

    valve_id: str

    def attach(self, report: Report) -> None:
        """Start reporting position feedback through ``report``."""

    async def drive(self, action: ValveAction) -> None: ...


class OutputDriver(Protocol):
    """Drives one output (sounder, beacon, fan, relay, fault relay). ``set`` returns once the device
    accepted the mode. ``pulsed`` is timed by the driver (about 0.5 s on, 0.5 s off)."""

    output_id: str

    def attach(self, report: Report) -> None:
        """Report through ``report`` (a ``SystemFault`` when the device cannot be reached)."""

    async def set(self, mode: OutputMode) -> None: ...


class RetryingValve:
    """Send a command with retries; after the last failure report ``ValveDriverFailed`` and a
    ``SystemFault`` for the unreachable driver (cleared by its next success)."""

    def __init__(self, driver: ValveDriver, report: Report, *, attempts: int = 3, backoff_s: float = 0.2) -> None:
        self.driver = driver
        self.report = report
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.failures = 0
        self.link = link_of(driver, f"valve:{driver.valve_id}")
        self.link.attach(report)

    async def send(self, action: ValveAction) -> bool:
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                await self.driver.drive(action)
                self.link.ok()
                return True
            except (ValveDriverError, OSError, TimeoutError) as exc:
                last = str(exc) or type(exc).__name__
                log.warning(
                    "valve %s: %s attempt %d/%d failed: %s",
                    self.driver.valve_id,
                    action.value,
                    attempt,
                    self.attempts,
                    last,
                )
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        self.failures += 1
        detail = f"{action.value} failed after {self.attempts} tries: {last}"
        self.report(ValveDriverFailed(self.driver.valve_id, detail))
        self.link.failed(detail)
        return False


class RetryingOutput:
    """Apply an output's newest mode, in order, until the device takes it.

    Commands for one output are never sent concurrently: ``command`` only records the wanted mode and
    wakes one worker, so a quick OFF-then-ON can never land as ON-then-OFF. After ``attempts`` failures
    in a row the device is reported unreachable (``SystemFault`` ``output:<id>``, which drops the fault
    relay) and the worker keeps trying every ``retry_s``: a fault relay must come back by itself once
    its module answers again.
    """

    def __init__(
        self,
        driver: OutputDriver,
        report: Report,
        *,
        attempts: int = 3,
        backoff_s: float = 0.2,
        retry_s: float = 5.0,
    ) -> None:
        self.driver = driver
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.retry_s = retry_s
        self.wanted: OutputMode | None = None
        self.applied: OutputMode | None = None
        self.failures = 0
        self.link = link_of(driver, f"output:{driver.output_id}")
        self.link.attach(report)
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def command(self, mode: OutputMode) -> asyncio.Task[None]:
        """Ask for ``mode`` (the newest request wins); returns the worker task. Call on the event loop."""
        self.wanted = mode
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"output-{self.driver.output_id}")
        return self._worker

    async def idle(self) -> None:
        """Wait until the newest mode is applied (for tests and orderly shutdown)."""
        while self.wanted is not self.applied and self._worker is not None and not self._worker.done():
            await asyncio.sleep(0.01)

    async def _work(self) -> None:
        failed_in_a_row = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            mode = self.wanted
            if mode is None or mode is self.applied:
                continue
            try:
                await self.driver.set(mode)
            except (OutputDriverError, OSError, TimeoutError) as exc:
                failed_in_a_row += 1
                self.failures += 1
                self.applied = None  # what the device does now is not known: write the next mode whatever it is
                last = str(exc) or type(exc).__name__
                log.warning(
                    "output %s: %s attempt %d failed: %s", self.driver.output_id, mode.value, failed_in_a_row, last
                )
                if failed_in_a_row >= self.attempts:
                    self.link.failed(f"{mode.value} failed after {failed_in_a_row} tries: {last}")
                    delay = self.retry_s
                else:
                    delay = self.backoff_s * 2 ** (failed_in_a_row - 1)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()  # a new request retries at once
                self._wake.set()
                continue
            failed_in_a_row = 0
            self.applied = mode
            self.link.ok()
