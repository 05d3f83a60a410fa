"""Physics of the simulated plant: what a sensor, a room and a valve do over time."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from gasguard.domain import Reading, ValveAction, ValveCommand, ValveFeedback, ValvePosition
from gasguard.sim.plant import Plant, Room, SimSensor, SimValve
from gasguard.sim.scenario import SCENARIO_DIR, Scenario, load_scenario

KITCHEN_SITE = SCENARIO_DIR / "sites" / "kitchen.yaml"


def make_scenario(tmp_path: Path, **fields: Any) -> Scenario:
    """A one-room kitchen scenario with noise-free, lag-free sensors unless overridden."""
    data: dict[str, Any] = {
        "name": "test",
        "site": str(KITCHEN_SITE),
        "duration_s": 600,
        "step_s": 1.0,
        "seed": 1,
        "rooms": {"kitchen": {"volume_m3": 50, "air_changes_per_h": 6.0}},
        "sensors": {"kitchen-ch1": {"t90_s": 0, "noise_ppm": 0, "exposure": 1.0}},
    }
    data.update(fields)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_scenario(path)


def run(
    plant: Plant, start: float, stop: float, dt: float = 1.0
) -> tuple[list[Reading], list[tuple[float, ValveFeedback]]]:
    readings: list[Reading] = []
    feedback: list[tuple[float, ValveFeedback]] = []
    t = start
    while t <= stop + 1e-9:
        r, f = plant.step(t, dt)
        readings += r
        feedback += [(t, fb) for fb in f]
        t += dt
    return readings, feedback


def close(valve: str = "kitchen-valve") -> ValveCommand:
    return ValveCommand(zone="kitchen", valve=valve, action=ValveAction.CLOSE, reason="test")


# --------------------------------------------------------------------------- sensor


def test_first_order_lag_reaches_90_percent_of_a_step_at_t90() -> None:
    sensor = SimSensor("ch", t90_s=25.0, noise_ppm=0.0)
    for _ in range(25):
        sensor.update(1000.0, 1.0)
    assert sensor.lagged_ppm == pytest.approx(900.0, rel=1e-9)
    assert sensor.read(25.0) == 900.0


def test_lag_at_one_time_constant_is_63_percent() -> None:
    sensor = SimSensor("ch", t90_s=30.0, noise_ppm=0.0)
    tau = 30.0 / math.log(10)
    sensor.update(1000.0, tau)
    assert sensor.lagged_ppm == pytest.approx(1000.0 * (1 - math.exp(-1)), rel=1e-9)


def test_linear_drift_adds_its_rate_per_hour() -> None:
    sensor = SimSensor("ch", t90_s=0.0, noise_ppm=0.0, drift_ppm_per_h=100.0)
    for _ in range(3600):
        sensor.update(0.0, 1.0)
    assert sensor.read(3600.0) == 100.0


def test_noise_has_the_configured_spread() -> None:
    sensor = SimSensor("ch", t90_s=0.0, noise_ppm=50.0)
    sensor.update(10_000.0, 1.0)
    values = [sensor.read(float(t)) for t in range(4000)]
    mean = sum(v for v in values if v is not None) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values if v is not None) / len(values))
    assert mean == pytest.approx(10_000.0, abs=5.0)
    assert sd == pytest.approx(50.0, rel=0.05)


def test_readings_are_never_negative() -> None:
    sensor = SimSensor("ch", t90_s=0.0, noise_ppm=100.0)
    values = [sensor.read(float(t)) for t in range(500)]
    assert min(v for v in values if v is not None) == 0.0


def test_disconnect_gives_no_reading_until_recovered() -> None:
    sensor = SimSensor("ch", t90_s=0.0, noise_ppm=0.0)
    sensor.update(500.0, 1.0)
    sensor.inject("disconnect")
    assert sensor.read(1.0) is None
    sensor.inject("recover")
    assert sensor.read(2.0) == 500.0


def test_stuck_sensor_repeats_its_last_value_exactly_while_gas_changes() -> None:
    sensor = SimSensor("ch", t90_s=10.0, noise_ppm=30.0)
    sensor.update(2000.0, 5.0)
    last = sensor.read(5.0)
    sensor.inject("stuck")
    frozen = []
    for t in range(6, 60):
        sensor.update(8000.0, 1.0)
        frozen.append(sensor.read(float(t)))
    assert set(frozen) == {last}
    sensor.inject("recover")
    assert sensor.read(60.0) != last


def test_nan_fault_reports_nan_and_spike_is_one_off() -> None:
    sensor = SimSensor("ch", t90_s=0.0, noise_ppm=0.0)
    sensor.update(100.0, 1.0)
    sensor.inject("spike", value_ppm=45_000.0)
    assert [sensor.read(1.0), sensor.read(2.0)] == [45_000.0, 100.0]
    sensor.inject("nan")
    value = sensor.read(3.0)
    assert value is not None and math.isnan(value)


def test_warm_up_reads_high_then_settles() -> None:
    sensor = SimSensor("ch", t90_s=0.0, noise_ppm=0.0, warmup_s=60.0, warmup_offset_ppm=2000.0, warm=False)
    sensor.update(100.0, 1.0)
    assert sensor.warming_up(0.0)
    assert sensor.read(0.0) == 2100.0
    assert sensor.read(30.0) == 600.0  # offset decays as (1 - elapsed/warmup)^2
    assert not sensor.warming_up(60.0)
    assert sensor.read(60.0) == 100.0


# --------------------------------------------------------------------------- room


def test_room_decays_with_air_changes_as_an_exponential() -> None:
    room = Room("r", volume_m3=50.0, air_changes_per_h=6.0, initial_ppm=10_000.0)
    for _ in range(600):
        room.advance(0.0, 1.0)
    assert room.ppm == pytest.approx(10_000.0 * math.exp(-6.0 * 600 / 3600), rel=1e-9)


def test_room_fills_linearly_without_ventilation_and_levels_off_with_it() -> None:
    sealed = Room("r", volume_m3=60.0, air_changes_per_h=0.0)
    sealed.advance(60.0, 60.0)  # 60 L/min for a minute: 60 L in 60 m3 = 1000 ppm
    assert sealed.ppm == pytest.approx(1000.0, rel=1e-9)
    vented = Room("r", volume_m3=60.0, air_changes_per_h=6.0)
    for _ in range(36_000):
        vented.advance(60.0, 1.0)
    # steady state q / (V * ACH/3600) = (0.001 m3/s) / (60 m3 * 1/600 s) = 0.01 = 10,000 ppm
    assert vented.ppm == pytest.approx(10_000.0, rel=1e-6)


# --------------------------------------------------------------------------- valve


def test_valve_travels_linearly_and_reports_moving_in_between() -> None:
    valve = SimValve("v", travel_time_s=4.0)
    valve.command(ValveAction.CLOSE)
    positions = []
    for _ in range(4):
        valve.advance(1.0)
        positions.append((valve.position, valve.open_fraction))
    assert positions == [
        (ValvePosition.MOVING, 0.75),
        (ValvePosition.MOVING, 0.5),
        (ValvePosition.MOVING, 0.25),
        (ValvePosition.CLOSED, 0.0),
    ]


def test_stuck_valve_does_not_move_and_recovers_to_its_last_command() -> None:
    valve = SimValve("v", travel_time_s=2.0)
    valve.inject("stuck_open")
    valve.command(ValveAction.CLOSE)
    valve.advance(30.0)
    assert valve.position == ValvePosition.OPEN
    valve.inject("recover")
    valve.advance(2.0)
    assert (valve.open_fraction, valve.target) == (0.0, 0.0)


# --------------------------------------------------------------------------- plant


def test_closing_the_valve_stops_the_leak_after_its_travel_time(tmp_path: Path) -> None:
    sc = make_scenario(
        tmp_path,
        rooms={"kitchen": {"volume_m3": 50, "air_changes_per_h": 0.0}},
        valves={"kitchen-valve": {"travel_time_s": 4}},
        leaks=[{"zone": "kitchen", "start_s": 0, "rate_lpm": 100, "valve": "kitchen-valve"}],
    )
    plant = Plant(sc)
    _, fb = run(plant, 0, 10)
    assert fb == [(0.0, ValveFeedback("kitchen-valve", ValvePosition.OPEN))]
    plant.apply(close(), 10.0)
    _, fb = run(plant, 11, 20)
    assert fb == [
        (11.0, ValveFeedback("kitchen-valve", ValvePosition.MOVING)),
        (14.0, ValveFeedback("kitchen-valve", ValvePosition.CLOSED)),
    ]
    assert plant.leak_lpm("kitchen") == 0.0
    # 10 s full flow + 4 s closing at half flow on average = 12 s of 100 L/min in 50 m3, then nothing.
    expected = 100 / 1000 / 60 * 12 / 50 * 1e6
    assert plant.true_ppm("kitchen") == pytest.approx(expected, rel=1e-9)


def test_stuck_open_valve_keeps_feeding_the_leak(tmp_path: Path) -> None:
    sc = make_scenario(
        tmp_path,
        leaks=[{"zone": "kitchen", "start_s": 0, "rate_lpm": 100, "valve": "kitchen-valve"}],
        faults=[{"at_s": 0, "valve": "kitchen-valve", "kind": "stuck_open"}],
    )
    plant = Plant(sc)
    run(plant, 0, 5)
    plant.apply(close(), 5.0)
    _, fb = run(plant, 6, 60)
    assert fb == []
    assert plant.valves["kitchen-valve"].position == ValvePosition.OPEN
    assert plant.leak_lpm("kitchen") == 100.0


def test_scheduled_disconnect_removes_the_channel_from_the_readings(tmp_path: Path) -> None:
    sc = make_scenario(
        tmp_path,
        faults=[
            {"at_s": 5, "channel": "kitchen-ch1", "kind": "disconnect"},
            {"at_s": 8, "channel": "kitchen-ch1", "kind": "recover"},
        ],
    )
    readings, _ = run(Plant(sc), 0, 10)
    assert [r.ts for r in readings] == [0.0, 1.0, 2.0, 3.0, 4.0, 8.0, 9.0, 10.0]
    assert {r.channel for r in readings} == {"kitchen-ch1"}


def test_scheduled_stuck_fault_gives_an_exact_constant_while_gas_rises(tmp_path: Path) -> None:
    sc = make_scenario(
        tmp_path,
        leaks=[{"zone": "kitchen", "start_s": 0, "rate_lpm": 100}],
        faults=[{"at_s": 10, "channel": "kitchen-ch1", "kind": "stuck"}],
    )
    readings, _ = run(Plant(sc), 0, 40)
    after = [r.value for r in readings if r.ts >= 10]
    assert len(set(after)) == 1
    assert after[0] == next(r.value for r in readings if r.ts == 9.0)


def test_leak_starts_exactly_at_its_scheduled_time(tmp_path: Path) -> None:
    sc = make_scenario(
        tmp_path,
        rooms={"kitchen": {"volume_m3": 10, "air_changes_per_h": 0.0}},
        leaks=[{"zone": "kitchen", "start_s": 2.5, "stop_s": 4.0, "rate_lpm": 60}],
    )
    plant = Plant(sc)
    run(plant, 0, 10)
    # 1.5 s of 1 L/s into 10 m3 = 150 ppm
    assert plant.true_ppm("kitchen") == pytest.approx(150.0, rel=1e-9)


def test_power_loss_closes_normally_closed_valves_and_silences_devices(tmp_path: Path) -> None:
    site = yaml.safe_load(KITCHEN_SITE.read_text(encoding="utf-8"))
    zone = site["sites"][0]["zones"][0]
    zone["valves"].append({"id": "kitchen-vent-valve", "travel_time_s": 2, "normally_closed": False, "feedback": True})
    site_path = tmp_path / "site.yaml"
    site_path.write_text(yaml.safe_dump(site), encoding="utf-8")
    plant = Plant(make_scenario(tmp_path, site=str(site_path)))
    run(plant, 0, 5)
    plant.power_loss(5.0)
    readings, fb = run(plant, 6, 20)
    assert (readings, fb) == ([], [])
    assert plant.valves["kitchen-valve"].position == ValvePosition.CLOSED
    assert plant.valves["kitchen-vent-valve"].position == ValvePosition.OPEN
    plant.apply(ValveCommand("kitchen", "kitchen-vent-valve", ValveAction.CLOSE, "test"), 20.0)
    assert plant.valves["kitchen-vent-valve"].target == 1.0  # no power: the command is lost
    plant.power_restore(21.0)
    after, feedback = plant.step(21.0, 1.0)
    assert feedback == [
        ValveFeedback("kitchen-valve", ValvePosition.CLOSED),
        ValveFeedback("kitchen-vent-valve", ValvePosition.OPEN),
    ]
    # the sensor warms up again: it reads its full warm-up offset (2000 ppm) in clean air
    assert [r.value for r in after] == [2000.0]
    assert plant.sensors["kitchen-ch1"].warming_up(80.0)
    assert not plant.sensors["kitchen-ch1"].warming_up(81.0)


def test_cold_start_begins_with_normally_closed_valves_closed_and_sensors_warming(tmp_path: Path) -> None:
    plant = Plant(make_scenario(tmp_path, start="cold"))
    readings, fb = plant.step(0.0, 1.0)
    assert fb == [ValveFeedback("kitchen-valve", ValvePosition.CLOSED)]
    assert [r.value for r in readings] == [2000.0]


def test_same_seed_same_run_and_another_seed_another_noise(tmp_path: Path) -> None:
    sensors = {"kitchen-ch1": {"t90_s": 25, "noise_ppm": 20}}
    leaks = [{"zone": "kitchen", "start_s": 5, "rate_lpm": 50}]
    a = run(Plant(make_scenario(tmp_path, sensors=sensors, leaks=leaks, seed=7)), 0, 100)
    b = run(Plant(make_scenario(tmp_path, sensors=sensors, leaks=leaks, seed=7)), 0, 100)
    c = run(Plant(make_scenario(tmp_path, sensors=sensors, leaks=leaks, seed=8)), 0, 100)
    assert a == b
    assert a[0] != c[0]


def test_time_cannot_go_backwards(tmp_path: Path) -> None:
    plant = Plant(make_scenario(tmp_path))
    plant.step(10.0, 1.0)
    with pytest.raises(ValueError, match="backwards"):
        plant.step(9.0, 1.0)
