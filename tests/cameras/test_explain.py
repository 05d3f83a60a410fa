"""Grad-CAM on a live camera from a GasNet checkpoint (PyTorch, training extra)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.fakes import ScriptedDetector
from gasguard.cameras import SimulatedThermalCamera
from gasguard.cameras.explain import classifier_gradcam

torch = pytest.importorskip("torch", reason="Grad-CAM needs the training extra (PyTorch)")


def _checkpoint(path: Path, kind: str) -> Path:
    """A checkpoint in the layout ``gasguard train vision-classifier`` writes (weights untrained: this
    checks the plumbing, not what a trained classifier looks at)."""
    from gasguard.vision.torch_models import build_model

    torch.manual_seed(0)
    model = build_model(kind, 4, 7)
    torch.save(
        {
            "model": model.state_dict(),
            "config": {"kind": kind, "image_size": 64, "overlay": "auto"},
            "classes": ["Mixture", "NoGas", "Perfume", "Smoke"],
            "sensor_mean": [0.0] * 7,
            "sensor_std": [1.0] * 7,
        },
        path,
    )
    return path


def test_a_camera_with_a_gasnet_checkpoint_serves_a_gradcam_overlay(tmp_path: Path) -> None:
    explain = classifier_gradcam(_checkpoint(tmp_path / "gasnet.pt", "gasnet"))
    cam = SimulatedThermalCamera("c", "z", detector=ScriptedDetector([False]), gradcam=explain)
    frame = cam.step(0.25)
    assert frame.gradcam_available and cam.health()["gradcam"] is True
    data = frame.jpeg("gradcam")
    assert data is not None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (120, 160, 3)
    heat = explain(cv2.cvtColor(frame.image, cv2.COLOR_GRAY2BGR))
    assert heat.shape == (64, 64) and float(heat.min()) >= 0.0 and float(heat.max()) <= 1.0


def test_fusion_checkpoints_and_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="image-only classifier"):
        classifier_gradcam(_checkpoint(tmp_path / "fusion.pt", "fusion1"))
    with pytest.raises(FileNotFoundError):
        classifier_gradcam(tmp_path / "none.pt")
