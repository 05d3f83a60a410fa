"""Temporal context channels and the metrics."""

from __future__ import annotations

import numpy as np
import pytest

from gasguard.vision.metrics import binary_scores, expected_calibration_error, fit_platt, pixel_scores
from gasguard.vision.seg_eval import frame_statistic
from gasguard.vision.temporal import BACKGROUND_RATE, DIFF_GAIN, clip_inputs


def test_static_scene_has_no_background_difference_or_flicker() -> None:
    frames = np.tile(np.linspace(0, 255, 20, dtype=np.uint8), (5, 10, 1))
    x = clip_inputs(frames)
    assert x.shape == (5, 3, 10, 20)
    assert np.abs(x[:, 1:]).max() < 1e-5  # float rounding of the running average only
    assert x[0, 0, 0, 0] == pytest.approx(-0.5)


def test_a_new_object_shows_in_the_difference_channel() -> None:
    frames = np.zeros((3, 4, 4), dtype=np.uint8)
    frames[2, 1, 1] = 255
    x = clip_inputs(frames)
    assert x[2, 1, 1, 1] == pytest.approx(DIFF_GAIN * 1.0)
    assert x[2, 1, 0, 0] == 0.0
    assert BACKGROUND_RATE < 0.5


def test_pixel_scores_exact() -> None:
    pred = np.array([[1, 1, 0, 0]], bool)
    truth = np.array([[1, 0, 1, 0]], bool)
    assert pixel_scores(pred, truth) == {"iou": pytest.approx(1 / 3), "f1": pytest.approx(0.5)}
    assert pixel_scores(np.zeros(3, bool), np.zeros(3, bool)) == {"iou": 1.0, "f1": 1.0}


def test_binary_scores_exact() -> None:
    s = binary_scores(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool))
    assert s == {"accuracy": 0.75, "precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3)}


def test_platt_scaling_calibrates_overconfident_scores() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random(4000) < 0.5
    raw = np.where(truth, 1.0, -1.0) * 5 + rng.normal(0, 5, 4000)  # separable only partly
    a, b = fit_platt(raw, truth)
    p = 1 / (1 + np.exp(-(a * raw + b)))
    naive = 1 / (1 + np.exp(-raw))
    assert expected_calibration_error(p, truth) < 0.03 < expected_calibration_error(naive, truth)


def test_frame_statistic_is_the_mean_of_the_top_pixels() -> None:
    logits = np.full((1, 120, 160), -5.0, dtype=np.float32)
    logits[0, :3, :4] = 2.0  # 12 pixels, the top-k size at 160x120
    assert frame_statistic(logits)[0] == pytest.approx(2.0)
