import json

import pytest

from gasguard.domain import (
    AlarmState,
    OperatorAction,
    OperatorCommand,
    Reading,
    ValveAction,
    ValveCommand,
    ValveFeedback,
    ValvePosition,
    ValveState,
)
from gasguard.safety.interlock import running_start, step
from gasguard.safety.snapshot import SnapshotError, restore, to_snapshot
from safety.plantspec import plant


def test_restart_while_tripped_keeps_valve_closed_and_trip_latched() -> None:
    spec = plant()
    state = running_start(spec, 0.0)
    step(state, Reading("z1-c1", 30.0, 1.0), 1.0)
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 3.0)
    data = json.loads(json.dumps(to_snapshot(state)))  # survives a JSON round trip
    restored, out = restore(spec, data, 100.0)
    zone = restored.zones["z1"]
    assert zone.tripped
    assert zone.valves["z1-v1"].state is ValveState.CLOSED
    assert restored.alarm_index["z1/z1-c1/A2"].state(100.0) is AlarmState.UNACKED
    assert [(o.valve, o.action) for o in out if isinstance(o, ValveCommand)] == [("z1-v1", ValveAction.CLOSE)]
    reopen = OperatorCommand(OperatorAction.OPEN, "z1-v1", user="a", reason="r")
    _, res = step(restored, reopen, 101.0)
    assert [o.accepted for o in res if hasattr(o, "accepted")] == [False]


def test_restore_of_a_healthy_open_plant_issues_no_commands() -> None:
    spec = plant()
    state = running_start(spec, 0.0)
    restored, out = restore(spec, to_snapshot(state), 50.0)
    assert out == []
    assert restored.zones["z1"].valves["z1-v1"].state is ValveState.OPEN
    assert not restored.zones["z1"].tripped


def test_interrupted_valve_travel_restores_as_unknown_and_trips() -> None:
    spec = plant()
    state = running_start(spec, 0.0)
    step(state, OperatorCommand(OperatorAction.CLOSE, "z1-v1", user="a"), 1.0)
    restored, out = restore(spec, to_snapshot(state), 2.0)
    assert restored.zones["z1"].tripped
    assert [o.action for o in out if isinstance(o, ValveCommand)] == [ValveAction.CLOSE]


@pytest.mark.parametrize("bad", [{}, {"version": 99, "zones": {}}, {"version": 1}, {"version": 1, "zones": {"z1": {}}}])
def test_malformed_snapshot_is_refused(bad: dict) -> None:
    with pytest.raises(SnapshotError):
        restore(plant(), bad, 0.0)
