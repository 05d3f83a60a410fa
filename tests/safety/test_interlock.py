"""Unit tests of the interlock rules, one rule per test, with exact outputs."""

from __future__ import annotations

import math

import pytest

from gasguard.domain import (
    AlarmChanged,
    AlarmState,
    ChannelHealth,
    ChannelHealthChanged,
    Level,
    MlSignal,
    MlSignalKind,
    OperatorAction,
    OperatorCommand,
    OperatorResult,
    Output,
    Reading,
    Tick,
    ValveAction,
    ValveChanged,
    ValveCommand,
    ValveDriverFailed,
    ValveFeedback,
    ValvePosition,
    ValveState,
    ZoneTripChanged,
)
from gasguard.safety.interlock import PlantState, cold_start, running_start, step
from gasguard.safety.spec import FaultPolicy, RateOfRiseSpec
from safety.plantspec import plant, zone_spec


def commands(out: list[Output]) -> list[tuple[str, ValveAction]]:
    return [(o.valve, o.action) for o in out if isinstance(o, ValveCommand)]


def result(out: list[Output]) -> OperatorResult:
    (res,) = [o for o in out if isinstance(o, OperatorResult)]
    return res


def op(action: OperatorAction, target: str, reason: str = "checked on site", until: float | None = None):
    return OperatorCommand(action, target, user="alice", reason=reason, until=until)


def feed(state: PlantState, channel: str, values: list[float], t0: float = 0.0, dt: float = 1.0) -> list[Output]:
    out: list[Output] = []
    for i, v in enumerate(values):
        out += step(state, Reading(channel, v, t0 + i * dt), t0 + i * dt)[1]
    return out


def tripped_state() -> PlantState:
    state = running_start(plant(), 0.0)
    feed(state, "z1-c1", [5.0, 25.0])
    return state


def test_a2_closes_the_zone_valve_in_the_same_step() -> None:
    state = running_start(plant(), 0.0)
    assert commands(step(state, Reading("z1-c1", 19.9, 1.0), 1.0)[1]) == []
    out = step(state, Reading("z1-c1", 20.0, 2.0), 2.0)[1]
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]
    assert ZoneTripChanged("z1", True, "1 of 1 required votes: z1-c1 20.0% LEL >= A2 20%") in out
    assert ValveChanged("z1", "z1-v1", ValveState.CLOSING, "") in out
    assert state.zones["z1"].tripped


def test_a1_warns_without_closing_and_clears_with_hysteresis() -> None:
    state = running_start(plant(), 0.0)
    out = feed(state, "z1-c1", [10.0, 9.0, 7.9])
    alarms = [(o.level, o.state) for o in out if isinstance(o, AlarmChanged)]
    assert alarms == [(Level.A1, AlarmState.UNACKED), (Level.A1, AlarmState.RTN_UNACKED)]
    assert commands(out) == []


def test_trip_latches_after_gas_clears() -> None:
    state = tripped_state()
    out = feed(state, "z1-c1", [3.0], t0=10.0)
    assert state.zones["z1"].tripped
    assert state.alarm_index["z1/z1-c1/A2"].state(10.0) is AlarmState.LATCHED
    assert commands(out) == []


def test_reset_refused_while_gas_at_or_above_a2_even_within_hysteresis() -> None:
    state = tripped_state()
    out = step(state, op(OperatorAction.RESET, "z1"), 3.0)[1]
    res = result(out)
    assert res.accepted is False
    assert "z1-c1 reads 25.0 %LEL, at or above its A2 20 %LEL" in res.message
    feed(state, "z1-c1", [19.0], t0=4.0)  # below A2 but inside the hysteresis band: still present
    band = result(step(state, op(OperatorAction.RESET, "z1"), 5.0)[1])
    assert band.accepted is False
    assert band.message == (
        "refused: condition still present: z1-c1 reads 19.0 %LEL: "
        "below 20 %LEL but not yet below the 18 %LEL clear level"
    )
    assert state.zones["z1"].tripped


