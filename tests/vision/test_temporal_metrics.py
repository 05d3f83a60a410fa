"""Temporal context channels and the metrics."""

from __future__ import annotations

import numpy as np
import pytest

from gasguard.vision.metrics import binary_scores, expected_calibration_error, fit_platt, pixel_scores
from gasguard.vision.seg_eval import frame_statistic
from gasguard.vision.temporal import (
    BACKGROUND_RATE,
    CHANNELS,
    DIFF_GAIN,
    NOISE_FLOOR,
    SNR_CLIP,
    SNR_SCALE,
    TemporalContext,
    clip_inputs,
    frame_noise,
    network_input,
)


def test_static_scene_has_no_background_difference_or_flicker() -> None:
    frames = np.tile(np.linspace(0, 255, 20, dtype=np.uint8), (5, 10, 1))
    x = clip_inputs(frames)
    assert x.shape == (5, len(CHANNELS), 10, 20)
    assert np.abs(x[:, 1:]).max() < 1e-4  # float rounding of the running average only
    assert x[0, 0, 0, 0] == pytest.approx(-0.5)


def test_a_new_object_shows_in_the_difference_channel() -> None:
    frames = np.zeros((3, 4, 4), dtype=np.uint8)
    frames[2, 1, 1] = 255
    x = clip_inputs(frames)
    assert x[2, 1, 1, 1] == pytest.approx(DIFF_GAIN * 1.0)
    assert x[2, 1, 0, 0] == 0.0
    assert BACKGROUND_RATE < 0.5


def test_noise_relative_channels_measure_a_change_in_camera_noise_steps() -> None:
    rng = np.random.default_rng(0)
    sigma = 0.02  # temporal noise of a camera, in display units (about 5 grey levels)
    frames = np.full((12, 60, 80), 0.5, dtype=np.float32) + rng.normal(0, sigma, (12, 60, 80)).astype(np.float32)
    frames[8:, 10:20, 10:20] += 6 * sigma  # a patch appears, six noise steps brighter
    x = clip_inputs(frames)
    snr = x[:, CHANNELS.index("snr_difference")]
    smoothed = x[:, CHANNELS.index("snr_difference_smoothed")]
    # Away from the patch the channel is noise of about one step (sqrt(1.1) with the running
    # background's own noise); on it, about six steps.
    assert float(np.std(snr[7, 30:, 30:])) * SNR_SCALE == pytest.approx(1.05, abs=0.15)
    assert float(np.mean(snr[8, 10:20, 10:20])) * SNR_SCALE == pytest.approx(6.0, abs=0.8)

    # The running mean lowers the noise more than the patch: the patch stands out further.
    def contrast(channel: np.ndarray) -> float:
        return float(np.mean(channel[11, 10:20, 10:20]) / np.std(channel[11, 30:, 30:]))

    assert float(np.std(smoothed[11, 30:, 30:])) < 0.75 * float(np.std(snr[11, 30:, 30:]))
    assert contrast(smoothed) > 1.2 * contrast(snr)
    assert float(np.abs(snr).max()) <= SNR_CLIP / SNR_SCALE


def test_noise_estimate_never_drops_below_one_display_step() -> None:
    still = np.full((10, 10), 0.25, dtype=np.float32)
    assert frame_noise(still, still.copy()) == NOISE_FLOOR
    ctx = TemporalContext()
    ctx.update(still)
    ctx.update(still)
    assert ctx.noise == NOISE_FLOOR
    ctx.reset()
    assert ctx.noise is None and ctx.frames_seen == 0


def test_a_model_reads_the_channels_it_was_trained_with() -> None:
    x = clip_inputs(np.zeros((2, 4, 4), dtype=np.uint8))
    assert network_input(x, 3).shape == (2, 3, 4, 4)
    assert network_input(x[0], len(CHANNELS)).shape == (len(CHANNELS), 4, 4)
    with pytest.raises(ValueError, match="1 to 5"):
        network_input(x, 6)


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
