"""What the core does to its state: levels, votes, trips, closes, over range and the end of a test.

These are the building blocks the event handlers (``interlock``) and the operator handlers
(``operators``) share. Each appends what must happen to ``out``; none reads a clock.
"""

from __future__ import annotations

from gasguard.domain import (
    ChannelHealth,
    ChannelHealthChanged,
    Level,
    Output,
    ValveAction,
    ValveChanged,
    ValveCommand,
    ValveState,
    ZoneTripChanged,
)
from gasguard.safety.failsafe import describe
from gasguard.safety.levels import level_active
from gasguard.safety.spec import ChannelSpec
from gasguard.safety.state import _OK, OVER_RANGE_DETAIL, ChannelState, ZoneState
from gasguard.safety.valves import ValveRecord


def _above_span(value: object, spec: ChannelSpec) -> bool:
    return isinstance(value, (int, float)) and value > spec.valid_max


def _on_over_range(ch: ChannelState, raw: float, now: float, out: list[Output]) -> None:
    """A reading above the sensor's span: the highest gas alarm, latched until a checked reset.

    A saturated head says "more gas than I can measure", not "I am broken", so it trips whatever the
    fault policy is. Catalytic sensors can read low after a very rich exposure, so the next low
    reading releases nothing: only an operator reset, after the sensor is checked, does.
    """
    spec = ch.spec
    ch.last_raw = raw
    ch.flat_since = now
    lel = max(raw * spec.scale + spec.offset, spec.a3)
    ch.lel = lel
    if ch.rise is not None:
        ch.rise.clear()
    ch.over_range = True
    for level, attr in ((Level.A1, "a1"), (Level.A2, "a2"), (Level.A3, "a3")):
        setattr(ch, attr, True)
        ch.alarms[level].set_condition(True, lel, now, out, OVER_RANGE_DETAIL)


def _evaluate_levels(ch: ChannelState, lel: float, now: float, out: list[Output]) -> None:
    if ch.over_range:
        return  # held until an operator reset after the sensor is checked
    spec = ch.spec
    hyst = spec.hysteresis
    a1 = level_active(ch.a1, lel, spec.a1, hyst)
    a2 = level_active(ch.a2, lel, spec.a2, hyst)
    a3 = level_active(ch.a3, lel, spec.a3, hyst)
    if a1 is not ch.a1:
        ch.a1 = a1
        ch.alarms[Level.A1].set_condition(a1, lel, now, out)
    if a2 is not ch.a2:
        ch.a2 = a2
        ch.alarms[Level.A2].set_condition(a2, lel, now, out)
    if a3 is not ch.a3:
        ch.a3 = a3
        ch.alarms[Level.A3].set_condition(a3, lel, now, out)
    rise = ch.rise
    if rise is not None:
        ror_spec = ch.zone.spec.rate_of_rise
        assert ror_spec is not None
        rate = rise.update(now, lel)
        limit = ror_spec.lel_pct_per_min
        ror = rate is not None and (rate >= limit or (ch.ror and rate >= 0.5 * limit))
        if ror is not ch.ror:
            ch.ror = ror
            detail = f"rising {rate:.1f}% LEL/min" if rate is not None else ""
            ch.alarms[Level.ROR].set_condition(ror, lel, now, out, detail)


def _set_health(ch: ChannelState, health: ChannelHealth, now: float, out: list[Output]) -> None:
    ch.health = health
    detail = describe(health, ch.spec)
    out.append(ChannelHealthChanged(ch.zone.spec.id, ch.spec.id, health, detail))
    ch.alarms[Level.FAULT].set_condition(health is not _OK, ch.lel, now, out, detail)
    if health is not _OK and ch.rise is not None:
        ch.rise.clear()


