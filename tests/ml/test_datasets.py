"""Loaders: real files load with the documented shape; damaged files name the file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gasguard.ml.datasets import DatasetError, load_drift, load_multimodal, parse_drift_line

HEADER = "Serial Number,MQ2,MQ3,MQ5,MQ6,MQ7,MQ8,MQ135,Gas\n"


def test_multimodal_real_file_has_four_streams_of_1600(shared_data: Path) -> None:
    ds = load_multimodal(shared_data)
    assert ds.X.shape == (6400, 7)
    assert ds.classes == ("NoGas", "Perfume", "Smoke", "Mixture")
    assert np.bincount(ds.stream).tolist() == [1600, 1600, 1600, 1600]
    assert ds.X[0].tolist() == [555, 515, 377, 338, 666, 451, 416]
    assert ds.serial[1600] == 0 and ds.labels[1600] == "Perfume"


def test_multimodal_malformed_value_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "Gas_Sensors_Measurements.csv"
    path.write_text(HEADER + "0,1,2,3,4,5,6,7,NoGas\n1,1,2,x,4,5,6,7,NoGas\n")
    with pytest.raises(DatasetError) as err:
        load_multimodal(path)
    assert str(err.value).startswith(f"{path}:3: not a number")
    assert err.value.line == 3


def test_multimodal_missing_column_is_reported_on_line_1(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("Serial Number,MQ2,Gas\n0,1,NoGas\n")
    with pytest.raises(DatasetError, match=r"g\.csv:1: header lacks column\(s\) MQ3"):
        load_multimodal(path)


def test_multimodal_serial_restart_starts_new_stream(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    rows = ["0,1,1,1,1,1,1,1,A", "1,1,1,1,1,1,1,1,A", "0,1,1,1,1,1,1,1,A", "1,1,1,1,1,1,1,1,B"]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    assert load_multimodal(path).stream.tolist() == [0, 0, 1, 2]


def test_drift_real_batches_present_and_missing(shared_data: Path) -> None:
    ds = load_drift(shared_data)
    assert ds.batches_present == (1, 2, 3, 4, 5, 6, 8, 9)
    assert ds.batches_missing == (7, 10)
    assert ds.X.shape == (6697, 128)
    assert np.bincount(ds.gas_code)[1:].tolist() == [1316, 1664, 681, 592, 1779, 665]


def test_drift_subset_of_batches(shared_data: Path) -> None:
    ds = load_drift(shared_data, batches=(4, 5, 7))
    assert ds.batches_present == (4, 5)
    assert len(ds.X) == 161 + 197


def _drift_line(gas: int = 1, ppm: float = 10.0) -> str:
    return f"{gas};{ppm} " + " ".join(f"{i}:{i * 0.5}" for i in range(1, 129)) + " \n"


def test_drift_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "batch1.dat").write_text(_drift_line() + _drift_line().replace("17:8.5", "17:abc"))
    with pytest.raises(DatasetError) as err:
        load_drift(tmp_path)
    assert str(err.value) == f"{tmp_path / 'batch1.dat'}:2: feature 17 is not a number: 'abc'"


def test_drift_line_parses_gas_ppm_and_features(tmp_path: Path) -> None:
    code, ppm, values = parse_drift_line(_drift_line(3, 250.0), tmp_path / "b.dat", 1)
    assert (code, ppm, len(values), values[0], values[-1]) == (3, 250.0, 128, 0.5, 64.0)


def test_drift_unknown_gas_code(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"b\.dat:7: unknown gas code 9"):
        parse_drift_line(_drift_line(9), tmp_path / "b.dat", 7)


def test_drift_no_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no batchN\.dat files found"):
        load_drift(tmp_path)
