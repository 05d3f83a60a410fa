"""The cause-and-effect matrix: sounders, beacons, fans, relays and the system-failure relay.

Each output names the zones and alarm levels that drive it, an optional vote (k of the named zones or
channels), and its behaviour: latching or not, an on-delay, a minimum on-time, and pulsed until an
operator silences it (then off, or steady). Silence is not acknowledge and not reset: a new alarm in
the output's zones sounds it again. Timers run on the ``now`` passed in, like the rest of the core.

The fault relay is the other way round: energised while GasGuard is healthy, de-energised on a
channel FAULT (in the zones it watches), a valve fault or a system fault. A controller that stops
drops it too, because its driver stops refreshing it (the I/O module's own watchdog).

An admin may force an output to its alarm state (sounding, flashing, running, or a fault relay
dropped) for at most ``MAX_OUTPUT_TEST_S``: a test never holds an output in its quiet state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gasguard.domain import (
    AlarmChanged,
    AlarmState,
    ChannelHealth,
    Level,
    OperatorCommand,
    Output,
    OutputCommand,
    OutputKind,
    OutputMode,
)
from gasguard.safety.spec import OutputSpec, VoteBy

if TYPE_CHECKING:
    from gasguard.safety.state import ChannelState, PlantState, ZoneState

MAX_OUTPUT_TEST_S = 600.0
"""Longest an admin may force an output for a test (10 minutes)."""

_CHANNEL_LEVELS = frozenset({Level.A1, Level.A2, Level.A3, Level.ROR, Level.FAULT})


class OutputState:
    """Mutable state of one output."""

    __slots__ = (
        "cause",
        "demand_since",
        "forced_until",
        "latched",
        "mode",
        "on",
        "on_since",
        "silenced",
        "spec",
    )

    def __init__(self, spec: OutputSpec) -> None:
        self.spec = spec
        self.on = False
        self.on_since: float | None = None
        self.demand_since: float | None = None
        self.latched = False
        self.silenced = False
        self.forced_until: float | None = None
        self.cause = ""
        # Unknown until the first evaluation, so the first one always tells the driver what to do.
        self.mode: OutputMode | None = None

    @property
    def is_fault_relay(self) -> bool:
        return self.spec.kind is OutputKind.FAULT_RELAY


# --------------------------------------------------------------------------- causes


def _channel_cause(ch: ChannelState, level: Level) -> bool:
    if ch.test_until is not None:
        return False  # test alarms drive no outputs
    if level is Level.A1:
        return ch.a1 or ch.over_range
    if level is Level.A2:
        return ch.a2 or ch.over_range
    if level is Level.A3:
        return ch.a3 or ch.over_range
    if level is Level.ROR:
        return ch.ror
    if level is Level.FAULT:
        return ch.in_service and ch.health is not ChannelHealth.OK
    return False


def _zone_level_cause(zone: ZoneState, level: Level) -> bool:
    if level is Level.VALVE_FAULT:
        return any(alarm.active for alarm in zone.valve_alarms.values())
    if level is Level.ML:
        return zone.ml_alarm.active
    return False


def _cause_count(spec: OutputSpec, state: PlantState) -> tuple[int, str]:
    """How many zones (or channels) have a driving cause, and a short text naming the first one."""
    count = 0
    first = ""
    by_channel = spec.vote_by is VoteBy.CHANNELS
    for zid in spec.zones:
        zone = state.zones[zid]
        zone_hit = ""
        for level in spec.levels:
            if level in _CHANNEL_LEVELS:
                for ch in zone.channels.values():
                    if _channel_cause(ch, level):
                        what = f"{ch.spec.id} {level.value}"
                        if by_channel:
                            count += 1
                            first = first or what
                        zone_hit = zone_hit or what
            elif _zone_level_cause(zone, level):
                what = f"{zid} {level.value}"
                if by_channel:
                    count += 1
                    first = first or what
                zone_hit = zone_hit or what
        if zone_hit and not by_channel:
            count += 1
            first = first or zone_hit
    return count, first


def _fault_relay_problem(spec: OutputSpec, state: PlantState) -> str:
    """Why the fault relay must drop right now ("" while everything is healthy)."""
    for zid in spec.fault_zones:
        for ch in state.zones[zid].channels.values():
            if ch.in_service and ch.health is not ChannelHealth.OK:
                return f"{ch.spec.id} in FAULT ({ch.health.value})"
    for zone in state.zones.values():
        for vid, alarm in zone.valve_alarms.items():
            if alarm.active:
                return f"{vid} VALVE_FAULT"
    for component, detail in sorted(state.system_faults.items()):
        return f"{component}: {detail}" if detail else component
    return ""


# --------------------------------------------------------------------------- evaluation


def evaluate_outputs(state: PlantState, now: float, out: list[Output]) -> None:
    """Recompute every output from the alarms now, and command the ones whose mode changed."""
    for output in state.outputs.values():
        if output.is_fault_relay:
            _evaluate_fault_relay(output, state, now, out)
        else:
            _evaluate_alarm_output(output, state, now, out)


def _evaluate_fault_relay(output: OutputState, state: PlantState, now: float, out: list[Output]) -> None:
    problem = _fault_relay_problem(output.spec, state)
    forced = _forced(output, now)
    output.on = not problem and not forced
    output.cause = "test: forced by an admin" if forced else (problem or "healthy")
    _command(output, OutputMode.ON if output.on else OutputMode.OFF, out, forced=forced)


def _evaluate_alarm_output(output: OutputState, state: PlantState, now: float, out: list[Output]) -> None:
    spec = output.spec
    count, cause = _cause_count(spec, state)
    demand = count >= spec.vote_k
    if demand:
        if output.demand_since is None or now < output.demand_since:
            output.demand_since = now
        if not output.on and now - output.demand_since >= spec.on_delay_s:
            output.on = True
            output.on_since = now
            output.silenced = False
            output.latched = spec.latching
        if output.on:
            output.cause = cause
    else:
        output.demand_since = None
        if output.on and not output.latched:
            on_since = output.on_since if output.on_since is not None else now
            if now - on_since >= spec.min_on_s or now < on_since:
                output.on = False
                output.on_since = None
                output.silenced = False
                output.cause = ""
    forced = _forced(output, now)
    if forced:
        mode = OutputMode.PULSED if spec.pulse_until_silenced else OutputMode.ON
    elif not output.on:
        mode = OutputMode.OFF
    elif output.silenced:
        mode = OutputMode.ON if spec.steady_when_silenced else OutputMode.OFF
    else:
        mode = OutputMode.PULSED if spec.pulse_until_silenced else OutputMode.ON
    _command(output, mode, out, forced=forced)


def _forced(output: OutputState, now: float) -> bool:
    until = output.forced_until
    if until is not None and now >= until:
        output.forced_until = until = None
    return until is not None


def _command(output: OutputState, mode: OutputMode, out: list[Output], *, forced: bool) -> None:
    if mode is output.mode:
        return
    output.mode = mode
    reason = "test: forced by an admin" if forced else (output.cause or "all clear")
    out.append(OutputCommand(output.spec.id, mode, reason, output.silenced, output.latched, forced))


def announce_outputs(state: PlantState, out: list[Output]) -> None:
    """Tell every driver its output's mode again (at start and after a restore)."""
    for output in state.outputs.values():
        if output.mode is not None:
            out.append(
                OutputCommand(
                    output.spec.id,
                    output.mode,
                    output.cause or "restart",
                    output.silenced,
                    output.latched,
                    output.forced_until is not None,
                )
            )