def _revote(ch: ChannelState, now: float, out: list[Output]) -> None:
    vote = ch.compute_vote()
    if vote is ch.vote:
        return
    ch.vote = vote
    zone = ch.zone
    before = zone.votes
    zone.votes = before + (1 if vote else -1)
    k = zone.spec.vote_k
    if before < k <= zone.votes:
        cause = _vote_cause(zone)
        _trip(zone, cause, now, out)


def _vote_cause(zone: ZoneState) -> str:
    parts = []
    for ch in zone.channels.values():
        if not ch.vote:
            continue
        if ch.over_range:
            parts.append(f"{ch.spec.id} {OVER_RANGE_DETAIL}")
        elif ch.a2 or ch.a3:
            lel = "?" if ch.lel is None else f"{ch.lel:.1f}"
            parts.append(f"{ch.spec.id} {lel}% LEL >= A2 {ch.spec.a2:g}%")
        elif ch.health is not _OK:
            parts.append(f"{ch.spec.id} FAULT ({ch.health.value})")
        else:
            parts.append(f"{ch.spec.id} rate of rise")
    return f"{zone.votes} of {zone.spec.vote_k} required votes: " + "; ".join(parts)


def _trip(zone: ZoneState, cause: str, now: float, out: list[Output]) -> None:
    """Latch the zone's trip and close every valve in the same step."""
    if not zone.tripped:
        zone.tripped = True
        zone.trip_cause = cause
        out.append(ZoneTripChanged(zone.spec.id, True, cause))
    for valve in zone.valves.values():
        _close(zone, valve, f"trip: {cause}", now, out)


def _close(zone: ZoneState, valve: ValveRecord, reason: str, now: float, out: list[Output]) -> None:
    out.append(ValveCommand(zone.spec.id, valve.spec.id, ValveAction.CLOSE, reason))
    if valve.command_close(now, zone.spec.valve_travel_margin_s):
        out.append(ValveChanged(zone.spec.id, valve.spec.id, valve.state, valve.detail))


def _valve_changed(zone: ZoneState, valve: ValveRecord, now: float, out: list[Output]) -> None:
    out.append(ValveChanged(zone.spec.id, valve.spec.id, valve.state, valve.detail))
    alarm = zone.valve_alarms[valve.spec.id]
    alarm.set_condition(valve.state is ValveState.FAULT, None, now, out, valve.detail)


def _release_over_range(ch: ChannelState, now: float, out: list[Output]) -> None:
    """An accepted reset after an over-range: the levels follow the last reading again."""
    ch.over_range = False
    lel = ch.lel
    for level, attr, setpoint in (
        (Level.A1, "a1", ch.spec.a1),
        (Level.A2, "a2", ch.spec.a2),
        (Level.A3, "a3", ch.spec.a3),
    ):
        active = lel is not None and lel >= setpoint
        setattr(ch, attr, active)
        ch.alarms[level].set_condition(active, lel, now, out)
    _revote(ch, now, out)


def _end_test(ch: ChannelState, why: str, now: float, out: list[Output]) -> None:
    """Leave TEST: test alarms are cleared and the channel judged afresh from its last reading, so gas
    still there (test gas not yet gone, or a real leak) votes at once."""
    ch.test_until = None
    for alarm in ch.alarms.values():
        if alarm.level in (Level.A1, Level.A2, Level.A3, Level.ROR):
            alarm.set_condition(False, ch.lel, now, out)
            alarm.acked = True
            alarm.latched = False
        alarm.test = False
        alarm.publish(now, out)
    ch.a1 = ch.a2 = ch.a3 = ch.ror = False
    lel = ch.lel
    if ch.over_range:
        # The test gas saturated the head: over range stays latched until a checked reset.
        for level, attr in ((Level.A1, "a1"), (Level.A2, "a2"), (Level.A3, "a3")):
            setattr(ch, attr, True)
            ch.alarms[level].set_condition(True, lel, now, out, OVER_RANGE_DETAIL)
    elif lel is not None and ch.health is _OK:
        _evaluate_levels(ch, lel, now, out)
    _revote(ch, now, out)
