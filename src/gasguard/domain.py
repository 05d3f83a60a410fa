"""The shared vocabulary of GasGuard: readings, events into the safety core and what comes out of it.

Standard library only, like the safety core that uses it. Every type here is a frozen, slotted
dataclass or a ``str`` enum, so values are cheap to build on the hot path, hashable, and serialise to
JSON without custom encoders (enums are strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """Alarm levels of a flammable-gas channel, plus the non-gas alarms a channel or valve can raise."""

    A1 = "A1"  # warning, non-latching, with hysteresis
    A2 = "A2"  # alarm, latching, trips the zone (closes its valves)
    A3 = "A3"  # high alarm, latching
    ROR = "ROR"  # rate of rise, %LEL per minute
    FAULT = "FAULT"  # channel health (warm-up, stale, out of range, NaN, flat-line)
    VALVE_FAULT = "VALVE_FAULT"  # valve did not reach the commanded position in time, or moved by itself
    ML = "ML"  # an ML model or the thermal camera asked for an early trip


class AlarmState(StrEnum):
    """Alarm states after ISA-18.2, as shown to an operator."""

    NORMAL = "normal"
    UNACKED = "unacknowledged"
    ACKED = "acknowledged"
    RTN_UNACKED = "returned_unacknowledged"
    LATCHED = "latched"
    SHELVED = "shelved"
    OUT_OF_SERVICE = "out_of_service"


class ChannelHealth(StrEnum):
    """Why a channel can or cannot be trusted right now."""

    OK = "ok"
    WARMING_UP = "warming_up"
    STALE = "stale"
    OUT_OF_RANGE = "out_of_range"
    INVALID = "invalid"  # NaN, infinity or a value that is not a number
    FLATLINE = "flatline"


class ValveState(StrEnum):
    """Valve positions as the safety core believes them, from commands and feedback."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    OPENING = "opening"
    FAULT = "fault"
    UNKNOWN = "unknown"


class ValveAction(StrEnum):
    OPEN = "open"
    CLOSE = "close"


class ValvePosition(StrEnum):
    """What a valve's feedback (limit switches) reports."""

    OPEN = "open"
    CLOSED = "closed"
    MOVING = "moving"
    UNKNOWN = "unknown"


class MlSignalKind(StrEnum):
    PREDICTED_TRIP = "predicted_trip"  # a forecast or gas-type model expects the trip level soon
    VISUAL_LEAK = "visual_leak"  # a thermal or OGI camera confirmed a plume


class OperatorAction(StrEnum):
    ACK = "ack"
    RESET = "reset"
    OPEN = "open"
    CLOSE = "close"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    INHIBIT = "inhibit"
    UNINHIBIT = "uninhibit"
    SILENCE = "silence"  # acknowledge a sounder: it stops (or goes steady); the alarm itself is untouched
    TEST_OUTPUT = "test_output"  # an admin forces an output to its alarm state for at most 10 minutes
    TEST_CHANNEL = "test_channel"  # a channel in TEST for a bump test or calibration (at most 30 minutes)
    END_TEST = "end_test"


class OutputKind(StrEnum):
    """Devices driven by the cause-and-effect matrix beside the valves."""

    SOUNDER = "sounder"
    BEACON = "beacon"
    FAN = "fan"
    RELAY = "relay"
    FAULT_RELAY = "fault_relay"  # energised while GasGuard is healthy; drops on any fault or when GasGuard dies


class OutputMode(StrEnum):
    """What an output device is told to do. ``pulsed`` is timed by the driver (the core does not blink)."""

    OFF = "off"
    ON = "on"
    PULSED = "pulsed"


# --------------------------------------------------------------------------- events into the core


