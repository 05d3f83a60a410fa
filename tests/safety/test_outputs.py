"""The cause-and-effect matrix in the pure core: sounders, beacons, fans and the system-failure relay.

Test names carry "output" and the device kind, so ``pytest -k "output and sounder"`` selects them.
"""

from __future__ import annotations

import math

from gasguard.domain import (
    Level,
    OperatorAction,
    OperatorCommand,
    OperatorResult,
    Output,
    OutputCommand,
    OutputKind,
    OutputMode,
    Reading,
    SystemFault,
    Tick,
    ValveFeedback,
    ValvePosition,
    ZoneTripChanged,
)
from gasguard.safety.interlock import PlantState, cold_start, running_start, step
from gasguard.safety.snapshot import restore, to_snapshot
from gasguard.safety.spec import OutputSpec, PlantSpec, VoteBy
from safety.plantspec import zone_spec

SOUNDER = OutputSpec(
    id="sounder",
    kind=OutputKind.SOUNDER,
    zones=("z1",),
    levels=frozenset({Level.A2, Level.A3}),
    latching=True,
    pulse_until_silenced=True,
    steady_when_silenced=True,
)
FAN = OutputSpec(id="fan", kind=OutputKind.FAN, zones=("z1",), levels=frozenset({Level.A1}), min_on_s=60.0)
BEACON = OutputSpec(id="beacon", kind=OutputKind.BEACON, zones=("z1", "z2"), levels=frozenset({Level.FAULT}))
RELAY = OutputSpec(id="fault-relay", kind=OutputKind.FAULT_RELAY, zones=("z1", "z2"), fault_zones=("z1", "z2"))


def spec(*outputs: OutputSpec) -> PlantSpec:
    return PlantSpec(zones=(zone_spec("z1", n_channels=2, k=1), zone_spec("z2")), outputs=outputs)


def modes(out: list[Output], output: str) -> list[OutputMode]:
    return [o.mode for o in out if isinstance(o, OutputCommand) and o.output == output]


def op(action: OperatorAction, target: str, *, until: float | None = None, admin: bool = False) -> OperatorCommand:
    return OperatorCommand(action, target, "otto", "checked", until, admin)


def result(out: list[Output]) -> OperatorResult:
    (res,) = [o for o in out if isinstance(o, OperatorResult)]
    return res


def running(*outputs: OutputSpec) -> tuple[PlantState, list[Output]]:
    state = running_start(spec(*outputs), 0.0)
    out = step(state, Tick(), 0.0)[1]
    for cid in ("z1-c1", "z1-c2", "z2-c1"):
        out += step(state, Reading(cid, 0.0, 0.0), 0.0)[1]
    return state, out


def test_output_sounder_pulses_until_silenced_then_steady_until_reset() -> None:
    state, start = running(SOUNDER)
    assert modes(start, "sounder") == [OutputMode.OFF]
    out = step(state, Reading("z1-c1", 25.0, 1.0), 1.0)[1]
    assert modes(out, "sounder") == [OutputMode.PULSED]
    silenced = step(state, op(OperatorAction.SILENCE, "sounder"), 2.0)[1]
    assert result(silenced).message == (
        "sounder silenced (steady until reset); the alarms themselves are not acknowledged"
    )
    assert modes(silenced, "sounder") == [OutputMode.ON]
    # Gas gone: a latching sounder stays steady until the zone is reset.
    assert modes(step(state, Reading("z1-c1", 0.0, 3.0), 3.0)[1], "sounder") == []
    step(state, ValveFeedback("z1-v1", ValvePosition.CLOSED), 4.0)
    reset = step(state, op(OperatorAction.RESET, "z1"), 5.0)[1]
    assert result(reset).accepted
    assert modes(reset, "sounder") == [OutputMode.OFF]


def test_output_sounder_silence_is_not_acknowledge_and_a_new_alarm_resounds() -> None:
    state, _ = running(SOUNDER)
    step(state, Reading("z1-c1", 25.0, 1.0), 1.0)
    step(state, op(OperatorAction.SILENCE, "sounder"), 2.0)
    assert not state.alarm_index["z1/z1-c1/A2"].acked
    out = step(state, Reading("z1-c2", 45.0, 3.0), 3.0)[1]  # a second channel alarms: sound again
    assert modes(out, "sounder") == [OutputMode.PULSED]


