"""The interlock: ``step(state, event, now) -> (state, outputs)``.

Readings become %LEL, %LEL becomes alarm conditions, conditions and channel health become votes,
``k`` votes trip the zone, and a tripped zone closes its valves and stays latched until an operator
resets it. Nothing here does I/O or reads a clock: ``now`` is passed in (seconds, monotonic or epoch
as long as the caller is consistent), so the same trace always gives the same outputs.

``step`` updates ``state`` in place and returns it, for speed: one process owns each zone's state (the
zone is the unit of ownership), and a reading that changes nothing allocates nothing. Use
``gasguard.safety.snapshot`` to copy or persist a state.

Safety rules enforced here (see ARCHITECTURE.md):

- a trip never depends on ML: ML signals can trip a zone earlier, never clear or delay it;
- a FAULT channel votes to trip unless the zone's fault policy says ``alarm``;
- gas is physical, not bookkeeping: a channel at or above A2 votes whether it is in service or not,
  and a reading above the sensor's span is an over-range gas condition (A3, latched until an operator
  reset after the sensor is checked), never only a FAULT, whatever the fault policy;
- A2 and A3 latch; reset and reopen are refused while any channel of the zone, in service or not,
  reads at or above its A2; reset also while a voting channel in service is in FAULT, an over-range is
  unacknowledged, or an ML signal is still held; acknowledge is not reset;
- close is always allowed, issued in the very step a zone's vote reaches ``k``, and re-asserted every
  ``close_reassert_s`` while the zone is tripped; a valve is never opened by the core on its own, only
  by an operator, with a reason, after an accepted reset, once it reports closed and any valve fault
  is acknowledged;
- a channel at or above A2 (or with A2/A3 latched) cannot be taken out of service; shelving and
  out-of-service always carry an expiry and are bounded in length (out of service no longer than a
  shelve unless an admin asks).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from gasguard.domain import (
    ChannelHealth,
    ChannelHealthChanged,
    Event,
    Level,
    MlSignal,
    MlSignalKind,
    OperatorCommand,
    Output,
    Reading,
    SystemFault,
    Tick,
    ValveDriverFailed,
    ValveFeedback,
    ValveState,
)
from gasguard.safety.failsafe import classify_value, describe
from gasguard.safety.operators import _on_operator
from gasguard.safety.outputs import (
    evaluate_outputs,
    resound_on_new_alarms,
)
from gasguard.safety.rules import (
    _above_span,
    _close,
    _end_test,
    _evaluate_levels,
    _on_over_range,
    _revote,
    _set_health,
    _trip,
    _valve_changed,
)
from gasguard.safety.spec import PlantSpec
from gasguard.safety.state import (
    _OK,
    _WARMING,
    MAX_CHANNEL_TEST_S,
    MAX_OPERATOR_OUT_OF_SERVICE_S,
    MAX_OUT_OF_SERVICE_S,
    MAX_SHELVE_S,
    OVER_RANGE_DETAIL,
    ChannelState,
    PlantState,
    ZoneState,
    _build,
)

__all__ = [
    "MAX_CHANNEL_TEST_S",
    "MAX_OPERATOR_OUT_OF_SERVICE_S",
    "MAX_OUT_OF_SERVICE_S",
    "MAX_SHELVE_S",
    "OVER_RANGE_DETAIL",
    "ChannelState",
    "PlantState",
    "ZoneState",
    "cold_start",
    "running_start",
    "step",
]


# --------------------------------------------------------------------------- construction


def cold_start(spec: PlantSpec, now: float) -> tuple[PlantState, list[Output]]:
    """State for a first start with no snapshot: the safe state.

    Valve positions are unknown and sensors are warming up, so every zone starts tripped and every
    valve is commanded closed. An operator resets and reopens once the zone is healthy, as with a
    manual-reset gas safety valve after a power cut.
    """
    state = _build(spec, now, warm=False, valve_state=ValveState.UNKNOWN)
    out: list[Output] = []
    for zone in state.zones.values():
        for ch in zone.channels.values():
            if ch.health is not _OK:
                ch.alarms[Level.FAULT].set_condition(True, None, now, out, describe(ch.health, ch.spec))
                out.append(ChannelHealthChanged(zone.spec.id, ch.spec.id, ch.health, describe(ch.health, ch.spec)))
            ch.vote = ch.compute_vote()
        zone.votes = sum(1 for ch in zone.channels.values() if ch.vote)
        _trip(zone, "cold start: valve positions unknown", now, out)
    evaluate_outputs(state, now, out)
    return state, out


def running_start(spec: PlantSpec, now: float) -> PlantState:
    """State of a plant already running normally: sensors warm and valves confirmed open.

    For simulations and tests that begin mid-operation. A live service uses ``cold_start`` or a
    restored snapshot, never this.
    """
    return _build(spec, now, warm=True, valve_state=ValveState.OPEN)


# --------------------------------------------------------------------------- the step


def step(state: PlantState, event: Event, now: float) -> tuple[PlantState, list[Output]]:
    """Apply one event at time ``now``; return the state and what must happen as a result."""
    out: list[Output] = []
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise TypeError(f"the safety core does not handle {type(event).__name__}")
    handler(state, event, now, out)
    if state.outputs and (out or type(event) in _OUTPUT_TRIGGERS):
        resound_on_new_alarms(state, out)
        evaluate_outputs(state, now, out)
    return state, out


def _on_reading(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, Reading)
    ch = state.channel_index.get(event.channel)
    if ch is None:
        return  # unknown channel: counted and logged by the caller, never a safety input
    spec = ch.spec
    value = event.value
    ch.last_seen = now
    health = classify_value(value, spec)
    if health is ChannelHealth.OUT_OF_RANGE and now >= ch.warm_until and _above_span(value, spec):
        assert isinstance(value, (int, float))
        _on_over_range(ch, float(value), now, out)
        health = _OK
    elif health is _OK:
        assert value is not None
        raw = float(value)
        if spec.flatline_s is not None:
            last = ch.last_raw
            if last is None or abs(raw - last) > spec.flatline_epsilon:
                ch.flat_since = now
            elif now - ch.flat_since >= spec.flatline_s:
                health = ChannelHealth.FLATLINE
        ch.last_raw = raw
        if now < ch.warm_until:
            health = _WARMING
        if health is _OK:
            lel = raw * spec.scale + spec.offset
            ch.lel = lel
            _evaluate_levels(ch, lel, now, out)
    if health is not ch.health:
        _set_health(ch, health, now, out)
    _revote(ch, now, out)


# --------------------------------------------------------------------------- time


def _on_tick(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    for zone in state.zones.values():
        _tick_zone(zone, now, out)


def _tick_zone(zone: ZoneState, now: float, out: list[Output]) -> None:
    for ch in zone.channels.values():
        spec = ch.spec
        if now < ch.last_seen:
            # The clock stepped back: count staleness from now, or a channel that dies just after the
            # step would look fresh until the clock caught up with its last reading.
            ch.last_seen = now
        if ch.out_of_service_until is not None and now >= ch.out_of_service_until:
            ch.out_of_service_until = None
            _revote(ch, now, out)
        if ch.test_until is not None and now >= ch.test_until:
            _end_test(ch, "test time over", now, out)
        if now - ch.last_seen > spec.stale_timeout_s:
            if ch.health is not ChannelHealth.STALE:
                _set_health(ch, ChannelHealth.STALE, now, out)
                _revote(ch, now, out)
        elif ch.health is _WARMING and now >= ch.warm_until:
            # Warm-up over; the next valid reading confirms OK. Until then the channel reports the
            # last classification, which for a warmed sensor with fresh readings is OK.
            _set_health(ch, _OK, now, out)
            _revote(ch, now, out)
        for alarm in ch.alarms.values():
            if alarm.suppressed:
                alarm.expire_suppression(now, out)
    if zone.ml_until is not None and now >= zone.ml_until:
        zone.ml_until = None
        zone.ml_alarm.set_condition(False, None, now, out)
    if zone.ml_alarm.suppressed:
        zone.ml_alarm.expire_suppression(now, out)
    for vid, valve in zone.valves.items():
        if valve.on_deadline(now):
            _valve_changed(zone, valve, now, out)
        alarm = zone.valve_alarms[vid]
        if alarm.suppressed:
            alarm.expire_suppression(now, out)
        if zone.tripped:
            last = valve.last_close_at
            if last is None or now - last >= zone.spec.close_reassert_s or now < last:
                _close(zone, valve, f"re-assert while tripped: {zone.trip_cause}", now, out)


# --------------------------------------------------------------------------- valves and ML


def _on_feedback(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, ValveFeedback)
    found = state.valve_index.get(event.valve)
    if found is None:
        return
    zone, valve = found
    was_open = valve.state in (ValveState.OPEN, ValveState.OPENING)
    changed, uncommanded = valve.on_feedback(event.position)
    if changed:
        _valve_changed(zone, valve, now, out)
    if was_open and valve.state is ValveState.CLOSED:
        # Closed without a command: by hand, or by its I/O module's watchdog when GasGuard stopped
        # answering. Either way the zone latches shut; only an operator reopens it, after a reset.
        how = event.detail or "closed without a command (by hand, or by its watchdog)"
        _trip(zone, f"{valve.spec.id} {how}", now, out)
    if uncommanded:
        _close(zone, valve, f"valve {valve.detail}", now, out)
    elif zone.tripped and valve.state not in (ValveState.CLOSED, ValveState.CLOSING):
        last = valve.last_close_at
        if last is None or now - last >= zone.spec.close_reassert_s or now < last:
            _close(zone, valve, f"re-assert while tripped: {zone.trip_cause}", now, out)


def _on_driver_failed(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, ValveDriverFailed)
    found = state.valve_index.get(event.valve)
    if found is None:
        return
    zone, valve = found
    valve.deadline = None
    valve.detail = f"driver failed: {event.detail}"
    if valve.state is not ValveState.FAULT:
        valve.state = ValveState.FAULT
    _valve_changed(zone, valve, now, out)


def _on_system_fault(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    """A part of GasGuard failed or recovered. It only drops the fault relay (via the outputs)."""
    assert isinstance(event, SystemFault)
    if event.active:
        state.system_faults[event.component] = event.detail
    else:
        state.system_faults.pop(event.component, None)


def _on_ml(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, MlSignal)
    zone = state.zones.get(event.zone)
    if zone is None or not zone.spec.ml_may_trip or not math.isfinite(event.score):
        return
    until = now + zone.spec.ml_hold_s
    zone.ml_until = until if zone.ml_until is None else max(zone.ml_until, until)
    detail = _describe_ml(event)
    zone.ml_alarm.set_condition(True, None, now, out, detail)
    _trip(zone, f"early trip: {detail}", now, out)


def _describe_ml(event: MlSignal) -> str:
    """Words for a person on shift: who saw what, then the evidence."""
    if event.kind is MlSignalKind.VISUAL_LEAK:
        what = f"camera {event.source} sees a gas plume"
    else:
        what = f"{event.source} expects the trip level soon"
    evidence = event.detail.strip() or f"score {event.score:.2f}"
    return f"{what} ({evidence})"


# --------------------------------------------------------------------------- operators


_OUTPUT_TRIGGERS = frozenset({Tick, SystemFault, OperatorCommand})
"""Events that can change an output without changing an alarm (timers, system faults, silence, tests)."""


_Handler = Callable[[PlantState, Event, float, list[Output]], None]


_HANDLERS: dict[type, _Handler] = {
    Reading: _on_reading,
    Tick: _on_tick,
    ValveFeedback: _on_feedback,
    ValveDriverFailed: _on_driver_failed,
    MlSignal: _on_ml,
    OperatorCommand: _on_operator,
    SystemFault: _on_system_fault,
}
