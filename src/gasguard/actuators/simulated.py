"""A simulated valve (travel time, position switches, injectable faults, on real asyncio time) and a
simulated output (a sounder, beacon, fan or relay that follows its commands at once)."""

from __future__ import annotations

import asyncio
import contextlib

from gasguard.actuators.base import LinkHealth, OutputDriverError, Report, ValveDriverError
from gasguard.domain import OutputMode, ValveAction, ValveFeedback, ValvePosition


class SimulatedValve:
    """Moves over ``travel_time_s`` and reports MOVING, then CLOSED or OPEN.

    ``stuck`` makes it accept commands without moving (a seized actuator); ``unreachable`` makes every
    command fail as if the bus were down.
    """

    def __init__(self, valve_id: str, *, travel_time_s: float = 2.0, position: ValvePosition = ValvePosition.OPEN):
        self.valve_id = valve_id
        self.travel_time_s = travel_time_s
        self.position = position
        self.stuck = False
        self.unreachable = False
        self.commands: list[ValveAction] = []
        self._report: Report | None = None
        self._motion: asyncio.Task[None] | None = None

    def attach(self, report: Report) -> None:
        self._report = report
        report(ValveFeedback(self.valve_id, self.position))

    async def drive(self, action: ValveAction) -> None:
        if self.unreachable:
            raise ValveDriverError(f"{self.valve_id}: no answer")
        self.commands.append(action)
        target = ValvePosition.CLOSED if action is ValveAction.CLOSE else ValvePosition.OPEN
        if self.stuck or self.position is target:
            return
        if self._motion is not None and not self._motion.done():
            self._motion.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._motion
        self._motion = asyncio.get_running_loop().create_task(self._move(target))

    async def _move(self, target: ValvePosition) -> None:
        self._set(ValvePosition.MOVING)
        await asyncio.sleep(self.travel_time_s)
        self._set(target)

    def _set(self, position: ValvePosition) -> None:
        self.position = position
        if self._report is not None:
            self._report(ValveFeedback(self.valve_id, position))

    async def aclose(self) -> None:
        if self._motion is not None and not self._motion.done():
            self._motion.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._motion


class SimulatedOutput:
    """An output with no hardware: takes every mode at once and reports it back as its feedback.

    ``unreachable`` makes every command fail as if the bus were down (the fault relay then drops).
    """

    def __init__(self, output_id: str) -> None:
        self.output_id = output_id
        self.mode: OutputMode | None = None
        self.modes: list[OutputMode] = []
        self.unreachable = False
        self.link = LinkHealth(f"output:{output_id}")

    @property
    def feedback(self) -> bool | None:
        """Energised or not (pulsed counts as energised); ``None`` before the first command."""
        return None if self.mode is None else self.mode is not OutputMode.OFF

    def attach(self, report: Report) -> None:
        self.link.attach(report)

    async def set(self, mode: OutputMode) -> None:
        if self.unreachable:
            raise OutputDriverError(f"{self.output_id}: no answer")
        self.mode = mode
        self.modes.append(mode)
