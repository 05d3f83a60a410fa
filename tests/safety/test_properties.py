"""Property-based tests of the interlock invariants over generated event sequences.

The ``ci`` hypothesis profile (selected when CI=true) runs 10,000 sequences for the combined
invariant test; locally the default profile runs fewer so the suite stays quick.
"""

from __future__ import annotations

import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gasguard.domain import (
    Event,
    Level,
    MlSignal,
    MlSignalKind,
    OperatorAction,
    OperatorCommand,
    OperatorResult,
    Output,
    OutputKind,
    Reading,
    Tick,
    ValveAction,
    ValveCommand,
    ValveDriverFailed,
    ValveFeedback,
    ValvePosition,
)
from gasguard.safety.interlock import PlantState, cold_start, running_start, step
from gasguard.safety.snapshot import restore, to_snapshot
from gasguard.safety.spec import FaultPolicy, OutputSpec, PlantSpec, VoteBy
from safety.plantspec import plant, zone_spec

settings.register_profile("ci", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("dev", max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile("ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev")

SPEC = plant(zone_spec("z1", n_channels=3, k=2, n_valves=2), zone_spec("z2", n_channels=1, k=1))
SPEC_ALARM_POLICY = plant(zone_spec("z1", n_channels=2, k=1, fault_policy=FaultPolicy.ALARM))
CHANNELS = ["z1-c1", "z1-c2", "z1-c3", "z2-c1"]
VALVES = ["z1-v1", "z1-v2", "z2-v1"]
ALARMS = [f"{c[:2]}/{c}/{lvl}" for c in CHANNELS for lvl in ("A1", "A2", "A3", "FAULT")]

values = st.one_of(
    st.floats(min_value=-10, max_value=120, allow_nan=False),
    st.sampled_from([0.0, 9.9, 10.0, 19.9, 20.0, 20.1, 39.9, 40.0, math.nan, math.inf, None]),
)
readings = st.builds(Reading, st.sampled_from(CHANNELS), values, st.just(0.0))
operator = st.builds(
    OperatorCommand,
    st.sampled_from(list(OperatorAction)),
    st.sampled_from(["z1", "z2", *VALVES, *CHANNELS, *ALARMS]),
    st.sampled_from(["alice", ""]),
    st.sampled_from(["checked", ""]),
    st.one_of(st.none(), st.floats(min_value=-100, max_value=40_000, allow_nan=False)),
    st.booleans(),
)
events: st.SearchStrategy[Event] = st.one_of(
    readings,
    readings,
    readings,
    st.just(Tick()),
    st.builds(ValveFeedback, st.sampled_from(VALVES), st.sampled_from(list(ValvePosition))),
    st.builds(ValveDriverFailed, st.sampled_from(VALVES), st.just("timeout")),
    st.builds(MlSignal, st.sampled_from(["z1", "z2"]), st.sampled_from(list(MlSignalKind)), st.just("m"), st.floats()),
    operator,
)
timed = st.lists(st.tuples(st.floats(min_value=0.0, max_value=30.0), events), max_size=40)


def _a2_votes(state: PlantState, zone: str) -> bool:
    z = state.zones[zone]
    return z.votes >= z.spec.vote_k


def _reads_gas(state: PlantState, zone: str) -> tuple[int, bool]:
    """(voting channels whose last value is at or above A2, any channel at all), in service or not."""
    z = state.zones[zone]
    at_a2 = [ch for ch in z.channels.values() if ch.lel is not None and ch.lel >= ch.spec.a2]
    # A channel in TEST sees test gas on purpose and does not vote; it still blocks reset and reopen.
    return sum(1 for ch in at_a2 if ch.spec.votes and ch.test_until is None), bool(at_a2)


@given(timed, st.booleans())
def test_interlock_invariants(trace: list[tuple[float, Event]], cold: bool) -> None:
    start: list[Output] = []
    if cold:
        state, start = cold_start(SPEC, 0.0)
    else:
        state = running_start(SPEC, 0.0)
    now = 0.0
    reset_seen = {z: False for z in state.zones}
    last_command = {o.valve: o.action for o in start if isinstance(o, ValveCommand)}
    for dt, event in trace:
        now += dt
        before = {z: _a2_votes(state, z) for z in state.zones}
        reset_ok_before = {z: not state.zones[z].reset_blockers(now) for z in state.zones}
        _, out = step(state, event, now)
        closes = {(o.zone, o.valve) for o in out if isinstance(o, ValveCommand) and o.action is ValveAction.CLOSE}
        last_command.update({o.valve: o.action for o in out if isinstance(o, ValveCommand)})
        for zid, zone in state.zones.items():
            # (f) gas is physical: whatever the operator did (out of service included), a zone whose
            # voting channels read at or above A2 is tripped with every valve last commanded closed,
            # and while any channel reads at or above A2 nothing in the zone is reset or opened.
            voting_at_a2, any_at_a2 = _reads_gas(state, zid)
            if voting_at_a2 >= zone.spec.vote_k:
                assert zone.tripped
                assert all(last_command.get(v) is ValveAction.CLOSE for v in zone.valves)
            if any_at_a2:
                assert not [
                    o for o in out if isinstance(o, ValveCommand) and o.zone == zid and o.action is ValveAction.OPEN
                ]
                assert not [
                    o
                    for o in out
                    if isinstance(o, OperatorResult)
                    and o.zone == zid
                    and o.action is OperatorAction.RESET
                    and o.accepted
                ]
            # (a) the step where the zone's vote reaches k closes every valve of the zone
            if not before[zid] and _a2_votes(state, zid):
                assert {(zid, v) for v in zone.valves} <= closes
            # a tripping vote always leaves the zone tripped
            if _a2_votes(state, zid):
                assert zone.tripped
        for o in out:
            if isinstance(o, OperatorResult) and o.action is OperatorAction.RESET and o.accepted:
                # (c) a reset is only accepted when no voting channel is at or above A2
                assert reset_ok_before[o.zone]
                for ch in state.zones[o.zone].channels.values():
                    assert not (ch.lel is not None and ch.lel >= ch.spec.a2)
                    assert not ch.over_range
                reset_seen[o.zone] = True
            # (b) no open command without an earlier accepted operator reset
            if isinstance(o, ValveCommand) and o.action is ValveAction.OPEN:
                assert reset_seen[o.zone]
                assert isinstance(event, OperatorCommand) and event.action is OperatorAction.OPEN


@settings(max_examples=min(settings.default.max_examples, 2_000))
@given(timed, st.floats(min_value=0, max_value=10_000))
def test_restoring_a_snapshot_never_opens_a_valve(trace: list[tuple[float, Event]], gap: float) -> None:
    # (d)
    state = running_start(SPEC, 0.0)
    now = 0.0
    for dt, event in trace:
        now += dt
        step(state, event, now)
    restored, out = restore(SPEC, to_snapshot(state), now + gap)
    assert all(o.action is ValveAction.CLOSE for o in out if isinstance(o, ValveCommand))
    for zid, zone in restored.zones.items():
        if state.zones[zid].tripped:
            assert zone.tripped
        for vid, valve in zone.valves.items():
            if state.zones[zid].valves[vid].state.value == "closed":
                assert valve.state.value == "closed"
    _, out = step(restored, Tick(), now + gap + 1)
    assert all(o.action is ValveAction.CLOSE for o in out if isinstance(o, ValveCommand))


@settings(max_examples=min(settings.default.max_examples, 2_000))
@given(timed)
def test_shelve_and_inhibit_always_expire(trace: list[tuple[float, Event]]) -> None:
    # (e) after the longest allowed suppression, one tick reveals every alarm
    state = running_start(SPEC_ALARM_POLICY, 0.0)
    now = 0.0
    for dt, event in trace:
        now += dt
        if isinstance(event, OperatorCommand) and event.until is not None:
            event = OperatorCommand(event.action, event.target.replace("z2", "z1"), "alice", "r", now + event.until)
        step(state, event, now)
    later = now + 7 * 24 * 3600.0 + 1
    step(state, Tick(), later)
    for alarm in state.alarm_index.values():
        assert not alarm.suppressed
        assert alarm.state(later).value not in ("shelved", "out_of_service")
    for ch in state.channel_index.values():
        assert ch.in_service


# (g) the hostile-operator property: a small plant and an alphabet of exactly the moves that could
# reopen gas (out of service, reset, open, acknowledge, valve feedback) next to gas, over-range and
# garbage readings, so that sequences like "inhibit, reset, open while the detector reads 30 %LEL"
# are found in a few hundred examples rather than left to chance.
SPEC_KITCHEN = plant(zone_spec("z1", n_channels=2, k=1))
KITCHEN_CHANNELS = ["z1-c1", "z1-c2"]
hostile_readings = st.builds(
    Reading,
    st.sampled_from(KITCHEN_CHANNELS),
    st.sampled_from([0.0, 5.0, 17.9, 19.0, 20.0, 30.0, 45.0, 500.0, -50.0, math.nan, None]),
    st.just(0.0),
)
hostile_commands = st.tuples(
    st.sampled_from(
        [
            (OperatorAction.INHIBIT, "z1-c1"),
            (OperatorAction.INHIBIT, "z1-c2"),
            (OperatorAction.UNINHIBIT, "z1-c1"),
            (OperatorAction.RESET, "z1"),
            (OperatorAction.OPEN, "z1-v1"),
            (OperatorAction.ACK, "z1"),
            (OperatorAction.CLOSE, "z1-v1"),
            (OperatorAction.SHELVE, "z1/z1-c1/A2"),
            (OperatorAction.TEST_CHANNEL, "z1-c1"),
            (OperatorAction.END_TEST, "z1-c1"),
        ]
    ),
    st.sampled_from([60.0, 3600.0, 86_400.0]),
    st.booleans(),
)
hostile_events = st.one_of(
    hostile_readings,
    hostile_commands,
    hostile_commands,
    st.just(Tick()),
    st.builds(ValveFeedback, st.just("z1-v1"), st.sampled_from(list(ValvePosition))),
)


@given(st.lists(st.tuples(st.floats(min_value=0.0, max_value=5.0), hostile_events), max_size=30))
def test_no_operator_sequence_reopens_gas_a_detector_still_sees(trace: list[tuple[float, object]]) -> None:
    state = running_start(SPEC_KITCHEN, 0.0)
    now = 0.0
    last_command: dict[str, ValveAction] = {}
    for dt, item in trace:
        now += dt
        if isinstance(item, tuple):
            (action, target), minutes_s, admin = item
            event: Event = OperatorCommand(action, target, "mallory", "x", now + minutes_s, admin)
        else:
            assert isinstance(item, Reading | Tick | ValveFeedback)
            event = item
        _, out = step(state, event, now)
        last_command.update({o.valve: o.action for o in out if isinstance(o, ValveCommand)})
        zone = state.zones["z1"]
        voting_at_a2, any_at_a2 = _reads_gas(state, "z1")
        if voting_at_a2 >= zone.spec.vote_k or any(
            ch.over_range and ch.test_until is None for ch in zone.channels.values()
        ):
            assert zone.tripped
            assert last_command.get("z1-v1") is ValveAction.CLOSE
        if any_at_a2:
            assert not any(isinstance(o, ValveCommand) and o.action is ValveAction.OPEN for o in out)


# (h) outputs are effects only: a plant with sounders, fans and a fault relay commands exactly the same
# valves at the same moments as the same plant without them, and the fault relay is never energised
# while a channel it watches is in FAULT.
SPEC_WITH_OUTPUTS = PlantSpec(
    zones=SPEC.zones,
    outputs=(
        OutputSpec(
            "horn",
            OutputKind.SOUNDER,
            ("z1", "z2"),
            frozenset({Level.A2, Level.A3}),
            latching=True,
            pulse_until_silenced=True,
            steady_when_silenced=True,
        ),
        OutputSpec(
            "fan",
            OutputKind.FAN,
            ("z1",),
            frozenset({Level.A1}),
            vote_k=2,
            vote_by=VoteBy.CHANNELS,
            on_delay_s=5.0,
            min_on_s=30.0,
        ),
        OutputSpec("relay", OutputKind.FAULT_RELAY, ("z1", "z2"), fault_zones=("z1", "z2")),
    ),
)
output_commands = st.builds(
    OperatorCommand,
    st.sampled_from([OperatorAction.SILENCE, OperatorAction.TEST_OUTPUT]),
    st.sampled_from(["horn", "fan", "relay"]),
    st.just("alice"),
    st.just("test"),
    st.floats(min_value=0, max_value=2_000, allow_nan=False),
    st.booleans(),
)


@settings(max_examples=min(settings.default.max_examples, 2_000))
@given(st.lists(st.tuples(st.floats(min_value=0.0, max_value=30.0), st.one_of(events, output_commands)), max_size=40))
def test_outputs_never_change_what_the_valves_do(trace: list[tuple[float, Event]]) -> None:
    plain = running_start(SPEC, 0.0)
    with_outputs = running_start(SPEC_WITH_OUTPUTS, 0.0)
    now = 0.0
    for dt, event in trace:
        now += dt
        _, a = step(plain, event, now)
        _, b = step(with_outputs, event, now)
        assert [o for o in a if isinstance(o, ValveCommand)] == [o for o in b if isinstance(o, ValveCommand)]
        assert {z: plain.zones[z].tripped for z in plain.zones} == {
            z: with_outputs.zones[z].tripped for z in with_outputs.zones
        }
        relay = with_outputs.outputs["relay"]
        faulty = any(
            ch.in_service and ch.health.value != "ok" for z in with_outputs.zones.values() for ch in z.channels.values()
        )
        if faulty:
            assert relay.mode is not None and relay.mode.value == "off"
