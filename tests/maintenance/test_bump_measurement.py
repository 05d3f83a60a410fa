"""T50, T90 and peak measured on real response curves: the MultimodalGasData sensor array going from
clean air to perfume and smoke, checked against computations done by hand.

The CSV (``multimodalgasdata/Gas_Sensors_Measurements.csv``, one row every ~2 s, 1,600 rows per class
in recording order) holds no concentrations, so each trace is put through a linear calibration to
%LEL the way a raw 4-20 mA or ADC channel is, and the applied value is chosen near the plateau the
sensor reached. The times do not depend on that choice of scale beyond the 50 % and 90 % levels.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gasguard.maintenance.measure import measure_response

ROW_S = 2.0
NOGAS_END = 1600  # rows 0..1599 are NoGas; the Perfume recording starts at row 1600
SMOKE_START = 3200


def _column(shared_data: Path, sensor: str) -> list[int]:
    path = shared_data / "multimodalgasdata" / "Gas_Sensors_Measurements.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the shared data")
    with path.open(newline="") as handle:
        return [int(row[sensor]) for row in csv.DictReader(handle)]


def test_bump_response_of_mq5_from_clean_air_to_perfume_matches_the_hand_computation(shared_data: Path) -> None:
    raw = _column(shared_data, "MQ5")
    trace = raw[NOGAS_END - 10 : NOGAS_END + 40]
    # The rows as they are in the file, so the hand computation below can be followed:
    assert trace[:16] == [438, 436, 434, 433, 432, 431, 430, 428, 428, 428, 370, 450, 487, 494, 504, 515]
    lel = [value * 0.25 - 107.5 for value in trace]  # 0.25 %LEL per count, zero at 430 counts
    samples = [(i * ROW_S, v) for i, v in enumerate(lel)]

    response = measure_response(samples, applied_lel=40.0)

    # By hand. The first Perfume row (370 counts, -15 %LEL) is a dip of the new recording, not gas.
    # Onset: the first sample more than max(1, 5 % of 40) = 2 %LEL above the median of the 10 before it:
    #   sample 11 (450 counts = 5.0 %LEL); the 10 before it read 1.5 1.0 0.75 0.5 0.25 0 -0.5 -0.5 -0.5 -15,
    #   median (0 + 0.25) / 2 = 0.125 %LEL. t0 = sample 10, at 20 s.
    assert response.onset_ts == 22.0 and response.t0_ts == 20.0
    assert response.baseline_lel == pytest.approx(0.125)
    # T50: 0.125 + 20 = 20.125 %LEL, between sample 14 (504 -> 18.5) at 28 s and 15 (515 -> 21.25) at 30 s:
    #   28 + 2 * (20.125 - 18.5) / (21.25 - 18.5) = 29.1818 s, minus t0 = 9.18 s.
    assert response.t50_s == pytest.approx(9.1818, abs=1e-3)
    # T90: 0.125 + 36 = 36.125 %LEL, between sample 20 (565 -> 33.75) at 40 s and 21 (575 -> 36.25) at 42 s:
    #   40 + 2 * (36.125 - 33.75) / (36.25 - 33.75) = 41.9 s, minus t0 = 21.9 s.
    assert response.t90_s == pytest.approx(21.9, abs=1e-3)
    # Peak: 596 counts at sample 26 (52 s) = 41.5 %LEL; the perfume then fades.
    assert response.peak_lel == pytest.approx(41.5) and response.peak_ts == 52.0


def test_bump_response_of_mq2_to_smoke_is_one_sample_fast(shared_data: Path) -> None:
    """The Smoke recording starts before the smoke reaches the MQ2 head (rows 3200-3211, 518-530 counts);
    at row 3212 it jumps to 615. Without an applied value the step is the peak's rise."""
    raw = _column(shared_data, "MQ2")
    trace = raw[SMOKE_START : SMOKE_START + 30]
    lel = [value * 0.1 for value in trace]  # 0.1 %LEL per count (noise of 4-6 counts stays below 1 %LEL)
    samples = [(i * ROW_S, v) for i, v in enumerate(lel)]

    response = measure_response(samples, applied_lel=None)

    # By hand: onset at sample 12 (615 counts); the 10 before it (rows 3202-3211) read 518 518 518 522 523
    # 524 523 522 525 530 counts, median 522.5 -> 52.25 %LEL. t0 = sample 11 (530 -> 53.0 %LEL) at 22 s.
    assert response.onset_ts == 24.0 and response.t0_ts == 22.0
    assert response.baseline_lel == pytest.approx(52.25)
    # Step = peak 61.5 - 52.25 = 9.25. T50 level 56.875: 2 * (56.875 - 53.0) / (61.5 - 53.0) = 0.912 s.
    # T90 level 60.575: 2 * (60.575 - 53.0) / 8.5 = 1.782 s.
    assert response.step_lel == pytest.approx(9.25)
    assert response.t50_s == pytest.approx(0.9118, abs=1e-3)
    assert response.t90_s == pytest.approx(1.7824, abs=1e-3)


def test_bump_response_without_gas_has_no_onset_and_no_times() -> None:
    response = measure_response([(float(t), 0.2 * (t % 3)) for t in range(30)], applied_lel=50.0)
    assert response.onset_ts is None and response.t50_s is None and response.t90_s is None
    assert response.peak_lel == pytest.approx(0.4)


def test_bump_response_that_never_reaches_90_percent_has_no_t90() -> None:
    samples = [(0.0, 0.0), (1.0, 0.0), (2.0, 10.0), (3.0, 30.0), (4.0, 40.0), (5.0, 41.0)]
    response = measure_response(samples, applied_lel=50.0)
    assert response.t50_s == pytest.approx(1.75)  # 25 %LEL between 10 (2 s) and 30 (3 s), from t0 = 1 s
    assert response.t90_s is None and response.peak_lel == 41.0
