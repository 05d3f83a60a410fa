"""No operator path reopens gas a detector still sees: out of service, over range, valve faults.

Each test drives the pure core the way the hostile probe drove the service: trip the zone, try an
operator trick, and assert the exact refusal and that no OPEN command ever comes out.
"""

from __future__ import annotations

from gasguard.domain import (
    AlarmChanged,
    AlarmState,
    Level,
    OperatorAction,
    OperatorCommand,
    OperatorResult,
    Output,
    Reading,
    Tick,
    ValveAction,
    ValveCommand,
    ValveFeedback,
    ValvePosition,
    ValveState,
)
from gasguard.safety.interlock import (
    MAX_OPERATOR_OUT_OF_SERVICE_S,
    OVER_RANGE_DETAIL,
    PlantState,
    running_start,
    step,
)
from gasguard.safety.snapshot import restore, to_snapshot
from gasguard.safety.spec import FaultPolicy
from safety.plantspec import plant, zone_spec


def result(out: list[Output]) -> OperatorResult:
    (res,) = [o for o in out if isinstance(o, OperatorResult)]
    return res


def opens(out: list[Output]) -> list[str]:
    return [o.valve for o in out if isinstance(o, ValveCommand) and o.action is ValveAction.OPEN]


def cmd(action: OperatorAction, target: str, until: float | None = None, *, admin: bool = False) -> OperatorCommand:
    return OperatorCommand(action, target, user="mallory", reason="x", until=until, admin=admin)


def run(state: PlantState, command: OperatorCommand, now: float) -> OperatorResult:
    out = step(state, command, now)[1]
    assert opens(out) == [] or command.action is OperatorAction.OPEN
    return result(out)


def two_channel_kitchen() -> PlantState:
    """k=1 of two channels, so taking one out of service is not refused for leaving too few voters."""
    state = running_start(plant(zone_spec("z1", n_channels=2, k=1)), 0.0)
    step(state, Reading("z1-c2", 0.0, 0.0), 0.0)
    step(state, Reading("z1-c1", 30.0, 1.0), 1.0)
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 2.0)
    assert state.zones["z1"].tripped
    return state


# --------------------------------------------------------------------------- 1. out of service


def test_a_channel_reading_gas_cannot_be_taken_out_of_service() -> None:
    state = two_channel_kitchen()
    refused = run(state, cmd(OperatorAction.INHIBIT, "z1-c1", until=60.0), 3.0)
    assert refused.accepted is False
    assert refused.message == "refused: z1-c1 reads 30 %LEL; take it out of service once it is below A2"
    assert state.channel_index["z1-c1"].in_service


def test_a_channel_with_a_latched_a2_cannot_be_taken_out_of_service_even_below_a2() -> None:
    state = two_channel_kitchen()
    step(state, Reading("z1-c1", 1.0, 3.0), 3.0)
    refused = run(state, cmd(OperatorAction.INHIBIT, "z1-c1", until=60.0), 4.0)
    assert refused.accepted is False
    assert "latched A2/A3 alarm" in refused.message


def test_the_probe_sequence_inhibit_reset_open_never_opens_while_gas_is_present() -> None:
    state = two_channel_kitchen()
    # The channel is taken out of service before the leak (allowed), then gas comes.
    state = running_start(plant(zone_spec("z1", n_channels=2, k=1)), 0.0)
    step(state, Reading("z1-c1", 0.0, 0.0), 0.0)
    step(state, Reading("z1-c2", 0.0, 0.0), 0.0)
    assert run(state, cmd(OperatorAction.INHIBIT, "z1-c1", until=3600.0), 1.0).accepted
    out = step(state, Reading("z1-c1", 30.0, 2.0), 2.0)[1]
    # Gas on an out-of-service channel still trips: out of service silences faults, never gas.
    assert [o.valve for o in out if isinstance(o, ValveCommand) and o.action is ValveAction.CLOSE] == ["z1-v1"]
    assert state.zones["z1"].tripped
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 3.0)
    reset = run(state, cmd(OperatorAction.RESET, "z1"), 4.0)
    assert reset.accepted is False
    assert "z1-c1 reads 30.0 %LEL, at or above its A2 20 %LEL" in reset.message
    opened = step(state, cmd(OperatorAction.OPEN, "z1-v1"), 5.0)[1]
    assert opens(opened) == []
    assert result(opened).accepted is False


