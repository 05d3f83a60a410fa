"""The valve driver protocol and the retrying wrapper every driver is used through.

A driver only knows how to move its valve and how to report the position it sees; what to do about a
failure is the safety core's job. ``RetryingValve`` retries a failed command a few times with backoff
and then reports ``ValveDriverFailed`` so the core raises a VALVE FAULT alarm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from gasguard.domain import Event, ValveAction, ValveDriverFailed

log = logging.getLogger(__name__)

Report = Callable[[Event], None]
"""Where a driver sends ``ValveFeedback`` (and the wrapper ``ValveDriverFailed``): the pipeline's inbox."""


class ValveDriverError(RuntimeError):
    """The device did not take the command (no answer, bus error, refused)."""


class ValveDriver(Protocol):
    """Moves one valve. ``drive`` returns once the device accepted the command (not when it arrived)."""

    valve_id: str

    def attach(self, report: Report) -> None:
        """Start reporting position feedback through ``report``."""

    async def drive(self, action: ValveAction) -> None: ...


class RetryingValve:
    """Send a command with retries; after the last failure report ``ValveDriverFailed``."""

    def __init__(self, driver: ValveDriver, report: Report, *, attempts: int = 3, backoff_s: float = 0.2) -> None:
        self.driver = driver
        self.report = report
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.failures = 0

    async def send(self, action: ValveAction) -> bool:
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                await self.driver.drive(action)
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
        self.report(
            ValveDriverFailed(self.driver.valve_id, f"{action.value} failed after {self.attempts} tries: {last}")
        )
        return False
