"""Replaying a MultimodalGasData CSV as a live source."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gasguard.ingest.replay import ReplayError, read_rows, replay_csv

CSV = "Serial Number,MQ2,MQ3,Gas\n0,555,515,NoGas\n1,556,bad,NoGas\n0,700,650,Smoke\n"


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "gas.csv"
    path.write_text(CSV)
    return path


def test_rows_become_stamped_sensor_arrays(small_csv: Path) -> None:
    rows = list(read_rows(small_csv, channel="lab", start_ts=100.0))
    assert [(r.sample.ts, dict(r.sample.values), r.label) for r in rows] == [
        (100.0, {"MQ2": 555.0, "MQ3": 515.0}, "NoGas"),
        (102.0, {"MQ2": 556.0, "MQ3": None}, "NoGas"),
        (104.0, {"MQ2": 700.0, "MQ3": 650.0}, "Smoke"),
    ]
    smoke = list(read_rows(small_csv, channel="lab", start_ts=0.0, gas="Smoke"))
    assert [(r.sample.ts, r.row) for r in smoke] == [(0.0, 2)]


def test_replay_waits_interval_over_speed_and_loops(small_csv: Path) -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def collect() -> list[float]:
        out = []
        async for row in replay_csv(small_csv, channel="lab", speed=4.0, start_ts=0.0, loop=True, sleep=fake_sleep):
            out.append(row.sample.ts)
            if len(out) == 5:
                break
        return out

    assert asyncio.run(collect()) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert waits == [0.5, 0.5, 0.5, 0.5]


def test_a_file_without_sensor_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Serial Number,Gas\n0,NoGas\n")
    with pytest.raises(ReplayError, match="no sensor columns"):
        list(read_rows(path, channel="x", start_ts=0.0))


def test_replays_the_real_dataset(shared_data: Path) -> None:
    path = shared_data / "multimodalgasdata" / "Gas_Sensors_Measurements.csv"
    rows = list(read_rows(path, channel="mm", start_ts=0.0))
    assert len(rows) == 6400
    first = rows[0]
    assert dict(first.sample.values) == {
        "MQ2": 555.0,
        "MQ3": 515.0,
        "MQ5": 377.0,
        "MQ6": 338.0,
        "MQ7": 666.0,
        "MQ8": 451.0,
        "MQ135": 416.0,
    }
    assert first.label == "NoGas"
    assert {r.label for r in rows} == {"NoGas", "Perfume", "Smoke", "Mixture"}
    assert rows[-1].sample.ts == 6399 * 2.0