def test_reopen_is_refused_while_a_non_voting_or_untripped_channel_reads_gas() -> None:
    # k=2: one channel at 30 %LEL does not trip the zone, but the valve (closed by hand) stays shut.
    state = running_start(plant(zone_spec("z1", n_channels=2, k=2)), 0.0)
    step(state, Reading("z1-c2", 0.0, 0.0), 0.0)
    step(state, cmd(OperatorAction.CLOSE, "z1-v1"), 1.0)
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 2.0)
    step(state, Reading("z1-c1", 30.0, 3.0), 3.0)
    assert not state.zones["z1"].tripped
    assert run(state, cmd(OperatorAction.RESET, "z1"), 4.0).accepted is False
    refused = step(state, cmd(OperatorAction.OPEN, "z1-v1"), 5.0)[1]
    assert opens(refused) == []
    assert "gas still present: z1-c1 reads 30.0 %LEL" in result(refused).message


def test_out_of_service_longer_than_a_shelve_needs_an_admin() -> None:
    state = running_start(plant(zone_spec("z1", n_channels=2, k=1)), 0.0)
    step(state, Reading("z1-c1", 0.0, 0.0), 0.0)
    too_long = 1.0 + MAX_OPERATOR_OUT_OF_SERVICE_S + 60.0
    refused = run(state, cmd(OperatorAction.INHIBIT, "z1-c1", until=too_long), 1.0)
    assert refused.accepted is False
    assert refused.message == "refused: out of service for more than 8 h (the longest shelve) needs an admin"
    assert run(state, cmd(OperatorAction.INHIBIT, "z1-c1", until=too_long, admin=True), 1.0).accepted


def test_taking_the_last_voting_channel_out_is_still_refused() -> None:
    state = running_start(plant(), 0.0)
    step(state, Reading("z1-c1", 0.0, 0.0), 0.0)
    refused = run(state, cmd(OperatorAction.INHIBIT, "z1-c1", until=60.0), 1.0)
    assert refused.accepted is False and "fewer than the 1 needed to trip z1" in refused.message


# --------------------------------------------------------------------------- 2. over range


def test_over_range_latches_a3_and_trips_even_with_fault_policy_alarm() -> None:
    state = running_start(plant(zone_spec(fault_policy=FaultPolicy.ALARM)), 0.0)
    out = step(state, Reading("z1-c1", 500.0, 1.0), 1.0)[1]
    assert [(o.valve, o.action) for o in out if isinstance(o, ValveCommand)] == [("z1-v1", ValveAction.CLOSE)]
    a3 = [o for o in out if isinstance(o, AlarmChanged) and o.level is Level.A3]
    assert a3 == [AlarmChanged("z1", "z1/z1-c1/A3", "z1-c1", Level.A3, AlarmState.UNACKED, 500.0, OVER_RANGE_DETAIL)]
    assert state.alarm_index["z1/z1-c1/FAULT"].state(1.0) is AlarmState.NORMAL
    assert state.zones["z1"].tripped


def test_over_range_is_not_released_by_a_low_reading_only_by_a_checked_reset() -> None:
    state = running_start(plant(), 0.0)
    step(state, Reading("z1-c1", 500.0, 1.0), 1.0)
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 2.0)
    # A catalytic head poisoned by a rich exposure now reads low: nothing is released by that.
    out = step(state, Reading("z1-c1", 0.5, 3.0), 3.0)[1]
    assert not [o for o in out if isinstance(o, AlarmChanged)]
    assert state.alarm_index["z1/z1-c1/A3"].state(3.0) is AlarmState.UNACKED
    unacked = run(state, cmd(OperatorAction.RESET, "z1"), 4.0)
    assert unacked.accepted is False
    assert f"z1-c1 went {OVER_RANGE_DETAIL}: acknowledge it and check the sensor before reset" in unacked.message
    assert run(state, cmd(OperatorAction.ACK, "z1"), 5.0).accepted
    assert run(state, cmd(OperatorAction.RESET, "z1"), 6.0).accepted
    ch = state.channel_index["z1-c1"]
    assert not ch.over_range and not ch.a2 and not ch.a3
    assert state.alarm_index["z1/z1-c1/A3"].state(6.0) is AlarmState.NORMAL
    # The levels follow the readings again after the reset.
    step(state, Reading("z1-c1", 25.0, 7.0), 7.0)
    assert state.zones["z1"].tripped


