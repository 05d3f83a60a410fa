"""An output's feedback held against what it was told: a sounder commanded on whose relay stays off.

A commanded sounder that does not sound is worse than a missing one: the dashboard says "sounding"
while the room is silent. Where an output reports its state (a Modbus ``feedback_input``, an MQTT
``<base>/state`` topic with ``feedback: true``), a feedback that disagrees with the command for longer
than ``settle_s`` is a ``SystemFault`` on the component ``output:<id>:feedback``. That drops the
system-failure relay and names the output in its cause; it never touches a valve. It clears as soon
as the feedback agrees again.

``pulsed`` is checked only where the device reports a pulsed output as on (MQTT nodes do); a Modbus
feedback input follows the pulsing coil, so it is not judged while pulsed. The system-failure relay
itself is never checked here: its fault would drop it, which would "fix" the disagreement and raise
the relay again, over and over; its feedback is shown to operators instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from gasguard.actuators.base import Report
from gasguard.domain import OutputMode, SystemFault

log = logging.getLogger(__name__)

FEEDBACK_SETTLE_S = 3.0
"""How long feedback may disagree with a new command before it is a fault (relays settle in ms; an MQTT
node reports within a second or two)."""


def expected_feedback(mode: OutputMode | None, *, pulsed_reports_on: bool) -> bool | None:
    """The feedback a healthy device gives for ``mode``; ``None`` where it cannot be judged."""
    if mode is OutputMode.ON:
        return True
    if mode is OutputMode.OFF:
        return False
    if mode is OutputMode.PULSED and pulsed_reports_on:
        return True
    return None


class FeedbackCheck:
    """Compare one output's feedback with its command and report a lasting disagreement once."""

    def __init__(
        self,
        output_id: str,
        *,
        pulsed_reports_on: bool,
        settle_s: float = FEEDBACK_SETTLE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.output_id = output_id
        self.component = f"output:{output_id}:feedback"
        self.pulsed_reports_on = pulsed_reports_on
        self.settle_s = settle_s
        self.clock = clock
        self.down = False
        self.detail = ""
        self._report: Report | None = None
        self._since: float | None = None
        self._mode: OutputMode | None = None
        self._feedback: bool | None = None
        self._timer: asyncio.TimerHandle | None = None

    def attach(self, report: Report) -> None:
        self._report = report
        if self.down:
            report(SystemFault(self.component, True, self.detail))

    def update(self, mode: OutputMode | None, feedback: bool | None) -> None:
        """Note the newest command and feedback, and judge them (call on every change of either)."""
        if mode is not self._mode:
            self._since = None  # a new command: the device gets its settling time again
        self._mode, self._feedback = mode, feedback
        self.check()

    def check(self) -> None:
        expected = expected_feedback(self._mode, pulsed_reports_on=self.pulsed_reports_on)
        if expected is None or self._feedback is expected:
            self._since = None
            self._cancel_timer()
            self._clear()
            return
        now = self.clock()
        if self._since is None:
            self._since = now
        waited = now - self._since
        if waited >= self.settle_s:
            seen = "nothing" if self._feedback is None else ("on" if self._feedback else "off")
            self._raise(f"commanded {self._mode.value if self._mode else '?'}, its feedback says {seen}")
        else:
            self._recheck_in(self.settle_s - waited)

    def _recheck_in(self, delay_s: float) -> None:
        """A device that never reports must still be judged: look again when the settling time is up."""
        with contextlib.suppress(RuntimeError):  # no running loop (a synchronous caller): the next update judges
            loop = asyncio.get_running_loop()
            self._cancel_timer()
            self._timer = loop.call_later(delay_s + 0.01, self.check)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _raise(self, detail: str) -> None:
        if self.down:
            return
        self.down, self.detail = True, detail
        log.error("output %s: %s", self.output_id, detail)
        if self._report is not None:
            self._report(SystemFault(self.component, True, detail))

    def _clear(self) -> None:
        if not self.down:
            return
        self.down, self.detail = False, ""
        log.warning("output %s: its feedback agrees with its command again", self.output_id)
        if self._report is not None:
            self._report(SystemFault(self.component, False, "feedback agrees again"))
