"""Operator commands in the core: acknowledge, reset, open, close, shelve, out of service, test, silence.

Each handler answers accepted or refused with the reason an operator reads. The rules that protect
people live here: reset and reopen are refused while gas is present, a channel that sees gas cannot be
taken out of service or tested, out of service beyond a shelve needs an admin, and reopening needs a
valve that reports closed with its fault acknowledged.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from gasguard.domain import (
    Event,
    Level,
    OperatorAction,
    OperatorCommand,
    OperatorResult,
    Output,
    ValveAction,
    ValveCommand,
    ValveState,
    ZoneTripChanged,
)
from gasguard.safety.outputs import (
    release_latches,
    silence,
    start_output_test,
)
from gasguard.safety.rules import _close, _end_test, _release_over_range, _revote, _trip, _valve_changed
from gasguard.safety.state import (
    MAX_CHANNEL_TEST_S,
    MAX_OPERATOR_OUT_OF_SERVICE_S,
    MAX_OUT_OF_SERVICE_S,
    MAX_SHELVE_S,
    OVER_RANGE_DETAIL,
    ChannelState,
    PlantState,
)


def _on_operator(state: PlantState, event: Event, now: float, out: list[Output]) -> None:
    assert isinstance(event, OperatorCommand)
    action = event.action
    zone_id, accepted, message = _OPERATOR_HANDLERS[action](state, event, now, out)
    out.append(OperatorResult(zone_id, action, event.target, event.user, event.reason, accepted, message))


_OpResult = tuple[str, bool, str]


def _needs_reason(cmd: OperatorCommand) -> str | None:
    if not cmd.user.strip():
        return "refused: the operator must be named"
    if not cmd.reason.strip():
        return f"refused: {cmd.action.value} needs a reason"
    return None


def _op_ack(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    alarm = state.alarm_index.get(cmd.target)
    if alarm is None:
        zone = state.zones.get(cmd.target)
        if zone is None:
            return "", False, f"refused: no alarm or zone {cmd.target!r}"
        if not cmd.user.strip():
            return zone.spec.id, False, "refused: the operator must be named"
        for a in zone.all_alarms():
            if not a.acked:
                a.acknowledge(now, out)
        return zone.spec.id, True, "acknowledged every alarm of the zone (acknowledge is not reset)"
    if not cmd.user.strip():
        return alarm.zone, False, "refused: the operator must be named"
    if alarm.acked:
        return alarm.zone, True, "already acknowledged"
    alarm.acknowledge(now, out)
    return alarm.zone, True, "acknowledged (acknowledge is not reset)"


def _op_reset(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    zone = state.zones.get(cmd.target)
    if zone is None:
        return "", False, f"refused: no zone {cmd.target!r}"
    zid = zone.spec.id
    problem = _needs_reason(cmd)
    if problem:
        return zid, False, problem
    blockers = zone.reset_blockers(now)
    if blockers:
        return zid, False, "refused: condition still present: " + "; ".join(blockers)
    for ch in zone.channels.values():
        if ch.over_range:
            _release_over_range(ch, now, out)
    for alarm in zone.all_alarms():
        alarm.reset(now, out)
    if zone.tripped:
        zone.tripped = False
        out.append(ZoneTripChanged(zid, False, f"reset by {cmd.user}: {cmd.reason}"))
    zone.trip_cause = ""
    for valve in zone.valves.values():
        valve.open_permitted = True
    release_latches(state, zid)
    return zid, True, "reset accepted; valves may be reopened by an operator"


def _op_open(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    found = state.valve_index.get(cmd.target)
    if found is None:
        return "", False, f"refused: no valve {cmd.target!r}"
    zone, valve = found
    zid = zone.spec.id
    problem = _needs_reason(cmd)
    if problem:
        return zid, False, problem
    if zone.tripped:
        return zid, False, f"refused: zone {zid} is tripped ({zone.trip_cause}); reset it first"
    gas = zone.gas_blockers()
    if gas:
        return zid, False, "refused: gas still present: " + "; ".join(gas)
    if not valve.open_permitted:
        return zid, False, f"refused: zone {zid} must be reset before {valve.spec.id} is reopened"
    if valve.state in (ValveState.OPEN, ValveState.OPENING):
        return zid, False, f"refused: {valve.spec.id} is already {valve.state.value}"
    vid = valve.spec.id
    fault = zone.valve_alarms[vid]
    if valve.state is ValveState.FAULT:
        return (
            zid,
            False,
            (
                f"refused: {vid} is in VALVE_FAULT ({valve.detail or 'fault'}); it must report closed "
                "and the fault be acknowledged before it is reopened"
            ),
        )
    if not fault.acked:
        return zid, False, f"refused: acknowledge the valve fault of {vid} ({fault.detail or 'fault'}) before reopening"
    if valve.state is not ValveState.CLOSED:
        return zid, False, f"refused: {vid} is {valve.state.value}; it must report closed before it is reopened"
    out.append(ValveCommand(zid, valve.spec.id, ValveAction.OPEN, f"operator {cmd.user}: {cmd.reason}"))
    valve.command_open(now, zone.spec.valve_travel_margin_s)
    _valve_changed(zone, valve, now, out)
    return zid, True, f"opening {valve.spec.id}"


def _op_close(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    found = state.valve_index.get(cmd.target)
    if found is None:
        return "", False, f"refused: no valve {cmd.target!r}"
    zone, valve = found
    reason = cmd.reason.strip() or "no reason given"
    _close(zone, valve, f"operator {cmd.user or 'unnamed'}: {reason}", now, out)
    return zone.spec.id, True, f"closing {valve.spec.id} (close is always allowed)"


def _op_shelve(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    alarm = state.alarm_index.get(cmd.target)
    if alarm is None:
        return "", False, f"refused: no alarm {cmd.target!r}"
    problem = _needs_reason(cmd) or _bad_expiry(cmd.until, now, MAX_SHELVE_S)
    if problem:
        return alarm.zone, False, problem
    assert cmd.until is not None
    alarm.shelved_until = cmd.until
    alarm.publish(now, out)
    return alarm.zone, True, f"shelved for {cmd.until - now:.0f} s (the interlock still acts on it)"


def _op_unshelve(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    alarm = state.alarm_index.get(cmd.target)
    if alarm is None:
        return "", False, f"refused: no alarm {cmd.target!r}"
    alarm.shelved_until = None
    alarm.publish(now, out)
    return alarm.zone, True, "unshelved"


def _op_inhibit(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    ch = state.channel_index.get(cmd.target)
    if ch is None:
        return "", False, f"refused: no channel {cmd.target!r}"
    zone = ch.zone
    zid = zone.spec.id
    problem = _needs_reason(cmd) or _bad_expiry(cmd.until, now, MAX_OUT_OF_SERVICE_S)
    if problem:
        return zid, False, problem
    assert cmd.until is not None
    if not cmd.admin and cmd.until - now > MAX_OPERATOR_OUT_OF_SERVICE_S:
        return (
            zid,
            False,
            (
                f"refused: out of service for more than {MAX_OPERATOR_OUT_OF_SERVICE_S / 3600:g} h "
                "(the longest shelve) needs an admin"
            ),
        )
    gas = _gas_refusal(ch)
    if gas:
        return zid, False, gas
    if ch.spec.votes and ch.in_service:
        remaining = sum(1 for c in zone.channels.values() if c.spec.votes and c.in_service) - 1
        if remaining < zone.spec.vote_k:
            return (
                zid,
                False,
                (
                    f"refused: taking {ch.spec.id} out of service leaves {remaining} voting channel(s), "
                    f"fewer than the {zone.spec.vote_k} needed to trip {zid}"
                ),
            )
    assert cmd.until is not None
    ch.out_of_service_until = cmd.until
    for alarm in ch.alarms.values():
        alarm.out_of_service_until = cmd.until
        alarm.publish(now, out)
    _revote(ch, now, out)
    return zid, True, f"{ch.spec.id} out of service for {cmd.until - now:.0f} s"


def _gas_refusal(ch: ChannelState) -> str | None:
    """Why a channel that sees gas (or has it latched) may not be taken out of service."""
    cid = ch.spec.id
    lel = ch.lel
    if ch.over_range:
        return f"refused: {cid} went {OVER_RANGE_DETAIL}; reset the zone once the sensor is checked"
    if lel is not None and lel >= ch.spec.a2:
        return f"refused: {cid} reads {lel:.0f} %LEL; take it out of service once it is below A2"
    if ch.a2 or ch.a3 or ch.alarms[Level.A2].latched or ch.alarms[Level.A3].latched:
        return f"refused: {cid} has a latched A2/A3 alarm; reset the zone before taking it out of service"
    return None


def _op_test_channel(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    """Put a channel in TEST: test gas may be applied; the zone's other channels keep protecting.

    A zone with no other channel able to trip it is tripped for the test, so its valves stay closed
    (rather than refusing the test: a detector that cannot be bump-tested is worse). A channel that
    already sees gas cannot be put in TEST, as it cannot be taken out of service.
    """
    ch = state.channel_index.get(cmd.target)
    if ch is None:
        return "", False, f"refused: no channel {cmd.target!r}"
    zone = ch.zone
    zid = zone.spec.id
    problem = _needs_reason(cmd) or _bad_expiry(cmd.until, now, MAX_CHANNEL_TEST_S)
    if problem:
        return zid, False, problem.replace("at most 0.5 h", "at most 30 minutes")
    gas = _gas_refusal(ch)
    if gas:
        return (
            zid,
            False,
            gas.replace("take it out of service", "test it").replace(
                "before taking it out of service", "before testing it"
            ),
        )
    assert cmd.until is not None
    ch.test_until = cmd.until
    for alarm in ch.alarms.values():
        alarm.test = True
    _revote(ch, now, out)
    cid = ch.spec.id
    if zone.protecting_voters() < zone.spec.vote_k:
        _trip(zone, f"{cid} in TEST and no other channel can trip {zid}: valves kept closed for the test", now, out)
        return (
            zid,
            True,
            f"{cid} in TEST for {cmd.until - now:.0f} s; {zid} has no other channel, so its valves stay closed",
        )
    return zid, True, f"{cid} in TEST for {cmd.until - now:.0f} s; the zone's other channels keep protecting"


def _op_end_test(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    ch = state.channel_index.get(cmd.target)
    if ch is None:
        return "", False, f"refused: no channel {cmd.target!r}"
    if ch.test_until is None:
        return ch.zone.spec.id, True, f"{ch.spec.id} is not in TEST"
    _end_test(ch, f"ended by {cmd.user or 'an operator'}", now, out)
    return ch.zone.spec.id, True, f"{ch.spec.id} back from TEST"


def _op_uninhibit(state: PlantState, cmd: OperatorCommand, now: float, out: list[Output]) -> _OpResult:
    ch = state.channel_index.get(cmd.target)
    if ch is None:
        return "", False, f"refused: no channel {cmd.target!r}"
    ch.out_of_service_until = None
    for alarm in ch.alarms.values():
        alarm.out_of_service_until = None
        alarm.publish(now, out)
    _revote(ch, now, out)
    return ch.zone.spec.id, True, f"{ch.spec.id} back in service"


def _bad_expiry(until: float | None, now: float, longest: float) -> str | None:
    if until is None or not math.isfinite(until):
        return "refused: an expiry time is required"
    if until <= now:
        return "refused: the expiry time is already past"
    if until - now > longest:
        return f"refused: at most {longest / 3600:g} h is allowed"
    return None


_OperatorHandler = Callable[[PlantState, OperatorCommand, float, list[Output]], _OpResult]


_OPERATOR_HANDLERS: dict[OperatorAction, _OperatorHandler] = {
    OperatorAction.ACK: _op_ack,
    OperatorAction.RESET: _op_reset,
    OperatorAction.OPEN: _op_open,
    OperatorAction.CLOSE: _op_close,
    OperatorAction.SHELVE: _op_shelve,
    OperatorAction.UNSHELVE: _op_unshelve,
    OperatorAction.INHIBIT: _op_inhibit,
    OperatorAction.UNINHIBIT: _op_uninhibit,
    OperatorAction.TEST_CHANNEL: _op_test_channel,
    OperatorAction.END_TEST: _op_end_test,
    OperatorAction.SILENCE: lambda state, cmd, now, out: silence(state, cmd, now),
    OperatorAction.TEST_OUTPUT: lambda state, cmd, now, out: start_output_test(state, cmd, now),
}
