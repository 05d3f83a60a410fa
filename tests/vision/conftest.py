"""Fixtures for the vision tests: a CLI with only the vision commands, and a tiny paired dataset."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from gasguard.commands import vision
from gasguard.commands.apps import CliApps

CLASSES = ("Mixture", "NoGas", "Perfume", "Smoke")


def vision_cli() -> typer.Typer:
    root = typer.Typer(add_completion=False)
    apps = CliApps(root=root)
    vision.register(apps)
    apps.attach_groups()
    return root


@pytest.fixture()
def run_cli():
    """Invoke the vision commands; returns the click Result (stdout only in ``.stdout``)."""
    runner = CliRunner()
    app = vision_cli()

    def _run(*args: str):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        return result

    return _run


@pytest.fixture()
def paired_root(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny dataset in the MultimodalGasData layout: 4 classes x 10 frames of 48x64 (w x h),
    each class with its own bright-blob position, plus a sensor CSV with class-dependent values."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    rows = []
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for serial in range(10):
            img = rng.integers(0, 60, (64, 48, 3), dtype=np.uint8)
            cy, cx = 16 + 32 * (c // 2), 12 + 24 * (c % 2)
            cv2.circle(img, (cx, cy), 8, (255, 255, 255), -1)
            cv2.imwrite(str(root / name / f"{serial}_{name}.png"), img)
            values = 400 + 60 * c + rng.normal(0, 5, 7)
            rows.append([serial, *np.round(values).astype(int).tolist(), name])
    # One sensor row without an image and one image without a row: both must be skipped, not fail.
    rows.append([99, 1, 2, 3, 4, 5, 6, 7, "Smoke"])
    cv2.imwrite(str(root / "NoGas" / "50_NoGas.png"), np.zeros((64, 48, 3), np.uint8))
    csv_path = tmp_path / "Gas_Sensors_Measurements.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Serial Number", "MQ2", "MQ3", "MQ5", "MQ6", "MQ7", "MQ8", "MQ135", "Gas"])
        w.writerows(rows)
    return root, csv_path