@dataclass(frozen=True, slots=True)
class Reading:
    """One sample of one channel, in the channel's configured unit (ppm, %LEL or raw counts).

    ``value`` may be ``None`` or NaN when the device reported garbage; the safety core turns that
    into a channel FAULT rather than dropping it. ``ts`` is the device's timestamp (epoch seconds);
    the core uses the ``now`` it is given for freshness, so a device with a wrong clock cannot make
    a dead channel look alive.
    """

    channel: str
    value: float | None
    ts: float


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes: check staleness, valve travel deadlines, shelve and inhibit expiry."""


@dataclass(frozen=True, slots=True)
class ValveFeedback:
    """A valve's position switches reported a position.

    ``detail`` is what the driver knows about a move nobody commanded, e.g. "closed by its watchdog:
    GasGuard stopped answering for 12 s"; it becomes part of the trip cause.
    """

    valve: str
    position: ValvePosition
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SystemFault:
    """A part of GasGuard itself failed (a driver that cannot be reached, storage down past its buffer)
    or recovered. It drops the fault relay; it never trips a zone or opens anything."""

    component: str
    active: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ValveDriverFailed:
    """The actuator gave up on a command after its retries (no answer, bus error)."""

    valve: str
    detail: str


@dataclass(frozen=True, slots=True)
class MlSignal:
    """An ML model or camera asks for an early trip of a zone. It can only trip, never clear."""

    zone: str
    kind: MlSignalKind
    source: str
    score: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """An operator's request. Who, why and (for shelve/inhibit) until when are required.

    ``target`` is an alarm id (``zone/channel/LEVEL`` or ``zone/valve/VALVE_FAULT``) for ack, shelve and
    unshelve; a zone id for reset; a valve id for open and close; a channel id for inhibit; an output id
    for silence and test_output. ``admin`` is
    set by the edge from the caller's role; the core uses it only to bound out-of-service time.
    """

    action: OperatorAction
    target: str
    user: str
    reason: str = ""
    until: float | None = None
    admin: bool = False  # the caller is an admin: out of service may then last longer than a shelve


Event = Reading | Tick | ValveFeedback | ValveDriverFailed | MlSignal | OperatorCommand | SystemFault


# --------------------------------------------------------------------------- outputs of the core


@dataclass(frozen=True, slots=True)
class ValveCommand:
    """Drive a valve. ``close`` is always allowed and idempotent; ``open`` only follows an operator."""

    zone: str
    valve: str
    action: ValveAction
    reason: str


@dataclass(frozen=True, slots=True)
class AlarmChanged:
    """An alarm moved to a new ISA-18.2 state."""

    zone: str
    alarm_id: str
    source: str  # channel or valve id, or the zone id for ML alarms
    level: Level
    state: AlarmState
    value: float | None  # %LEL at the change, when the alarm is about gas
    detail: str = ""
    test: bool = False  # raised while its channel is in TEST: shown as a test alarm, drives nothing


@dataclass(frozen=True, slots=True)
class ValveChanged:
    zone: str
    valve: str
    state: ValveState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ChannelHealthChanged:
    zone: str
    channel: str
    health: ChannelHealth
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ZoneTripChanged:
    """A zone tripped (latched) or was reset."""

    zone: str
    tripped: bool
    cause: str


@dataclass(frozen=True, slots=True)
class OperatorResult:
    """The answer to an operator command: accepted or refused, and why. Always audited."""

    zone: str
    action: OperatorAction
    target: str
    user: str
    reason: str
    accepted: bool
    message: str


@dataclass(frozen=True, slots=True)
class OutputCommand:
    """Drive a sounder, beacon, fan or relay. Issued when its mode changes (and at start and restore).

    For a ``fault_relay``, ``on`` means energised (healthy) and ``off`` de-energised (fault).
    """

    output: str
    mode: OutputMode
    reason: str
    silenced: bool = False
    latched: bool = False
    forced: bool = False


Output = (
    ValveCommand | AlarmChanged | ValveChanged | ChannelHealthChanged | ZoneTripChanged | OperatorResult | OutputCommand
)
