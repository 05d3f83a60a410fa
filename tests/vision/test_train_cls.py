"""End to end: train GasNet and the fusion models on a tiny paired set, evaluate, Grad-CAM PNGs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gasguard.vision.paired import CLASSES, load_paired, split_indices


def test_frames_are_paired_with_sensor_rows_by_class_and_serial(paired_root: tuple[Path, Path]) -> None:
    root, csv_path = paired_root
    ps = load_paired(root, csv_path, image_size=32)
    assert len(ps) == 40  # the image without a sensor row (NoGas 50) is skipped
    assert ps.images.shape == (40, 32, 32, 3)
    smoke_3 = next(i for i, p in enumerate(ps.paths) if p.endswith("3_Smoke.png"))
    assert ps.labels[smoke_3] == CLASSES.index("Smoke")
    assert ps.serials[smoke_3] == 3
    # Smoke sensor values were drawn around 400 + 60 * 3 = 580.
    assert abs(float(ps.sensors[smoke_3].mean()) - 580) < 10


def test_paper_split_is_stratified_80_20() -> None:
    labels = np.repeat(np.arange(4), 100)
    split = split_indices(labels, np.tile(np.arange(100), 4), "paper", seed=0)
    assert len(split.test) == 80 and len(split.val) == 64 and len(split.train) == 256
    assert np.bincount(labels[split.test]).tolist() == [20, 20, 20, 20]
    assert not set(split.test) & set(split.train)


def test_blocked_split_holds_out_one_contiguous_block_per_class() -> None:
    labels = np.repeat(np.arange(4), 100)
    serials = np.tile(np.arange(100), 4)
    split = split_indices(labels, serials, "blocked", fold=4)
    for c in range(4):
        test_serials = sorted(serials[split.test][labels[split.test] == c])
        val_serials = sorted(serials[split.val][labels[split.val] == c])
        assert test_serials == list(range(80, 100))
        assert val_serials == list(range(60, 80))


@pytest.mark.parametrize("kind", ["gasnet", "fusion1", "fusion2", "fusion3-max", "fusion3-mean", "fusion4"])
def test_train_then_evaluate_every_model_kind(
    run_cli, paired_root: tuple[Path, Path], tmp_path: Path, kind: str
) -> None:
    root, csv_path = paired_root
    ckpt = tmp_path / f"{kind}.pt"
    r = run_cli(
        "train",
        "vision-classifier",
        "--data",
        str(root),
        "--sensors",
        str(csv_path),
        "--out",
        str(ckpt),
        "--model",
        kind,
        "--epochs",
        "1",
        "--image-size",
        "32",
        "--json",
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["model"] == kind and report["protocol"] == "paper"
    assert report["test"]["n"] == 8  # 20 % of 40 paired frames
    assert sum(map(sum, report["test"]["confusion_matrix"])) == 8
    assert ckpt.is_file()


def test_evaluate_blocked_protocol_and_gradcam_panels(run_cli, paired_root: tuple[Path, Path], tmp_path: Path) -> None:
    root, csv_path = paired_root
    ckpt = tmp_path / "f1.pt"
    onnx_path = tmp_path / "f1.onnx"
    r = run_cli(
        "train",
        "vision-classifier",
        "--data",
        str(root),
        "--sensors",
        str(csv_path),
        "--out",
        str(ckpt),
        "--model",
        "fusion1",
        "--protocol",
        "blocked",
        "--epochs",
        "2",
        "--image-size",
        "32",
        "--onnx",
        str(onnx_path),
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert onnx_path.is_file()
    cams = tmp_path / "cams"
    r = run_cli(
        "evaluate",
        "vision-classifier",
        "--checkpoint",
        str(ckpt),
        "--data",
        str(root),
        "--sensors",
        str(csv_path),
        "--gradcam",
        str(cams),
        "--gradcam-count",
        "3",
        "--json",
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["protocol"] == "blocked"
    assert report["split_sizes"] == {"train": 24, "val": 8, "test": 8}
    assert len(report["gradcam"]) == 3
    panel = cv2.imread(report["gradcam"][0])
    assert panel.shape == (32, 96, 3)  # image | heatmap | overlay


def test_unknown_model_kind_is_refused(run_cli, paired_root: tuple[Path, Path], tmp_path: Path) -> None:
    root, csv_path = paired_root
    r = run_cli(
        "train",
        "vision-classifier",
        "--data",
        str(root),
        "--sensors",
        str(csv_path),
        "--out",
        str(tmp_path / "x.pt"),
        "--model",
        "resnet",
    )
    assert r.exit_code != 0
