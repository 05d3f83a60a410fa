"""Scenario files: the shipped ones load and show what they are named for; bad ones fail clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gasguard.domain import ValveAction, ValveCommand
from gasguard.sim.plant import Plant
from gasguard.sim.scenario import SCENARIO_DIR, Scenario, ScenarioError, list_scenarios, load_scenario

SHIPPED = ["lpg-boiler-slow", "methane-kitchen", "outputs-lab", "power-cycle", "sensor-disconnect", "valve-stuck"]
LEL_PPM = {"methane": 50_000.0, "lpg": 21_000.0}


def test_all_shipped_scenarios_are_listed_and_load() -> None:
    assert list_scenarios() == SHIPPED
    for name in SHIPPED:
        sc = load_scenario(name)
        assert sc.name == name
        assert sc.source == (SCENARIO_DIR / f"{name}.yaml").resolve()
        assert sc.site_path.is_file()
        assert sc.step_times()[-1] == sc.duration_s


def test_load_by_path_gives_the_same_scenario() -> None:
    assert load_scenario(SCENARIO_DIR / "methane-kitchen.yaml") == load_scenario("methane-kitchen")


def test_unknown_name_lists_the_shipped_scenarios() -> None:
    with pytest.raises(ScenarioError, match="shipped scenarios: lpg-boiler-slow, methane-kitchen"):
        load_scenario("no-such-scenario")


def write_variant(tmp_path: Path, change: dict[str, Any], base: str = "methane-kitchen") -> Path:
    data = yaml.safe_load((SCENARIO_DIR / f"{base}.yaml").read_text(encoding="utf-8"))
    data["site"] = str(SCENARIO_DIR / data["site"])
    data.update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "field_path", "message"),
    [
        ({"duration_s": -5}, "duration_s", "greater than 0"),
        ({"start": "warm"}, "start", "'running' or 'cold'"),
        (
            {"sensors": {"kitchen-ch1": {"t90": 25}}},
            "sensors.kitchen-ch1.t90",
            "Extra inputs are not permitted",
        ),
        ({"rooms": {"kitchen": {"volume_m3": 0, "air_changes_per_h": 2}}}, "rooms.kitchen.volume_m3", "greater than 0"),
        ({"leaks": [{"zone": "kitchen", "start_s": 50, "stop_s": 10, "rate_lpm": 5}]}, "leaks.0", "after start_s"),
        ({"faults": [{"at_s": 1, "valve": "kitchen-valve", "kind": "disconnect"}]}, "faults.0", "not a valve fault"),
        (
            {"operator": [{"at_s": 1, "action": "shelve", "target": "kitchen/kitchen-ch1/A1"}]},
            "operator.0",
            "needs until_s",
        ),
        ({"operator": [{"at_s": 1, "action": "dance", "target": "kitchen"}]}, "operator.0.action", "'ack'"),
    ],
)
def test_bad_fields_name_the_file_and_the_field_path(
    tmp_path: Path, change: dict[str, Any], field_path: str, message: str
) -> None:
    path = write_variant(tmp_path, change)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.file == str(path)
    assert info.value.field_path == field_path
    assert message in info.value.message
    assert str(info.value).startswith(f"{path}: {field_path}: ")


@pytest.mark.parametrize(
    ("change", "field_path", "message"),
    [
        ({"sensors": {"kitchen-ch9": {"t90_s": 25}}}, "sensors.kitchen-ch9", "unknown channel 'kitchen-ch9'"),
        ({"valves": {"boiler-valve": {"travel_time_s": 3}}}, "valves.boiler-valve", "unknown valve 'boiler-valve'"),
        (
            {
                "rooms": {
                    "kitchen": {"volume_m3": 30, "air_changes_per_h": 10},
                    "cellar": {"volume_m3": 5, "air_changes_per_h": 1},
                }
            },
            "rooms.cellar",
            "unknown zone 'cellar'",
        ),
        ({"rooms": {}}, "rooms", "no room for zone(s) kitchen"),
        ({"faults": [{"at_s": 5, "channel": "lab-ch1", "kind": "disconnect"}]}, "faults.0.channel", "unknown channel"),
        (
            {"leaks": [{"zone": "kitchen", "start_s": 5, "rate_lpm": 5, "valve": "nope"}]},
            "leaks.0.valve",
            "unknown valve",
        ),
        (
            {"operator": [{"at_s": 5, "action": "ack", "target": "kitchen/kitchen-ch2/A2"}]},
            "operator.0.target",
            "no channel 'kitchen-ch2' in zone 'kitchen'",
        ),
        (
            {"operator": [{"at_s": 5, "action": "ack", "target": "kitchen/kitchen-ch1/A9"}]},
            "operator.0.target",
            "unknown alarm level 'A9'",
        ),
        ({"operator": [{"at_s": 5, "action": "reset", "target": "kitchen-valve"}]}, "operator.0.target", "zone id"),
        ({"operator": [{"at_s": 5, "action": "open", "target": "kitchen"}]}, "operator.0.target", "valve id"),
    ],
)
def test_ids_are_checked_against_the_site_file(
    tmp_path: Path, change: dict[str, Any], field_path: str, message: str
) -> None:
    path = write_variant(tmp_path, change)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field_path == field_path
    assert message in info.value.message
    assert "kitchen.yaml" in info.value.message


def test_missing_site_file_and_broken_yaml_are_reported(tmp_path: Path) -> None:
    path = write_variant(tmp_path, {"site": "sites/nowhere.yaml"})
    with pytest.raises(ScenarioError, match=r"bad\.yaml: site: cannot read site file"):
        load_scenario(path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.yaml: not valid YAML"):
        load_scenario(broken)


# --------------------------------------------------------------------------- shipped scenarios' physics


def simulate(sc: Scenario) -> tuple[Plant, list[tuple[float, str, float | None]], dict[str, float]]:
    """Run a scenario with a minimal stand-in for the interlock (close a zone's valves at A2 or on a
    stale channel, open on the operator's open) and record readings in %LEL and event times."""
    plant = Plant(sc)
    lay = sc.layout
    out: list[tuple[float, str, float | None]] = []
    marks: dict[str, float] = {}
    last_seen: dict[str, float] = {}
    downs = {p.at_s: p for p in sc.power_cycles}
    ups = {p.at_s + p.down_s for p in sc.power_cycles}
    ops = {o.at_s: o for o in sc.operator}

    def close_zone(zone: str, t: float) -> None:
        for v in lay.valves.values():
            if v.zone == zone:
                plant.apply(ValveCommand(zone, v.id, ValveAction.CLOSE, "test"), t)

    for t in sc.step_times():
        if t in downs:
            plant.power_loss(t)
        if t in ups:
            plant.power_restore(t)
            last_seen = dict.fromkeys(last_seen, t)
        readings, _ = plant.step(t, sc.step_s)
        for r in readings:
            ch = lay.channels[r.channel]
            assert r.value is not None
            lel = 100.0 * r.value / LEL_PPM[ch.gas]
            out.append((t, r.channel, lel))
            last_seen[r.channel] = t
            if lel >= 20.0:
                marks.setdefault("A2", t)
                close_zone(ch.zone, t)
            if lel >= 10.0:
                marks.setdefault("A1", t)
        if plant.powered:
            for ch_id, seen in last_seen.items():
                if t - seen > 10.0:
                    marks.setdefault("stale", t)
                    close_zone(lay.channels[ch_id].zone, t)
        op = ops.get(t)
        if op is not None and op.action.value in ("open", "close"):
            plant.apply(ValveCommand("", op.target, ValveAction(op.action.value), op.reason), t)
    return plant, out, marks


def lel_at(out: list[tuple[float, str, float | None]], channel: str, t: float) -> float:
    value = next(v for ts, ch, v in out if ch == channel and ts == t)
    assert value is not None
    return value


def first_op(sc: Scenario, action: str) -> float:
    return next(o.at_s for o in sc.operator if o.action.value == action)


def last_op(sc: Scenario, action: str) -> float:
    return [o.at_s for o in sc.operator if o.action.value == action][-1]


def test_methane_kitchen_passes_a2_then_clears_before_the_accepted_reset() -> None:
    sc = load_scenario("methane-kitchen")
    _, out, marks = simulate(sc)
    assert 150 <= marks["A2"] <= 300
    assert sc.duration_s <= 1200
    refused, accepted = first_op(sc, "reset"), last_op(sc, "reset")
    assert lel_at(out, "kitchen-ch1", refused) >= 22.0  # clearly above A2 when the first reset is tried
    after_trip = [v for ts, _, v in out if ts >= accepted - 60]
    assert max(v for v in after_trip if v is not None) < 8.0  # below A1 minus hysteresis for a minute
    assert last_op(sc, "open") > accepted


def test_lpg_boiler_slow_reaches_a1_only() -> None:
    sc = load_scenario("lpg-boiler-slow")
    plant, out, marks = simulate(sc)
    peak = max(v for _, _, v in out if v is not None)
    assert 10.0 < peak < 16.0
    assert "A2" not in marks
    assert out[-1][2] is not None and out[-1][2] < 8.0  # back below A1 minus hysteresis at the end
    assert plant.valves["boiler-valve"].open_fraction == 1.0


def test_sensor_disconnect_happens_between_a1_and_a2_and_trips_by_fault() -> None:
    sc = load_scenario("sensor-disconnect")
    plant, out, marks = simulate(sc)
    cut = next(f.at_s for f in sc.faults if f.kind == "disconnect")
    back = next(f.at_s for f in sc.faults if f.kind == "recover")
    assert 10.0 < lel_at(out, "lab-ch1", cut - 1) < 18.0
    assert not any(ch == "lab-ch1" and cut <= ts < back for ts, ch, _ in out)
    # the last reading is at cut - 1; the first step more than the 10 s timeout later is cut + 10
    assert marks["stale"] == cut + 10
    assert "A2" not in marks
    assert all(v is not None and v < 8.0 for ts, _, v in out if ts == first_op(sc, "reset"))
    assert plant.valves["lab-valve"].open_fraction == 1.0


def test_valve_stuck_keeps_leaking_until_the_actuator_recovers() -> None:
    sc = load_scenario("valve-stuck")
    recover = next(f.at_s for f in sc.faults if f.kind == "recover")
    _, out, marks = simulate(sc)
    assert marks["A2"] < recover - 30  # enough time for the core's valve feedback timeout to fire
    replay = Plant(sc)
    for t in sc.step_times():
        replay.step(t, sc.step_s)
        if t == marks["A2"]:
            replay.apply(ValveCommand("kitchen", "kitchen-valve", ValveAction.CLOSE, "A2"), t)
        if t == recover - 1:
            assert replay.valves["kitchen-valve"].open_fraction == 1.0
            assert replay.leak_lpm("kitchen") == 150.0
        if t == recover + 5:
            assert replay.leak_lpm("kitchen") == 0.0
            break
    assert all(v is not None and v < 8.0 for ts, _, v in out if ts == first_op(sc, "reset"))


def test_power_cycle_trips_before_the_outage_and_stays_closed_through_it() -> None:
    sc = load_scenario("power-cycle")
    plant, out, marks = simulate(sc)
    cycle = sc.power_cycles[0]
    assert marks["A2"] < cycle.at_s
    back = cycle.at_s + cycle.down_s
    assert not any(cycle.at_s <= ts < back for ts, _, _ in out)
    refused = first_op(sc, "reset")
    assert back <= refused < back + 60  # tried while the detector is still warming up
    assert all(v is not None and v < 8.0 for ts, _, v in out if ts == last_op(sc, "reset"))
    assert plant.valves["kitchen-valve"].open_fraction == 1.0  # reopened by the operator at the end