def test_reset_is_refused_while_the_sensor_still_reads_over_range() -> None:
    state = running_start(plant(), 0.0)
    step(state, Reading("z1-c1", 500.0, 1.0), 1.0)
    step(state, cmd(OperatorAction.ACK, "z1"), 2.0)
    refused = run(state, cmd(OperatorAction.RESET, "z1"), 3.0)
    assert refused.accepted is False
    assert f"z1-c1 reads {OVER_RANGE_DETAIL}" in refused.message


def test_below_range_stays_a_fault() -> None:
    state = running_start(plant(zone_spec(fault_policy=FaultPolicy.ALARM)), 0.0)
    out = step(state, Reading("z1-c1", -50.0, 1.0), 1.0)[1]
    assert [o for o in out if isinstance(o, ValveCommand)] == []
    assert state.alarm_index["z1/z1-c1/FAULT"].state(1.0) is AlarmState.UNACKED
    assert not state.channel_index["z1-c1"].over_range


def test_over_range_survives_a_restart() -> None:
    state = running_start(plant(), 0.0)
    step(state, Reading("z1-c1", 500.0, 1.0), 1.0)
    restored, _ = restore(plant(), to_snapshot(state), 10.0)
    step(restored, Reading("z1-c1", 0.0, 11.0), 11.0)
    assert restored.channel_index["z1-c1"].over_range
    assert run(restored, cmd(OperatorAction.RESET, "z1"), 12.0).accepted is False


# --------------------------------------------------------------------------- 3. valve faults


def reset_zone_with_valve(position: ValvePosition | None) -> PlantState:
    state = running_start(plant(), 0.0)
    step(state, Reading("z1-c1", 30.0, 1.0), 1.0)
    if position is not None:
        step(state, ValveFeedback("z1-v1", position), 2.0)
    step(state, Reading("z1-c1", 0.0, 3.0), 3.0)
    return state


def test_reopen_refused_while_the_valve_did_not_close() -> None:
    state = reset_zone_with_valve(None)
    step(state, Tick(), 10.0)  # travel time 3 s + margin 1 s passed without feedback
    valve = state.zones["z1"].valves["z1-v1"]
    assert valve.state is ValveState.FAULT
    step(state, cmd(OperatorAction.ACK, "z1"), 11.0)
    assert run(state, cmd(OperatorAction.RESET, "z1"), 12.0).accepted
    refused = step(state, cmd(OperatorAction.OPEN, "z1-v1"), 13.0)[1]
    assert opens(refused) == []
    assert result(refused).message == (
        "refused: z1-v1 is in VALVE_FAULT (did not close within 3 s); it must report closed "
        "and the fault be acknowledged before it is reopened"
    )


def test_reopen_needs_the_valve_fault_acknowledged_after_it_reports_closed() -> None:
    state = reset_zone_with_valve(None)
    step(state, Tick(), 10.0)
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 11.0)
    assert run(state, cmd(OperatorAction.RESET, "z1"), 12.0).accepted
    refused = step(state, cmd(OperatorAction.OPEN, "z1-v1"), 13.0)[1]
    assert opens(refused) == []
    assert "acknowledge the valve fault of z1-v1" in result(refused).message
    assert run(state, cmd(OperatorAction.ACK, "z1/z1-v1/VALVE_FAULT"), 14.0).accepted
    accepted = step(state, cmd(OperatorAction.OPEN, "z1-v1"), 15.0)[1]
    assert opens(accepted) == ["z1-v1"]


def test_close_is_always_allowed_even_in_valve_fault() -> None:
    state = reset_zone_with_valve(None)
    step(state, Tick(), 10.0)
    out = step(state, cmd(OperatorAction.CLOSE, "z1-v1"), 11.0)[1]
    assert result(out).accepted
    assert [(o.valve, o.action) for o in out if isinstance(o, ValveCommand)] == [("z1-v1", ValveAction.CLOSE)]
