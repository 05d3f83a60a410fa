"""One alarm after ISA-18.2: its condition, acknowledgement, latch, shelving and out-of-service.

The state an operator sees is derived from five facts (condition active, acknowledged, latched,
shelved until, out of service until) so it can never disagree with them. Every change of the derived
state is reported once as an ``AlarmChanged``.

Shelving and out-of-service hide an alarm from the operator's list; they never change what the
interlock does with the condition (a shelved A2 still trips). They always carry an expiry time.
"""

from __future__ import annotations

from gasguard.domain import AlarmChanged, AlarmState, Level, Output


class Alarm:
    """Mutable record of one alarm; owned by the zone state that holds it."""

    __slots__ = (
        "acked",
        "active",
        "detail",
        "id",
        "latched",
        "latching",
        "level",
        "out_of_service_until",
        "shelved_until",
        "shown",
        "source",
        "test",
        "value",
        "zone",
    )

    def __init__(self, zone: str, source: str, level: Level, *, latching: bool) -> None:
        self.id = f"{zone}/{source}/{level.value}"
        self.zone = zone
        self.source = source
        self.level = level
        self.latching = latching
        self.active = False
        self.acked = True
        self.latched = False
        self.shelved_until: float | None = None
        self.out_of_service_until: float | None = None
        self.value: float | None = None
        self.detail = ""
        self.shown = AlarmState.NORMAL
        self.test = False  # its channel is in TEST: a test alarm, shown as such and driving nothing

    def state(self, now: float) -> AlarmState:
        """The ISA-18.2 state at ``now`` (suppression that has expired no longer counts)."""
        if self.out_of_service_until is not None and now < self.out_of_service_until:
            return AlarmState.OUT_OF_SERVICE
        if self.shelved_until is not None and now < self.shelved_until:
            return AlarmState.SHELVED
        if self.active:
            return AlarmState.ACKED if self.acked else AlarmState.UNACKED
        if self.latched:
            return AlarmState.LATCHED
        return AlarmState.NORMAL if self.acked else AlarmState.RTN_UNACKED

    def publish(self, now: float, out: list[Output]) -> None:
        """Append an ``AlarmChanged`` if the derived state differs from the last one shown."""
        state = self.state(now)
        if state is not self.shown:
            self.shown = state
            out.append(
                AlarmChanged(self.zone, self.id, self.source, self.level, state, self.value, self.detail, self.test)
            )

    def set_condition(self, active: bool, value: float | None, now: float, out: list[Output], detail: str = "") -> None:
        """Raise or clear the condition. A new activation needs a new acknowledgement."""
        if active == self.active:
            return
        self.active = active
        self.value = value
        self.detail = detail
        if active:
            self.acked = False
            if self.latching:
                self.latched = True
        self.publish(now, out)

    def acknowledge(self, now: float, out: list[Output]) -> None:
        self.acked = True
        self.publish(now, out)

    def reset(self, now: float, out: list[Output]) -> bool:
        """Clear the latch if the condition has gone. Returns whether the alarm is now unlatched."""
        if self.active:
            return False
        if self.latched:
            self.latched = False
            self.publish(now, out)
        return True

    def expire_suppression(self, now: float, out: list[Output]) -> None:
        """Drop shelving and out-of-service whose time has come, and report the state it reveals."""
        if self.shelved_until is not None and now >= self.shelved_until:
            self.shelved_until = None
        if self.out_of_service_until is not None and now >= self.out_of_service_until:
            self.out_of_service_until = None
        self.publish(now, out)

    @property
    def suppressed(self) -> bool:
        return self.shelved_until is not None or self.out_of_service_until is not None