# --------------------------------------------------------------------------- operator and alarm hooks


def resound_on_new_alarms(state: PlantState, out: list[Output]) -> None:
    """A new (unacknowledged) alarm of a driving level in an output's zones sounds it again."""
    for change in out:
        if not isinstance(change, AlarmChanged) or change.state is not AlarmState.UNACKED or change.test:
            continue  # only a real new alarm sounds again; a test alarm drives nothing
        for output in state.outputs.values():
            if output.silenced and change.level in output.spec.levels and change.zone in output.spec.zones:
                output.silenced = False


def release_latches(state: PlantState, zone_id: str) -> None:
    """An accepted reset of ``zone_id`` releases the latch of outputs it drives (they go off once their
    causes are gone and their minimum on-time has passed)."""
    for output in state.outputs.values():
        if output.latched and zone_id in output.spec.zones:
            output.latched = False


_OpAnswer = tuple[str, bool, str]


def _named_output(state: PlantState, cmd: OperatorCommand) -> tuple[OutputState | None, _OpAnswer | None]:
    """The output a command names, or the refusal: unknown output, or an operator without a name."""
    output = state.outputs.get(cmd.target)
    if output is None:
        return None, ("", False, f"refused: no output {cmd.target!r}")
    if not cmd.user.strip():
        return None, (output.spec.zones[0], False, "refused: the operator must be named")
    return output, None


def silence(state: PlantState, cmd: OperatorCommand, now: float) -> _OpAnswer:
    output, refusal = _named_output(state, cmd)
    if output is None:
        assert refusal is not None
        return refusal
    zone = output.spec.zones[0]
    if output.is_fault_relay:
        return zone, False, f"refused: {cmd.target} is the system-failure relay; fix the fault instead"
    if not output.on:
        return zone, True, f"{cmd.target} is not sounding"
    output.silenced = True
    after = "steady until reset" if output.spec.steady_when_silenced else "off until a new alarm"
    return zone, True, f"{cmd.target} silenced ({after}); the alarms themselves are not acknowledged"


def start_output_test(state: PlantState, cmd: OperatorCommand, now: float) -> _OpAnswer:
    output, refusal = _named_output(state, cmd)
    if output is None:
        assert refusal is not None
        return refusal
    zone = output.spec.zones[0]
    if not cmd.reason.strip():
        return zone, False, "refused: test_output needs a reason"
    if not cmd.admin:
        return zone, False, "refused: only an admin may test an output"
    until = cmd.until
    if until is None or until != until or until <= now:
        return zone, False, "refused: a test needs an end time in the future"
    if until - now > MAX_OUTPUT_TEST_S:
        return zone, False, f"refused: an output test lasts at most {MAX_OUTPUT_TEST_S / 60:g} minutes"
    output.forced_until = until
    what = "dropped (de-energised)" if output.is_fault_relay else "forced on"
    return zone, True, f"{cmd.target} {what} for {until - now:.0f} s as a test"
