"""Scoring plume logits against simulated ground truth: pixel IoU/F1, frame and clip decisions,
and the calibrated leak score. NumPy only, shared by training (torch logits) and serving (ONNX).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.metrics import binary_scores, expected_calibration_error, fit_platt, pixel_scores, summary
from gasguard.vision.seg_data import ClipSet

#: The frame statistic is the mean of the top ``TOPK_FRACTION`` of pixel logits: a leak is "at least
#: a small patch of confident gas", matching the ground-truth rule (>= 12 of 19,200 pixels).
TOPK_FRACTION = 12 / 19200


def frame_statistic(logits: NDArray[np.float32]) -> NDArray[np.float64]:
    """``[..., H, W]`` logits -> ``[...]`` raw leak evidence (mean of the top-k pixel logits)."""
    flat = logits.reshape(*logits.shape[:-2], -1)
    k = max(1, round(flat.shape[-1] * TOPK_FRACTION))
    top = np.partition(flat, flat.shape[-1] - k, axis=-1)[..., -k:]
    return np.asarray(top.mean(axis=-1), dtype=np.float64)


def smooth_scores(stat: NDArray[np.float64], rate: float) -> NDArray[np.float64]:
    """Exponential moving average of ``[N, T]`` frame statistics along time (``rate`` 1: none).

    A fixed camera's leak does not come and go between two frames, so the evidence of the last few
    frames is pooled; the detector keeps the same running value per camera stream.
    """
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"smoothing rate must be in (0, 1], got {rate!r}")
    out = np.array(stat, dtype=np.float64, copy=True)
    for t in range(1, out.shape[-1]):
        out[..., t] = (1 - rate) * out[..., t - 1] + rate * out[..., t]
    return out


def calibrate(stat: NDArray[np.float64], leak: NDArray[np.bool_], warmup: int) -> tuple[float, float]:
    """Platt-scale the frame statistic into a probability of "visible leak in this frame"."""
    return fit_platt(stat[:, warmup:].ravel(), leak[:, warmup:].ravel())


def leak_probability(stat: NDArray[np.float64], a: float, b: float) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-(a * stat + b))))


def score_logits(
    logits: NDArray[np.float32],
    clips: ClipSet,
    calibration: tuple[float, float] | None,
    warmup: int = 4,
    smoothing: float = 1.0,
    mask_threshold: float = 0.0,
) -> dict[str, Any]:
    """Metrics on frames ``warmup..`` of every clip. Without calibration the frame decision is
    "any pixel logit above 0 in at least k pixels" (statistic > 0). ``smoothing`` is the rate of the
    running average of the frame statistic (see ``smooth_scores``); a pixel of a leak frame is gas
    where its logit exceeds ``mask_threshold``."""
    stat = smooth_scores(frame_statistic(logits), smoothing)[:, warmup:]
    truth_leak = clips.leak[:, warmup:]
    prob = leak_probability(stat, 1.0, 0.0) if calibration is None else leak_probability(stat, *calibration)
    decided = prob >= 0.5
    # The served mask is empty when the frame is judged leak-free.
    pred_mask = (logits[:, warmup:] > mask_threshold) & decided[..., None, None]
    truth_mask = clips.mask[:, warmup:]
    pixels = pixel_scores(pred_mask, truth_mask)
    leak_frames = truth_leak
    per_frame_iou = [
        pixel_scores(pred_mask[i, t], truth_mask[i, t])["iou"] for i, t in zip(*np.nonzero(leak_frames), strict=True)
    ]
    no_leak = ~truth_leak
    false_alarm_rate = float(decided[no_leak].mean()) if no_leak.any() else 0.0
    clip_prob = prob.mean(axis=1)
    clip_truth = truth_leak.mean(axis=1) >= 0.5
    return {
        "pixels": summary({**pixels, "mean_iou_leak_frames": float(np.mean(per_frame_iou)) if per_frame_iou else 1.0}),
        "frames": summary(
            {
                **binary_scores(decided.ravel(), truth_leak.ravel()),
                "brier": float(np.mean((prob - truth_leak) ** 2)),
                "ece": expected_calibration_error(prob.ravel(), truth_leak.ravel()),
                "n": int(truth_leak.size),
                "n_leak": int(truth_leak.sum()),
                "false_alarm_rate": false_alarm_rate,
            }
        ),
        "clips": summary({**binary_scores(clip_prob >= 0.5, clip_truth), "n": len(clip_truth)}),
    }
