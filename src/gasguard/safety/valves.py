"""The valve state machine: what the core believes a valve is doing, from commands and feedback.

Closing is always allowed and idempotent. A valve that does not reach the commanded position within
its travel time (plus a margin) is in FAULT. A valve that moves without a command is in FAULT too. A
valve without position feedback is assumed to have arrived once its travel time has passed.
"""

from __future__ import annotations

from gasguard.domain import ValvePosition, ValveState
from gasguard.safety.spec import ValveSpec


class ValveRecord:
    """Mutable record of one valve; owned by its zone's state."""

    __slots__ = ("deadline", "detail", "last_close_at", "open_permitted", "spec", "state")

    def __init__(self, spec: ValveSpec, state: ValveState) -> None:
        self.spec = spec
        self.state = state
        self.deadline: float | None = None
        self.last_close_at: float | None = None
        # Set only by an accepted operator reset; cleared by any trip or close. Opening needs it.
        self.open_permitted = False
        self.detail = ""

    def command_close(self, now: float, margin_s: float) -> bool:
        """Note a close command. Returns True if the believed state changed."""
        self.last_close_at = now
        self.open_permitted = False
        if self.state in (ValveState.CLOSED, ValveState.CLOSING, ValveState.FAULT):
            # Already there, already travelling (keep the first deadline), or faulted (stay faulted
            # until feedback shows it closed, so a stuck valve does not flap between states).
            return False
        self.state = ValveState.CLOSING
        self.deadline = now + self.spec.travel_time_s + margin_s
        self.detail = ""
        return True

    def command_open(self, now: float, margin_s: float) -> None:
        self.state = ValveState.OPENING
        self.deadline = now + self.spec.travel_time_s + margin_s
        self.detail = ""

    def on_deadline(self, now: float) -> bool:
        """Check the travel deadline. Returns True if the believed state changed."""
        if self.deadline is None or now < self.deadline:
            return False
        self.deadline = None
        if self.state is ValveState.CLOSING:
            if self.spec.feedback:
                self.state = ValveState.FAULT
                self.detail = f"did not close within {self.spec.travel_time_s:g} s"
            else:
                self.state = ValveState.CLOSED
            return True
        if self.state is ValveState.OPENING:
            if self.spec.feedback:
                self.state = ValveState.FAULT
                self.detail = f"did not open within {self.spec.travel_time_s:g} s"
            else:
                self.state = ValveState.OPEN
            return True
        return False

    def on_feedback(self, position: ValvePosition) -> tuple[bool, bool]:
        """Apply a position report. Returns (state changed, moved without a command)."""
        state = self.state
        if position is ValvePosition.CLOSED:
            if state is ValveState.OPENING:
                return False, False  # has not left the seat yet
            if state is ValveState.OPEN:
                self.open_permitted = False  # closed by hand: reopening needs a reset again
            changed = state is not ValveState.CLOSED
            self.state = ValveState.CLOSED
            self.deadline = None
            self.detail = ""
            return changed, False
        if position is ValvePosition.OPEN:
            if state in (ValveState.OPENING, ValveState.UNKNOWN):
                self.state = ValveState.OPEN
                self.deadline = None
                return True, False
            if state is ValveState.CLOSED:
                self.state = ValveState.FAULT
                self.detail = "opened without a command"
                return True, True
            return False, False  # closing (still travelling), open, or fault (e.g. stuck open)
        if position is ValvePosition.MOVING:
            if state is ValveState.CLOSED:
                self.state = ValveState.FAULT
                self.detail = "moved without a command"
                return True, True
            return False, False
        # Position unknown: feedback lost or both limit switches disagree.
        if state is ValveState.FAULT:
            return False, False
        self.state = ValveState.FAULT
        self.detail = "position feedback lost"
        self.deadline = None
        return True, False