def test_acknowledge_is_not_reset() -> None:
    state = tripped_state()
    feed(state, "z1-c1", [2.0], t0=5.0)
    out = step(state, op(OperatorAction.ACK, "z1/z1-c1/A2"), 6.0)[1]
    assert result(out).accepted
    assert state.zones["z1"].tripped
    assert state.alarm_index["z1/z1-c1/A2"].state(6.0) is AlarmState.LATCHED


def test_reset_then_open_with_reason_reopens_the_valve() -> None:
    state = tripped_state()
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 3.0)
    feed(state, "z1-c1", [2.0], t0=5.0)
    refused = result(step(state, op(OperatorAction.OPEN, "z1-v1"), 6.0)[1])
    assert refused.accepted is False and "reset it first" in refused.message
    out = step(state, op(OperatorAction.RESET, "z1"), 7.0)[1]
    assert result(out).accepted
    assert ZoneTripChanged("z1", False, "reset by alice: checked on site") in out
    assert state.alarm_index["z1/z1-c1/A2"].state(7.0) is AlarmState.RTN_UNACKED
    no_reason = result(step(state, op(OperatorAction.OPEN, "z1-v1", reason="  "), 8.0)[1])
    assert no_reason.accepted is False and "needs a reason" in no_reason.message
    out = step(state, op(OperatorAction.OPEN, "z1-v1", reason="leak repaired"), 9.0)[1]
    assert commands(out) == [("z1-v1", ValveAction.OPEN)]
    assert state.zones["z1"].valves["z1-v1"].state is ValveState.OPENING


def test_valve_is_never_opened_without_an_operator() -> None:
    state = tripped_state()
    out: list[Output] = []
    for t in range(3, 200):
        out += step(state, Reading("z1-c1", 0.5, float(t)), float(t))[1]
        out += step(state, Tick(), float(t))[1]
    assert ("z1-v1", ValveAction.OPEN) not in commands(out)
    assert state.zones["z1"].tripped


def test_close_is_reasserted_while_tripped() -> None:
    state = tripped_state()
    closes = [t for t in range(2, 20) if commands(step(state, Tick(), float(t))[1])]
    assert closes == [6, 11, 16]  # tripped at t=1, re-asserted every 5 s


def test_valve_that_misses_its_travel_time_is_a_valve_fault() -> None:
    state = tripped_state()  # close commanded at t=1, travel 3 s + 1 s margin
    assert step(state, Tick(), 4.9)[1] == []
    out = step(state, Tick(), 5.0)[1]
    assert ValveChanged("z1", "z1-v1", ValveState.FAULT, "did not close within 3 s") in out
    alarm = [o for o in out if isinstance(o, AlarmChanged)]
    assert [(a.alarm_id, a.state) for a in alarm] == [("z1/z1-v1/VALVE_FAULT", AlarmState.UNACKED)]


def test_valve_opening_by_itself_is_a_fault_and_closed_again() -> None:
    state = tripped_state()
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 2.0)
    out = step(state, ValveFeedback("z1-v1", ValvePosition.OPEN), 3.0)[1]
    assert ValveChanged("z1", "z1-v1", ValveState.FAULT, "opened without a command") in out
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]


def test_driver_failure_is_a_valve_fault() -> None:
    state = tripped_state()
    out = step(state, ValveDriverFailed("z1-v1", "no answer after 3 retries"), 2.0)[1]
    assert ValveChanged("z1", "z1-v1", ValveState.FAULT, "driver failed: no answer after 3 retries") in out


@pytest.mark.parametrize("bad", [math.nan, math.inf, None, -50.0])
def test_garbage_or_below_range_value_is_a_fault_that_trips(bad: float | None) -> None:
    state = running_start(plant(), 0.0)
    out = step(state, Reading("z1-c1", bad, 1.0), 1.0)[1]
    health = [o.health for o in out if isinstance(o, ChannelHealthChanged)]
    assert health in ([ChannelHealth.INVALID], [ChannelHealth.OUT_OF_RANGE])
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]


