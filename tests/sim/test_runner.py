"""Scenario tests: each shipped scenario through the real safety core, with the exact commands expected."""

from __future__ import annotations

from gasguard.sim.runner import SimulationResult, run_scenario
from gasguard.sim.scenario import load_scenario


def run(name: str) -> SimulationResult:
    return run_scenario(load_scenario(name))


def commands(result: SimulationResult) -> list[tuple[str, str]]:
    """Valve commands, without the periodic re-assertions of close while tripped."""
    return [(r["action"], r["valve"]) for r in result.of_kind("command") if not r["reason"].startswith("re-assert")]


def operator(result: SimulationResult) -> list[tuple[str, bool]]:
    return [(r["action"], r["accepted"]) for r in result.of_kind("operator")]


def first(result: SimulationResult, **match: object) -> dict:
    return next(r for r in result.records if all(r.get(k) == v for k, v in match.items()))


def test_methane_kitchen_trips_at_a2_refuses_reset_with_gas_then_reopens() -> None:
    result = run("methane-kitchen")
    assert commands(result) == [("close", "kitchen-valve"), ("open", "kitchen-valve")]
    a2 = first(result, kind="alarm", level="A2", state="unacknowledged")
    close = first(result, kind="command", action="close")
    assert close["t"] == a2["t"]  # the valve is commanded closed in the step the channel reaches A2
    assert a2["lel_pct"] >= 20.0
    ops = operator(result)
    assert [ok for action, ok in ops if action == "reset"] == [False, True]
    assert [ok for action, ok in ops if action == "open"] == [True]
    assert all(ok for action, ok in ops if action == "ack")
    valve_states = [r["state"] for r in result.of_kind("valve")]
    assert valve_states == ["closing", "closed", "opening", "open"]
    readings = [r for r in result.of_kind("reading") if r["t"] >= 700]
    assert max(r["lel_pct"] for r in readings) < 10.0


def test_lpg_boiler_slow_reaches_a1_only() -> None:
    result = run("lpg-boiler-slow")
    levels = {r["level"] for r in result.of_kind("alarm")}
    assert levels == {"A1"}
    assert commands(result) == []
    assert max(r["lel_pct"] for r in result.of_kind("reading")) < 20.0


def test_sensor_disconnect_goes_stale_and_trips_by_fault_policy() -> None:
    result = run("sensor-disconnect")
    stale = first(result, kind="fault", health="stale")
    close = first(result, kind="command", action="close")
    assert close["t"] == stale["t"]
    assert "FAULT (stale)" in close["reason"]
    assert not any(r["level"] == "A2" for r in result.of_kind("alarm"))  # tripped before the gas reached A2
    assert commands(result) == [("close", "lab-valve"), ("open", "lab-valve")]


def test_valve_stuck_raises_valve_fault_and_keeps_commanding_close() -> None:
    result = run("valve-stuck")
    close = first(result, kind="command", action="close")
    fault = first(result, kind="valve", state="fault")
    assert fault["detail"] == "did not close within 4 s"
    assert fault["t"] > close["t"]
    assert first(result, kind="alarm", level="VALVE_FAULT", state="unacknowledged")["t"] == fault["t"]
    reasserted = [r for r in result.of_kind("command") if r["reason"].startswith("re-assert") and r["t"] > fault["t"]]
    assert reasserted, "close must be re-asserted while the zone is tripped"
    assert [r["state"] for r in result.of_kind("valve")][:3] == ["closing", "fault", "closed"]


def test_power_cycle_keeps_valve_closed_and_trip_latched() -> None:
    result = run("power-cycle")
    restored = first(result, kind="fault", health="power_restored")
    after = [r for r in result.records if r["t"] >= restored["t"]]
    opens = [r for r in after if r["kind"] == "command" and r["action"] == "open"]
    first_reset = next(r for r in after if r["kind"] == "operator" and r["action"] == "reset" and r["accepted"])
    assert all(o["t"] >= first_reset["t"] for o in opens)
    restart_cmds = [(r["action"], r["valve"]) for r in after if r["kind"] == "command" and r["t"] == restored["t"]]
    assert restart_cmds == [("close", "kitchen-valve")]
    trips = [r for r in result.records if r["kind"] == "trip" and r["tripped"]]
    assert [t["t"] for t in trips][-1] == restored["t"]  # the latch comes back with the restart
    warm = first(result, kind="fault", channel="kitchen-ch1", health="warming_up")
    assert warm["t"] == restored["t"]


def test_runs_are_deterministic() -> None:
    assert run("methane-kitchen").records == run("methane-kitchen").records


def test_outputs_lab_sounder_silence_fan_beacon_and_fault_relay() -> None:
    result = run("outputs-lab")
    outputs = [(r["t"], r["output"], r["mode"]) for r in result.of_kind("output") if r["t"] > 0]
    assert outputs == [
        (309.0, "lab-fan", "on"),
        (390.0, "lab-sounder", "pulsed"),
        (390.0, "lab-beacon", "on"),
        (390.0, "fault-relay", "off"),
        (400.0, "lab-sounder", "on"),  # silenced: steady until the zone is reset
        (500.0, "lab-beacon", "off"),
        (500.0, "fault-relay", "on"),
        (610.0, "lab-fan", "off"),
        (680.0, "lab-sounder", "off"),
    ]
    assert first(result, kind="output", output="lab-sounder", mode="on")["silenced"] is True
    assert ("silence", True) in operator(result)
    assert commands(result) == [("close", "lab-valve"), ("open", "lab-valve")]
