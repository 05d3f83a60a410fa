"""Channel TEST mode in the core: bump tests and calibrations with test gas, the zone still protected."""

from __future__ import annotations

from gasguard.domain import (
    AlarmChanged,
    Level,
    OperatorAction,
    OperatorCommand,
    OperatorResult,
    Output,
    OutputCommand,
    OutputKind,
    OutputMode,
    Reading,
    Tick,
    ValveAction,
    ValveCommand,
    ValveFeedback,
    ValvePosition,
)
from gasguard.safety.interlock import PlantState, running_start, step
from gasguard.safety.snapshot import restore, to_snapshot
from gasguard.safety.spec import OutputSpec, PlantSpec
from safety.plantspec import zone_spec

HORN = OutputSpec("horn", OutputKind.SOUNDER, ("z1",), frozenset({Level.A2}))


def plant(n_channels: int = 2) -> PlantSpec:
    return PlantSpec(zones=(zone_spec("z1", n_channels=n_channels, k=1),), outputs=(HORN,))


def cmd(action: OperatorAction, target: str, until: float | None = None) -> OperatorCommand:
    return OperatorCommand(action, target, "tess", "monthly bump test", until)


def result(out: list[Output]) -> OperatorResult:
    (res,) = [o for o in out if isinstance(o, OperatorResult)]
    return res


def valve_actions(out: list[Output]) -> list[ValveAction]:
    return [o.action for o in out if isinstance(o, ValveCommand)]


def start(n_channels: int = 2) -> PlantState:
    state = running_start(plant(n_channels), 0.0)
    for i in range(n_channels):
        step(state, Reading(f"z1-c{i + 1}", 0.0, 0.0), 0.0)
    return state


def test_bump_test_gas_on_a_channel_in_test_trips_nothing_and_sounds_nothing() -> None:
    state = start()
    started = step(state, cmd(OperatorAction.TEST_CHANNEL, "z1-c1", until=600.0), 1.0)[1]
    assert result(started).message == "z1-c1 in TEST for 599 s; the zone's other channels keep protecting"
    out = step(state, Reading("z1-c1", 50.0, 2.0), 2.0)[1]
    assert valve_actions(out) == []
    assert not state.zones["z1"].tripped
    a2 = [o for o in out if isinstance(o, AlarmChanged) and o.level is Level.A2]
    assert [o.test for o in a2] == [True]
    assert [o for o in out if isinstance(o, OutputCommand)] == []


def test_the_other_channel_keeps_protecting_during_a_test() -> None:
    state = start()
    step(state, cmd(OperatorAction.TEST_CHANNEL, "z1-c1", until=600.0), 1.0)
    out = step(state, Reading("z1-c2", 25.0, 2.0), 2.0)[1]
    assert valve_actions(out) == [ValveAction.CLOSE]
    assert [o.mode for o in out if isinstance(o, OutputCommand)] == [OutputMode.ON]


def test_a_zone_whose_only_channel_is_in_test_keeps_its_valve_closed() -> None:
    state = start(n_channels=1)
    out = step(state, cmd(OperatorAction.TEST_CHANNEL, "z1-c1", until=600.0), 1.0)[1]
    assert result(out).message == "z1-c1 in TEST for 599 s; z1 has no other channel, so its valves stay closed"
    assert valve_actions(out) == [ValveAction.CLOSE]
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 2.0)
    refused = result(step(state, cmd(OperatorAction.RESET, "z1"), 3.0)[1])
    assert refused.accepted is False
    assert "z1-c1 is in TEST and no other channel can trip z1" in refused.message


def test_test_gas_left_when_the_test_ends_trips_at_once() -> None:
    state = start()
    step(state, cmd(OperatorAction.TEST_CHANNEL, "z1-c1", until=600.0), 1.0)
    step(state, Reading("z1-c1", 50.0, 2.0), 2.0)
    out = step(state, cmd(OperatorAction.END_TEST, "z1-c1"), 3.0)[1]
    assert valve_actions(out) == [ValveAction.CLOSE]
    assert state.zones["z1"].tripped


def test_a_clean_test_ends_without_leaving_test_alarms_behind() -> None:
    state = start()
    step(state, cmd(OperatorAction.TEST_CHANNEL, "z1-c1", until=600.0), 1.0)
    step(state, Reading("z1-c1", 50.0, 2.0), 2.0)
    step(state, Reading("z1-c1", 0.0, 595.0), 595.0)
    step(state, Reading("z1-c2", 0.0, 595.0), 595.0)
    out = step(state, Tick(), 600.0)[1]  # the test expires by itself
    assert valve_actions(out) == []
    assert state.channel_index["z1-c1"].test_until is None
    assert all(a.state(600.0).value == "normal" for a in state.channel_index["z1-c1"].alarms.values())


def test_test_mode_is_bounded_and_refused_on_a_channel_that_sees_gas() -> None:
    state = start()
    too_long = result(step(state, cmd(OperatorAction.TEST_CHANNEL, "z1-c1", until=1.0 + 1801.0), 1.0)[1])
    assert too_long.message == "refused: at most 30 minutes is allowed"
    step(state, Reading("z1-c1", 30.0, 2.0), 2.0)
    gas = result(step(state, cmd(OperatorAction.TEST_CHANNEL, "z1-c1", until=600.0), 3.0)[1])
    assert gas.message == "refused: z1-c1 reads 30 %LEL; test it once it is below A2"


def test_test_mode_survives_a_restart() -> None:
    state = start()
    step(state, cmd(OperatorAction.TEST_CHANNEL, "z1-c1", until=600.0), 1.0)
    restored, _ = restore(plant(), to_snapshot(state), 5.0)
    assert restored.channel_index["z1-c1"].test_until == 600.0
    out = step(restored, Reading("z1-c1", 50.0, 6.0), 6.0)[1]
    assert valve_actions(out) == []


def test_a_test_alarm_leaves_a_silenced_sounder_silenced() -> None:
    state = start()
    step(state, Reading("z1-c2", 25.0, 1.0), 1.0)
    step(state, OperatorCommand(OperatorAction.SILENCE, "horn", "tess", "heard"), 2.0)
    step(state, cmd(OperatorAction.TEST_CHANNEL, "z1-c1", until=600.0), 4.0)
    out = step(state, Reading("z1-c1", 50.0, 5.0), 5.0)[1]
    assert [o for o in out if isinstance(o, OutputCommand)] == []
    assert state.outputs["horn"].silenced