def test_fault_policy_alarm_raises_fault_without_trip() -> None:
    state = running_start(plant(zone_spec(fault_policy=FaultPolicy.ALARM)), 0.0)
    out = step(state, Reading("z1-c1", math.nan, 1.0), 1.0)[1]
    assert commands(out) == []
    assert state.alarm_index["z1/z1-c1/FAULT"].state(1.0) is AlarmState.UNACKED


def test_stale_channel_goes_to_fault_and_trips() -> None:
    state = running_start(plant(), 0.0)
    step(state, Reading("z1-c1", 1.0, 0.0), 0.0)
    assert step(state, Tick(), 10.0)[1] == []
    out = step(state, Tick(), 10.5)[1]
    assert ChannelHealthChanged("z1", "z1-c1", ChannelHealth.STALE, "no reading for more than 10 s") in out
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]


def test_flatline_is_detected() -> None:
    state = running_start(plant(zone_spec(flatline_s=30.0)), 0.0)
    out = feed(state, "z1-c1", [1.0] * 32)
    assert [o.health for o in out if isinstance(o, ChannelHealthChanged)] == [ChannelHealth.FLATLINE]
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]


def test_warming_up_channel_votes_to_trip_and_recovers_after_warmup() -> None:
    state, out = cold_start(plant(), 0.0)
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]
    assert state.zones["z1"].trip_cause == "cold start: valve positions unknown"
    feed(state, "z1-c1", [1.0] * 10)
    assert state.channel_index["z1-c1"].health is ChannelHealth.WARMING_UP
    refused = result(step(state, op(OperatorAction.RESET, "z1"), 10.0)[1])
    assert not refused.accepted and "warming_up" in refused.message
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 11.0)
    feed(state, "z1-c1", [1.0] * 5, t0=30.0)
    assert state.channel_index["z1-c1"].health is ChannelHealth.OK
    assert result(step(state, op(OperatorAction.RESET, "z1"), 35.0)[1]).accepted


def test_two_of_three_voting() -> None:
    state = running_start(plant(zone_spec(n_channels=3, k=2)), 0.0)
    assert commands(step(state, Reading("z1-c1", 30.0, 1.0), 1.0)[1]) == []
    assert not state.zones["z1"].tripped
    out = step(state, Reading("z1-c2", math.nan, 2.0), 2.0)[1]  # a FAULT is the second vote
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]


def test_reset_refused_while_any_voting_channel_at_a2_even_below_k() -> None:
    state = running_start(plant(zone_spec(n_channels=3, k=2)), 0.0)
    for t, (c, v) in enumerate([("z1-c1", 30.0), ("z1-c2", 30.0), ("z1-c2", 1.0), ("z1-c3", 1.0)]):
        step(state, Reading(c, v, float(t)), float(t))
    res = result(step(state, op(OperatorAction.RESET, "z1"), 5.0)[1])
    assert res.accepted is False and "z1-c1" in res.message


def test_ml_signal_trips_early_and_holds_but_cannot_clear() -> None:
    state = running_start(plant(), 0.0)
    out = step(state, MlSignal("z1", MlSignalKind.VISUAL_LEAK, "camera-1", 0.93), 1.0)[1]
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]
    feed(state, "z1-c1", [1.0], t0=2.0)
    res = result(step(state, op(OperatorAction.RESET, "z1"), 30.0)[1])
    assert not res.accepted and "ML leak signal" in res.message
    step(state, Tick(), 61.0)
    feed(state, "z1-c1", [1.0], t0=61.0)
    assert result(step(state, op(OperatorAction.RESET, "z1"), 62.0)[1]).accepted