def test_output_sounder_on_delay_and_vote_of_two_channels() -> None:
    delayed = OutputSpec(
        id="sounder",
        kind=OutputKind.SOUNDER,
        zones=("z1",),
        levels=frozenset({Level.A1}),
        vote_k=2,
        vote_by=VoteBy.CHANNELS,
        on_delay_s=10.0,
    )
    state, _ = running(delayed)
    assert modes(step(state, Reading("z1-c1", 12.0, 1.0), 1.0)[1], "sounder") == []
    assert modes(step(state, Reading("z1-c2", 12.0, 2.0), 2.0)[1], "sounder") == []
    assert modes(step(state, Tick(), 11.9)[1], "sounder") == []
    assert modes(step(state, Tick(), 12.0)[1], "sounder") == [OutputMode.ON]


def test_output_fan_runs_from_a1_while_above_a1_and_for_its_minimum_time() -> None:
    state, _ = running(FAN)
    assert modes(step(state, Reading("z1-c1", 11.0, 1.0), 1.0)[1], "fan") == [OutputMode.ON]
    assert modes(step(state, Reading("z1-c1", 9.0, 2.0), 2.0)[1], "fan") == []  # hysteresis: still above A1
    assert modes(step(state, Reading("z1-c1", 1.0, 3.0), 3.0)[1], "fan") == []  # minimum on-time: 60 s
    assert modes(step(state, Tick(), 61.0)[1], "fan") == [OutputMode.OFF]


def test_output_beacon_on_fault_follows_the_fault() -> None:
    state, _ = running(BEACON)
    assert modes(step(state, Reading("z2-c1", math.nan, 1.0), 1.0)[1], "beacon") == [OutputMode.ON]
    assert modes(step(state, Reading("z2-c1", 0.0, 2.0), 2.0)[1], "beacon") == [OutputMode.OFF]


def test_output_fault_relay_is_energised_while_healthy_and_drops_on_any_fault() -> None:
    state, start = running(RELAY)
    assert modes(start, "fault-relay") == [OutputMode.ON]
    assert modes(step(state, Reading("z1-c2", math.nan, 1.0), 1.0)[1], "fault-relay") == [OutputMode.OFF]
    assert modes(step(state, Reading("z1-c2", 0.0, 2.0), 2.0)[1], "fault-relay") == [OutputMode.ON]
    down = step(state, SystemFault("storage", True, "database down past the buffer"), 3.0)[1]
    assert [(o.mode, o.reason) for o in down if isinstance(o, OutputCommand)] == [
        (OutputMode.OFF, "storage: database down past the buffer")
    ]
    assert modes(step(state, SystemFault("storage", False), 4.0)[1], "fault-relay") == [OutputMode.ON]


def test_output_fault_relay_is_dropped_at_a_cold_start_until_the_sensors_are_warm() -> None:
    _, out = cold_start(spec(RELAY), 0.0)
    assert modes(out, "fault-relay") == [OutputMode.OFF]


def test_output_test_is_admin_only_bounded_and_forces_the_alarm_state() -> None:
    state, _ = running(SOUNDER, RELAY)
    refused = step(state, op(OperatorAction.TEST_OUTPUT, "sounder", until=60.0), 1.0)[1]
    assert result(refused).message == "refused: only an admin may test an output"
    too_long = step(state, op(OperatorAction.TEST_OUTPUT, "sounder", until=700.0, admin=True), 1.0)[1]
    assert result(too_long).message == "refused: an output test lasts at most 10 minutes"
    forced = step(state, op(OperatorAction.TEST_OUTPUT, "sounder", until=8.0, admin=True), 1.0)[1]
    assert modes(forced, "sounder") == [OutputMode.PULSED]
    dropped = step(state, op(OperatorAction.TEST_OUTPUT, "fault-relay", until=8.0, admin=True), 2.0)[1]
    assert modes(dropped, "fault-relay") == [OutputMode.OFF]
    after = step(state, Tick(), 8.0)[1]  # within the sensors' 10 s stale timeout
    assert modes(after, "sounder") == [OutputMode.OFF] and modes(after, "fault-relay") == [OutputMode.ON]


def test_output_sounder_latch_survives_a_restart() -> None:
    state, _ = running(SOUNDER)
    step(state, Reading("z1-c1", 25.0, 1.0), 1.0)
    step(state, op(OperatorAction.SILENCE, "sounder"), 2.0)
    _, out = restore(spec(SOUNDER), to_snapshot(state), 100.0)
    assert modes(out, "sounder") == [OutputMode.ON]


def test_watchdog_closed_valve_is_a_latched_trip_with_its_cause() -> None:
    state = running_start(spec(), 0.0)
    detail = "closed by its watchdog: GasGuard stopped answering for 12 s"
    out = step(state, ValveFeedback("z2-v1", ValvePosition.CLOSED, detail), 5.0)[1]
    assert ZoneTripChanged("z2", True, f"z2-v1 {detail}") in out
    assert state.zones["z2"].tripped
    assert not [o for o in out if isinstance(o, OutputCommand)]
