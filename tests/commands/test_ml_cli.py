"""The ml commands end to end on small synthetic files in the real formats (the real-data figures
are measured by the same code in the evaluate commands, not here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gasguard.cli import build_app

runner = CliRunner()
CLASSES = ("NoGas", "Perfume", "Smoke", "Mixture")


@pytest.fixture
def multimodal_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "multimodalgasdata"
    folder.mkdir()
    lines = ["Serial Number,MQ2,MQ3,MQ5,MQ6,MQ7,MQ8,MQ135,Gas"]
    for k, gas in enumerate(CLASSES):
        base = 400 + 60 * k + np.arange(7) * (5 + 10 * k)
        walk = base + np.cumsum(rng.normal(0, 1 + 2 * k, size=(100, 7)), axis=0)
        lines += [f"{i}," + ",".join(f"{v:.0f}" for v in row) + f",{gas}" for i, row in enumerate(walk)]
    (folder / "Gas_Sensors_Measurements.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.fixture
def drift_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    folder = tmp_path / "gas-sensor-array-drift"
    folder.mkdir()
    gain = rng.uniform(0.5, 2.0, size=(3, 128))
    for b in (1, 2, 3, 4, 5, 6, 8):
        rows = []
        for gas in (1, 2, 3):
            for _ in range(12):
                ppm = float(rng.uniform(10, 500))
                x = gain[gas - 1] * np.log(ppm) * (1 + 0.02 * b) + rng.normal(0, 0.05, 128)
                rows.append(f"{gas};{ppm:.2f} " + " ".join(f"{i + 1}:{v:.5f}" for i, v in enumerate(x)) + " ")
        (folder / f"batch{b}.dat").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_evaluate_sensor_blocked_json_and_report(multimodal_root: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    args = [
        "evaluate",
        "sensor",
        "--dataset",
        "multimodal",
        "--protocol",
        "blocked",
        "--data",
        str(multimodal_root),
        "--epochs",
        "1",
        "--json",
        "--report",
        str(report),
    ]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["protocol"] == "blocked" and out["model"] == "gasguard_lightgbm_stream_features"
    assert list(out["baselines"]) == ["paper_cnn1d_raw", "paper_dnn_raw", "paper_lstm_raw", "plain_lightgbm_raw"]
    assert list(out["per_fold_accuracy"]) == ["block1", "block2", "block3", "block4", "block5"]
    assert sum(map(sum, out["confusion"])) == 400
    assert out["accuracy"] >= 0.9  # four well-separated synthetic recordings
    md = (report / "report.md").read_text()
    assert md.startswith("# sensor evaluation")
    assert "| model | block1 | block2 | block3 | block4 | block5 |" in md
    assert (report / "confusion_paper_cnn1d_raw.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_concentration_drift_protocol(drift_root: Path, tmp_path: Path) -> None:
    report = tmp_path / "conc-report"
    args = [
        "evaluate",
        "concentration",
        "--dataset",
        "drift",
        "--protocol",
        "drift",
        "--data",
        str(drift_root),
        "--json",
        "--report",
        str(report),
    ]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert "predictions" not in out  # rows go to the report folder, not into the summary
    rows = (report / "predictions.csv").read_text().splitlines()
    assert rows[0].split(",")[:3] == ["ppm_true", "gas", "batch"] and len(rows) == 1 + 2 * 36
    for png in ("predicted_vs_true.png", "r2_per_gas.png", "r2_per_batch.png"):
        assert (report / png).read_bytes()[:4] == b"\x89PNG"
    md = (report / "report.md").read_text()
    assert "train_batches: [1, 2, 3, 4, 5]; test_batches: [6, 8]" in md
    assert "| gas | R² | RMSE ppm | MAE ppm | rows |" in md
    assert out["batches_present"] == [1, 2, 3, 4, 5, 6, 8]
    assert out["test_batches"] == [6, 8]
    assert set(out["per_gas"]) == {"ethanol", "ethylene", "ammonia"}
    assert set(out["baselines"]) == {"gasguard_lightgbm_per_gas_ppm", "plain_xgboost_raw_ppm"}
    assert out["r2"] > 0.5 and out["with_true_gas"]["r2"] > 0.5  # 12 rows per gas and batch: a sanity floor
    assert set(out["per_batch_r2"]) == {"batch6", "batch8"}


def test_evaluate_sensor_drift_protocol_with_chosen_baselines(drift_root: Path, tmp_path: Path) -> None:
    report = tmp_path / "drift-report"
    args = ["evaluate", "sensor", "--dataset", "drift", "--protocol", "drift", "--data", str(drift_root)]
    args += ["--baselines", "dnn, lightgbm", "--epochs", "2", "--json", "--report", str(report)]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "gasguard_svm_extratrees_drift_features"
    assert out["train_batches"] == [1, 2, 3, 4, 5] and out["test_batches"] == [6, 8]
    assert list(out["baselines"]) == ["paper_dnn_raw", "plain_lightgbm_raw"]
    assert list(out["per_batch_accuracy"]) == ["batch6", "batch8"]
    assert list(out["baselines"]["paper_dnn_raw"]["per_batch_accuracy"]) == ["batch6", "batch8"]
    assert out["accuracy"] >= 0.9  # three gases with distinct, only slowly drifting patterns
    assert (report / "folds.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_sensor_without_baselines(drift_root: Path) -> None:
    args = ["evaluate", "sensor", "--dataset", "drift", "--protocol", "stratified", "--data", str(drift_root)]
    result = runner.invoke(build_app(), [*args, "--baselines", "none", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["baselines"] == {} and out["n_test"] == 51 and "notes" not in out


def test_unknown_baseline_is_refused(drift_root: Path) -> None:
    args = ["evaluate", "sensor", "--dataset", "drift", "--protocol", "stratified", "--data", str(drift_root)]
    result = runner.invoke(build_app(), [*args, "--baselines", "cnn1d,resnet"])
    assert result.exit_code == 2
    message = " ".join(result.output.replace("│", " ").split())  # the error box wraps long lines
    assert (
        "Invalid value for --baselines: unknown baseline(s) resnet; choose from cnn1d, dnn, lstm, lightgbm or none"
        in (message)
    )


def test_wrong_protocol_for_dataset_is_refused(multimodal_root: Path) -> None:
    result = runner.invoke(
        build_app(), ["evaluate", "sensor", "--dataset", "drift", "--protocol", "paper", "--data", str(multimodal_root)]
    )
    assert result.exit_code == 2
    assert "stratified or drift" in result.output


def test_malformed_data_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "multimodalgasdata"
    folder.mkdir()
    (folder / "Gas_Sensors_Measurements.csv").write_text("Serial Number,MQ2,MQ3,MQ5,MQ6,MQ7,MQ8,MQ135,Gas\n0,1,2\n")
    result = runner.invoke(build_app(), ["evaluate", "sensor", "--data", str(tmp_path), "--json"])
    assert result.exit_code == 2
    assert "Gas_Sensors_Measurements.csv:2: expected 9 fields, found 3" in result.stderr


def test_train_sensor_writes_artifact_and_card(multimodal_root: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "model"
    args = [
        "train",
        "sensor",
        "--data",
        str(multimodal_root),
        "--out",
        str(out_dir),
        "--name",
        "m",
        "--no-measure",
        "--json",
    ]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    card = json.loads((out_dir / "m.json").read_text())
    assert card["data"]["licence"] == "CC BY 4.0" and card["classes"] == sorted(CLASSES)
    assert card["metrics"]["resubstitution_accuracy"] == json.loads(result.stdout)["metrics"]["resubstitution_accuracy"]
    assert (out_dir / "m.lgbm.txt").stat().st_size > 0


def test_bench_sensor_json() -> None:
    result = runner.invoke(build_app(), ["bench", "sensor", "--readings", "2000", "--single", "200", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["readings"] == 2000 and out["single_calls"] == 200
    assert out["single_row_path"] == "lightgbm_c_api_fast" and out["cpu_count"] >= 1
    assert out["readings_per_s"] > 0 and 0 < out["p50_ms"] <= out["p99_ms"] <= out["max_ms"]