def test_ml_signal_does_not_delay_a_threshold_trip() -> None:
    state = running_start(plant(), 0.0)
    step(state, MlSignal("z1", MlSignalKind.PREDICTED_TRIP, "model", 0.1), 0.5)
    out = step(state, Reading("z1-c1", 25.0, 1.0), 1.0)[1]
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]


def test_shelved_a2_still_trips() -> None:
    state = running_start(plant(), 0.0)
    res = result(step(state, op(OperatorAction.SHELVE, "z1/z1-c1/A2", until=600.0), 0.0)[1])
    assert res.accepted
    out = step(state, Reading("z1-c1", 25.0, 1.0), 1.0)[1]
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]
    assert state.alarm_index["z1/z1-c1/A2"].state(1.0) is AlarmState.SHELVED
    out = step(state, Tick(), 600.0)[1]
    assert [(o.alarm_id, o.state) for o in out if isinstance(o, AlarmChanged) and o.level is Level.A2] == [
        ("z1/z1-c1/A2", AlarmState.UNACKED)
    ]


@pytest.mark.parametrize("until", [None, 0.0, math.inf, 9 * 3600.0])
def test_shelve_needs_a_bounded_expiry(until: float | None) -> None:
    state = running_start(plant(), 0.0)
    assert result(step(state, op(OperatorAction.SHELVE, "z1/z1-c1/A1", until=until), 0.0)[1]).accepted is False


def test_out_of_service_refused_when_zone_could_no_longer_trip() -> None:
    state = running_start(plant(zone_spec(n_channels=2, k=2)), 0.0)
    res = result(step(state, op(OperatorAction.INHIBIT, "z1-c1", until=3600.0), 0.0)[1])
    assert res.accepted is False and "fewer than the 2 needed" in res.message


def test_out_of_service_channel_stops_voting_and_expires() -> None:
    state = running_start(plant(zone_spec(n_channels=2, k=1)), 0.0)
    assert result(step(state, op(OperatorAction.INHIBIT, "z1-c1", until=100.0), 0.0)[1]).accepted
    assert commands(step(state, Reading("z1-c1", math.nan, 1.0), 1.0)[1]) == []
    assert state.alarm_index["z1/z1-c1/FAULT"].state(1.0) is AlarmState.OUT_OF_SERVICE
    step(state, Reading("z1-c2", 1.0, 99.0), 99.0)
    out = step(state, Tick(), 100.0)[1]
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)]  # back in service, still in FAULT: votes


def test_rate_of_rise_alarm() -> None:
    spec = plant(zone_spec(rate_of_rise=RateOfRiseSpec(lel_pct_per_min=5.0, window_s=60.0)))
    state = running_start(spec, 0.0)
    out = feed(state, "z1-c1", [0.2 * i for i in range(40)])  # 12 %LEL per minute
    ror = [(o.level, o.state) for o in out if isinstance(o, AlarmChanged) and o.level is Level.ROR]
    assert ror == [(Level.ROR, AlarmState.UNACKED)]
    assert commands(out) == []  # rate of rise alarms only unless configured to trip


def test_manual_close_is_always_allowed_and_reopen_needs_reset() -> None:
    state = running_start(plant(), 0.0)
    out = step(state, OperatorCommand(OperatorAction.CLOSE, "z1-v1", user="bob"), 1.0)[1]
    assert commands(out) == [("z1-v1", ValveAction.CLOSE)] and result(out).accepted
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 2.0)
    assert result(step(state, op(OperatorAction.OPEN, "z1-v1"), 3.0)[1]).accepted is False
    assert result(step(state, op(OperatorAction.RESET, "z1"), 4.0)[1]).accepted
    assert result(step(state, op(OperatorAction.OPEN, "z1-v1"), 5.0)[1]).accepted


def test_unknown_channel_reading_is_ignored_by_the_core() -> None:
    state = running_start(plant(), 0.0)
    assert step(state, Reading("nope", 99.0, 1.0), 1.0)[1] == []
